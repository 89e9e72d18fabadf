//! `retention generate`

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use retention_core::data::read_table;
use retention_core::generate::{Generator, Shift, TELCO_TEMPLATE_NAME, telco_template};

use crate::cli::GenerateArgs;
use crate::output::Progress;

pub fn run(args: &GenerateArgs, out: &mut dyn Write) -> Result<()> {
    if let Some(like) = &args.like {
        retention_core::refuse_output_over_inputs("output", &args.out, &[like])?;
    }
    let shifts = args
        .shift
        .iter()
        .map(|s| Shift::parse(s))
        .collect::<retention_core::Result<Vec<_>>>()?;
    let (template, like) = match &args.like {
        Some(like) => {
            let table = read_table(like).with_context(|| {
                format!("template table {} (choose one with --like)", like.display())
            })?;
            (table.frame, like.display().to_string())
        }
        None => (telco_template()?, TELCO_TEMPLATE_NAME.to_string()),
    };
    let generator = Generator::new(template, &shifts)?;
    let bar = Progress::new();
    let start = Instant::now();
    generator.write(args.rows, args.seed, &args.out, &|n| {
        bar.say(&format!("generated {n} of {} rows", args.rows))
    })?;
    bar.done();
    let seconds = start.elapsed().as_secs_f64();
    let value = serde_json::json!({
        "rows": args.rows,
        "like": like,
        "out": args.out,
        "seed": args.seed,
        "shifts": args.shift,
        "seconds": seconds,
    });
    crate::output::report(out, args.json, &value, |out| {
        writeln!(
            out,
            "Generated {} rows like {} into {} in {seconds:.1} s (seed {}{}).",
            args.rows,
            like,
            args.out.display(),
            args.seed,
            if shifts.is_empty() {
                String::new()
            } else {
                format!(", shifts: {}", args.shift.join(", "))
            }
        )
    })
}
