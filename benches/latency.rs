//! Single-customer scoring latency in-process, as a service sees it: one record of text fields in,
//! probability and tier out (`RowScorer::score_record`), for each model family trained on the
//! bundled Telco table. Prints p50, p90, p99 and p99.9 over 200,000 calls cycling through the
//! Telco customers, after a warm-up; with `RETENTION_LATENCY_JSON=FILE` also writes them as JSON
//! (for `benches/compare/run.sh`).
//!
//! Run: `cargo bench --bench latency`.

// Benchmark and example code, run by hand: a failure may stop it with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Instant;

use retention::prelude::*;

const CALLS: usize = 200_000;

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let k = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[k]
}

fn main() {
    let telco = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/telco_customer_churn.csv");
    let ds = Dataset::load(
        &telco,
        &SchemaOptions::new().target("Churn").id("customerID"),
    )
    .expect("load Telco");
    let raw = read_table(&telco).expect("read Telco").frame;
    let names: Vec<String> = raw
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let rows: Vec<Vec<Option<String>>> = (0..raw.height())
        .map(|i| {
            raw.columns()
                .iter()
                .map(|c| c.str().expect("text").get(i).map(str::to_string))
                .collect()
        })
        .collect();
    let records: Vec<Vec<(&str, Option<&str>)>> = rows
        .iter()
        .map(|row| {
            names
                .iter()
                .zip(row)
                .map(|(n, v)| (n.as_str(), v.as_deref()))
                .collect()
        })
        .collect();
    let mut report = Vec::new();
    println!("single-record scoring latency, {CALLS} calls per model (microseconds)");
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>8}",
        "model", "p50", "p90", "p99", "p99.9"
    );
    for algorithm in Algorithm::ALL {
        let model = train(&ds, &TrainParams::new(algorithm).cv_folds(0), &|_| {}).expect("train");
        let scorer = model.row_scorer();
        for record in records.iter().take(2_000) {
            std::hint::black_box(scorer.score_record(record).expect("score"));
        }
        let mut micros = Vec::with_capacity(CALLS);
        for k in 0..CALLS {
            let record = &records[k % records.len()];
            let start = Instant::now();
            let score = scorer.score_record(record).expect("score");
            micros.push(start.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(score);
        }
        micros.sort_by(f64::total_cmp);
        let [p50, p90, p99, p999] = [0.5, 0.9, 0.99, 0.999].map(|q| percentile(&micros, q));
        println!(
            "{:<10} {p50:>8.2} {p90:>8.2} {p99:>8.2} {p999:>8.2}",
            algorithm.as_str()
        );
        report.push(serde_json::json!({
            "model": algorithm.as_str(), "p50_us": p50, "p90_us": p90, "p99_us": p99, "p999_us": p999,
        }));
    }
    if let Ok(path) = std::env::var("RETENTION_LATENCY_JSON") {
        std::fs::write(&path, serde_json::to_string_pretty(&report).expect("json"))
            .expect("write the latency report");
    }
}
