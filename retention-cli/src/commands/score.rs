//! `retention score`

use retention_core::store::Db;
use std::io::Write;

use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;
use retention_core::data::TableBatches;
use retention_core::prelude::*;
use retention_core::registry::{PredictionLog, Scorer};
use retention_core::scoring::{PROBABILITY, score_file_with};
use retention_core::store::Store;

use crate::cli::ScoreArgs;
use crate::commands::registry;
use crate::output::{self, Progress as Bar, Table};

pub fn run(db: &Db, args: &ScoreArgs, out: &mut dyn Write) -> Result<()> {
    registry::refuse_output_over_inputs(
        "output",
        &args.out,
        &[&args.data],
        args.model.as_deref(),
        db,
    )?;
    let mut scorer = match &args.model {
        Some(spec) => {
            let (model, version) = registry::resolve(db, spec)?;
            Scorer::Direct {
                model: Box::new(model),
                version,
            }
        }
        None => Scorer::Routed(Box::new(registry::router(db)?)),
    };
    let threshold = scorer.threshold();
    let bar = Bar::new();
    // Only the columns the model(s) and --keep read are decoded from a Parquet file.
    let mut columns = scorer.input_columns();
    columns.extend(args.keep.iter().cloned());
    let options = ScoreOptions {
        keep: args.keep.clone(),
        columns: Some(columns),
        ..Default::default()
    };
    let mut log = if args.log {
        Some(start_log(db, args, &mut scorer)?)
    } else {
        None
    };
    let score =
        |raw: &DataFrame, first_row: usize| scorer.score_frame(raw, first_row, &options.keep);
    let logging = log.is_some();
    let mut on_batch = |first_row: usize, scored: &DataFrame| -> retention_core::Result<()> {
        if let Some((store, batch)) = log.as_mut() {
            batch.log(store, first_row, scored)?;
        }
        Ok(())
    };
    let progress = |rows: usize| bar.say(&format!("scored {rows} rows"));
    let summary = match &scorer {
        // One model and nothing to log: the streaming path (CSV→CSV on every core).
        Scorer::Direct { model, .. } if !logging => {
            model.score_file(&args.data, &args.out, &options, &progress)?
        }
        _ => score_file_with(
            &args.data,
            &args.out,
            &options,
            &score,
            &mut on_batch,
            &progress,
        )?,
    };
    bar.done();
    for w in summary.unseen.messages().iter().chain(&summary.warnings) {
        output::warn(w);
    }
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "Scored {} rows into {}: {} predicted to churn (threshold {:.2}).",
        summary.rows,
        args.out.display(),
        summary.predicted_churn,
        threshold
    )?;
    if let Some((store, batch)) = &log {
        writeln!(
            out,
            "Logged {} new rows to {} (batch {}; rows already logged under it are skipped).",
            batch.logged,
            store.db(),
            batch.batch_id
        )?;
    }
    let mut tiers = Table::new(["risk tier", "customers", "share"]);
    for (tier, count) in &summary.tiers {
        tiers.row([
            tier.as_str().to_string(),
            count.to_string(),
            format!(
                "{:.1} %",
                100.0 * *count as f64 / summary.rows.max(1) as f64
            ),
        ]);
    }
    tiers.write(out)?;
    if args.show > 0 {
        show_head(&args.out, args.show, out)?;
    }
    Ok(())
}

/// Prints the first `show` rows of the scored output.
fn show_head(output: &Path, show: usize, out: &mut dyn Write) -> Result<()> {
    // Only the first rows are read back, however large the output.
    let head = TableBatches::open(output, 64 << 10, show)?
        .next_batch()?
        .map(|(_, frame)| frame.head(Some(show)))
        .unwrap_or_default();
    let mut table = Table::new(head.get_column_names().iter().map(|n| n.to_string()));
    for i in 0..head.height() {
        let row: Vec<String> = head
            .columns()
            .iter()
            .map(|c| {
                let text = c
                    .get(i)
                    .map(|v| v.str_value().to_string())
                    .unwrap_or_default();
                match text.parse::<f64>() {
                    Ok(p) if c.name() == PROBABILITY => format!("{p:.4}"),
                    _ => text,
                }
            })
            .collect();
        table.row(row);
    }
    writeln!(out, "\nFirst {} rows:", head.height())?;
    table.write(out)?;

    Ok(())
}

/// Opens the store and starts the batch the scored rows are logged under; a model file is
/// registered first (once, by its checksum) so its rows name a version.
fn start_log(db: &Db, args: &ScoreArgs, scorer: &mut Scorer) -> Result<(Store, PredictionLog)> {
    let mut store = Store::open(db)?;
    if let Scorer::Direct { version, .. } = scorer
        && version.is_none()
    {
        let path = args.model.as_deref().unwrap_or_default();
        let bytes = std::fs::read(path).with_context(|| format!("read {path}"))?;
        let v = store
            .register(&bytes, "registered by score --log", &registry::actor())?
            .version;
        *version = Some(v);
    }
    let batch = PredictionLog::for_file(scorer, &args.data, args.batch_id.clone())?;
    Ok((store, batch))
}
