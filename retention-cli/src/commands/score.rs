//! `retention score`

use std::io::Write;

use anyhow::Result;
use retention_core::data::read_table;
use retention_core::prelude::*;
use retention_core::scoring::PROBABILITY;

use crate::cli::ScoreArgs;
use crate::output::{self, Progress as Bar, Table};

pub fn run(args: &ScoreArgs, out: &mut dyn Write) -> Result<()> {
    let model = ChurnModel::load(&args.model)?;
    let bar = Bar::new();
    let options = ScoreOptions {
        keep: args.keep.clone(),
        ..Default::default()
    };
    let summary = model.score_file(&args.data, &args.out, &options, &|rows| {
        bar.say(&format!("scored {rows} rows"))
    })?;
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
        model.threshold
    )?;
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
        let scored = read_table(&args.out)?.frame;
        let head = scored.head(Some(args.show));
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
