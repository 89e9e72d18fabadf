//! `retention score`

use std::io::Write;

use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;
use retention_core::data::TableBatches;
use retention_core::lifecycle::Router;
use retention_core::prelude::*;
use retention_core::scoring::{PROBABILITY, score_file_with};
use retention_core::store::Store;

use crate::cli::ScoreArgs;
use crate::commands::registry;
use crate::output::{self, Progress as Bar, Table};

/// One model for every row, or champion and challenger by the store's A/B split.
enum Scorer {
    Direct(Box<ChurnModel>, Option<i64>),
    Routed(Box<Router>),
}

pub fn run(db: &Path, args: &ScoreArgs, out: &mut dyn Write) -> Result<()> {
    registry::refuse_output_over_inputs(
        "output",
        &args.out,
        &[&args.data],
        args.model.as_deref(),
        db,
    )?;
    let scorer = match &args.model {
        Some(spec) => {
            let (model, version) = registry::resolve(db, spec)?;
            Scorer::Direct(Box::new(model), version)
        }
        None => Scorer::Routed(Box::new(registry::router(db)?)),
    };
    let threshold = match &scorer {
        Scorer::Direct(m, _) => m.threshold,
        Scorer::Routed(r) => r.champion.model.threshold,
    };
    let bar = Bar::new();
    // Only the columns the model(s) and --keep read are decoded from a Parquet file.
    let mut columns = match &scorer {
        Scorer::Direct(m, _) => m.input_columns(false),
        Scorer::Routed(r) => {
            let mut columns = r.champion.model.input_columns(false);
            if let Some((challenger, _)) = &r.challenger {
                columns.extend(challenger.model.input_columns(false));
            }
            columns
        }
    };
    columns.extend(args.keep.iter().cloned());
    let options = ScoreOptions {
        keep: args.keep.clone(),
        columns: Some(columns),
        ..Default::default()
    };
    let mut log = if args.log {
        let mut store = Store::open(db)?;
        let (version, identity) = match &scorer {
            Scorer::Direct(_, Some(v)) => (*v, format!("v{v}")),
            Scorer::Direct(_, None) => {
                // A model file is registered (once, by its checksum) so its rows name a version.
                let path = args.model.as_deref().unwrap_or_default();
                let bytes = std::fs::read(path).with_context(|| format!("read {path}"))?;
                let v = store
                    .register(&bytes, "registered by score --log", &registry::actor())?
                    .version;
                (v, format!("v{v}"))
            }
            Scorer::Routed(r) => (
                r.champion.version,
                match &r.challenger {
                    Some((c, split)) => format!("v{}+v{}@{split}", r.champion.version, c.version),
                    None => format!("v{}", r.champion.version),
                },
            ),
        };
        let batch_id = match &args.batch_id {
            Some(id) => id.clone(),
            None => {
                let data = retention_core::sha256_file(&args.data)?;
                retention_core::sha256_hex(format!("{data}:{identity}").as_bytes())[..16]
                    .to_string()
            }
        };
        Some((store, version, batch_id, 0usize))
    } else {
        None
    };
    let score = |raw: &DataFrame, first_row: usize| match &scorer {
        Scorer::Direct(m, _) => m.score_frame(raw, first_row, &options.keep),
        Scorer::Routed(r) => r.score_frame(raw, first_row, &options.keep),
    };
    let logging = log.is_some();
    let mut on_batch = |first_row: usize, scored: &DataFrame| -> retention_core::Result<()> {
        if let Some((store, version, batch_id, logged)) = log.as_mut() {
            *logged += store.log_scored(batch_id, *version, first_row, scored)?;
        }
        Ok(())
    };
    let progress = |rows: usize| bar.say(&format!("scored {rows} rows"));
    let summary = match &scorer {
        // One model and nothing to log: the streaming path (CSV→CSV on every core).
        Scorer::Direct(m, _) if !logging => {
            m.score_file(&args.data, &args.out, &options, &progress)?
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
    if let Some((store, _, batch_id, logged)) = &log {
        writeln!(
            out,
            "Logged {logged} new rows to {} (batch {batch_id}; rows already logged under it are skipped).",
            store.path().display()
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
        // Only the first rows are read back, however large the output.
        let head = TableBatches::open(&args.out, 64 << 10, args.show)?
            .next_batch()?
            .map(|(_, frame)| frame.head(Some(args.show)))
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
    }
    Ok(())
}
