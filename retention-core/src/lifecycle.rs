//! Model lifecycle rules, independent of storage: validation gates, the promotion rule, A/B
//! routing and model references. [`crate::store`] keeps the results.

use std::path::PathBuf;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::model::ChurnModel;

/// The validation gate's thresholds. Defaults follow the operations runbook: a model below 80 %
/// ROC-AUC or 75 % accuracy (the runbook's critical accuracy alert) does not go live.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    /// Minimum holdout ROC-AUC. Default 0.80.
    pub min_roc_auc: f64,
    /// Minimum holdout accuracy at the model's threshold. Default 0.75.
    pub min_accuracy: f64,
    /// How much a challenger's ROC-AUC must exceed the champion's on the same holdout to be
    /// promoted. Default 0.002.
    pub margin: f64,
}

impl Gate {
    /// Default [`Gate::min_roc_auc`].
    pub const MIN_ROC_AUC: f64 = 0.80;
    /// Default [`Gate::min_accuracy`].
    pub const MIN_ACCURACY: f64 = 0.75;
    /// Default [`Gate::margin`].
    pub const MARGIN: f64 = 0.002;
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            min_roc_auc: Gate::MIN_ROC_AUC,
            min_accuracy: Gate::MIN_ACCURACY,
            margin: Gate::MARGIN,
        }
    }
}

/// One check of a gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateCheck {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// The measured value and the requirement, in words.
    pub detail: String,
}

/// The outcome of validating a model on a labelled holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Every check passed.
    pub passed: bool,
    /// The checks, in order.
    pub checks: Vec<GateCheck>,
    /// The holdout metrics.
    pub metrics: Metrics,
}

/// Validates `model` on a labelled holdout (a raw table): ROC-AUC and accuracy gates, every
/// probability finite and in [0, 1], and — when a champion is given — the same input columns with
/// the same roles, so the candidate can score whatever the champion scores.
///
/// # Errors
/// What evaluation refuses (missing columns, unlabelled rows).
pub fn validate(
    model: &ChurnModel,
    holdout: &DataFrame,
    champion: Option<&ChurnModel>,
    gate: &Gate,
) -> Result<ValidationReport> {
    let (metrics, _) = model.evaluate(holdout)?;
    let (scores, _, _) = model.score_frame(holdout, 0, &[])?;
    let probabilities = scores.column(crate::scoring::PROBABILITY)?.f64()?.clone();
    let bad = probabilities
        .iter()
        .filter(|p| !p.is_some_and(|p| p.is_finite() && (0.0..=1.0).contains(&p)))
        .count();
    let mut checks = vec![
        GateCheck {
            name: "roc_auc".into(),
            passed: metrics.roc_auc >= gate.min_roc_auc,
            detail: format!("{:.4} (minimum {:.4})", metrics.roc_auc, gate.min_roc_auc),
        },
        GateCheck {
            name: "accuracy".into(),
            passed: metrics.accuracy >= gate.min_accuracy,
            detail: format!("{:.4} (minimum {:.4})", metrics.accuracy, gate.min_accuracy),
        },
        GateCheck {
            name: "valid_probabilities".into(),
            passed: bad == 0,
            detail: format!("{bad} of {} outside [0, 1] or NaN", probabilities.len()),
        },
    ];
    if let Some(champion) = champion {
        let inputs = |m: &ChurnModel| -> Vec<(String, &'static str)> {
            let mut v: Vec<_> = m
                .schema
                .columns
                .iter()
                .filter(|c| c.role.is_feature())
                .map(|c| (c.name.clone(), c.role.as_str()))
                .collect();
            v.sort();
            v
        };
        let (mine, theirs) = (inputs(model), inputs(champion));
        let missing: Vec<&str> = mine
            .iter()
            .filter(|c| !theirs.contains(c))
            .map(|(n, _)| n.as_str())
            .collect();
        checks.push(GateCheck {
            name: "schema_compatible".into(),
            passed: missing.is_empty(),
            detail: if missing.is_empty() {
                "same input columns and roles as the champion".into()
            } else {
                format!(
                    "needs columns the champion does not use (or uses with another role): {}",
                    missing.join(", ")
                )
            },
        });
    }
    Ok(ValidationReport {
        passed: checks.iter().all(|c| c.passed),
        checks,
        metrics,
    })
}

