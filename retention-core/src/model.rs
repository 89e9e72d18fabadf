//! The model artifact: one versioned, checksummed file holding everything scoring needs.
//!
//! On disk a model is a JSON envelope:
//! `{"format":"retentionai-model","format_version":1,"sha256":"…","model":{…}}` where `sha256`
//! is the hash of the `model` value's exact bytes. Loading verifies the format, the version and the
//! hash before it parses the model, so a truncated, edited or newer file is refused with a clear
//! error. Files are written to a temporary name and renamed into place.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::calibration::Calibrator;
use crate::data::{Dataset, Schema};
use crate::error::{Error, Result};
use crate::estimators::Estimator;
use crate::features::FittedPipeline;
use crate::fsutil::{atomic_write, sha256_hex};
use crate::metrics::{CvReport, MeanStd, Metrics};
use crate::training::{ThresholdObjective, TrainParams};

/// The artifact format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_NAME: &str = "retentionai-model";

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
        RiskTiers {
            medium: 0.3,
            high: 0.7,
        }
    }
}

impl RiskTiers {
    /// Checks `0 < medium < high < 1`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] otherwise.
    pub fn check(&self) -> Result<()> {
        if !(0.0 < self.medium && self.medium < self.high && self.high < 1.0) {
            return Err(Error::param(
                "--tiers",
                format!(
                    "boundaries {} and {} must satisfy 0 < medium < high < 1",
                    self.medium, self.high
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
    pub(crate) fn now(ds: &Dataset, training_rows: usize, holdout_rows: usize, seed: u64) -> Self {
        Provenance {
            data_sha256: ds.sha256.clone(),
            rows: ds.height(),
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

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'a str,
    format_version: u32,
    sha256: &'a str,
    model: &'a RawValue,
}

#[derive(Deserialize)]
struct EnvelopeIn<'a> {
    format: String,
    format_version: u32,
    sha256: String,
    #[serde(borrow)]
    model: &'a RawValue,
}

impl ChurnModel {
    /// Serialises the model into its file form.
    ///
    /// # Errors
    /// [`Error::Json`] if serialisation fails (non-finite numbers are written as null).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let body = serde_json::to_string(self)?;
        let raw = RawValue::from_string(body)?;
        let sha = sha256_hex(raw.get().as_bytes());
        let envelope = EnvelopeOut {
            format: FORMAT_NAME,
            format_version: FORMAT_VERSION,
            sha256: &sha,
            model: &raw,
        };
        Ok(serde_json::to_vec(&envelope)?)
    }

    /// Parses a model from its file form; `path` names it in errors.
    ///
    /// # Errors
    /// [`Error::CorruptArtifact`] when it is not a model or its checksum fails,
    /// [`Error::UnsupportedFormat`] when it was written by a newer format.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let corrupt = |reason: String| Error::CorruptArtifact {
            path: path.to_path_buf(),
            reason,
        };
        let envelope: EnvelopeIn<'_> = serde_json::from_slice(bytes)
            .map_err(|e| corrupt(format!("not a RetentionAI model file ({e})")))?;
        if envelope.format != FORMAT_NAME {
            return Err(corrupt(format!(
                "format is {:?}, expected {FORMAT_NAME:?}",
                envelope.format
            )));
        }
        if envelope.format_version > FORMAT_VERSION {
            return Err(Error::UnsupportedFormat {
                path: path.to_path_buf(),
                found: envelope.format_version,
                supported: FORMAT_VERSION,
            });
        }
        let actual = sha256_hex(envelope.model.get().as_bytes());
        if actual != envelope.sha256 {
            return Err(corrupt(
                "checksum mismatch: the file was modified or damaged after it was written".into(),
            ));
        }
        let text = envelope.model.get();
        serde_json::from_str(text).map_err(|e| {
            // The first gradient boosting (the perpetual crate) stored a `booster`; a model file
            // holding one is sound but no longer readable.
            if text.contains("\"booster\":") {
                corrupt(
                    "its gradient-boosting model was trained by an earlier RetentionAI whose \
                     booster format this version no longer reads; retrain it \
                     (`retention train --algorithm boosting`)"
                        .into(),
                )
            } else {
                corrupt(format!("model content does not parse ({e})"))
            }
        })
    }

    /// Writes the model atomically.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder is missing or not writable.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        atomic_write(path, |w| {
            w.write_all(&bytes).map_err(|e| Error::io(path, e))
        })
    }

    /// Reads and verifies a model file.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::CorruptArtifact`], [`Error::UnsupportedFormat`].
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// The headline cross-validated (or holdout, or training) ROC-AUC, for one-line summaries.
    pub fn headline_auc(&self) -> f64 {
        self.metrics
            .cv
            .as_ref()
            .and_then(|cv| cv.get("roc_auc"))
            .map(|m| m.mean)
            .or(self.metrics.holdout.as_ref().map(|m| m.roc_auc))
            .unwrap_or(self.metrics.training.roc_auc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_the_runbook() {
        let t = RiskTiers::default();
        assert_eq!(t.tier(0.29), Tier::Low);
        assert_eq!(t.tier(0.3), Tier::Medium);
        assert_eq!(t.tier(0.69), Tier::Medium);
        assert_eq!(t.tier(0.7), Tier::High);
        assert!(
            RiskTiers {
                medium: 0.7,
                high: 0.3
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn envelope_refuses_garbage_and_newer_formats() {
        let p = Path::new("m.json");
        let e = ChurnModel::from_bytes(b"hello", p).unwrap_err();
        assert!(matches!(e, Error::CorruptArtifact { .. }), "{e}");
        let newer =
            br#"{"format":"retentionai-model","format_version":99,"sha256":"x","model":{}}"#;
        let e = ChurnModel::from_bytes(newer, p).unwrap_err();
        assert!(e.to_string().contains("format version 99"), "{e}");
        let tampered =
            br#"{"format":"retentionai-model","format_version":1,"sha256":"00","model":{}}"#;
        let e = ChurnModel::from_bytes(tampered, p).unwrap_err();
        assert!(e.to_string().contains("checksum mismatch"), "{e}");
        // A sound file from the earlier booster format says to retrain.
        let model = r#"{"estimator":{"Boosting":{"booster":{"trees":[]}}}}"#;
        let old = format!(
            r#"{{"format":"retentionai-model","format_version":1,"sha256":"{}","model":{model}}}"#,
            sha256_hex(model.as_bytes())
        );
        let e = ChurnModel::from_bytes(old.as_bytes(), p).unwrap_err();
        assert!(e.to_string().contains("retrain it"), "{e}");
    }
}
