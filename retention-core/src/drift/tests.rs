//! Unit tests of the drift comparison.

use polars::prelude::*;

use super::features::{UNSEEN, categorical_drift, numeric_drift, short};
use super::*;

fn frame(columns: Vec<Column>) -> DataFrame {
    let n = columns[0].len();
    DataFrame::new(n, columns).unwrap()
}

#[test]
fn status_needs_significance_and_size() {
    let t = DriftThresholds::default();
    assert_eq!(t.status(0.2, 0.9, 0.9), Status::Ok);
    assert_eq!(t.status(0.01, 0.3, 0.0), Status::Alert);
    assert_eq!(t.status(0.01, 0.12, 0.0), Status::Warn);
    assert_eq!(t.status(0.01, 0.05, 0.15), Status::Warn);
    assert_eq!(t.status(0.01, 0.05, 0.05), Status::Ok);
    assert!(
        DriftThresholds {
            psi_alert: 0.05,
            ..t
        }
        .check()
        .is_err()
    );
}

#[test]
fn a_tiny_categorical_table_by_hand() {
    // Reference: a a a a b b c ⌀ ; current: a a b b b b d ⌀
    let r = Column::new(
        "plan".into(),
        ["a", "a", "a", "a", "b", "b", "c", ""].as_slice(),
    );
    let c = Column::new(
        "plan".into(),
        ["a", "a", "b", "b", "b", "b", "d", ""].as_slice(),
    );
    let (r, c) = (LevelSummary::of(&r).unwrap(), LevelSummary::of(&c).unwrap());
    let f = categorical_drift("plan", &r, &c, &DriftThresholds::default());
    let labels: Vec<&str> = f.bins.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(labels, ["a", "b", "c", UNSEEN, "missing"]);
    // Bins: r = (4, 2, 1, 0, 1)/8, c = (2, 4, 0, 1, 1)/8; empty bins floored at 1e-4.
    let rp: [f64; 5] = [0.5, 0.25, 0.125, 1e-4, 0.125];
    let cp = [0.25, 0.5, 1e-4, 0.125, 0.125];
    let expected: f64 = rp.iter().zip(cp).map(|(r, c)| (c - r) * (c / r).ln()).sum();
    assert!((f.psi - expected).abs() < 1e-12, "{} vs {expected}", f.psi);
    assert_eq!(f.missing_reference, 0.125);
    assert!(f.note.as_deref().unwrap_or("").contains("\"d\" (1)"));
    // Eight rows a side cannot show significance.
    assert_eq!(f.status, Status::Ok);
    assert_eq!(f.change, "a 50.0% -> 25.0%");
}

#[test]
fn numeric_bins_missing_and_type_changes() {
    let r: Vec<Option<f64>> = (0..100)
        .map(|i| (i % 10 != 0).then_some(i as f64))
        .collect();
    let c: Vec<Option<&str>> = (0..100)
        .map(|i| match i {
            0 => Some("abc"),
            i if i % 10 == 0 => None,
            i => Some(if i % 2 == 0 { "50" } else { "51" }),
        })
        .collect();
    let summary =
        |column: Column| NumericSummary::of(&column, Some(0), summary::DEFAULT_CAPACITY).unwrap();
    let f = numeric_drift(
        "x",
        &summary(Column::new("x".into(), r)),
        &summary(Column::new("x".into(), c)),
        10,
        &DriftThresholds::default(),
    );
    assert_eq!(f.status, Status::Alert);
    assert!(
        f.note.as_deref().unwrap_or("").contains("row 1, \"abc\""),
        "{:?}",
        f.note
    );
    let labels: Vec<&str> = f.bins.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(labels.len(), 12, "{labels:?}");
    assert_eq!(labels[10..], ["missing", "not a number"]);
    assert!((f.missing_reference - 0.1).abs() < 1e-12);
    assert!((f.missing_current - 0.09).abs() < 1e-12);
}

#[test]
fn identical_tables_do_not_drift() {
    let x: Vec<f64> = (0..500).map(|i| ((i * 37) % 101) as f64).collect();
    let g: Vec<&str> = (0..500).map(|i| ["a", "b", "c"][i % 3]).collect();
    let y: Vec<&str> = (0..500)
        .map(|i| if i % 4 == 0 { "Yes" } else { "No" })
        .collect();
    let t = frame(vec![
        Column::new("x".into(), x),
        Column::new("g".into(), g),
        Column::new("Churn".into(), y),
    ]);
    let report = DriftReport::compute(&t, &t, None, &DriftOptions::default()).unwrap();
    assert_eq!(report.verdict.status, Status::Ok);
    assert_eq!(report.features.len(), 2, "the target is not a feature");
    for f in &report.features {
        assert_eq!(f.psi, 0.0);
        assert!(f.p_value > 0.99, "{f:?}");
    }
    assert!(report.to_json().unwrap().contains("\"verdict\""));
}

#[test]
fn missing_and_new_columns_are_reported() {
    let r = frame(vec![
        Column::new("a".into(), [1.0, 2.0, 3.0, 4.0]),
        Column::new("b".into(), ["x", "y", "x", "y"]),
    ]);
    let c = frame(vec![
        Column::new("a".into(), [1.0, 2.0, 3.0, 4.0]),
        Column::new("z".into(), ["x", "y", "x", "y"]),
    ]);
    let report = DriftReport::compute(&r, &c, None, &DriftOptions::default()).unwrap();
    assert_eq!(report.missing_columns, ["b"]);
    assert_eq!(report.new_columns, ["z"]);
    assert_eq!(report.verdict.status, Status::Alert);
    let empty = c.head(Some(0));
    let e = DriftReport::compute(&r, &empty, None, &DriftOptions::default()).unwrap_err();
    assert!(e.to_string().contains("current table has no rows"), "{e}");
}

#[test]
fn estimated_auc_by_hand() {
    // p = (0.2, 0.6, 0.9): pairs (i churns, j stays), i ≠ j, weight p_i (1 − p_j).
    let p = [0.2, 0.6, 0.9];
    let mut right = 0.0;
    let mut all = 0.0;
    for i in 0..3 {
        for j in 0..3 {
            if i != j {
                let w = p[i] * (1.0 - p[j]);
                all += w;
                if p[i] > p[j] {
                    right += w;
                }
            }
        }
    }
    let est = estimate_performance(&p, 0.5);
    assert!((est.roc_auc - right / all).abs() < 1e-12);
    assert!((est.accuracy - (0.8 + 0.6 + 0.9) / 3.0).abs() < 1e-12);
    // All tied: every pair counts half.
    let tied = estimate_performance(&[0.3; 4], 0.5);
    assert!((tied.roc_auc - 0.5).abs() < 1e-12);
}

#[test]
fn short_numbers() {
    assert_eq!(short(29.85), "29.85");
    assert_eq!(short(1397.475), "1397");
    assert_eq!(short(0.0), "0");
    assert_eq!(short(72.0), "72");
    assert_eq!(short(0.333_333), "0.3333");
}
