//! `retention.Store`: the operations database (registry, prediction log, backups, GDPR).

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use retention_core::lifecycle::{Gate, ModelRef};
use retention_core::registry::{self, Holdout};

use crate::convert::{frame, to_frame, to_python};
use crate::errors::{IntoPyResult, param};
use crate::model::ChurnModel;

/// The operations database (SQLite; the file `retention --db` uses): the model registry with
/// champion/challenger aliases, the prediction log, validations, backups, GDPR export/erasure
/// and the audit log. Created when missing. Every call releases the GIL.
///
/// Example:
///     >>> store = retention.Store("retentionai.db")
///     >>> v = store.register(model, notes="October retrain")
///     >>> store.validate(v, holdout)["passed"]
///     >>> store.promote(v, holdout=holdout)
#[pyclass(module = "retention", frozen, name = "Store")]
pub struct Store {
    inner: Mutex<retention_core::store::Store>,
    actor: String,
}

/// A registry reference: a version number, `"v3"`, `"champion"` or `"challenger"`.
#[derive(FromPyObject)]
enum Reference {
    Version(i64),
    Name(String),
}

impl Reference {
    fn parse(&self, py: Python<'_>) -> PyResult<ModelRef> {
        match self {
            Reference::Version(v) => Ok(ModelRef::Version(*v)),
            Reference::Name(s) => registry::parse_reference(s).py_err(py),
        }
    }
}

impl Store {
    /// Runs `f` on the database without the GIL.
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut retention_core::store::Store) -> retention_core::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut guard = match self.inner.lock() {
                Ok(g) => g,
                // A panic in another thread's call does not corrupt SQLite's own state.
                Err(poisoned) => poisoned.into_inner(),
            };
            f(&mut guard)
        })
        .py_err(py)
    }
}

fn gate(min_auc: f64, min_accuracy: f64, margin: f64) -> Gate {
    Gate {
        min_roc_auc: min_auc,
        min_accuracy,
        margin,
    }
}

#[pymethods]
impl Store {
    /// Opens (or creates) the store at `path`: a SQLite file, or a `postgres://` URL of a
    /// PostgreSQL database shared with other processes. `actor` names who acts in the audit log
    /// (default: `RETENTIONAI_ACTOR`, else the login name).
    #[new]
    #[pyo3(signature = (path, actor = None))]
    fn new(py: Python<'_>, path: PathBuf, actor: Option<String>) -> PyResult<Self> {
        let db = match path.to_str() {
            Some(text) => retention_core::store::Db::parse(text).py_err(py)?,
            None => retention_core::store::Db::File(path),
        };
        let store = py
            .detach(|| retention_core::store::Store::open(&db))
            .py_err(py)?;
        Ok(Store {
            inner: Mutex::new(store),
            actor: actor.unwrap_or_else(retention_core::store::default_actor),
        })
    }

    /// The database: the SQLite file, or the PostgreSQL URL without its password.
    #[getter]
    fn path(&self, py: Python<'_>) -> PyResult<PathBuf> {
        self.with(py, |s| Ok(s.db().display_path()))
    }

    /// Registers a model (once per artifact: the same bytes return the same version).
    #[pyo3(signature = (model, notes = None))]
    fn register(
        &self,
        py: Python<'_>,
        model: &Bound<'_, ChurnModel>,
        notes: Option<String>,
    ) -> PyResult<i64> {
        let bytes = model.get().inner.to_bytes().py_err(py)?;
        let notes = notes.unwrap_or_default();
        let actor = self.actor.clone();
        self.with(py, move |s| Ok(s.register(&bytes, &notes, &actor)?.version))
    }

