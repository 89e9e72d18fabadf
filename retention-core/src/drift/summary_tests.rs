//! Unit tests of the drift summaries.

use super::*;
use crate::drift::{DriftOptions, DriftPlan, DriftReport, stats};
use crate::training::SplitMix64;

fn table(n: usize, seed: u64, shift: f64) -> DataFrame {
    let mut rng = SplitMix64::new(seed);
    let tenure: Vec<Option<String>> = (0..n)
        .map(|i| (i % 17 != 0).then(|| format!("{}", (rng.next_f64() * 72.0 + shift).floor())))
        .collect();
    let charges: Vec<f64> = (0..n)
        .map(|_| (rng.next_f64() * 100.0 + shift).round() / 4.0)
        .collect();
    let plan: Vec<&str> = (0..n)
        .map(|_| match (rng.next_f64() + shift / 100.0) * 3.0 {
            x if x < 1.0 => "basic",
            x if x < 2.0 => "plus",
            _ => "max",
        })
        .collect();
    df!("tenure" => tenure, "charges" => charges, "plan" => plan).unwrap()
}

fn roles() -> Vec<(String, Role)> {
    vec![
        ("tenure".into(), Role::Numeric),
        ("charges".into(), Role::Numeric),
        ("plan".into(), Role::Categorical),
    ]
}

fn merged(frame: &DataFrame, parts: usize, capacity: usize) -> TableSummary {
    let n = frame.height();
    let size = n.div_ceil(parts);
    let mut out: Option<TableSummary> = None;
    for k in 0..parts {
        let part = frame.slice((k * size) as i64, size);
        let s = TableSummary::of(&part, &roles(), None, None, capacity).unwrap();
        match out.as_mut() {
            Some(acc) => acc.merge(&s).unwrap(),
            None => out = Some(s),
        }
    }
    out.unwrap()
}

#[test]
fn merged_parts_give_the_whole_tables_report() {
    let (r, c) = (table(5000, 1, 0.0), table(4000, 2, 6.0));
    let plan = DriftPlan {
        compared: roles(),
        missing_columns: vec![],
        new_columns: vec![],
    };
    let options = DriftOptions::default();
    let whole = DriftReport::from_summaries(
        &plan,
        &TableSummary::of(&r, &roles(), None, None, DEFAULT_CAPACITY).unwrap(),
        &TableSummary::of(&c, &roles(), None, None, DEFAULT_CAPACITY).unwrap(),
        None,
        &options,
    )
    .unwrap();
    let parts = DriftReport::from_summaries(
        &plan,
        &merged(&r, 7, DEFAULT_CAPACITY),
        &merged(&c, 3, DEFAULT_CAPACITY),
        None,
        &options,
    )
    .unwrap();
    assert_eq!(whole, parts);
    assert!(whole.features.iter().all(|f| f.ks_error_bound.is_none()));
    // And both equal the report computed from the frames directly.
    let direct = DriftReport::compute(&r, &c, None, &DriftOptions::default());
    assert_eq!(direct.unwrap().features, whole.features);
    // Summaries survive the trip through bytes.
    let s = merged(&r, 4, DEFAULT_CAPACITY);
    assert_eq!(TableSummary::from_bytes(&s.to_bytes().unwrap()).unwrap(), s);
}

#[test]
fn weighted_statistics_equal_the_expanded_ones() {
    let mut rng = SplitMix64::new(9);
    let mut a: Vec<f64> = (0..3000).map(|_| (rng.next_f64() * 50.0).floor()).collect();
    let mut b: Vec<f64> = (0..2000).map(|_| (rng.next_f64() * 60.0).floor()).collect();
    a.sort_unstable_by(f64::total_cmp);
    b.sort_unstable_by(f64::total_cmp);
    let (wa, wb) = (distinct_counts(a.clone()), distinct_counts(b.clone()));
    for bins in [2, 10, 37] {
        let edges = stats::quantile_edges(&a, bins);
        assert_eq!(stats::quantile_edges_weighted(&wa, bins), edges);
        assert_eq!(
            stats::bin_counts_weighted(&wb, &edges),
            stats::bin_counts(&b, &edges)
        );
    }
    assert_eq!(
        stats::ks_and_wasserstein_weighted(&wa, &wb),
        stats::ks_and_wasserstein(&a, &b)
    );
}

#[test]
fn compaction_bounds_the_ks_error() {
    let (r, c) = (table(20_000, 3, 0.0), table(20_000, 4, 3.0));
    let continuous = |t: &DataFrame| -> Vec<f64> {
        let mut rng = SplitMix64::new(t.height() as u64);
        (0..t.height()).map(|_| rng.next_f64() * 10.0).collect()
    };
    let exact_r = NumericSummary::of_values(continuous(&r), DEFAULT_CAPACITY);
    let mut c_values = continuous(&c);
    c_values.iter_mut().for_each(|v| *v += 0.3);
    let exact_c = NumericSummary::of_values(c_values.clone(), DEFAULT_CAPACITY);
    let (exact_ks, _) = stats::ks_and_wasserstein_weighted(&exact_r.values, &exact_c.values);
    // Merge 8 parts each compacted to 256 values.
    let mut small_r: Option<NumericSummary> = None;
    for chunk in continuous(&r).chunks(2500) {
        let s = NumericSummary::of_values(chunk.to_vec(), 256);
        match small_r.as_mut() {
            Some(acc) => acc.merge(&s, 256),
            None => small_r = Some(s),
        }
    }
    let small_r = small_r.unwrap();
    let small_c = NumericSummary::of_values(c_values, 256);
    assert!(small_r.values.len() <= 256 && small_r.rank_error > 0);
    assert_eq!(small_r.count(), 20_000);
    let (ks, w) = stats::ks_and_wasserstein_weighted(&small_r.values, &small_c.values);
    let bound = small_r.rank_error as f64 / 20_000.0 + small_c.rank_error as f64 / 20_000.0;
    assert!(bound < 0.05, "bound {bound}");
    assert!(
        (ks - exact_ks).abs() <= bound,
        "ks {ks} exact {exact_ks} bound {bound}"
    );
    let (_, exact_w) = stats::ks_and_wasserstein_weighted(&exact_r.values, &exact_c.values);
    let w_bound = small_r.moved / 20_000.0 + small_c.moved / 20_000.0;
    assert!(
        w_bound > 0.0 && w_bound < 0.1,
        "Wasserstein bound {w_bound}"
    );
    assert!(
        (w - exact_w).abs() <= w_bound,
        "w {w} exact {exact_w} bound {w_bound}"
    );
    // The mean survives compaction exactly (buckets keep their weighted mean).
    let (m_small, _) = stats::mean_std_weighted(&small_c.values);
    let (m_exact, _) = stats::mean_std_weighted(&exact_c.values);
    assert!((m_small - m_exact).abs() < 1e-9);
}

#[test]
fn merging_different_plans_is_refused() {
    let t = table(100, 5, 0.0);
    let mut a = TableSummary::of(&t, &roles(), None, None, 64).unwrap();
    let b = TableSummary::of(&t, &roles()[..2], None, None, 64).unwrap();
    assert!(matches!(a.merge(&b), Err(Error::InvalidData(_))));
}
