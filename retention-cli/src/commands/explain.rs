//! `retention explain` and `retention importance`

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Result, bail};
use polars::prelude::*;
use retention_core::data::{read_table_columns, with_file_columns, write_table};
use retention_core::explain::{RowExplanation, explanations_frame};
use retention_core::prelude::*;

use crate::cli::{ExplainArgs, ImportanceArgs};
use crate::output::Table;

pub fn run(db: &retention_core::store::Db, args: &ExplainArgs, out: &mut dyn Write) -> Result<()> {
    if let Some(path) = &args.out {
        crate::commands::registry::refuse_output_over_inputs(
            "output",
            path,
            &[&args.data],
            Some(&args.model),
            db,
        )?;
    }
    let (model, _) = crate::commands::registry::resolve(db, &args.model)?;
    // Only the model's columns are decoded from a Parquet file.
    let table = read_table_columns(&args.data, Some(&model.input_columns(false)))?;
    let file_columns = table.columns;
    let named = |e| with_file_columns(e, &file_columns);
    let raw = select_ids(&model, table.frame, &args.id)?;
    if !args.set.is_empty() {
        let changes: BTreeMap<String, String> = args.set.iter().cloned().collect();
        let results = model.what_if(&raw, &changes, args.top).map_err(named)?;
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&results)?)?;
            return Ok(());
        }
        let set: Vec<String> = args.set.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        writeln!(out, "What if {}:", set.join(", "))?;
        let mut t = Table::new(["customer", "before", "after", "change", "top reasons after"]);
        for r in results.iter().take(50) {
            t.row([
                r.id.clone(),
                format!("{:.4}", r.before),
                format!("{:.4}", r.after),
                format!("{:+.4}", r.after - r.before),
                reasons_text(&r.reasons),
            ]);
        }
        t.write(out)?;
        return Ok(());
    }
    let explanations = model.explain(&raw, args.top).map_err(named)?;
    if let Some(path) = &args.out {
        write_explanations(&explanations, path, args.top)?;
        writeln!(
            out,
            "Explained {} customers into {}",
            explanations.len(),
            path.display()
        )?;
        return Ok(());
    }
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&explanations)?)?;
        return Ok(());
    }
    if let Some(first) = explanations.first() {
        writeln!(
            out,
            "Contributions in log-odds of churn against the average customer (expected log-odds {:+.3}):",
            first.expected_value
        )?;
    }
    let mut t = Table::new(["customer", "churn_probability", "top reasons"]);
    for e in explanations.iter().take(50) {
        t.row([
            e.id.clone(),
            format!("{:.4}", e.probability),
            reasons_text(&e.reasons),
        ]);
    }
    t.write(out)?;
    if explanations.len() > 50 {
        writeln!(
            out,
            "… {} more; write them all with --out reasons.csv",
            explanations.len() - 50
        )?;
    }
    Ok(())
}

pub fn importance(
    db: &retention_core::store::Db,
    args: &ImportanceArgs,
    out: &mut dyn Write,
) -> Result<()> {
    let (model, _) = crate::commands::registry::resolve(db, &args.model)?;
    let table = read_table_columns(&args.data, Some(&model.input_columns(false)))?;
    let raw = table.frame;
    let importance = model
        .importance(&raw)
        .map_err(|e| with_file_columns(e, &table.columns))?;
    if args.json {
        let v: Vec<serde_json::Value> = importance
            .iter()
            .map(|(c, v)| serde_json::json!({"column": c, "mean_abs_contribution": v}))
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "Mean |contribution| to churn log-odds over {} customers:",
        raw.height()
    )?;
    let mut t = Table::new(["column", "importance"]);
    for (c, v) in importance {
        t.row([c, format!("{v:.4}")]);
    }
    t.write(out)?;
    Ok(())
}

/// Keeps the rows of the given ids (all rows when none are given); an unknown id is an error.
fn select_ids(model: &ChurnModel, raw: DataFrame, ids: &[String]) -> Result<DataFrame> {
    if ids.is_empty() {
        return Ok(raw);
    }
    let Some(id_col) = model.schema.id() else {
        bail!("--id needs a model with an id column; this model has none");
    };
    let column = raw
        .column(id_col)
        .map_err(|_| anyhow::anyhow!("the data has no id column '{id_col}'"))?
        .cast(&DataType::String)?;
    let text = column.str()?;
    let mut rows: Vec<IdxSize> = Vec::new();
    for id in ids {
        match text
            .iter()
            .position(|v| v.map(str::trim) == Some(id.as_str()))
        {
            Some(i) => rows.push(i as IdxSize),
            None => bail!("customer id {id:?} not found in column '{id_col}'"),
        }
    }
    Ok(raw.take(&IdxCa::from_vec("idx".into(), rows))?)
}

fn reasons_text(reasons: &[retention_core::explain::Reason]) -> String {
    reasons
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

fn write_explanations(rows: &[RowExplanation], path: &std::path::Path, top: usize) -> Result<()> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let text = serde_json::to_vec_pretty(rows)?;
        retention_core::atomic_write(path, |w| {
            w.write_all(&text)
                .map_err(|e| retention_core::Error::io(path, e))
        })?;
        return Ok(());
    }
    write_table(&explanations_frame(rows, top)?, path)?;
    Ok(())
}
