//! Unit tests of logistic regression.

use super::*;

fn matrix(cols: &[Vec<f64>]) -> FeatureMatrix {
    FeatureMatrix {
        n_rows: cols[0].len(),
        values: cols.concat(),
        names: (0..cols.len()).map(|j| format!("x{j}")).collect(),
    }
}

#[test]
fn recovers_the_direction_of_a_signal_and_converges() {
    // Deterministic data: churn more likely for large x0, unrelated to x1.
    let n = 400;
    let x0: Vec<f64> = (0..n).map(|i| (i as f64 / n as f64) * 4.0 - 2.0).collect();
    let x1: Vec<f64> = (0..n)
        .map(|i| ((i * 7919) % 13) as f64 / 13.0 - 0.5)
        .collect();
    let y: Vec<bool> = (0..n).map(|i| (i * 37 % 100) < (i * 100 / n)).collect();
    let x = matrix(&[x0, x1]);
    let m = LogisticModel::fit(&LogisticParams::default(), &x, &y, None).unwrap();
    assert!(m.converged, "gradient norm {}", m.gradient_norm);
    assert!(m.coefficients[0] > 1.0, "{:?}", m.coefficients);
    assert!(
        m.coefficients[1].abs() < m.coefficients[0] / 3.0,
        "{:?}",
        m.coefficients
    );
    let p: Vec<f64> = m.decision(&x).into_iter().map(sigmoid).collect();
    assert!(p[n - 1] > 0.7 && p[0] < 0.3, "{} {}", p[0], p[n - 1]);
}

#[test]
fn reports_non_convergence_when_iterations_run_out() {
    let n = 200;
    let x0: Vec<f64> = (0..n).map(|i| i as f64 / 10.0).collect();
    let y: Vec<bool> = (0..n).map(|i| i % 3 == 0 || i > 150).collect();
    let params = LogisticParams {
        max_iterations: 1,
        tolerance: 1e-12,
        ..Default::default()
    };
    let m = LogisticModel::fit(&params, &matrix(&[x0]), &y, None).unwrap();
    assert!(!m.converged);
    assert!(m.gradient_norm > 1e-12);
}

/// Two deterministic inputs spread over [-1, 1].
fn two_inputs(n: usize) -> (Vec<f64>, Vec<f64>) {
    let x0 = (0..n)
        .map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0)
        .collect();
    let x1 = (0..n)
        .map(|i| ((i * 53) % 97) as f64 / 48.0 - 1.0)
        .collect();
    (x0, x1)
}

#[test]
fn newton_with_unit_weights_matches_linfa() {
    let n = 500;
    let (x0, x1) = two_inputs(n);
    let y: Vec<bool> = (0..n)
        .map(|i| x0[i] - 0.5 * x1[i] + ((i * 7919) % 11) as f64 / 5.5 - 1.0 > 0.0)
        .collect();
    let x = matrix(&[x0, x1]);
    let params = LogisticParams::default();
    let a = LogisticModel::fit(&params, &x, &y, None).unwrap();
    let b = LogisticModel::fit(&params, &x, &y, Some(&vec![1.0; n])).unwrap();
    assert!(a.converged && b.converged);
    assert!(
        (a.intercept - b.intercept).abs() < 1e-4,
        "{} {}",
        a.intercept,
        b.intercept
    );
    for (p, q) in a.coefficients.iter().zip(&b.coefficients) {
        assert!((p - q).abs() < 1e-4, "{p} {q}");
    }
    // Doubling every weight is the same as halving the penalty.
    let half = LogisticParams {
        l2: 0.5,
        ..params.clone()
    };
    let c = LogisticModel::fit(&half, &x, &y, None).unwrap();
    let d = LogisticModel::fit(&params, &x, &y, Some(&vec![2.0; n])).unwrap();
    assert!((c.coefficients[0] - d.coefficients[0]).abs() < 1e-4);
    // Up-weighting churners raises every predicted probability.
    let w: Vec<f64> = y.iter().map(|&v| if v { 3.0 } else { 1.0 }).collect();
    let e = LogisticModel::fit(&params, &x, &y, Some(&w)).unwrap();
    assert!(e.intercept > a.intercept);
}

