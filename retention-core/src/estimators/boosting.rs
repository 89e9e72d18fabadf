//! Gradient-boosted trees by perpetual (pure Rust, Apache-2.0): a self-tuning booster whose one
//! setting is a complexity budget. Its columnar API reads [`FeatureMatrix`] columns without a
//! copy, it takes sample weights, and it computes exact TreeSHAP contributions.

use perpetual::objective::Objective;
use perpetual::{ColumnarMatrix, ContributionsMethod, PerpetualBooster};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::features::FeatureMatrix;

/// Settings of gradient boosting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostingParams {
    /// Complexity budget (perpetual's one hyperparameter): higher fits more, slower-learning trees. Default 2.0 (Telco 5-fold ROC-AUC: 0.818 at 0.5, 0.835 at 1.0, 0.843 at 2.0).
    pub budget: f32,
    /// Histogram bins per input. Default 256.
    pub max_bin: u16,
}

impl Default for BoostingParams {
    fn default() -> Self {
        BoostingParams {
            budget: 2.0,
            max_bin: 256,
        }
    }
}

impl BoostingParams {
    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a budget outside (0, 5] or fewer than 2 bins.
    pub fn check(&self) -> Result<()> {
        if !(self.budget > 0.0 && self.budget <= 5.0) {
            return Err(Error::param(
                "--budget",
                format!("{} is not in (0, 5]", self.budget),
            ));
        }
        if self.max_bin < 2 {
            return Err(Error::param("max_bin", "must be at least 2"));
        }
        Ok(())
    }
}

/// A fitted booster.
#[derive(Clone, Serialize, Deserialize)]
pub struct BoostingModel {
    /// The perpetual model (trees, base score, settings).
    pub booster: PerpetualBooster,
}

impl std::fmt::Debug for BoostingModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoostingModel")
            .field("trees", &self.n_trees())
            .field("base_score", &self.booster.base_score)
            .finish()
    }
}

impl PartialEq for BoostingModel {
    /// Equal when they serialise to the same JSON value (perpetual's types do not compare, and
    /// its hash maps serialise in no fixed order).
    fn eq(&self, other: &Self) -> bool {
        match (
            serde_json::to_value(&self.booster),
            serde_json::to_value(&other.booster),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

fn columns(x: &FeatureMatrix) -> ColumnarMatrix<'_, f64> {
    let cols: Vec<&[f64]> = (0..x.n_cols()).map(|j| x.column(j)).collect();
    ColumnarMatrix::new(cols, None, x.n_rows)
}

impl BoostingModel {
    /// Fits a log-loss booster; `weights` are per-row sample weights.
    ///
    /// # Errors
    /// [`Error::Training`] when perpetual refuses the data.
    pub fn fit(
        params: &BoostingParams,
        x: &FeatureMatrix,
        y: &[bool],
        weights: Option<&[f64]>,
        seed: u64,
    ) -> Result<Self> {
        params.check()?;
        let target: Vec<f64> = y.iter().map(|&v| f64::from(u8::from(v))).collect();
        let mut booster = PerpetualBooster::default()
            .set_objective(Objective::LogLoss)
            .set_budget(params.budget)
            .set_max_bin(params.max_bin)
            .set_seed(seed);
        booster
            .fit_columnar(&columns(x), &target, weights, None)
            .map_err(|e| Error::Training {
                algorithm: "boosting".into(),
                reason: e.to_string(),
            })?;
        Ok(BoostingModel { booster })
    }

    /// Churn log-odds per row.
    pub fn decision(&self, x: &FeatureMatrix) -> Vec<f64> {
        self.booster.predict_columnar(&columns(x), true)
    }

    /// Exact TreeSHAP contributions, row-major with `n_cols + 1` values per row (the last is the
    /// expected value), adding up to [`BoostingModel::decision`].
    pub fn contributions(&self, x: &FeatureMatrix) -> Vec<f64> {
        self.booster
            .predict_contributions_columnar(&columns(x), ContributionsMethod::Shapley, true)
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.booster.get_prediction_trees().len()
    }
}