    /// Every registered version with its alias and latest validation, as a frame.
    fn versions(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        use polars::prelude::{Column, DataFrame};
        let (versions, aliases, validations) = self.with(py, |s| {
            let versions = s.versions()?;
            let validations = versions
                .iter()
                .map(|v| s.latest_validation(v.version))
                .collect::<retention_core::Result<Vec<_>>>()?;
            Ok((versions, s.aliases()?, validations))
        })?;
        let alias = |v: i64| aliases.label(v).map(|l| l.name());
        let df = DataFrame::new(
            versions.len(),
            vec![
                Column::new(
                    "version".into(),
                    versions.iter().map(|v| v.version).collect::<Vec<_>>(),
                ),
                Column::new(
                    "alias".into(),
                    versions
                        .iter()
                        .map(|v| alias(v.version))
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "algorithm".into(),
                    versions
                        .iter()
                        .map(|v| v.algorithm.as_str())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "cv_roc_auc".into(),
                    versions
                        .iter()
                        .map(|v| v.metrics.cv_roc_auc)
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "validated_roc_auc".into(),
                    validations
                        .iter()
                        .map(|v| v.as_ref().map(|v| v.roc_auc))
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "validation_passed".into(),
                    validations
                        .iter()
                        .map(|v| v.as_ref().map(|v| v.passed))
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "registered_at".into(),
                    versions
                        .iter()
                        .map(|v| v.registered_at.as_str())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "registered_by".into(),
                    versions
                        .iter()
                        .map(|v| v.registered_by.as_str())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "notes".into(),
                    versions
                        .iter()
                        .map(|v| v.notes.as_str())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "sha256".into(),
                    versions
                        .iter()
                        .map(|v| v.sha256.as_str())
                        .collect::<Vec<_>>(),
                ),
            ],
        )
        .map_err(retention_core::Error::from)
        .py_err(py)?;
        to_frame(py, df)
    }

    /// `{"champion": v or None, "challenger": v or None, "split": share}`.
    fn aliases(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let a = self.with(py, |s| s.aliases())?;
        to_python(py, &a)
    }

    /// The model a reference names (default: the champion).
    #[pyo3(signature = (reference = Reference::Name("champion".into())))]
    fn load_model(&self, py: Python<'_>, reference: Reference) -> PyResult<ChurnModel> {
        let r = reference.parse(py)?;
        let model = self.with(py, move |s| {
            let v = registry::version_of(s, &r)?;
            s.load_model(v)
        })?;
        Ok(ChurnModel::new(model))
    }

