//! The model registry: immutable versions, aliases, validations and promotion events.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::sql::{DbError, Row};
use super::{
    AuditAction, Store, args, db_error, insert_audit, now_rfc3339, parse_json, store_error,
};
use crate::error::{Error, Result};
use crate::lifecycle::{GateCheck, ValidationReport};
use crate::model::ChurnModel;

/// Serialises a value as its JSON object with sorted keys, as stored JSON reads back.
fn sorted_json<T: Serialize, S: serde::Serializer>(
    value: &T,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::Error as _;
    serde_json::to_value(value)
        .map_err(S::Error::custom)?
        .serialize(serializer)
}

/// A stored JSON column read as `T`; what does not read (a damaged row) as `T`'s default.
fn parse_typed<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

/// A registered model version (without its artifact).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Version number, from 1.
    pub version: i64,
    /// SHA-256 of the artifact bytes.
    pub sha256: String,
    /// The model's estimator name.
    pub algorithm: String,
    /// Headline metrics at registration.
    #[serde(serialize_with = "sorted_json")]
    pub metrics: VersionMetrics,
    /// Free text given at registration.
    pub notes: String,
    /// When it was registered (RFC 3339, UTC).
    pub registered_at: String,
    /// Who registered it.
    pub registered_by: String,
}

/// A version's headline metrics, taken from its model at registration (stored as JSON; a
/// metric that was not a number, or that an older release did not store, is `None`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionMetrics {
    /// Mean cross-validated ROC-AUC, when the model was cross-validated.
    #[serde(default)]
    pub cv_roc_auc: Option<f64>,
    /// ROC-AUC on the training rows.
    #[serde(default)]
    pub training_roc_auc: Option<f64>,
    /// ROC-AUC and accuracy on the training run's holdout, when it kept one.
    #[serde(default)]
    pub holdout: Option<HoldoutScores>,
    /// The model's decision threshold.
    #[serde(default)]
    pub threshold: Option<f64>,
}

/// ROC-AUC and accuracy on a holdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HoldoutScores {
    /// ROC-AUC.
    #[serde(default)]
    pub roc_auc: Option<f64>,
    /// Accuracy at the model's threshold.
    #[serde(default)]
    pub accuracy: Option<f64>,
}

impl VersionMetrics {
    /// The headline metrics of a model.
    pub fn of(model: &ChurnModel) -> Self {
        let m = &model.metrics;
        VersionMetrics {
            cv_roc_auc: m.cv.as_ref().and_then(|c| c.get("roc_auc")).map(|s| s.mean),
            training_roc_auc: Some(m.training.roc_auc),
            holdout: m.holdout.as_ref().map(|h| HoldoutScores {
                roc_auc: Some(h.roc_auc),
                accuracy: Some(h.accuracy),
            }),
            threshold: Some(model.threshold),
        }
    }
}

/// Where the champion and challenger point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aliases {
    /// The champion's version.
    pub champion: Option<i64>,
    /// The challenger's version, while an A/B test runs.
    pub challenger: Option<i64>,
    /// Share of customers routed to the challenger.
    pub split: f64,
}

impl Aliases {
    /// The alias a version holds, if any: the champion, or the challenger with its share.
    pub fn label(&self, version: i64) -> Option<AliasLabel> {
        if self.champion == Some(version) {
            Some(AliasLabel::Champion)
        } else if self.challenger == Some(version) {
            Some(AliasLabel::Challenger { split: self.split })
        } else {
            None
        }
    }
}

/// The alias a version holds, as listed: `champion`, or `challenger (50 %)` with its share
/// ([`AliasLabel::name`] is the bare alias).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AliasLabel {
    /// The champion.
    Champion,
    /// The challenger of a running A/B test, with the share of customers routed to it.
    Challenger {
        /// Share of customers routed to the challenger.
        split: f64,
    },
}

impl AliasLabel {
    /// The bare alias: `champion` or `challenger`.
    pub fn name(self) -> &'static str {
        match self {
            AliasLabel::Champion => "champion",
            AliasLabel::Challenger { .. } => "challenger",
        }
    }
}

impl std::fmt::Display for AliasLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AliasLabel::Champion => f.write_str("champion"),
            AliasLabel::Challenger { split } => write!(f, "challenger ({:.0} %)", split * 100.0),
        }
    }
}