#[test]
fn the_sample_hessian_stand_in_reaches_the_exact_newton_solution() {
    // Large enough for the warm start on a sample (and its Hessian standing in).
    let n = 4 * WARM_START_ROWS + 1234;
    let (x0, x1) = two_inputs(n);
    let x2: Vec<f64> = (0..n).map(|i| f64::from(i % 3 == 0)).collect();
    let y: Vec<bool> = (0..n)
        .map(|i| x0[i] - 0.5 * x1[i] + x2[i] + ((i * 7919) % 11) as f64 / 5.5 - 1.0 > 0.0)
        .collect();
    let x = matrix(&[x0, x1, x2]);
    let params = LogisticParams::default();
    let w = vec![1.0; n];
    // Both stop at the same gradient tolerance, so they agree to about its size.
    let approximate = fit_newton(&params, &x, &y, &w).unwrap();
    let (exact, hessian) = newton(&params, &x, &y, &w, None).unwrap();
    assert!(hessian.is_some());
    assert!(approximate.converged && exact.converged);
    assert!(approximate.gradient_norm <= params.tolerance);
    assert!((approximate.intercept - exact.intercept).abs() < 1e-4);
    for (p, q) in approximate.coefficients.iter().zip(&exact.coefficients) {
        assert!((p - q).abs() < 1e-4, "{p} {q}");
    }
    // A stand-in that is far off is dropped for exact Hessians: same solution.
    let singular = vec![1e-3; 16];
    let start = (LogisticModel::default_for(3), Some(singular));
    let (dropped, _) = newton(&params, &x, &y, &w, Some(start)).unwrap();
    assert!(dropped.converged);
    let wrong: Vec<f64> = (0..16)
        .map(|k| if k % 5 == 0 { 1.0 } else { 0.0 })
        .collect();
    let start = (LogisticModel::default_for(3), Some(wrong));
    let (dropped, _) = newton(&params, &x, &y, &w, Some(start)).unwrap();
    assert!(dropped.converged);
    for (p, q) in dropped.coefficients.iter().zip(&exact.coefficients) {
        assert!((p - q).abs() < 1e-4, "{p} {q}");
    }
}

#[test]
fn blocked_hessian_equals_the_plain_sums() {
    // More rows than one block and not a multiple of it.
    let n = 2 * BLOCK_ROWS + 37;
    let cols: Vec<Vec<f64>> = (0..3)
        .map(|j| {
            (0..n)
                .map(|i| ((i * (31 + j) + j) % 17) as f64 / 8.0 - 1.0)
                .collect()
        })
        .collect();
    let x = matrix(&cols);
    let r: Vec<f64> = (0..n).map(|i| (i % 7) as f64 / 7.0 - 0.4).collect();
    let h: Vec<f64> = (0..n).map(|i| 0.05 + (i % 5) as f64 / 25.0).collect();
    let (g, hess) = (gradient(&x, &r), hessian(&x, &h));
    let one = vec![1.0; n];
    let col = |j: usize| if j < 3 { &cols[j] } else { &one };
    for j in 0..4 {
        let want: f64 = (0..n).map(|i| col(j)[i] * r[i]).sum();
        assert!((g[j] - want).abs() < 1e-9 * want.abs().max(1.0), "g[{j}]");
        for k in 0..4 {
            let want: f64 = (0..n).map(|i| col(j)[i] * col(k)[i] * h[i]).sum();
            let got = hess[j * 4 + k];
            assert!(
                (got - want).abs() < 1e-9 * want.abs().max(1.0),
                "H[{j},{k}]"
            );
        }
    }
}

#[test]
fn sigmoid_is_stable() {
    assert_eq!(sigmoid(0.0), 0.5);
    assert!(sigmoid(-800.0) >= 0.0 && sigmoid(800.0) <= 1.0);
    assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-15);
}