    /// Validates a version on a labelled holdout frame against the gate (`min_auc` 0.80,
    /// `min_accuracy` 0.75; with a champion, the same inputs) and records the result.
    #[pyo3(signature = (
        reference,
        holdout,
        *,
        min_auc = Gate::MIN_ROC_AUC,
        min_accuracy = Gate::MIN_ACCURACY,
        margin = Gate::MARGIN,
    ))]
    fn validate(
        &self,
        py: Python<'_>,
        reference: Reference,
        holdout: &Bound<'_, PyAny>,
        min_auc: f64,
        min_accuracy: f64,
        margin: f64,
    ) -> PyResult<Py<PyAny>> {
        let r = reference.parse(py)?;
        let data = frame(py, holdout)?;
        let actor = self.actor.clone();
        let g = gate(min_auc, min_accuracy, margin);
        let validation = self.with(py, move |s| {
            let v = registry::version_of(s, &r)?;
            let h = Holdout {
                frame: &data,
                sha256: None,
            };
            registry::validate_version(s, v, h, &g, &actor)
        })?;
        to_python(py, &validation)
    }

    /// Promotes a version (default: the challenger) to champion when it passes the gate: a
    /// passing validation (run now on `holdout`, or the latest recorded) that beats the
    /// champion's on the same holdout. `force=True` overrides a failing gate and needs a
    /// `reason`. Raises `RegistryError` naming each failed check.
    #[pyo3(signature = (
        reference = None,
        *,
        holdout = None,
        force = false,
        reason = None,
        min_auc = Gate::MIN_ROC_AUC,
        min_accuracy = Gate::MIN_ACCURACY,
        margin = Gate::MARGIN,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn promote(
        &self,
        py: Python<'_>,
        reference: Option<Reference>,
        holdout: Option<&Bound<'_, PyAny>>,
        force: bool,
        reason: Option<String>,
        min_auc: f64,
        min_accuracy: f64,
        margin: f64,
    ) -> PyResult<Py<PyAny>> {
        let r = match reference {
            Some(r) => r.parse(py)?,
            None => ModelRef::Challenger,
        };
        let data = holdout.map(|h| frame(py, h)).transpose()?;
        let actor = self.actor.clone();
        let g = gate(min_auc, min_accuracy, margin);
        let outcome = self.with(py, move |s| {
            let h = data.as_ref().map(|d| Holdout {
                frame: d,
                sha256: None,
            });
            registry::promote(s, &r, h, &g, force, reason.as_deref(), &actor)
        })?;
        to_python(py, &outcome)
    }

    /// Starts (or changes) an A/B test: `split` of customers (stable per id) get `challenger`.
    /// As for a promotion, the challenger's latest validation must have passed; `force=True`
    /// overrides a missing or failed one and needs a `reason` (both recorded). Returns the
    /// outcome (`challenger`, `champion`, `split`, `checks`, `forced`). Raises `RegistryError`
    /// naming the failed check, `CorruptModelError` when the challenger's model is unsound.
    #[pyo3(signature = (challenger, split, *, force = false, reason = None))]
    fn start_ab(
        &self,
        py: Python<'_>,
        challenger: Reference,
        split: f64,
        force: bool,
        reason: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let r = challenger.parse(py)?;
        let actor = self.actor.clone();
        let outcome = self.with(py, move |s| {
            registry::start_ab(s, &r, split, force, reason.as_deref(), &actor)
        })?;
        to_python(py, &outcome)
    }

    /// Stops the running A/B test.
    fn stop_ab(&self, py: Python<'_>) -> PyResult<()> {
        let actor = self.actor.clone();
        self.with(py, move |s| registry::stop_ab(s, &actor).map(|_| ()))
    }

    /// Makes the previous champion the champion again; returns its version.
    #[pyo3(signature = (reason = "rollback"))]
    fn rollback(&self, py: Python<'_>, reason: &str) -> PyResult<i64> {
        let actor = self.actor.clone();
        let reason = reason.to_string();
        self.with(py, move |s| {
            registry::rollback(s, &reason, &actor).map(|(v, _)| v)
        })
    }

    /// Promotion, rollback and A/B events, oldest first.
    fn promotions(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let p = self.with(py, |s| s.promotions())?;
        to_python(py, &p)
    }

    /// Scores a frame with the champion (and the challenger for its share of customers while
    /// an A/B test runs), adding `model_version` and `variant`, and logs every row unless
    /// `log=False`. Re-logging the same `batch_id` skips rows already logged; without one, the
    /// id is derived from the customers scored and the models, so the same frame logs once.
    #[pyo3(signature = (df, *, keep = None, log = true, batch_id = None))]
    fn score(
        &self,
        py: Python<'_>,
        df: &Bound<'_, PyAny>,
        keep: Option<Vec<String>>,
        log: bool,
        batch_id: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let raw = frame(py, df)?;
        let keep = keep.unwrap_or_default();
        let (scored, warnings) = self.with(py, move |s| {
            registry::score_and_log(s, &raw, &keep, log, batch_id)
        })?;
        crate::convert::warn(py, &warnings)?;
        to_frame(py, scored)
    }

    /// The A/B readout: the champion and (while an A/B test runs) the challenger, each by its
    /// latest logged prediction per customer joined with `outcomes` (a frame with the customer
    /// id and the observed churn; `target` and `id` default to the champion's columns). One
    /// dict per variant: `variant`, `version`, `customers`, `churned`, `roc_auc`, `accuracy`
    /// (`None` unless both outcomes occur).
    #[pyo3(signature = (outcomes, *, target = None, id = None))]
    fn compare(
        &self,
        py: Python<'_>,
        outcomes: &Bound<'_, PyAny>,
        target: Option<String>,
        id: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let data = frame(py, outcomes)?;
        let comparison = self.with(py, move |s| {
            registry::compare(s, || Ok(data), target.as_deref(), id.as_deref())
        })?;
        to_python(py, &comparison.variants)
    }

    /// Logged predictions of one customer, oldest first.
    fn predictions(&self, py: Python<'_>, customer_id: String) -> PyResult<Py<PyAny>> {
        let p = self.with(py, move |s| s.predictions_of(&customer_id))?;
        to_python(py, &p)
    }

    /// Rows in the prediction log.
    fn prediction_count(&self, py: Python<'_>) -> PyResult<i64> {
        self.with(py, |s| s.prediction_count())
    }

    /// Integrity, schema version, sizes and backup age, as a dict (`ok` says whether all passed).
    fn check(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let report = self.with(py, |s| s.check())?;
        let mut value = serde_json::to_value(&report)
            .map_err(retention_core::Error::from)
            .py_err(py)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("ok".into(), report.ok().into());
        }
        to_python(py, &value)
    }

    /// Takes a consistent online backup into a new folder under `root`, keeping the newest
    /// `keep`; returns the manifest (files and checksums).
    #[pyo3(signature = (root, keep = 7))]
    fn backup(&self, py: Python<'_>, root: PathBuf, keep: usize) -> PyResult<Py<PyAny>> {
        let actor = self.actor.clone();
        let manifest = self.with(py, move |s| s.backup(&root, keep, &actor))?;
        to_python(py, &manifest)
    }

    /// Verifies a backup folder's checksums and database; returns its manifest.
    #[staticmethod]
    fn verify_backup(py: Python<'_>, folder: PathBuf) -> PyResult<Py<PyAny>> {
        let manifest = py
            .detach(|| retention_core::store::verify_backup(&folder))
            .py_err(py)?;
        to_python(py, &manifest)
    }

    /// Everything stored about a customer (GDPR access request), recorded in the audit log.
    fn gdpr_export(&self, py: Python<'_>, customer_id: String) -> PyResult<Py<PyAny>> {
        let actor = self.actor.clone();
        let export = self.with(py, move |s| s.gdpr_export(&customer_id, &actor))?;
        to_python(py, &export)
    }

    /// Erases a customer's predictions (GDPR erasure); returns the rows removed. The audit log
    /// keeps a salted hash of the id, never the id.
    fn gdpr_delete(&self, py: Python<'_>, customer_id: String) -> PyResult<usize> {
        let actor = self.actor.clone();
        self.with(py, move |s| s.gdpr_delete(&customer_id, &actor))
    }

    /// Creates an API key named `name` for `retention serve` (and the app) and returns it: it
    /// is shown only now, the database keeps its hash.
    fn create_api_key(&self, py: Python<'_>, name: String) -> PyResult<String> {
        let actor = self.actor.clone();
        self.with(py, move |s| {
            s.create_api_key(&name, &actor).map(|(_, key)| key)
        })
    }

    /// The name of `key` when it is active (or in a rotation's grace period), else `None`.
    fn api_key_name(&self, py: Python<'_>, key: String) -> PyResult<Option<String>> {
        self.with(py, move |s| s.api_key_name(&key))
    }

    /// Audit entries whose time starts with `month` (e.g. `"2026-11"`; all when empty).
    #[pyo3(signature = (month = ""))]
    fn audit(&self, py: Python<'_>, month: &str) -> PyResult<Py<PyAny>> {
        let month = month.to_string();
        let entries = self.with(py, move |s| s.audit_entries(&month))?;
        to_python(py, &entries)
    }

    /// Removes predictions older than `older_than` (e.g. `"90d"`, `"12h"`) in batches;
    /// returns the rows removed.
    #[pyo3(signature = (older_than, batch = 10_000))]
    fn cleanup(&self, py: Python<'_>, older_than: &str, batch: usize) -> PyResult<usize> {
        let age = retention_core::lifecycle::parse_age(older_than).py_err(py)?;
        if batch == 0 {
            return Err(param(py, "batch", "must be at least 1"));
        }
        let actor = self.actor.clone();
        self.with(py, move |s| s.cleanup(age, batch, &actor, &|_| {}))
    }

    /// Rebuilds the database compactly (VACUUM, ANALYZE); returns (bytes before, after).
    fn optimize(&self, py: Python<'_>) -> PyResult<(u64, u64)> {
        let actor = self.actor.clone();
        self.with(py, move |s| s.optimize(&actor))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let path = self.path(py)?;
        Ok(format!("Store({:?})", path.display().to_string()))
    }
}
