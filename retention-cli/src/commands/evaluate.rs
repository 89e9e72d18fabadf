//! `retention evaluate`

use std::io::Write;

use anyhow::Result;
use retention_core::data::read_table_columns;

use crate::cli::EvaluateArgs;
use crate::output;

pub fn run(db: &retention_core::store::Db, args: &EvaluateArgs, out: &mut dyn Write) -> Result<()> {
    let (model, _) = crate::commands::registry::resolve(db, &args.model)?;
    // Only the model's columns are decoded from a Parquet file.
    let raw = read_table_columns(&args.data, Some(&model.input_columns(true)))?;
    let (metrics, unseen) = model
        .evaluate(&raw.frame)
        .map_err(|e| raw.name_file_columns(e))?;
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
