//! `retention.drift` and `retention.DriftReport`.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::types::PyDict;
use retention_core::drift::{DriftOptions, DriftPlan, DriftThresholds, TableSummary, summary};

use crate::convert::{frame, to_frame, to_python};
use crate::errors::{IntoPyResult, param};
use crate::model::ChurnModel;

/// What changed between a reference table and a current one: per feature PSI, a test
/// (Kolmogorov-Smirnov or chi-square), a distance (Wasserstein or Jensen-Shannon), missing
/// rates and a status; with a model, the drift of its predictions and the expected
/// performance. `status` is `ok`, `warn` or `alert`.
///
/// Example:
///     >>> report = retention.drift(train_df, this_month, model=model)
///     >>> report.status, report.summary
///     >>> report.to_polars().filter(pl.col("status") != "ok")
#[pyclass(module = "retention", frozen, name = "DriftReport")]
pub struct DriftReport {
    inner: retention_core::drift::DriftReport,
}

#[pymethods]
impl DriftReport {
    /// The report as HTML in a notebook: the verdict, the prediction drift, every feature and
    /// the most drifted features' histograms (`retention.report`).
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        let report = slf.py().import("retention.report")?;
        report.call_method1("drift_html", (slf,))?.extract()
    }

    /// Writes the report as one standalone HTML file (styles inline, charts as images inside
    /// it) and returns its path.
    ///
    /// Example:
    ///     >>> report.save_html("drift-2026-12.html")
    fn save_html(slf: &Bound<'_, Self>, path: std::path::PathBuf) -> PyResult<Py<PyAny>> {
        let report = slf.py().import("retention.report")?;
        let fragment = report.call_method1("drift_html", (slf,))?;
        Ok(report
            .call_method1("save_html", (fragment, path, "RetentionAI drift report"))?
            .unbind())
    }

    /// The verdict: `ok`, `warn` or `alert`.
    #[getter]
    fn status(&self) -> &'static str {
        self.inner.verdict.status.as_str()
    }

    /// The verdict in one sentence.
    #[getter]
    fn summary(&self) -> String {
        self.inner.verdict.summary.clone()
    }

    /// Columns whose status is warn or alert, most drifted first.
    #[getter]
    fn drifting(&self) -> Vec<String> {
        self.inner.drifting().map(|f| f.column.clone()).collect()
    }

    /// The whole report as plain Python objects (the same fields as `retention drift --json`).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.inner)
    }

    /// The report as JSON text.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        self.inner.to_json().py_err(py)
    }

    /// One row per compared feature, most drifted first: `column`, `kind`, `status`, `psi`,
    /// `p_value`, `ks_statistic`, `wasserstein`, `chi_square`, `js_distance`,
    /// `missing_reference`, `missing_current`, `change`, `note`.
    fn to_polars(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        use polars::prelude::{Column, DataFrame};
        let f = &self.inner.features;
        let text = |pick: fn(&retention_core::drift::FeatureDrift) -> String| {
            f.iter().map(pick).collect::<Vec<_>>()
        };
        let num = |pick: fn(&retention_core::drift::FeatureDrift) -> Option<f64>| {
            f.iter().map(pick).collect::<Vec<_>>()
        };
        let columns = vec![
            Column::new("column".into(), text(|d| d.column.clone())),
            Column::new("kind".into(), text(|d| d.kind.as_str().to_string())),
            Column::new("status".into(), text(|d| d.status.as_str().to_string())),
            Column::new("psi".into(), num(|d| Some(d.psi))),
            Column::new("p_value".into(), num(|d| Some(d.p_value))),
            Column::new("ks_statistic".into(), num(|d| d.ks_statistic)),
            Column::new("wasserstein".into(), num(|d| d.wasserstein)),
            Column::new("chi_square".into(), num(|d| d.chi_square)),
            Column::new("js_distance".into(), num(|d| d.js_distance)),
            Column::new(
                "missing_reference".into(),
                num(|d| Some(d.missing_reference)),
            ),
            Column::new("missing_current".into(), num(|d| Some(d.missing_current))),
            Column::new("change".into(), text(|d| d.change.clone())),
            Column::new(
                "note".into(),
                f.iter().map(|d| d.note.clone()).collect::<Vec<_>>(),
            ),
        ];
        let df = DataFrame::new(f.len(), columns)
            .map_err(retention_core::Error::from)
            .py_err(py)?;
        to_frame(py, df)
    }

    /// The compared histogram of one column (`bin`, `reference`, `current` shares), for charts.
    fn bins(&self, py: Python<'_>, column: &str) -> PyResult<Py<PyAny>> {
        use polars::prelude::{Column, DataFrame};
        let Some(f) = self.inner.features.iter().find(|f| f.column == column) else {
            let names: Vec<&str> = self
                .inner
                .features
                .iter()
                .map(|f| f.column.as_str())
                .collect();
            return Err(crate::errors::to_py(
                py,
                retention_core::Error::column_not_found(column, " in this drift report", &names),
            ));
        };
        let df = DataFrame::new(
            f.bins.len(),
            vec![
                Column::new(
                    "bin".into(),
                    f.bins.iter().map(|b| b.label.as_str()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "reference".into(),
                    f.bins.iter().map(|b| b.reference).collect::<Vec<_>>(),
                ),
                Column::new(
                    "current".into(),
                    f.bins.iter().map(|b| b.current).collect::<Vec<_>>(),
                ),
            ],
        )
        .map_err(retention_core::Error::from)
        .py_err(py)?;
        to_frame(py, df)
    }

    /// The model's side (prediction drift, estimated and realised performance), or None.
    #[getter]
    fn prediction(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.inner.prediction)
    }

    fn __repr__(&self) -> String {
        format!(
            "DriftReport(status={:?}, features={}, drifting={}, reference_rows={}, current_rows={})",
            self.inner.verdict.status.as_str(),
            self.inner.verdict.features,
            self.inner.verdict.drifting,
            self.inner.reference_rows,
            self.inner.current_rows
        )
    }
}

