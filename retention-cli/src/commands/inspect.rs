//! `retention inspect`

use std::io::Write;

use anyhow::Result;
use retention_core::estimators::Estimator;
use retention_core::prelude::*;

use crate::cli::InspectArgs;
use crate::output::{self, Table};

pub fn run(args: &InspectArgs, out: &mut dyn Write) -> Result<()> {
    let model = ChurnModel::load(&args.model)?;
    if args.json {
        return print_json(&model, out);
    }
    print_summary(args, &model, out)?;
    writeln!(out, "\nModel inputs ({}):", model.pipeline.n_outputs())?;
    print_inputs(&model, out)?;
    if !model.notes.is_empty() {
        writeln!(out, "\nNotes:")?;
        for n in &model.notes {
            writeln!(out, "  {}", crate::spelling::text(n))?;
        }
    }
    Ok(())
}

/// The whole model description as JSON.
fn print_json(model: &ChurnModel, out: &mut dyn Write) -> Result<()> {
    let summary = serde_json::json!({
        "format_version": retention_core::model::FORMAT_VERSION,
        "algorithm": model.estimator.name(),
        "schema": model.schema,
        "inputs": model.pipeline.outputs,
        "derived_features": model.pipeline.spec.features,
        "calibrator": model.calibrator,
        "threshold": model.threshold,
        "threshold_choice": model.threshold_choice,
        "tiers": model.tiers,
        "metrics": model.metrics,
        "params": model.params,
        "provenance": model.provenance,
        "notes": model.notes,
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
    Ok(())
}

/// Provenance, schema, derived features, leaderboard and metrics.
fn print_summary(args: &InspectArgs, model: &ChurnModel, out: &mut dyn Write) -> Result<()> {
    let p = &model.provenance;
    writeln!(out, "Model {}", args.model.display())?;
    writeln!(out, "  algorithm {}", model.estimator.name())?;
    writeln!(out, "  {}", output::threshold_line(model))?;
    writeln!(
        out,
        "  trained {} by retention {} on {} rows ({} fitted, {} held out), seed {}",
        p.created_at, p.crate_version, p.rows, p.training_rows, p.holdout_rows, p.seed
    )?;
    if let Some(sha) = &p.data_sha256 {
        writeln!(out, "  data sha256 {sha}")?;
    }

    writeln!(out, "\nSchema:")?;
    let mut schema = Table::new(["column", "role", "note"]);
    for c in &model.schema.columns {
        schema.row([
            c.name.clone(),
            c.role.as_str().to_string(),
            c.note
                .as_deref()
                .map(crate::spelling::text)
                .unwrap_or_default(),
        ]);
    }
    schema.write(out)?;
    if let (Some(pos), Some(neg)) = (&model.schema.positive_label, &model.schema.negative_label) {
        writeln!(out, "  churn = {pos:?}, no churn = {neg:?}")?;
    }
    if !model.pipeline.spec.features.is_empty() {
        writeln!(out, "\nDerived features:")?;
        for f in &model.pipeline.spec.features {
            writeln!(out, "  {}", serde_json::to_string(f)?)?;
        }
    }

    if !model.metrics.leaderboard.is_empty() {
        writeln!(out, "\nLeaderboard (cross-validated, after calibration):")?;
        output::leaderboard_table(&model.metrics.leaderboard).write(out)?;
    }
    writeln!(out, "\nMetrics:")?;
    let mut columns: Vec<(&str, &Metrics)> = Vec::new();
    if let Some(m) = &model.metrics.out_of_fold {
        columns.push(("out-of-fold", m));
    }
    if let Some(m) = &model.metrics.holdout {
        columns.push(("holdout", m));
    }
    columns.push(("training", &model.metrics.training));
    output::metrics_table(model.metrics.cv.as_ref(), &columns).write(out)?;
    Ok(())
}

/// The estimator's view of the model inputs: coefficients, trees, or blend members.
fn print_inputs(model: &ChurnModel, out: &mut dyn Write) -> Result<()> {
    match &model.estimator {
        Estimator::Logistic(lr) => {
            let mut rows: Vec<(usize, f64)> = lr.coefficients.iter().copied().enumerate().collect();
            rows.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
            let mut t = Table::new(["input", "coefficient (log-odds per unit)"]);
            for (j, w) in rows {
                t.row([model.pipeline.outputs[j].name.clone(), format!("{w:+.4}")]);
            }
            t.row(["(intercept)".to_string(), format!("{:+.4}", lr.intercept)]);
            t.write(out)?;
            if !lr.converged {
                writeln!(
                    out,
                    "  note: the solver did not converge (gradient norm per row {:.2e})",
                    lr.gradient_norm
                )?;
            }
        }
        Estimator::Boosting(b) => {
            writeln!(
                out,
                "  {} boosted trees over {} inputs",
                b.n_trees(),
                model.pipeline.n_outputs()
            )?;
        }
        Estimator::Blend { members } => {
            writeln!(
                out,
                "  the average log-odds of {}",
                members
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(" and ")
            )?;
        }
        Estimator::Tree(tree) => {
            writeln!(
                out,
                "  {} nodes, {} leaves; inputs: {}",
                tree.nodes.len(),
                tree.n_leaves(),
                model
                    .pipeline
                    .outputs
                    .iter()
                    .map(|o| o.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
    }
    Ok(())
}
