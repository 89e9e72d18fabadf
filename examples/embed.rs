//! Embedding RetentionAI in a Rust program: load the bundled Telco table, train a logistic model
//! with cross-validation, save it, reload it, score a few customers and check recent rows for drift.
//!
//! Run with `cargo run --example embed`.

// Benchmark and example code, run by hand: a failure may stop it with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use retention::prelude::*;

fn main() -> retention::Result<()> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/telco_customer_churn.csv");
    let ds = Dataset::load(
        &data,
        &SchemaOptions::new().target("Churn").id("customerID"),
    )?;
    for warning in &ds.warnings {
        eprintln!("warning: {warning}");
    }

    let params = TrainParams::new(Algorithm::Logistic).cv_folds(5).seed(42);
    let model = train(&ds, &params, &|_| {})?;
    if let Some(auc) = model.metrics.cv.as_ref().and_then(|cv| cv.get("roc_auc")) {
        println!(
            "5-fold cross-validated ROC-AUC: {:.4} ± {:.4}",
            auc.mean, auc.std
        );
    }

    let dir = std::env::temp_dir().join(format!("retention-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join("model.json");
    model.save(&path)?;
    let reloaded = ChurnModel::load(&path)?;

    let raw = read_table(&data)?.frame.head(Some(5));
    let (scores, unseen, _) = reloaded.score_frame(&raw, 0, &[])?;
    assert!(unseen.unseen.is_empty());
    println!("{scores}");

    // Monitoring: compare the newest customers (here, the last 2,000 rows) with the training table.
    let all = read_table(&data)?.frame;
    let recent = all.tail(Some(2_000));
    let report = DriftReport::compute(&all, &recent, Some(&reloaded), &DriftOptions::default())?;
    println!(
        "drift: {}: {}",
        report.verdict.status, report.verdict.summary
    );
    if let Some(p) = &report.prediction {
        println!(
            "estimated ROC-AUC on the recent rows without labels: {:.3}",
            p.estimated_current.roc_auc
        );
    }
    std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(())
}