/// Compares `current` with `reference` (polars or pandas frames, or paths of CSV or Parquet
/// files). With a model, the compared columns are its inputs and its predictions are compared
/// too; without one, the roles are inferred from the reference (`target`, `id` as in `train`).
/// Two paths are streamed as `retention drift` streams them: read in batches and summarised,
/// memory bounded whatever their sizes (roles then come from the reference's first batch).
///
/// `bins`: quantile bins of numeric PSI (10). `thresholds`: any of `psi_warn` (0.1),
/// `psi_alert` (0.25), `p_value` (0.05), `distance_warn` (0.1), `drift_share` (0.5).
///
/// Example:
///     >>> report = retention.drift(reference, current, model=model)
///     >>> report = retention.drift("train.parquet", "this_week.csv", model=model)
#[pyfunction]
#[pyo3(signature = (reference, current, model = None, *, bins = DriftOptions::DEFAULT_BINS, thresholds = None, target = None, id = None))]
#[allow(clippy::too_many_arguments)]
pub fn drift(
    py: Python<'_>,
    reference: &Bound<'_, PyAny>,
    current: &Bound<'_, PyAny>,
    model: Option<&Bound<'_, ChurnModel>>,
    bins: usize,
    thresholds: Option<&Bound<'_, PyDict>>,
    target: Option<String>,
    id: Option<String>,
) -> PyResult<DriftReport> {
    let mut options = DriftOptions {
        bins,
        ..DriftOptions::default()
    };
    options.schema.target = target;
    options.schema.id = id;
    if let Some(t) = thresholds {
        options.thresholds = merge_thresholds(py, t)?;
    }
    let model = model.map(|m| m.get().inner.clone());
    // Two files are streamed (bounded memory, whatever their sizes); a file beside a frame is
    // read whole.
    if let (Some(r), Some(c)) = (file_path(reference), file_path(current)) {
        let (inner, notes) = py
            .detach(|| {
                retention_core::drift::compute_files(&r, &c, model.as_deref(), &options, &|_| {})
            })
            .py_err(py)?;
        crate::convert::warn(py, &notes)?;
        return Ok(DriftReport { inner });
    }
    let reference = frame_or_file(py, reference)?;
    let current = frame_or_file(py, current)?;
    let inner = py
        .detach(|| {
            retention_core::drift::DriftReport::compute(
                &reference,
                &current,
                model.as_deref(),
                &options,
            )
        })
        .py_err(py)?;
    Ok(DriftReport { inner })
}

/// The path a `str` or `os.PathLike` argument names (None for a frame).
fn file_path(obj: &Bound<'_, PyAny>) -> Option<std::path::PathBuf> {
    if obj.is_instance_of::<pyo3::types::PyString>() || obj.hasattr("__fspath__").unwrap_or(false) {
        obj.extract().ok()
    } else {
        None
    }
}

