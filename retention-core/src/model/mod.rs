//! The model artifact: one versioned, checksummed file holding everything scoring needs.
//!
//! On disk a model is a JSON envelope:
//! `{"format":"retentionai-model","format_version":1,"sha256":"…","model":{…}}` where `sha256`
//! is the hash of the `model` value's exact bytes. Loading verifies the format, the version and the
//! hash before it parses the model, so a truncated, damaged or newer file is refused with a clear
//! error. Files are written to a temporary name and renamed into place.
//!
//! The checksum only tells damage apart: anyone who edits a file can recompute it. So a model file
//! is untrusted input. Reading it is bounded ([`MAX_MODEL_BYTES`], checked before anything is
//! read), and once parsed its whole structure is checked ([`ChurnModel::validate`]) before it is
//! returned: whatever a file holds, loading it either fails with [`Error::CorruptArtifact`] naming
//! what is wrong, or gives a model whose scoring cannot panic or loop.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::calibration::Calibrator;
use crate::data::{Dataset, Schema};
use crate::error::{Error, Result};
use crate::estimators::Estimator;
use crate::features::FittedPipeline;
use crate::fsutil::atomic_write;
use crate::metrics::{CvReport, MeanStd, Metrics};
use crate::training::{ThresholdObjective, TrainParams};

mod file;
mod validate;

pub use file::read_model_file;

/// The artifact format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
pub(crate) const FORMAT_NAME: &str = "retentionai-model";

/// Largest model file RetentionAI reads or writes: 256 MiB. A larger file is refused from its
/// size before any of it is read (and reading stops there whatever the size claimed, for pipes
/// and files that grow). A default boosted model is well under 1 MiB.
pub const MAX_MODEL_BYTES: u64 = 256 * 1024 * 1024;

/// At most `max` characters of `s`, with `…` when cut: how text from a file appears in messages.
pub(crate) fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// A number from a file as messages show it: plainly when of ordinary size, else in scientific
/// notation (`-1e308`, not 309 digits).
pub(crate) fn shown_number(v: f64) -> String {
    if v == 0.0 || (1e-6..1e15).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// Risk tier of a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tier {
    /// Below the medium boundary.
    Low,
    /// From the medium boundary up to the high boundary.
    Medium,
    /// At or above the high boundary.
    High,
}

impl Tier {
    /// Every tier, low to high.
    pub const ALL: [Tier; 3] = [Tier::Low, Tier::Medium, Tier::High];

    /// Display name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Low => "Low",
            Tier::Medium => "Medium",
            Tier::High => "High",
        }
    }
}

/// Risk tier boundaries: Low < `medium` ≤ Medium < `high` ≤ High (runbook defaults 0.3 and 0.7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskTiers {
    /// Lowest probability of the Medium tier. Default 0.3.
    pub medium: f64,
    /// Lowest probability of the High tier. Default 0.7.
    pub high: f64,
}

impl Default for RiskTiers {
    fn default() -> Self {
        RiskTiers::DEFAULT
    }
}

impl RiskTiers {
    /// The runbook's boundaries (what `Default` gives; the front ends show and apply these).
    pub const DEFAULT: RiskTiers = RiskTiers {
        medium: 0.3,
        high: 0.7,
    };

    /// Checks `0 < medium < high < 1`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] otherwise.
    pub fn check(&self) -> Result<()> {
        if !(0.0 < self.medium && self.medium < self.high && self.high < 1.0) {
            return Err(Error::param(
                "tiers",
                format!(
                    "boundaries {} and {} must satisfy 0 < medium < high < 1",
                    shown_number(self.medium),
                    shown_number(self.high)
                ),
            ));
        }
        Ok(())
    }

    /// The tier of a probability.
    pub fn tier(&self, p: f64) -> Tier {
        if p >= self.high {
            Tier::High
        } else if p >= self.medium {
            Tier::Medium
        } else {
            Tier::Low
        }
    }
}

/// Where a model came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// SHA-256 of the training file, when trained from one.
    pub data_sha256: Option<String>,
    /// Rows in the training table.
    pub rows: usize,
    /// Rows the final model was fitted on.
    pub training_rows: usize,
    /// Rows held out for the test metrics.
    pub holdout_rows: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Version of retention-core that trained it.
    pub crate_version: String,
    /// When it was trained (RFC 3339, UTC).
    pub created_at: String,
}

