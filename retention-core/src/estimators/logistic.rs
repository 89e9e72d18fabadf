//! L2-regularised logistic regression, fitted by linfa-logistic (L-BFGS).
//!
//! The learned intercept and coefficients are kept in the model artifact; scoring is a dot product
//! per row. linfa-logistic does not report whether its solver converged, so convergence is checked
//! here from the gradient of the objective at the solution.

use linfa::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::features::FeatureMatrix;

/// Settings of logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticParams {
    /// L2 penalty strength on the coefficients (not the intercept), as in the objective
    /// `Σ log-loss + l2/2 · ‖w‖²`; scikit-learn's `C` is `1 / l2`. Default 1.0.
    pub l2: f64,
    /// Solver iterations at most. Default 1,000.
    pub max_iterations: u64,
    /// Converged when the gradient's norm divided by the row count is below this. Default 1e-6.
    pub tolerance: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            l2: 1.0,
            max_iterations: 1000,
            tolerance: 1e-6,
        }
    }
}

impl LogisticParams {
    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative or non-finite `l2`, zero iterations or a
    /// non-positive tolerance.
    pub fn check(&self) -> Result<()> {
        if !(self.l2.is_finite() && self.l2 > 0.0) {
            return Err(Error::param(
                "--l2",
                format!("{} must be a positive number", self.l2),
            ));
        }
        if self.max_iterations == 0 {
            return Err(Error::param("max_iterations", "must be at least 1"));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(Error::param("tolerance", "must be a positive number"));
        }
        Ok(())
    }
}

/// A fitted logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    /// Intercept (log-odds at all-zero inputs).
    pub intercept: f64,
    /// One coefficient per input, in the pipeline's output order.
    pub coefficients: Vec<f64>,
    /// Whether the solver reached the tolerance.
    pub converged: bool,
    /// Gradient norm per row at the solution.
    pub gradient_norm: f64,
}

impl LogisticModel {
    /// Fits on a feature matrix and labels.
    ///
    /// # Errors
    /// [`Error::Training`] when the solver fails (e.g. non-finite inputs).
    pub fn fit(params: &LogisticParams, x: &FeatureMatrix, y: &[bool]) -> Result<Self> {
        params.check()?;
        let n = x.n_rows as f64;
        let records = x.to_ndarray();
        let targets = ndarray::Array1::from_iter(y.iter().copied());
        let dataset = Dataset::new(records, targets);
        let fitted = linfa_logistic::LogisticRegression::default()
            .alpha(params.l2)
            .max_iterations(params.max_iterations)
            .gradient_tolerance(params.tolerance * n)
            .fit(&dataset)
            .map_err(|e| Error::Training {
                algorithm: "logistic".into(),
                reason: e.to_string(),
            })?;
        // linfa labels the larger class (true = churn) as positive; check rather than assume.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        let mut model = LogisticModel {
            intercept: sign * fitted.intercept(),
            coefficients: fitted.params().iter().map(|w| sign * w).collect(),
            converged: false,
            gradient_norm: f64::NAN,
        };
        model.gradient_norm = model.gradient_norm(params.l2, x, y) / n;
        model.converged = model.gradient_norm <= params.tolerance * 1.0001;
        Ok(model)
    }

    /// Log-odds of churn per row.
    pub fn decision(&self, x: &FeatureMatrix) -> Vec<f64> {
        let mut z = vec![self.intercept; x.n_rows];
        for (j, w) in self.coefficients.iter().enumerate() {
            if *w == 0.0 {
                continue;
            }
            for (zi, xi) in z.iter_mut().zip(x.column(j)) {
                *zi += w * xi;
            }
        }
        z
    }

    /// Euclidean norm of the objective's gradient (coefficients and intercept).
    fn gradient_norm(&self, l2: f64, x: &FeatureMatrix, y: &[bool]) -> f64 {
        let residual: Vec<f64> = self
            .decision(x)
            .iter()
            .zip(y)
            .map(|(z, &t)| sigmoid(*z) - f64::from(u8::from(t)))
            .collect();
        let mut sq = residual.iter().sum::<f64>().powi(2);
        for (j, w) in self.coefficients.iter().enumerate() {
            let g: f64 = x
                .column(j)
                .iter()
                .zip(&residual)
                .map(|(a, r)| a * r)
                .sum::<f64>()
                + l2 * w;
            sq += g * g;
        }
        sq.sqrt()
    }
}

/// The logistic function, safe for large |z|.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
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
        let m = LogisticModel::fit(&LogisticParams::default(), &x, &y).unwrap();
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
        let m = LogisticModel::fit(&params, &matrix(&[x0]), &y).unwrap();
        assert!(!m.converged);
        assert!(m.gradient_norm > 1e-12);
    }

    #[test]
    fn sigmoid_is_stable() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(-800.0) >= 0.0 && sigmoid(800.0) <= 1.0);
        assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-15);
    }
}
