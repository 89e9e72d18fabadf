//! Drift throughput: every Telco column compared between two tables of 10k, 100k and 1M rows
//! (reference and current resampled from the bundled Telco rows with different seeds), as text
//! frames the way `read_table` returns them — parsing numbers is part of the measured work.
//!
//! Run: `cargo bench --bench drift` (criterion; rows per second per side are reported as
//! throughput). `benches/compare/drift_vs_scipy.sh` runs it beside numpy/scipy on the same rows.

// Benchmark and example code, run by hand: a failure may stop it with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use polars::prelude::*;
use retention::drift::{DriftOptions, DriftReport};
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

criterion_group!(benches, bench_drift);
criterion_main!(benches);