/// Whether a candidate validated at `candidate_auc` may replace a champion validated at
/// `champion_auc` on the same holdout.
pub fn beats_champion(candidate_auc: f64, champion_auc: f64, gate: &Gate) -> GateCheck {
    GateCheck {
        name: "beats_champion".into(),
        passed: candidate_auc >= champion_auc + gate.margin,
        detail: format!(
            "ROC-AUC {candidate_auc:.4} vs champion {champion_auc:.4} (needs +{:.4})",
            gate.margin
        ),
    }
}

/// Which model serves a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The champion.
    Champion,
    /// The challenger of a running A/B test.
    Challenger,
    /// A model named directly (a file or a version), no routing.
    Direct,
}

impl Variant {
    /// Lower-case name, as logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Champion => "champion",
            Variant::Challenger => "challenger",
            Variant::Direct => "direct",
        }
    }
}

/// A customer's stable position in [0, 1): 64-bit FNV-1a of the id, finished with SplitMix64's
/// mixer so that similar ids spread evenly. The same id always lands in the same place, on every
/// machine and in every release.
pub fn bucket(customer_id: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in customer_id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The variant a customer gets while `split` of customers go to the challenger.
pub fn route(customer_id: &str, split: f64) -> Variant {
    if split > 0.0 && bucket(customer_id) < split {
        Variant::Challenger
    } else {
        Variant::Champion
    }
}

/// A registered model ready to score.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// Its registry version.
    pub version: i64,
    /// The model.
    pub model: ChurnModel,
}

/// Champion and (optionally) challenger with the share of customers routed to it.
#[derive(Debug, Clone)]
pub struct Router {
    /// Serves everyone not routed to the challenger.
    pub champion: Deployed,
    /// The challenger and its share, while an A/B test runs.
    pub challenger: Option<(Deployed, f64)>,
}

/// Name of the model-version column in routed output.
pub const MODEL_VERSION: &str = "model_version";
/// Name of the variant column in routed output.
pub const VARIANT: &str = "variant";

impl Router {
    /// Scores a raw table as [`ChurnModel::score_frame`] does, each row by the variant its
    /// customer id routes to, and adds `model_version` and `variant` columns.
    ///
    /// # Errors
    /// What scoring refuses with either model.
    pub fn score_frame(
        &self,
        raw: &DataFrame,
        first_row: usize,
        keep: &[String],
    ) -> Result<(DataFrame, crate::features::TransformReport, Vec<String>)> {
        use polars::prelude::*;
        let (mut scored, mut report, warnings) =
            self.champion.model.score_frame(raw, first_row, keep)?;
        let n = scored.height();
        // The first output column is the id (or the row number when the model has no id).
        let ids: Vec<String> = match scored.columns().first() {
            Some(c) => c
                .cast(&DataType::String)?
                .str()?
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect(),
            None => Vec::new(),
        };
        let mut versions = vec![self.champion.version; n];
        let mut variants = vec![Variant::Champion.as_str(); n];
        if let Some((challenger, split)) = &self.challenger {
            let routed: Vec<bool> = ids
                .iter()
                .map(|id| route(id, *split) == Variant::Challenger)
                .collect();
            if routed.iter().any(|r| *r) {
                let (theirs, their_report, _) =
                    challenger.model.score_frame(raw, first_row, keep)?;
                report.merge(their_report);
                for name in [
                    crate::scoring::PROBABILITY,
                    crate::scoring::PREDICTION,
                    crate::scoring::RISK_TIER,
                ] {
                    let mine = scored.column(name)?.as_materialized_series().clone();
                    let other = theirs.column(name)?.as_materialized_series().clone();
                    let mask = BooleanChunked::from_slice("routed".into(), &routed);
                    let merged = other.zip_with(&mask, &mine)?;
                    scored.with_column(merged.into_column())?;
                }
                for (i, r) in routed.iter().enumerate() {
                    if *r {
                        versions[i] = challenger.version;
                        variants[i] = Variant::Challenger.as_str();
                    }
                }
            }
        }
        scored.with_column(Column::new(MODEL_VERSION.into(), versions))?;
        scored.with_column(Column::new(VARIANT.into(), variants))?;
        Ok((scored, report, warnings))
    }
}

