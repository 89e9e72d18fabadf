//! What decides how a model is trained: [`TrainParams`] and the settings inside it, with their
//! defaults and range checks.

use serde::{Deserialize, Serialize};

use crate::calibration::CalibrationMethod;
use crate::choice::{Choice, named_choice};
use crate::error::{Error, Result, mention};
use crate::estimators::{Algorithm, EstimatorParams};
use crate::features::{FeatureSpec, PipelineParams};
use crate::model::RiskTiers;

/// The metric `Algorithm::Auto` selects by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionMetric {
    /// Lowest cross-validated log-loss (rewards calibrated, sharp probabilities). Default.
    #[default]
    LogLoss,
    /// Highest cross-validated ROC-AUC (rewards ranking only).
    RocAuc,
}

impl Choice for SelectionMetric {
    const PARAM: &'static str = "selection";
    const WHAT: &'static str = "selection metric";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("log_loss", SelectionMetric::LogLoss),
        ("roc_auc", SelectionMetric::RocAuc),
    ];
}

named_choice!(SelectionMetric);

/// What the decision threshold maximises.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdObjective {
    /// The threshold given (`threshold`, default 0.5).
    #[default]
    Fixed,
    /// F1 on out-of-fold predictions.
    F1,
    /// Expected profit of retention offers on out-of-fold predictions.
    Profit,
}

impl Choice for ThresholdObjective {
    const PARAM: &'static str = "threshold_objective";
    const WHAT: &'static str = "threshold objective";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("fixed", ThresholdObjective::Fixed),
        ("f1", ThresholdObjective::F1),
        ("profit", ThresholdObjective::Profit),
    ];
}

named_choice!(ThresholdObjective);

/// The money behind a retention offer (the runbook's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessValues {
    /// Lifetime value of a retained customer. Default 1,200.
    pub customer_value: f64,
    /// Cost of one retention offer. Default 50.
    pub offer_cost: f64,
    /// Share of contacted churners the offer keeps. Default 0.7.
    pub offer_success_rate: f64,
}

impl Default for BusinessValues {
    fn default() -> Self {
        BusinessValues::DEFAULT
    }
}

impl BusinessValues {
    /// The defaults (what `Default` gives; the front ends show and apply these).
    pub const DEFAULT: BusinessValues = BusinessValues {
        customer_value: 1200.0,
        offer_cost: 50.0,
        offer_success_rate: 0.7,
    };

    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for negative money or a rate outside [0, 1].
    pub fn check(&self) -> Result<()> {
        if !(self.customer_value.is_finite() && self.customer_value >= 0.0) {
            return Err(Error::param(
                "customer_value",
                "must be a non-negative number",
            ));
        }
        if !(self.offer_cost.is_finite() && self.offer_cost >= 0.0) {
            return Err(Error::param("offer_cost", "must be a non-negative number"));
        }
        if !(0.0..=1.0).contains(&self.offer_success_rate) {
            return Err(Error::param(
                "offer_success_rate",
                "must be between 0 and 1",
            ));
        }
        Ok(())
    }

    /// Profit of contacting one customer who churns (`true`) or stays.
    pub(super) fn gain(&self, churns: bool) -> f64 {
        if churns {
            self.customer_value * self.offer_success_rate - self.offer_cost
        } else {
            -self.offer_cost
        }
    }
}

