//! Explanation throughput: per-row contributions for 1,000 and 100,000 Telco rows per estimator
//! (boosting: 1,000 and 10,000; see below).
//!
//! Run: `cargo bench --bench explain` (criterion; rows per second are reported as throughput).
//! The 100,000-row table repeats the bundled Telco rows.

// Benchmark and example code, run by hand: a failure may stop it with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use polars::prelude::*;
use retention::prelude::*;

fn telco_rows(n: usize) -> DataFrame {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/telco_customer_churn.csv");
    let one = read_table(&path).expect("read Telco").frame;
    let mut out = one.clone();
    while out.height() < n {
        out.vstack_mut(&one).expect("stack");
    }
    out.head(Some(n))
}

fn bench_explain(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/telco_customer_churn.csv");
    let ds = Dataset::load(
        &path,
        &SchemaOptions::new().target("Churn").id("customerID"),
    )
    .expect("load Telco");
    let mut group = c.benchmark_group("explain");
    group.sample_size(10);
    for algorithm in Algorithm::ALL {
        let model = train(&ds, &TrainParams::new(algorithm).cv_folds(0), &|_| {}).expect("train");
        for rows in [1_000, 100_000] {
            let raw = telco_rows(rows);
            group.throughput(Throughput::Elements(rows as u64));
            group.bench_with_input(
                BenchmarkId::new(algorithm.as_str(), rows),
                &raw,
                |b, raw| b.iter(|| black_box(model.contributions(raw).expect("explain"))),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench_explain);
criterion_main!(benches);