impl Provenance {
    pub(crate) fn now(
        ds: &Dataset,
        rows: usize,
        training_rows: usize,
        holdout_rows: usize,
        seed: u64,
    ) -> Self {
        Provenance {
            data_sha256: ds.sha256.clone(),
            rows,
            training_rows,
            holdout_rows,
            seed,
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// Metrics recorded at training time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetrics {
    /// Cross-validation (mean ± std per metric), when run.
    pub cv: Option<CvReport>,
    /// Metrics of the pooled out-of-fold predictions, when CV ran.
    pub out_of_fold: Option<Metrics>,
    /// Metrics on the held-out rows, when a holdout was kept.
    pub holdout: Option<Metrics>,
    /// Metrics on the training rows (optimistic; for reference only).
    pub training: Metrics,
    /// Every candidate's cross-validated figures, best first (with `--algorithm auto`, or the one
    /// algorithm trained).
    #[serde(default)]
    pub leaderboard: Vec<LeaderboardEntry>,
}

impl ModelMetrics {
    /// Mean cross-validated ROC-AUC, when cross-validation ran.
    pub fn cv_roc_auc(&self) -> Option<f64> {
        self.cv.as_ref().and_then(CvReport::roc_auc).map(|m| m.mean)
    }

    /// The headline ROC-AUC: cross-validated, else on the holdout, else on the training rows.
    pub fn headline_auc(&self) -> f64 {
        self.cv_roc_auc()
            .or(self.holdout.as_ref().map(|m| m.roc_auc))
            .unwrap_or(self.training.roc_auc)
    }
}

/// One candidate of model selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardEntry {
    /// `logistic`, `tree`, `boosting` or `blend(a+b)`.
    pub name: String,
    /// Cross-validated ROC-AUC (after calibration).
    pub roc_auc: MeanStd,
    /// Cross-validated log-loss (after calibration).
    pub log_loss: MeanStd,
    /// Cross-validated PR-AUC.
    pub pr_auc: MeanStd,
    /// Cross-validated Brier score.
    pub brier: MeanStd,
    /// Cross-validated expected calibration error.
    pub ece: MeanStd,
    /// Whether this candidate became the model.
    pub selected: bool,
}

/// How the decision threshold was chosen and what it is worth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdChoice {
    /// What the threshold maximises.
    pub objective: ThresholdObjective,
    /// The threshold.
    pub threshold: f64,
    /// Expected profit per 1,000 customers of contacting everyone at or above the threshold,
    /// on out-of-fold predictions: churners saved × value × success rate − offers × cost.
    pub expected_profit_per_1000: Option<f64>,
    /// Lifetime value of a retained customer used for the profit.
    pub customer_value: f64,
    /// Cost of one retention offer.
    pub offer_cost: f64,
    /// Share of contacted churners the offer keeps.
    pub offer_success_rate: f64,
}

/// A trained churn model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnModel {
    /// Column roles of the training table.
    pub schema: Schema,
    /// The fitted feature pipeline.
    pub pipeline: FittedPipeline,
    /// The fitted estimator.
    pub estimator: Estimator,
    /// Maps the estimator's log-odds to calibrated probabilities.
    #[serde(default)]
    pub calibrator: Calibrator,
    /// Probability at or above which a customer is predicted to churn.
    pub threshold: f64,
    /// How the threshold was chosen.
    #[serde(default)]
    pub threshold_choice: Option<ThresholdChoice>,
    /// Risk tier boundaries.
    pub tiers: RiskTiers,
    /// Training-time metrics.
    pub metrics: ModelMetrics,
    /// The parameters it was trained with.
    pub params: TrainParams,
    /// Where it came from.
    pub provenance: Provenance,
    /// Warnings and notes from training (duplicate ids, convergence…).
    pub notes: Vec<String>,
}

impl ChurnModel {
    /// Writes the model atomically.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder is missing or not writable.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        if bytes.len() as u64 > MAX_MODEL_BYTES {
            return Err(Error::Training {
                algorithm: self.estimator.name(),
                reason: format!(
                    "the model takes {} MiB, more than the {} MiB a model file may be (fewer or smaller trees make it smaller)",
                    (bytes.len() as u64).div_ceil(1024 * 1024),
                    MAX_MODEL_BYTES / (1024 * 1024)
                ),
            });
        }
        atomic_write(path, |w| {
            w.write_all(&bytes).map_err(|e| Error::io(path, e))
        })
    }

    /// Reads and verifies a model file (at most [`MAX_MODEL_BYTES`]; see
    /// [`ChurnModel::from_bytes`]).
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::CorruptArtifact`], [`Error::UnsupportedFormat`].
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = read_model_file(path)?;
        Self::from_bytes(&bytes, path)
    }

    /// The headline cross-validated (or holdout, or training) ROC-AUC, for one-line summaries.
    pub fn headline_auc(&self) -> f64 {
        self.metrics.headline_auc()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod structure_tests;
