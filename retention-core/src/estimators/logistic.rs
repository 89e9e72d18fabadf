//! L2-regularised logistic regression, fitted by linfa-logistic (L-BFGS), or by Newton's method
//! for weighted rows and large tables (see [`LogisticModel::fit`]).
//!
//! The learned intercept and coefficients are kept in the model artifact; scoring is a dot product
//! per row. linfa-logistic does not report whether its solver converged, so convergence is checked
//! here from the gradient of the objective at the solution.

use linfa::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, mention};
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
        LogisticParams::DEFAULT
    }
}

impl LogisticParams {
    /// The defaults (what `Default` gives; the front ends show and apply these).
    pub const DEFAULT: LogisticParams = LogisticParams {
        l2: 1.0,
        max_iterations: 1000,
        tolerance: 1e-6,
    };

    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative or non-finite `l2`, zero iterations or a
    /// non-positive tolerance.
    pub fn check(&self) -> Result<()> {
        if !(self.l2.is_finite() && self.l2 > 0.0) {
            return Err(Error::param(
                "l2",
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

/// Largest matrix (rows × inputs) fitted by linfa-logistic; larger ones use Newton's method.
const LINFA_MAX_CELLS: usize = 4_000_000;
/// Rows of the sample a Newton fit of more than four times as many rows starts from.
const WARM_START_ROWS: usize = 50_000;

impl LogisticModel {
    /// Fits on a feature matrix and labels.
    ///
    /// # Errors
    /// [`Error::Training`] when the solver fails (e.g. non-finite inputs).
    ///
    /// Without `weights` the solver is linfa-logistic's L-BFGS up to [`LINFA_MAX_CELLS`] matrix
    /// cells. linfa-logistic takes no sample weights, and on larger matrices it spends its time
    /// copying the matrix, so with `weights`, or beyond that size, the same objective (each row's
    /// log-loss times its weight) is minimised by Newton's method ([`fit_newton`]) to the same
    /// gradient tolerance; with unit weights both give the same model (tested).
    pub fn fit(
        params: &LogisticParams,
        x: &FeatureMatrix,
        y: &[bool],
        weights: Option<&[f64]>,
    ) -> Result<Self> {
        params.check()?;
        if let Some(w) = weights {
            return fit_newton(params, x, y, w);
        }
        if x.n_rows * x.n_cols() > LINFA_MAX_CELLS {
            // linfa-logistic computes `X·w` as a general matrix product, which copies (packs) the
            // whole matrix on every evaluation: 53 s for a million Telco-shaped rows, 45 % of it
            // packing. Newton's method on the same objective reads the matrix once per step.
            return fit_newton(params, x, y, &vec![1.0; x.n_rows]);
        }
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
        model.gradient_norm = model.gradient_norm(params.l2, x, y, None) / n;
        model.converged = model.gradient_norm <= params.tolerance * 1.0001;
        Ok(model)
    }

    /// All coefficients zero: Newton's starting point without a warm start.
    fn default_for(p: usize) -> Self {
        LogisticModel {
            intercept: 0.0,
            coefficients: vec![0.0; p],
            converged: false,
            gradient_norm: f64::NAN,
        }
    }

    /// Checks a logistic regression read from a model file against `n_inputs` model inputs: one
    /// finite coefficient per input and a finite intercept; returns what is wrong.
    pub(crate) fn check(&self, n_inputs: usize) -> std::result::Result<(), String> {
        if self.coefficients.len() != n_inputs {
            return Err(format!(
                "{} coefficient(s), but the pipeline makes {n_inputs} input(s)",
                self.coefficients.len()
            ));
        }
        if !self.intercept.is_finite() {
            return Err(format!(
                "intercept {} is not finite",
                crate::model::shown_number(self.intercept)
            ));
        }
        if let Some(j) = self.coefficients.iter().position(|w| !w.is_finite()) {
            return Err(format!(
                "coefficient {j} ({}) is not finite",
                crate::model::shown_number(self.coefficients[j])
            ));
        }
        Ok(())
    }

    /// Log-odds of churn per row.
    pub fn decision(&self, x: &FeatureMatrix) -> Vec<f64> {
        use rayon::prelude::*;
        const CHUNK: usize = 8192;
        let mut z = vec![self.intercept; x.n_rows];
        // Rows in chunks on every core; within a row the terms are added in input order, so the
        // result does not depend on the number of cores.
        z.par_chunks_mut(CHUNK).enumerate().for_each(|(c, z)| {
            let start = c * CHUNK;
            for (j, w) in self.coefficients.iter().enumerate() {
                if *w == 0.0 {
                    continue;
                }
                let col = &x.column(j)[start..start + z.len()];
                for (zi, xi) in z.iter_mut().zip(col) {
                    *zi += w * xi;
                }
            }
        });
        z
    }

    /// Euclidean norm of the objective's gradient (coefficients and intercept).
    fn gradient_norm(&self, l2: f64, x: &FeatureMatrix, y: &[bool], w: Option<&[f64]>) -> f64 {
        let residual: Vec<f64> = self
            .decision(x)
            .iter()
            .zip(y)
            .enumerate()
            .map(|(i, (z, &t))| (sigmoid(*z) - f64::from(u8::from(t))) * w.map_or(1.0, |w| w[i]))
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

/// Weighted L2 logistic regression by Newton's method (iteratively reweighted least squares) with
/// step halving; the intercept is not penalised. Inputs are standardised by the pipeline, so the
/// Hessian is well conditioned and a handful of iterations reach the tolerance.
///
/// On a large table Newton starts from the fit of an evenly spaced sample of [`WARM_START_ROWS`]
/// rows (weights scaled up to the table's), and the sample's Hessian stands in for the table's
/// while it keeps working: the table's gradient is exact on every step, so the solution and the
/// tolerance are the same, and each step reads the matrix twice (raw outputs, gradient) instead of
/// once more for a `p²` Hessian. A step that does not shrink the gradient at least
/// [`APPROXIMATE_STEP_GAIN`]-fold switches to exact Hessians.
fn fit_newton(
    params: &LogisticParams,
    x: &FeatureMatrix,
    y: &[bool],
    w: &[f64],
) -> Result<LogisticModel> {
    let (n, p) = (x.n_rows, x.n_cols());
    if w.len() != n || w.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(Error::param(
            "weights",
            "one finite, non-negative weight per row is needed",
        ));
    }
    let start = if n > 4 * WARM_START_ROWS {
        let rows: Vec<usize> = (0..n).step_by(n / WARM_START_ROWS).collect();
        let scale = n as f64 / rows.len() as f64;
        let sample = FeatureMatrix {
            n_rows: rows.len(),
            values: (0..p)
                .flat_map(|j| rows.iter().map(move |&i| x.values[j * n + i]))
                .collect(),
            names: x.names.clone(),
        };
        let sample_y: Vec<bool> = rows.iter().map(|&i| y[i]).collect();
        let sample_w: Vec<f64> = rows.iter().map(|&i| w[i] * scale).collect();
        Some(newton(params, &sample, &sample_y, &sample_w, None)?)
    } else {
        None
    };
    Ok(newton(params, x, y, w, start)?.0)
}

/// Rows per parallel task of the Newton iterations' per-row passes.
const NEWTON_CHUNK: usize = 8192;

/// A step with the stand-in Hessian must shrink the gradient's norm at least this many times.
const APPROXIMATE_STEP_GAIN: f64 = 4.0;

/// Newton iterations from `start` (a model and, when known, a Hessian to use in place of the
/// table's; see [`fit_newton`]). Returns the model and the last exact Hessian computed, if any.
fn newton(
    params: &LogisticParams,
    x: &FeatureMatrix,
    y: &[bool],
    w: &[f64],
    start: Option<(LogisticModel, Option<Vec<f64>>)>,
) -> Result<(LogisticModel, Option<Vec<f64>>)> {
    let p = x.n_cols();
    let dim = p + 1;
    let total_w: f64 = w.iter().sum();
    let t: Vec<f64> = y.iter().map(|&v| f64::from(u8::from(v))).collect();
    use rayon::prelude::*;
    const CHUNK: usize = NEWTON_CHUNK;
    // The objective and the raw outputs it was computed from (reused by the next step). Chunk
    // sums are added in chunk order: the same value on any number of cores.
    let objective = |m: &LogisticModel| -> (f64, Vec<f64>) {
        let z = m.decision(x);
        let parts: Vec<f64> = z
            .par_chunks(CHUNK)
            .zip(t.par_chunks(CHUNK))
            .zip(w.par_chunks(CHUNK))
            .map(|((z, t), w)| {
                z.iter()
                    .zip(t)
                    .zip(w)
                    .map(|((z, t), w)| w * (z.exp().ln_1p() - t * z))
                    .map(|v| if v.is_finite() { v } else { f64::MAX / 4.0 })
                    .sum::<f64>()
            })
            .collect();
        let loss: f64 = parts.iter().sum();
        (
            loss + 0.5 * params.l2 * m.coefficients.iter().map(|b| b * b).sum::<f64>(),
            z,
        )
    };
    let (mut model, mut stand_in) = start.unwrap_or((LogisticModel::default_for(p), None));
    model.converged = false;
    let mut exact = None;
    let mut previous_norm = f64::INFINITY;
    let (mut current, mut z) = objective(&model);
    for _ in 0..params.max_iterations.min(100) {
        let r: Vec<f64> = z
            .par_iter()
            .zip(&t)
            .zip(w)
            .with_min_len(CHUNK)
            .map(|((&z, &t), &w)| w * (sigmoid(z) - t))
            .collect();
        // The gradient first (one pass): when it is small enough the Hessian is not needed.
        let mut g = gradient(x, &r);
        for (gj, b) in g.iter_mut().zip(&model.coefficients) {
            *gj += params.l2 * b;
        }
        let grad_norm = g.iter().map(|v| v * v).sum::<f64>().sqrt() / total_w.max(1e-300);
        model.gradient_norm = grad_norm;
        if grad_norm <= params.tolerance {
            model.converged = true;
            break;
        }
        if grad_norm * APPROXIMATE_STEP_GAIN > previous_norm {
            stand_in = None;
        }
        previous_norm = grad_norm;
        let stand_in_step = stand_in.as_ref().and_then(|h| cholesky_solve(h, &g, dim));
        if stand_in_step.is_none() {
            stand_in = None;
        }
        let step = match stand_in_step {
            Some(step) => step,
            None => {
                let (step, hess) = exact_step(params.l2, x, &z, w, &g)?;
                exact = Some(hess);
                step
            }
        };
        (current, z) = halving_step(&mut model, &step, current, &objective);
    }
    if !model.converged {
        model.gradient_norm = model.gradient_norm(params.l2, x, y, Some(w)) / total_w.max(1e-300);
        model.converged = model.gradient_norm <= params.tolerance;
    }
    Ok((model, exact))
}

/// A Newton step with the table's exact Hessian at raw outputs `z` (over [coefficients...,
/// intercept], L2 on the coefficients), and that Hessian.
fn exact_step(
    l2: f64,
    x: &FeatureMatrix,
    z: &[f64],
    w: &[f64],
    g: &[f64],
) -> Result<(Vec<f64>, Vec<f64>)> {
    use rayon::prelude::*;
    let p = x.n_cols();
    let dim = p + 1;
    let h: Vec<f64> = z
        .par_iter()
        .zip(w)
        .with_min_len(NEWTON_CHUNK)
        .map(|(&z, &w)| {
            let p = sigmoid(z);
            w * p * (1.0 - p)
        })
        .collect();
    let mut hess = hessian(x, &h);
    for j in 0..p {
        hess[j * dim + j] += l2;
    }
    hess[p * dim + p] += 1e-12;
    let step = cholesky_solve(&hess, g, dim).ok_or_else(|| Error::Training {
        algorithm: "logistic".into(),
        reason: format!("the weighted Hessian is singular; raise {}", mention("l2")),
    })?;
    Ok((step, hess))
}

/// Moves `model` along `-step`, halving the step until the objective does not grow (or the step
/// is negligible); returns the new objective and its raw outputs.
fn halving_step(
    model: &mut LogisticModel,
    step: &[f64],
    current: f64,
    objective: &dyn Fn(&LogisticModel) -> (f64, Vec<f64>),
) -> (f64, Vec<f64>) {
    let p = model.coefficients.len();
    let mut scale = 1.0;
    loop {
        let candidate = LogisticModel {
            intercept: model.intercept - scale * step[p],
            coefficients: (0..p)
                .map(|j| model.coefficients[j] - scale * step[j])
                .collect(),
            converged: false,
            gradient_norm: f64::NAN,
        };
        let (value, candidate_z) = objective(&candidate);
        if value <= current || scale < 1e-8 {
            model.intercept = candidate.intercept;
            model.coefficients = candidate.coefficients;
            return (value, candidate_z);
        }
        scale /= 2.0;
    }
}

/// Rows per block of [`gradient`] and [`hessian`]: a block of every column stays in cache while all
/// pairs of columns are multiplied.
const BLOCK_ROWS: usize = 2048;

/// `Σ r_i x_i` over rows, with a trailing intercept input of ones. Blocks of rows are summed in
/// parallel, then added up in order, so the result is the same on every run.
fn gradient(x: &FeatureMatrix, r: &[f64]) -> Vec<f64> {
    use rayon::prelude::*;
    let (n, p) = (x.n_rows, x.n_cols());
    let blocks: Vec<Vec<f64>> = (0..n.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| {
            let rows = b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(n);
            let r = &r[rows.clone()];
            let mut g: Vec<f64> = (0..p).map(|j| dot(&x.column(j)[rows.clone()], r)).collect();
            g.push(r.iter().sum());
            g
        })
        .collect();
    let mut g = vec![0.0; p + 1];
    for bg in blocks {
        g.iter_mut().zip(bg).for_each(|(a, b)| *a += b);
    }
    g
}

/// `Σ h_i x_i x_iᵀ` over rows, with a trailing intercept input of ones, as a full symmetric
/// row-major matrix. Blocks of rows are summed in parallel, then added up in order, so the result
/// is the same on every run.
fn hessian(x: &FeatureMatrix, h: &[f64]) -> Vec<f64> {
    use rayon::prelude::*;
    let (n, p) = (x.n_rows, x.n_cols());
    let dim = p + 1;
    let blocks: Vec<Vec<f64>> = (0..n.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| {
            let rows = b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(n);
            let h = &h[rows.clone()];
            let mut hess = vec![0.0; dim * dim];
            let mut hx = vec![0.0; rows.len()];
            for j in 0..p {
                let cj = &x.column(j)[rows.clone()];
                for ((o, a), b) in hx.iter_mut().zip(cj).zip(h) {
                    *o = a * b;
                }
                for k in 0..=j {
                    hess[j * dim + k] = dot(&hx, &x.column(k)[rows.clone()]);
                }
                hess[p * dim + j] = hx.iter().sum();
            }
            hess[p * dim + p] = h.iter().sum();
            hess
        })
        .collect();
    let mut hess = vec![0.0; dim * dim];
    for bh in blocks {
        hess.iter_mut().zip(bh).for_each(|(a, b)| *a += b);
    }
    for j in 0..dim {
        for k in 0..j {
            hess[k * dim + j] = hess[j * dim + k];
        }
    }
    hess
}

/// Dot product with four independent sums, so that it vectorises.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Solves `A v = b` for a symmetric positive-definite `A` (row-major, `dim × dim`).
fn cholesky_solve(a: &[f64], b: &[f64], dim: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; dim * dim];
    for i in 0..dim {
        for j in 0..=i {
            let mut sum = a[i * dim + j];
            for k in 0..j {
                sum -= l[i * dim + k] * l[j * dim + k];
            }
            if i == j {
                if sum <= 0.0 || !sum.is_finite() {
                    return None;
                }
                l[i * dim + i] = sum.sqrt();
            } else {
                l[i * dim + j] = sum / l[j * dim + j];
            }
        }
    }
    let mut z = vec![0.0; dim];
    for i in 0..dim {
        let s: f64 = (0..i).map(|k| l[i * dim + k] * z[k]).sum();
        z[i] = (b[i] - s) / l[i * dim + i];
    }
    let mut v = vec![0.0; dim];
    for i in (0..dim).rev() {
        let s: f64 = (i + 1..dim).map(|k| l[k * dim + i] * v[k]).sum();
        v[i] = (z[i] - s) / l[i * dim + i];
    }
    Some(v)
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
#[path = "logistic_tests.rs"]
mod tests;