/// A stored validation of a version on a labelled holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// The version validated.
    pub version: i64,
    /// When.
    pub at: String,
    /// SHA-256 of the holdout file.
    pub data_sha256: Option<String>,
    /// Holdout rows.
    pub rows: i64,
    /// Measured ROC-AUC.
    pub roc_auc: f64,
    /// Measured accuracy.
    pub accuracy: f64,
    /// Whether every gate passed.
    pub passed: bool,
    /// The full gate report.
    #[serde(serialize_with = "sorted_json")]
    pub report: StoredReport,
}

/// A validation's gate report as stored: [`crate::lifecycle::ValidationReport`] with its
/// metrics kept as the JSON they were stored as (a metric that was not a number is null).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredReport {
    /// Every check passed.
    #[serde(default)]
    pub passed: bool,
    /// The checks, in order.
    #[serde(default)]
    pub checks: Vec<GateCheck>,
    /// The holdout metrics ([`crate::metrics::Metrics`] as JSON).
    #[serde(default)]
    pub metrics: serde_json::Value,
}

impl StoredReport {
    /// The stored form of a gate's report.
    ///
    /// # Errors
    /// [`Error::Json`] if the metrics do not serialise.
    pub fn of(report: &ValidationReport) -> Result<Self> {
        Ok(StoredReport {
            passed: report.passed,
            checks: report.checks.clone(),
            metrics: serde_json::to_value(&report.metrics)?,
        })
    }
}

/// What a promotion event did to the aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionAction {
    /// A version became the champion.
    Promote,
    /// The previous champion was restored.
    Rollback,
    /// An A/B test started or changed.
    AbStart,
    /// The A/B test stopped.
    AbStop,
}

impl PromotionAction {
    /// Every action.
    pub const ALL: [PromotionAction; 4] = [
        PromotionAction::Promote,
        PromotionAction::Rollback,
        PromotionAction::AbStart,
        PromotionAction::AbStop,
    ];

    /// The text stored in the promotion log.
    pub fn as_str(self) -> &'static str {
        match self {
            PromotionAction::Promote => "promote",
            PromotionAction::Rollback => "rollback",
            PromotionAction::AbStart => "ab_start",
            PromotionAction::AbStop => "ab_stop",
        }
    }

    /// The action a stored text names.
    pub fn parse(text: &str) -> Option<PromotionAction> {
        PromotionAction::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
    }

    /// The audit log's record of the same event.
    pub fn audit(self) -> AuditAction {
        match self {
            PromotionAction::Promote => AuditAction::ModelPromote,
            PromotionAction::Rollback => AuditAction::ModelRollback,
            PromotionAction::AbStart => AuditAction::ModelAbStart,
            PromotionAction::AbStop => AuditAction::ModelAbStop,
        }
    }

    /// Whether the event changed the champion.
    pub fn changes_champion(self) -> bool {
        matches!(self, PromotionAction::Promote | PromotionAction::Rollback)
    }
}

impl std::fmt::Display for PromotionAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for PromotionAction {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One change of the aliases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What it did.
    pub action: PromotionAction,
    /// The champion before (or the challenger for A/B events).
    pub from_version: Option<i64>,
    /// The champion after (or the challenger for A/B events).
    pub to_version: Option<i64>,
    /// Why.
    pub reason: String,
    /// Gate results (JSON).
    pub gate: serde_json::Value,
    /// Whether a failing gate was overridden.
    pub forced: bool,
}

impl Store {
    /// Registers a model artifact (the exact bytes of a model file) as a new immutable version.
    /// Registering the same bytes twice returns the existing version.
    ///
    /// # Errors
    /// [`Error::CorruptArtifact`] when the bytes are not a valid model; [`Error::Store`] otherwise.
    pub fn register(&mut self, artifact: &[u8], notes: &str, actor: &str) -> Result<ModelVersion> {
        let model = ChurnModel::from_bytes(artifact, Path::new("<artifact>"))?;
        let sha = crate::sha256_hex(artifact);
        if let Some(v) = self.version_by_sha(&sha)? {
            return Ok(v);
        }
        // Stored with sorted keys, as every release stored it.
        let metrics = serde_json::to_value(VersionMetrics::of(&model))?;
        let at = now_rfc3339();
        let e = |e: DbError| db_error(&self.db, e);
        let version = self.transaction(|s| {
            let version: i64 = s
                .query_one(
                    "INSERT INTO models (sha256, artifact, algorithm, metrics, notes, registered_at, registered_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING version",
                    args![
                        &sha,
                        artifact,
                        model.estimator.name().as_str(),
                        metrics.to_string().as_str(),
                        notes,
                        &at,
                        actor
                    ],
                )
                .and_then(|mut r| r.get(0))
                .map_err(e)?;
            insert_audit(
                s,
                actor,
                AuditAction::ModelRegister,
                &format!("v{version}"),
                &serde_json::json!({ "sha256": sha }),
            )
            .map_err(e)?;
            Ok(version)
        })?;
        self.version_info(version)
    }

