//! Scoring throughput: CSV files of 10k, 100k and 1M synthetic customers (`retention generate`'s
//! generator, seed 1) scored CSV→CSV by a logistic model trained on the bundled Telco table —
//! reading, typing, encoding, the model and writing, as `retention score` does it — and the same
//! rows as frames already in memory (`ChurnModel::score_frame`).
//!
//! Run: `cargo bench --bench scoring` (criterion; rows per second are reported as throughput).
//! Single-row latency percentiles: `cargo bench --bench latency`.

// Benchmark and example code, run by hand: a failure may stop it with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use retention::generate::Generator;
use retention::prelude::*;
use retention::scoring::ScoreOptions;

fn bench_scoring(c: &mut Criterion) {
    let telco = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/telco_customer_churn.csv");
    let ds = Dataset::load(
        &telco,
        &SchemaOptions::new().target("Churn").id("customerID"),
    )
    .expect("load Telco");
    let model = train(
        &ds,
        &TrainParams::new(Algorithm::Logistic).cv_folds(0),
        &|_| {},
    )
    .expect("train");
    let template = read_table(&telco).expect("read Telco").frame;
    let generator = Generator::new(template, &[]).expect("generator");
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut group = c.benchmark_group("scoring");
    group.sample_size(10);
    for rows in [10_000usize, 100_000, 1_000_000] {
        let input = dir.path().join(format!("customers_{rows}.csv"));
        let output = dir.path().join(format!("scored_{rows}.csv"));
        generator
            .write(rows, 1, &input, &|_| {})
            .expect("generate customers");
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_with_input(BenchmarkId::new("csv_to_csv", rows), &input, |b, input| {
            b.iter(|| {
                black_box(
                    model
                        .score_file(input, &output, &ScoreOptions::default(), &|_| {})
                        .expect("score"),
                )
            })
        });
        let frame = read_table(&input).expect("read customers").frame;
        group.bench_with_input(BenchmarkId::new("frame", rows), &frame, |b, frame| {
            b.iter(|| black_box(model.score_frame(frame, 0, &[]).expect("score")))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_scoring);
criterion_main!(benches);
