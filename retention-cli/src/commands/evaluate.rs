//! `retention evaluate`

use std::io::Write;

use anyhow::Result;
use retention_core::data::read_table;

use crate::cli::EvaluateArgs;
use crate::output;

pub fn run(db: &std::path::Path, args: &EvaluateArgs, out: &mut dyn Write) -> Result<()> {
    let (model, _) = crate::commands::registry::resolve(db, &args.model)?;
    let raw = read_table(&args.data)?;
    let (metrics, unseen) = model.evaluate(&raw.frame)?;
    for w in unseen.messages() {
        output::warn(&w);
    }
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&metrics)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "Evaluated on {} rows of {} ({:.1} % churned) at threshold {:.2}.\n",
        metrics.rows,
        args.data.display(),
        100.0 * metrics.churn_rate,
        metrics.threshold
    )?;
    output::metrics_table(None, &[("value", &metrics)]).write(out)?;
    let c = metrics.confusion;
    writeln!(
        out,
        "\nConfusion: {} churners flagged, {} missed; {} stayers flagged, {} not.",
        c.tp, c.fn_, c.fp, c.tn
    )?;
    Ok(())
}
