//! Drift throughput: every Telco column compared between two tables of 10k, 100k and 1M rows
//! (reference and current resampled from the bundled Telco rows with different seeds), as text
//! frames the way `read_table` returns them — parsing numbers is part of the measured work.
//!
//! Run: `cargo bench --bench drift` (criterion; rows per second per side are reported as
//! throughput). `benches/compare/drift_vs_scipy.sh` runs it beside numpy/scipy on the same rows.
//!
//! `drift_files` times what `retention drift` does with two CSV files of 1M generated rows:
//! `streamed` (batches summarised and merged, `compute_files`, the command since streaming) and
//! `read_whole` (both files read into frames, then `compute`: the command before), with the
//! Telco model's predictions compared too.

// Benchmark and example code, run by hand: a failure may stop it with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use polars::prelude::*;
use retention::drift::{DriftOptions, DriftReport, compute_files};
use retention::generate::{Generator, Shift, telco_template};
use retention::prelude::*;
use retention::training::SplitMix64;

/// `n` Telco rows drawn with replacement (seeded), as read from the CSV.
pub fn resampled_telco(n: usize, seed: u64) -> DataFrame {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/telco_customer_churn.csv");
    let telco = read_table(&path).expect("read Telco").frame;
    let mut rng = SplitMix64::new(seed);
    let idx: Vec<IdxSize> = (0..n)
        .map(|_| (rng.next_u64() % telco.height() as u64) as IdxSize)
        .collect();
    telco
        .take(&IdxCa::from_vec("idx".into(), idx))
        .expect("resample")
}

fn bench_drift(c: &mut Criterion) {
    let mut group = c.benchmark_group("drift");
    group.sample_size(10);
    let options = DriftOptions::default();
    for rows in [10_000usize, 100_000, 1_000_000] {
        let reference = resampled_telco(rows, 1);
        let current = resampled_telco(rows, 2);
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_with_input(
            BenchmarkId::new("all_columns", rows),
            &(reference, current),
            |b, (r, c)| {
                b.iter(|| black_box(DriftReport::compute(r, c, None, &options).expect("drift")))
            },
        );
    }
    group.finish();
}

fn bench_drift_files(c: &mut Criterion) {
    let mut group = c.benchmark_group("drift_files");
    group.sample_size(10);
    let dir = tempfile::tempdir().expect("temporary folder");
    let rows = 1_000_000;
    let (reference, current) = (dir.path().join("r.csv"), dir.path().join("c.csv"));
    let template = || telco_template().expect("template");
    Generator::new(template(), &[])
        .and_then(|g| g.write(rows, 1, &reference, &|_| {}))
        .expect("reference");
    Generator::new(template(), &[Shift::parse("tenure=-6").expect("shift")])
        .and_then(|g| g.write(rows, 2, &current, &|_| {}))
        .expect("current");
    let telco = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/telco_customer_churn.csv");
    let data = Dataset::load(
        &telco,
        &SchemaOptions::new().target("Churn").id("customerID"),
    )
    .expect("Telco");
    let model = train(
        &data,
        &TrainParams::new(Algorithm::Boosting).cv_folds(0),
        &|_| {},
    )
    .expect("model");
    let options = DriftOptions::default();
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function(BenchmarkId::new("streamed", rows), |b| {
        b.iter(|| {
            black_box(
                compute_files(&reference, &current, Some(&model), &options, &|_| {})
                    .expect("drift"),
            )
        })
    });
    group.bench_function(BenchmarkId::new("read_whole", rows), |b| {
        b.iter(|| {
            let r = read_table(&reference).expect("read").frame;
            let c = read_table(&current).expect("read").frame;
            black_box(DriftReport::compute(&r, &c, Some(&model), &options).expect("drift"))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_drift, bench_drift_files);
criterion_main!(benches);
