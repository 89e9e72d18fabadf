//! Prediction-log insert throughput: 10k, 100k and 1M rows logged in 100,000-row batches (one
//! transaction each) into a fresh database file, as `retention score --log` does.
//!
//! Run: `cargo bench --bench store` (criterion; rows per second are reported as throughput).

// Benchmark and example code, run by hand: a failure may stop it with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use retention::store::{PredictionRow, Store};

const BATCH: usize = 100_000;

fn bench_log(c: &mut Criterion) {
    let ids: Vec<String> = (0..1_000_000)
        .map(|i| format!("{:04}-CUST{i:07}", i % 9973))
        .collect();
    let artifact = {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/telco_customer_churn.csv");
        let ds = retention::data::Dataset::load(
            &path,
            &retention::data::SchemaOptions::new()
                .target("Churn")
                .id("customerID"),
        )
        .expect("load Telco");
        let params =
            retention::training::TrainParams::new(retention::estimators::Algorithm::Logistic)
                .cv_folds(0);
        retention::training::train(&ds, &params, &|_| {})
            .expect("train")
            .to_bytes()
            .expect("bytes")
    };
    let mut group = c.benchmark_group("prediction_log");
    group.sample_size(10);
    for rows in [10_000usize, 100_000, 1_000_000] {
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_with_input(BenchmarkId::new("insert", rows), &rows, |b, &rows| {
            b.iter_with_setup(
                || {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let mut store = Store::open(dir.path().join("bench.db")).expect("open");
                    let version = store
                        .register(&artifact, "", "bench")
                        .expect("register")
                        .version;
                    (dir, store, version)
                },
                |(dir, mut store, version)| {
                    for (k, chunk) in ids[..rows].chunks(BATCH).enumerate() {
                        let batch: Vec<PredictionRow<'_>> = chunk
                            .iter()
                            .enumerate()
                            .map(|(i, id)| PredictionRow {
                                customer_id: id,
                                model_version: version,
                                variant: "champion",
                                probability: (i % 997) as f64 / 997.0,
                                tier: "Low",
                                row_index: (k * BATCH + i) as i64,
                            })
                            .collect();
                        black_box(store.log_predictions("bench", &batch).expect("log"));
                    }
                    drop(store);
                    drop(dir);
                },
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_log);
criterion_main!(benches);