    fn version_by_sha(&self, sha: &str) -> Result<Option<ModelVersion>> {
        let version: Option<i64> = self.first(
            "SELECT version FROM models WHERE sha256 = ?1",
            args![sha],
            |mut r| r.get(0),
        )?;
        version.map(|v| self.version_info(v)).transpose()
    }

    /// One version's registry entry.
    ///
    /// # Errors
    /// [`Error::Store`] naming the version when it does not exist.
    pub fn version_info(&self, version: i64) -> Result<ModelVersion> {
        self.first(
            "SELECT version, sha256, algorithm, metrics, notes, registered_at, registered_by
             FROM models WHERE version = ?1",
            args![version],
            row_to_version,
        )?
        .ok_or_else(|| self.unknown_version(version))
    }

    fn unknown_version(&self, version: i64) -> Error {
        let known = self
            .versions()
            .map(|v| {
                v.iter()
                    .map(|m| m.version.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        store_error(format!(
            "model version {version} is not registered in {} (registered: {})",
            self.db,
            if known.is_empty() { "none" } else { &known }
        ))
    }

    /// Every registered version, oldest first.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn versions(&self) -> Result<Vec<ModelVersion>> {
        self.all(
            "SELECT version, sha256, algorithm, metrics, notes, registered_at, registered_by
             FROM models ORDER BY version",
            &[],
            row_to_version,
        )
    }

    /// A version's artifact bytes, checked against its SHA-256.
    ///
    /// # Errors
    /// [`Error::Store`] for an unknown version, [`Error::CorruptArtifact`] when the stored bytes
    /// no longer match their checksum.
    pub fn artifact(&self, version: i64) -> Result<Vec<u8>> {
        let (bytes, sha): (Vec<u8>, String) = self
            .first(
                "SELECT artifact, sha256 FROM models WHERE version = ?1",
                args![version],
                |mut r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .ok_or_else(|| self.unknown_version(version))?;
        if crate::sha256_hex(&bytes) != sha {
            return Err(Error::CorruptArtifact {
                path: self.db.display_path(),
                reason: format!(
                    "model version {version}'s stored bytes do not match their SHA-256"
                ),
            });
        }
        Ok(bytes)
    }

    /// Loads a version's model.
    ///
    /// # Errors
    /// As [`Store::artifact`] and [`ChurnModel::from_bytes`].
    pub fn load_model(&self, version: i64) -> Result<ChurnModel> {
        let bytes = self.artifact(version)?;
        ChurnModel::from_bytes(&bytes, &self.db.display_path().join(format!("v{version}")))
    }

    /// The current aliases.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn aliases(&self) -> Result<Aliases> {
        let mut out = Aliases::default();
        let rows = self.all("SELECT alias, version, split FROM aliases", &[], |mut r| {
            Ok((r.get::<String>(0)?, r.get::<i64>(1)?, r.get::<f64>(2)?))
        })?;
        for (alias, version, split) in rows {
            match alias.as_str() {
                "champion" => out.champion = Some(version),
                _ => {
                    out.challenger = Some(version);
                    out.split = split;
                }
            }
        }
        Ok(out)
    }

    /// Records a validation.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error or an unknown version.
    pub fn record_validation(&mut self, v: &Validation, actor: &str) -> Result<()> {
        self.version_info(v.version)?;
        let report = serde_json::to_value(&v.report)?.to_string();
        let e = |e: DbError| db_error(&self.db, e);
        self.transaction(|s| {
            s.execute(
                "INSERT INTO validations (version, at, data_sha256, rows, roc_auc, accuracy, passed, report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                args![
                    v.version,
                    &v.at,
                    v.data_sha256.as_deref(),
                    v.rows,
                    v.roc_auc,
                    v.accuracy,
                    v.passed,
                    &report
                ],
            )
            .map_err(e)?;
            insert_audit(
                s,
                actor,
                AuditAction::ModelValidate,
                &format!("v{}", v.version),
                &serde_json::json!({"passed": v.passed, "roc_auc": v.roc_auc, "accuracy": v.accuracy}),
            )
            .map_err(e)
        })
    }

    /// The newest validation of a version.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn latest_validation(&self, version: i64) -> Result<Option<Validation>> {
        self.first(
            "SELECT version, at, data_sha256, rows, roc_auc, accuracy, passed, report
             FROM validations WHERE version = ?1 ORDER BY id DESC LIMIT 1",
            args![version],
            |mut r| {
                Ok(Validation {
                    version: r.get(0)?,
                    at: r.get(1)?,
                    data_sha256: r.get(2)?,
                    rows: r.get(3)?,
                    roc_auc: r.get(4)?,
                    accuracy: r.get(5)?,
                    passed: r.get(6)?,
                    report: parse_typed(&r.get::<String>(7)?),
                })
            },
        )
    }

