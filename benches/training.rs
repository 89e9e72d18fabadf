//! Pipeline and training throughput on 10k, 100k and 1M synthetic customers (`retention
//! generate`'s generator on the bundled Telco table, seed 1), read once into a typed `Dataset`:
//!
//! - `pipeline/fit_transform`: learning medians, scales and vocabularies and building the feature
//!   matrix (what training does first);
//! - `pipeline/transform`: the fitted pipeline applied to the same rows (what scoring does);
//! - `training/{logistic,tree,boosting}`: one final fit (no cross-validation, no calibration), from
//!   the typed table to the fitted model. The decision tree (linfa-trees) stops at 100k rows: it
//!   grows split by split over sorted copies and takes minutes at 1M.
//!
//! Run: `cargo bench --bench training` (criterion; rows per second are reported as throughput).
//! Whole-process timings beside scikit-learn and LightGBM: `benches/compare/run.sh`.

// Benchmark and example code, run by hand: a failure may stop it with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use retention::features::{FeatureSpec, FittedPipeline, PipelineParams};
use retention::generate::Generator;
use retention::prelude::*;

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

fn datasets() -> Vec<(usize, Dataset)> {
    let telco = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/telco_customer_churn.csv");
    let template = read_table(&telco).expect("read Telco").frame;
    let generator = Generator::new(template, &[]).expect("generator");
    let dir = tempfile::tempdir().expect("temporary folder");
    SIZES
        .iter()
        .map(|&rows| {
            let path = dir.path().join(format!("customers_{rows}.csv"));
            generator
                .write(rows, 1, &path, &|_| {})
                .expect("generate customers");
            let ds = Dataset::load(
                &path,
                &SchemaOptions::new().target("Churn").id("customerID"),
            )
            .expect("load customers");
            (rows, ds)
        })
        .collect()
}

fn bench_training(c: &mut Criterion) {
    let data = datasets();
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    for (rows, ds) in &data {
        group.throughput(Throughput::Elements(*rows as u64));
        let spec = FeatureSpec::default();
        let params = PipelineParams::default();
        group.bench_with_input(BenchmarkId::new("fit_transform", rows), ds, |b, ds| {
            b.iter(|| {
                black_box(
                    FittedPipeline::fit_transform(&ds.frame, &ds.schema, &spec, &params)
                        .expect("fit"),
                )
            })
        });
        let (pipeline, _) =
            FittedPipeline::fit_transform(&ds.frame, &ds.schema, &spec, &params).expect("fit");
        group.bench_with_input(BenchmarkId::new("transform", rows), ds, |b, ds| {
            b.iter(|| black_box(pipeline.transform(&ds.frame).expect("transform")))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("training");
    group.sample_size(10);
    for algorithm in Algorithm::ALL {
        for (rows, ds) in &data {
            if algorithm == Algorithm::Tree && *rows > 100_000 {
                continue;
            }
            group.throughput(Throughput::Elements(*rows as u64));
            let params = TrainParams::new(algorithm)
                .cv_folds(0)
                .calibration(CalibrationMethod::None);
            group.bench_with_input(BenchmarkId::new(algorithm.as_str(), rows), ds, |b, ds| {
                b.iter(|| black_box(train(ds, &params, &|_| {}).expect("train")))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_training);
criterion_main!(benches);