/// A frame argument, or the table a path names (read as `retention.read_table` reads it).
fn frame_or_file(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<polars::prelude::DataFrame> {
    match file_path(obj) {
        Some(path) => Ok(py
            .detach(|| retention_core::data::read_table(&path))
            .py_err(py)?
            .frame),
        None => frame(py, obj),
    }
}

/// The comparison's columns from column names alone (what `retention.spark.drift` does on the
/// driver before reading a row): the model's inputs, or roles inferred from `sample` (the
/// reference's first rows). Returns the plan as JSON.
#[pyfunction]
#[pyo3(signature = (reference_columns, current_columns, model = None, sample = None, target = None, id = None))]
pub fn drift_plan(
    py: Python<'_>,
    reference_columns: Vec<String>,
    current_columns: Vec<String>,
    model: Option<&Bound<'_, ChurnModel>>,
    sample: Option<&Bound<'_, PyAny>>,
    target: Option<String>,
    id: Option<String>,
) -> PyResult<String> {
    let schema = match (model, sample) {
        (Some(m), _) => m.get().inner.schema.clone(),
        (None, Some(sample)) => {
            let sample = frame(py, sample)?;
            let options = retention_core::data::SchemaOptions {
                target,
                id,
                ..Default::default()
            };
            py.detach(|| retention_core::data::infer_schema(&sample, &options))
                .py_err(py)?
        }
        (None, None) => return Err(param(py, "sample", "needed when no model is given")),
    };
    let plan = DriftPlan::new(
        &schema,
        &reference_columns,
        &current_columns,
        model.is_some(),
    )
    .py_err(py)?;
    serde_json::to_string(&plan)
        .map_err(retention_core::Error::from)
        .py_err(py)
}

fn parse_plan(py: Python<'_>, plan: &str) -> PyResult<DriftPlan> {
    serde_json::from_str(plan)
        .map_err(retention_core::Error::from)
        .py_err(py)
}

/// A mergeable drift summary of one part of a table (a Spark partition's batch) under `plan`,
/// as bytes.
#[pyfunction]
#[pyo3(signature = (df, plan, model = None, capacity = summary::DEFAULT_CAPACITY))]
pub fn drift_summary<'py>(
    py: Python<'py>,
    df: &Bound<'py, PyAny>,
    plan: &str,
    model: Option<&Bound<'py, ChurnModel>>,
    capacity: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let plan = parse_plan(py, plan)?;
    let part = frame(py, df)?;
    let model = model.map(|m| m.get().inner.clone());
    let bytes = py
        .detach(|| {
            TableSummary::of(&part, &plan.compared, model.as_deref(), None, capacity)?.to_bytes()
        })
        .py_err(py)?;
    Ok(PyBytes::new(py, &bytes))
}

/// Merges drift summaries (bytes from `drift_summary`) into one.
#[pyfunction]
pub fn drift_merge<'py>(py: Python<'py>, parts: Vec<Vec<u8>>) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = py
        .detach(|| {
            let mut merged: Option<TableSummary> = None;
            for part in &parts {
                let s = TableSummary::from_bytes(part)?;
                match merged.as_mut() {
                    Some(m) => m.merge(&s)?,
                    None => merged = Some(s),
                }
            }
            merged
                .ok_or_else(|| retention_core::Error::InvalidData("the table has no rows".into()))?
                .to_bytes()
        })
        .py_err(py)?;
    Ok(PyBytes::new(py, &bytes))
}

/// The drift report of two merged summaries under `plan`.
#[pyfunction]
#[pyo3(signature = (plan, reference, current, model = None, *, bins = DriftOptions::DEFAULT_BINS, thresholds = None))]
pub fn drift_from_summaries(
    py: Python<'_>,
    plan: &str,
    reference: &[u8],
    current: &[u8],
    model: Option<&Bound<'_, ChurnModel>>,
    bins: usize,
    thresholds: Option<&Bound<'_, PyDict>>,
) -> PyResult<DriftReport> {
    let plan = parse_plan(py, plan)?;
    let mut options = DriftOptions {
        bins,
        ..DriftOptions::default()
    };
    if let Some(t) = thresholds {
        options.thresholds = merge_thresholds(py, t)?;
    }
    let model = model.map(|m| m.get().inner.clone());
    let inner = py
        .detach(|| {
            let r = TableSummary::from_bytes(reference)?;
            let c = TableSummary::from_bytes(current)?;
            retention_core::drift::DriftReport::from_summaries(
                &plan,
                &r,
                &c,
                model.as_deref(),
                &options,
            )
        })
        .py_err(py)?;
    Ok(DriftReport { inner })
}

fn merge_thresholds(py: Python<'_>, given: &Bound<'_, PyDict>) -> PyResult<DriftThresholds> {
    let mut t = DriftThresholds::default();
    for (k, v) in given.iter() {
        let key: String = k.extract()?;
        let value: f64 = v.extract()?;
        match key.as_str() {
            "psi_warn" => t.psi_warn = value,
            "psi_alert" => t.psi_alert = value,
            "p_value" => t.p_value = value,
            "distance_warn" => t.distance_warn = value,
            "drift_share" => t.drift_share = value,
            _ => {
                return Err(param(
                    py,
                    &key,
                    "unknown threshold; accepted: psi_warn, psi_alert, p_value, distance_warn, drift_share",
                ));
            }
        }
    }
    Ok(t)
}
