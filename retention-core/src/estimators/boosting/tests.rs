//! Unit tests of gradient boosting.

use super::binning::{bin_of, cuts_of};
use super::*;

fn matrix(columns: Vec<Vec<f64>>) -> FeatureMatrix {
    let n_rows = columns[0].len();
    FeatureMatrix {
        n_rows,
        names: (0..columns.len()).map(|j| format!("x{j}")).collect(),
        values: columns.into_iter().flatten().collect(),
    }
}

/// 2,000 rows: churn when x0 > 0.5 xor x1 is 1 (an interaction a linear model cannot fit),
/// plus a noise column with missing values.
fn xor_data() -> (FeatureMatrix, Vec<bool>) {
    let mut state = 7u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let n = 2000;
    let x0: Vec<f64> = (0..n).map(|_| next()).collect();
    let x1: Vec<f64> = (0..n).map(|_| f64::from(u8::from(next() < 0.5))).collect();
    let x2: Vec<f64> = (0..n)
        .map(|i| if i % 10 == 0 { f64::NAN } else { next() })
        .collect();
    let y = x0
        .iter()
        .zip(&x1)
        .map(|(&a, &b)| (a > 0.5) != (b == 1.0))
        .collect();
    (matrix(vec![x0, x1, x2]), y)
}

#[test]
fn learns_an_interaction() {
    let (x, y) = xor_data();
    let model = BoostingModel::fit(&BoostingParams::default(), &x, &y, None, 0).unwrap();
    assert_eq!(model.n_trees(), 100);
    let z = model.decision(&x);
    let correct = z.iter().zip(&y).filter(|(z, y)| (**z > 0.0) == **y).count();
    assert!(correct > 1950, "{correct} of 2000 right");
}

#[test]
fn threshold_routing_matches_the_training_partition() {
    // Covers come from the bin partition used in training; routing every row by the stored
    // thresholds must land the same number of rows in every leaf.
    let (x, y) = xor_data();
    let model = BoostingModel::fit(&BoostingParams::default(), &x, &y, None, 0).unwrap();
    for tree in &model.trees {
        let mut counts = vec![0.0; tree.len()];
        for i in 0..x.n_rows {
            let mut k = 0;
            while !tree[k].leaf {
                let v = x.values[tree[k].feature as usize * x.n_rows + i];
                k = if v <= tree[k].threshold {
                    tree[k].left as usize
                } else {
                    tree[k].right as usize
                };
            }
            counts[k] += 1.0;
        }
        for (node, c) in tree.iter().zip(&counts) {
            if node.leaf {
                assert_eq!(node.cover, *c);
            }
        }
        assert_eq!(tree[0].cover, x.n_rows as f64);
        assert!(tree.iter().filter(|n| n.leaf).count() <= 8);
    }
}

#[test]
fn same_data_same_model() {
    let (x, y) = xor_data();
    let params = BoostingParams {
        trees: 20,
        ..BoostingParams::default()
    };
    let a = BoostingModel::fit(&params, &x, &y, None, 1).unwrap();
    let b = BoostingModel::fit(&params, &x, &y, None, 2).unwrap();
    assert_eq!(a, b);
}

#[test]
fn weights_count_in_covers_and_bad_weights_name_the_row() {
    let (x, y) = xor_data();
    let params = BoostingParams {
        trees: 5,
        ..BoostingParams::default()
    };
    let w: Vec<f64> = (0..x.n_rows)
        .map(|i| if i % 2 == 0 { 2.0 } else { 1.0 })
        .collect();
    let model = BoostingModel::fit(&params, &x, &y, Some(&w), 0).unwrap();
    assert_eq!(model.trees[0][0].cover, 3000.0);
    let mut bad = w.clone();
    bad[17] = f64::NAN;
    let err = BoostingModel::fit(&params, &x, &y, Some(&bad), 0).unwrap_err();
    assert!(err.to_string().contains("row 17"), "{err}");
}

#[test]
fn cuts_fit_the_values() {
    // Few distinct values: one bin each, cut halfway.
    assert_eq!(
        cuts_of(&[1.0, 0.0, 1.0, 3.0, f64::NAN], 256),
        vec![0.5, 2.0]
    );
    // Many values: at most max_bin bins, the largest value not alone in an empty bin.
    let many: Vec<f64> = (0..10_000).map(f64::from).collect();
    let cuts = cuts_of(&many, 16);
    assert!(cuts.len() <= 15 && cuts.len() >= 14, "{cuts:?}");
    assert!(cuts.windows(2).all(|w| w[0] < w[1]));
    // Binning agrees with `x <= cut` and sends missing values to the last bin.
    let cuts = [0.5, 2.0];
    assert_eq!(bin_of(&cuts, 0.0), 0);
    assert_eq!(bin_of(&cuts, 0.5), 0);
    assert_eq!(bin_of(&cuts, 1.0), 1);
    assert_eq!(bin_of(&cuts, 9.0), 2);
    assert_eq!(bin_of(&cuts, f64::NAN), 2);
    // A constant input has no cut and is never split.
    assert!(cuts_of(&[4.0; 10], 256).is_empty());
}

#[test]
fn settings_are_checked() {
    for (params, flag) in [
        (
            BoostingParams {
                trees: 0,
                ..BoostingParams::default()
            },
            "trees",
        ),
        (
            BoostingParams {
                learning_rate: 0.0,
                ..BoostingParams::default()
            },
            "learning_rate",
        ),
        (
            BoostingParams {
                max_leaves: 1,
                ..BoostingParams::default()
            },
            "max_leaves",
        ),
        (
            BoostingParams {
                max_bin: 300,
                ..BoostingParams::default()
            },
            "max_bin",
        ),
    ] {
        let err = params.check().unwrap_err();
        assert!(err.to_string().contains(flag), "{err}");
    }
}