/// What `--model` names: a file, or a registry entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// A model file.
    File(PathBuf),
    /// The registry's champion.
    Champion,
    /// The registry's challenger.
    Challenger,
    /// A registered version.
    Version(i64),
}

impl ModelRef {
    /// Parses `champion`, `challenger`, a version (`3` or `v3`), or else a file path. A file
    /// literally named like a reference is reached as `./champion`.
    pub fn parse(s: &str) -> ModelRef {
        match s {
            "champion" => ModelRef::Champion,
            "challenger" => ModelRef::Challenger,
            _ => {
                let digits = s.strip_prefix('v').unwrap_or(s);
                match digits.parse::<i64>() {
                    Ok(v) if v > 0 && !digits.starts_with('+') => ModelRef::Version(v),
                    _ => ModelRef::File(PathBuf::from(s)),
                }
            }
        }
    }

    /// Whether the reference needs the store.
    pub fn is_registry(&self) -> bool {
        !matches!(self, ModelRef::File(_))
    }
}

/// Parses an age such as `90d`, `12h`, `30m` or `45s`.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the value.
pub fn parse_age(s: &str) -> Result<std::time::Duration> {
    parse_age_of("older_than", s)
}

/// Parses an age such as `90d`, `12h`, `30m` or `45s` given for the parameter `name`.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `name` and the value.
pub fn parse_age_of(name: &str, s: &str) -> Result<std::time::Duration> {
    let bad = || Error::param(name, format!("{s:?} is not an age; use e.g. 90d, 12h, 30m"));
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(bad()),
    };
    n.checked_mul(seconds)
        .map(std::time::Duration::from_secs)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_is_stable_and_close_to_the_split() {
        assert_eq!(bucket("7590-VHVEG"), bucket("7590-VHVEG"));
        let n = 100_000;
        let challengers = (0..n)
            .filter(|i| route(&format!("C{i:06}"), 0.1) == Variant::Challenger)
            .count();
        let share = challengers as f64 / n as f64;
        assert!((share - 0.1).abs() < 0.005, "{share}");
        assert_eq!(route("anyone", 0.0), Variant::Champion);
        // Raising the split only moves customers from champion to challenger.
        for i in 0..1000 {
            let id = format!("C{i}");
            if route(&id, 0.1) == Variant::Challenger {
                assert_eq!(route(&id, 0.3), Variant::Challenger);
            }
        }
    }

    #[test]
    fn model_references() {
        assert_eq!(ModelRef::parse("champion"), ModelRef::Champion);
        assert_eq!(ModelRef::parse("challenger"), ModelRef::Challenger);
        assert_eq!(ModelRef::parse("3"), ModelRef::Version(3));
        assert_eq!(ModelRef::parse("v12"), ModelRef::Version(12));
        assert_eq!(
            ModelRef::parse("model.json"),
            ModelRef::File("model.json".into())
        );
        assert_eq!(
            ModelRef::parse("./champion"),
            ModelRef::File("./champion".into())
        );
        assert_eq!(ModelRef::parse("0"), ModelRef::File("0".into()));
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("90d").unwrap().as_secs(), 90 * 86_400);
        assert_eq!(parse_age("12h").unwrap().as_secs(), 12 * 3_600);
        assert!(parse_age("90").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("5y").is_err());
    }
}
