//! Unit tests of gradient boosting.

use super::binning::{bin_matrix, bin_of, cuts_of};
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

/// A deterministic stream of numbers in [0, 1).
fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` rows of one-hot columns (3, 4 and 2 levels, the last sometimes missing: no level set),
/// a dense column with missing values, a constant and an indicator that overlaps the others;
/// churn depends on several of them.
fn mixed_data(n: usize) -> (FeatureMatrix, Vec<bool>) {
    let mut next = uniform(11);
    let mut columns: Vec<Vec<f64>> = Vec::new();
    let mut levels = Vec::new();
    for k in [3usize, 4, 2] {
        let picks: Vec<Option<usize>> = (0..n)
            .map(|_| {
                let u = next();
                (k != 2 || u < 0.9).then(|| (next() * k as f64) as usize)
            })
            .collect();
        for level in 0..k {
            columns.push(
                picks
                    .iter()
                    .map(|&p| f64::from(u8::from(p == Some(level))))
                    .collect(),
            );
        }
        levels.push(picks);
    }
    let dense: Vec<f64> = (0..n)
        .map(|i| {
            if i % 13 == 0 {
                f64::NAN
            } else {
                (next() * 40.0).round()
            }
        })
        .collect();
    let overlap: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
    let y = (0..n)
        .map(|i| {
            let d = if dense[i].is_nan() { 20.0 } else { dense[i] };
            (levels[0][i] == Some(1)) ^ (d > 25.0) ^ (levels[2][i].is_none() && next() < 0.5)
        })
        .collect();
    columns.extend([dense, vec![4.0; n], overlap]);
    (matrix(columns), y)
}

#[test]
fn packed_fields_give_every_inputs_histogram() {
    // One-hot levels are bundled and bundles packed several to a byte; the histogram of every
    // input, summed back from the bytes' histograms, must be what counting that input gives.
    let (x, _) = mixed_data(3000);
    let data = bin_matrix(&x, 256);
    assert!(
        data.n_groups() < 5,
        "{} bytes for 6 fields",
        data.n_groups()
    );
    let mut hist = vec![Bin::default(); data.hist_len()];
    for r in 0..x.n_rows {
        add_row(&data.offsets, &mut hist, data.row(r), r as f64, 1.0);
    }
    let mut marginals = vec![Bin::default(); data.marginals_len()];
    data.marginals(&hist, &mut marginals);
    for j in 0..x.n_cols() {
        let (at, radix, code) = data.input_bins(j);
        let mut expected = vec![(0.0, 0u32); radix];
        for (r, &v) in x.column(j).iter().enumerate() {
            let b = match code {
                None => usize::from(bin_of(&data.cuts[j], v)),
                Some(code) if v == 1.0 => usize::from(code),
                Some(_) => continue,
            };
            expected[b].0 += r as f64;
            expected[b].1 += 1;
        }
        for (b, &(g, n)) in expected.iter().enumerate() {
            if code.is_some_and(|c| usize::from(c) != b) {
                continue;
            }
            let got = marginals[at + b];
            assert_eq!((got.g, got.n), (g, n), "input {j} bin {b}");
        }
    }
}

#[test]
fn partition_in_blocks_is_the_stable_partition() {
    let (x, _) = mixed_data(150_000);
    let data = bin_matrix(&x, 256);
    let mut scratch = Vec::new();
    for (j, bin) in [(0, 0), (5, 0), (9, 20), (11, 0)] {
        let split = data.split(j, bin);
        // Every third row, so that the rows are not 0..n.
        let mut rows: Vec<u32> = (0..x.n_rows as u32).step_by(3).collect();
        let goes_left = |r: u32| {
            let v = x.column(j)[r as usize];
            v <= data.cuts[j][bin]
        };
        let (mut left, right): (Vec<u32>, Vec<u32>) = rows.iter().partition(|&&r| goes_left(r));
        let w = data.partition(&split, &mut rows, &mut scratch);
        assert_eq!(w, left.len(), "input {j}");
        left.extend(right);
        assert_eq!(rows, left, "input {j}");
    }
}

#[test]
fn one_thread_or_two_give_the_same_model() {
    // More rows than one histogram task and one partition block, so the work is split.
    let (x, y) = mixed_data(100_000);
    let params = BoostingParams {
        trees: 8,
        max_leaves: 16,
        ..BoostingParams::default()
    };
    let fit = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| BoostingModel::fit_scored(&params, &x, &y, None, 0).unwrap())
    };
    let (one, z1) = fit(1);
    let (two, z2) = fit(2);
    assert_eq!(one, two);
    assert_eq!(z1, z2);
    assert!(
        one.trees
            .iter()
            .all(|t| t.iter().filter(|n| n.leaf).count() > 8)
    );
}

#[test]
fn the_fit_keeps_the_training_decision() {
    // `fit_scored`'s log-odds are what scoring the training rows gives, bit for bit, with
    // missing values, bundled levels and weights.
    let (x, y) = mixed_data(5000);
    let w: Vec<f64> = (0..x.n_rows).map(|i| 1.0 + (i % 4) as f64).collect();
    for weights in [None, Some(w.as_slice())] {
        let (model, z) =
            BoostingModel::fit_scored(&BoostingParams::default(), &x, &y, weights, 0).unwrap();
        let scored = model.decision(&x);
        assert_eq!(z.len(), scored.len());
        for (i, (a, b)) in z.iter().zip(&scored).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "row {i}");
        }
        let correct = z.iter().zip(&y).filter(|(z, y)| (**z > 0.0) == **y).count();
        assert!(correct > 4000, "{correct} of 5000 right");
    }
}
