//! `retention generate`

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use retention_core::data::read_table;
use retention_core::generate::{Generator, Shift};

use crate::cli::GenerateArgs;
use crate::output::Progress;

pub fn run(args: &GenerateArgs, out: &mut dyn Write) -> Result<()> {
    retention_core::refuse_output_over_inputs("output", &args.out, &[&args.like])?;
    let shifts = args
        .shift
        .iter()
        .map(|s| Shift::parse(s))
        .collect::<retention_core::Result<Vec<_>>>()?;
    let template = read_table(&args.like).with_context(|| {
        format!(
            "template table {} (choose one with --like)",
            args.like.display()
        )
    })?;
    let generator = Generator::new(template.frame, &shifts)?;
    let bar = Progress::new();
    let start = Instant::now();
    generator.write(args.rows, args.seed, &args.out, &|n| {
        bar.say(&format!("generated {n} of {} rows", args.rows))
    })?;
    bar.done();
    writeln!(
        out,
        "Generated {} rows like {} into {} in {:.1} s (seed {}{}).",
        args.rows,
        args.like.display(),
        args.out.display(),
        start.elapsed().as_secs_f64(),
        args.seed,
        if shifts.is_empty() {
            String::new()
        } else {
            format!(", shifts: {}", args.shift.join(", "))
        }
    )?;
    Ok(())
}