/// Everything that decides how a model is trained. Defaults: `auto` selection by log-loss, 5-fold
/// CV, Platt calibration, no holdout, seed 42, threshold 0.5, tiers Low < 0.3 ≤ Medium < 0.7 ≤ High.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// The model family, or `Auto`.
    pub algorithm: Algorithm,
    /// Estimator settings.
    pub estimator: EstimatorParams,
    /// Feature pipeline settings.
    pub pipeline: PipelineParams,
    /// Derived features.
    pub features: FeatureSpec,
    /// Folds of stratified cross-validation (0 = none). Default 5.
    pub cv_folds: usize,
    /// Share of rows held out (stratified) for a final test, 0 for none. Default 0.
    pub test_size: f64,
    /// Seed of every random choice. Default 42.
    pub seed: u64,
    /// Calibration fitted on out-of-fold predictions (needs CV). Default Platt.
    #[serde(default)]
    pub calibration: CalibrationMethod,
    /// What `Auto` selects by. Default log-loss.
    #[serde(default)]
    pub selection: SelectionMetric,
    /// Probability at or above which a customer is predicted to churn, with
    /// `ThresholdObjective::Fixed`. Default 0.5.
    pub threshold: f64,
    /// What the threshold maximises. Default `Fixed`.
    #[serde(default)]
    pub threshold_objective: ThresholdObjective,
    /// Money behind a retention offer, for the profit threshold and its report.
    #[serde(default)]
    pub business: BusinessValues,
    /// Risk tier boundaries.
    pub tiers: RiskTiers,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            algorithm: TrainParams::DEFAULT_ALGORITHM,
            estimator: EstimatorParams::default(),
            pipeline: PipelineParams::default(),
            features: FeatureSpec::default(),
            cv_folds: TrainParams::DEFAULT_CV_FOLDS,
            test_size: TrainParams::DEFAULT_TEST_SIZE,
            seed: TrainParams::DEFAULT_SEED,
            calibration: CalibrationMethod::default(),
            selection: SelectionMetric::default(),
            threshold: TrainParams::DEFAULT_THRESHOLD,
            threshold_objective: ThresholdObjective::default(),
            business: BusinessValues::default(),
            tiers: RiskTiers::default(),
        }
    }
}

impl TrainParams {
    /// Default model family: `Auto`.
    pub const DEFAULT_ALGORITHM: Algorithm = Algorithm::Auto;
    /// Default folds of cross-validation.
    pub const DEFAULT_CV_FOLDS: usize = 5;
    /// Default holdout share (none).
    pub const DEFAULT_TEST_SIZE: f64 = 0.0;
    /// Default seed.
    pub const DEFAULT_SEED: u64 = 42;
    /// Default decision threshold (with `ThresholdObjective::Fixed`).
    pub const DEFAULT_THRESHOLD: f64 = 0.5;

    /// Default parameters for an algorithm.
    pub fn new(algorithm: Algorithm) -> Self {
        TrainParams {
            algorithm,
            ..Default::default()
        }
    }

    /// Sets the number of CV folds (0 = none).
    pub fn cv_folds(mut self, k: usize) -> Self {
        self.cv_folds = k;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the derived features.
    pub fn features(mut self, spec: FeatureSpec) -> Self {
        self.features = spec;
        self
    }

    /// Sets the holdout share.
    pub fn test_size(mut self, share: f64) -> Self {
        self.test_size = share;
        self
    }

    /// Sets the calibration method.
    pub fn calibration(mut self, method: CalibrationMethod) -> Self {
        self.calibration = method;
        self
    }

    /// Sets the threshold objective.
    pub fn threshold_objective(mut self, objective: ThresholdObjective) -> Self {
        self.threshold_objective = objective;
        self
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the setting.
    pub fn check(&self) -> Result<()> {
        if self.cv_folds == 1 {
            return Err(Error::param(
                "cv",
                "1 fold is not cross-validation; use 2 or more, or 0 to skip",
            ));
        }
        if self.cv_folds < 2 && self.algorithm == Algorithm::Auto {
            return Err(Error::param(
                "algorithm",
                format!(
                    "auto compares candidates by cross-validation: use {} 2 or more, or name an algorithm",
                    mention("cv")
                ),
            ));
        }
        if self.cv_folds < 2 && self.threshold_objective != ThresholdObjective::Fixed {
            return Err(Error::param(
                "threshold_objective",
                format!(
                    "choosing the threshold needs out-of-fold predictions: use {} 2 or more",
                    mention("cv")
                ),
            ));
        }
        if self.threshold_objective != ThresholdObjective::Fixed
            && self.threshold != Self::DEFAULT_THRESHOLD
        {
            // Refused rather than silently ignored: the objective chooses the threshold.
            return Err(Error::param(
                "threshold",
                format!(
                    "{} is used only with {} fixed; {} {} chooses the threshold itself",
                    self.threshold,
                    mention("threshold_objective"),
                    mention("threshold_objective"),
                    self.threshold_objective.name()
                ),
            ));
        }
        if !(0.0..0.9).contains(&self.test_size) {
            return Err(Error::param(
                "test_size",
                format!("{} is not in [0, 0.9)", self.test_size),
            ));
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(Error::param(
                "threshold",
                format!("{} is not strictly between 0 and 1", self.threshold),
            ));
        }
        self.tiers.check()?;
        self.pipeline.check()?;
        self.business.check()?;
        self.estimator.check()
    }
}