    /// Applies an alias change and records it as a promotion event, in one transaction.
    /// `champion`: the new champion (`None` leaves it); `challenger`: `Some(Some(v), split)` starts
    /// or changes an A/B test, `Some(None)` stops it.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error or an unknown version.
    pub fn change_aliases(
        &mut self,
        champion: Option<i64>,
        challenger: Option<(Option<i64>, f64)>,
        event: &Promotion,
    ) -> Result<()> {
        for v in champion
            .iter()
            .chain(challenger.iter().filter_map(|(v, _)| v.as_ref()))
        {
            self.version_info(*v)?;
        }
        let at = now_rfc3339();
        let e = |e: DbError| db_error(&self.db, e);
        self.transaction(|s| {
            if let Some(v) = champion {
                s.execute(
                    "INSERT INTO aliases (alias, version, split, updated_at) VALUES ('champion', ?1, 0, ?2)
                     ON CONFLICT(alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
                    args![v, &at],
                )
                .map_err(e)?;
            }
            match challenger {
                Some((Some(v), split)) => {
                    s.execute(
                        "INSERT INTO aliases (alias, version, split, updated_at) VALUES ('challenger', ?1, ?2, ?3)
                         ON CONFLICT(alias) DO UPDATE SET version = excluded.version, split = excluded.split,
                         updated_at = excluded.updated_at",
                        args![v, split, &at],
                    )
                    .map_err(e)?;
                }
                Some((None, _)) => {
                    s.execute("DELETE FROM aliases WHERE alias = 'challenger'", &[])
                        .map_err(e)?;
                }
                None => {}
            }
            s.execute(
                "INSERT INTO promotions (at, actor, action, from_version, to_version, reason, gate, forced)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                args![
                    &at,
                    &event.actor,
                    event.action.as_str(),
                    event.from_version,
                    event.to_version,
                    &event.reason,
                    &event.gate.to_string(),
                    event.forced
                ],
            )
            .map_err(e)?;
            insert_audit(
                s,
                &event.actor,
                event.action.audit(),
                &event.to_version.map(|v| format!("v{v}")).unwrap_or_default(),
                &serde_json::json!({"from": event.from_version, "reason": event.reason, "forced": event.forced}),
            )
            .map_err(e)
        })
    }

    /// Promotion events, oldest first.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn promotions(&self) -> Result<Vec<Promotion>> {
        self.all(
            "SELECT at, actor, action, from_version, to_version, reason, gate, forced
             FROM promotions ORDER BY id",
            &[],
            |mut r| {
                Ok(Promotion {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: promotion_action(&r.get::<String>(2)?)?,
                    from_version: r.get(3)?,
                    to_version: r.get(4)?,
                    reason: r.get(5)?,
                    gate: parse_json(&r.get::<String>(6)?),
                    forced: r.get(7)?,
                })
            },
        )
    }
}

fn row_to_version(mut r: Row) -> std::result::Result<ModelVersion, DbError> {
    Ok(ModelVersion {
        version: r.get(0)?,
        sha256: r.get(1)?,
        algorithm: r.get(2)?,
        metrics: parse_typed(&r.get::<String>(3)?),
        notes: r.get(4)?,
        registered_at: r.get(5)?,
        registered_by: r.get(6)?,
    })
}

/// A stored promotion action; one this release does not know fails the read.
fn promotion_action(text: &str) -> std::result::Result<PromotionAction, DbError> {
    PromotionAction::parse(text)
        .ok_or_else(|| DbError::Value(format!("column 2: unknown promotion action {text:?}")))
}
