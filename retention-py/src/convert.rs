//! Frames and values across the boundary: any frame the Python side accepts (polars, pandas,
//! anything `polars.DataFrame` takes) arrives as a polars `DataFrame` through pyo3-polars;
//! structured results leave as Python objects through JSON.

use std::path::PathBuf;

use polars::prelude::DataFrame;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyAny;
use pyo3_polars::PyDataFrame;
use retention_core::data::ColumnKind;
use serde::Serialize;

use crate::errors::IntoPyResult;

static TO_POLARS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static WARNING: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A frame argument: converted to polars by `retention._frames.to_polars` (pandas frames,
/// dtypes the core does not read), then handed over column by column without copying.
pub fn frame(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<DataFrame> {
    Ok(frame_and_kinds(py, obj)?.0)
}

/// A frame argument for a model: its columns and their types as given are checked against the
/// model's schema first (the check Spark's driver runs too), then it is converted.
pub fn model_frame(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    model: &retention_core::model::ChurnModel,
    need_id: bool,
) -> PyResult<DataFrame> {
    let (df, kinds) = frame_and_kinds(py, obj)?;
    check_columns(py, model, &kinds, need_id)?;
    Ok(df)
}

/// [`retention_core::data::Schema::check_columns`] on (name, kind) pairs.
pub fn check_columns(
    py: Python<'_>,
    model: &retention_core::model::ChurnModel,
    kinds: &[(String, String)],
    need_id: bool,
) -> PyResult<()> {
    let kinds: Vec<(String, ColumnKind)> = kinds
        .iter()
        .map(|(n, k)| (n.clone(), ColumnKind::parse(k)))
        .collect();
    model.schema.check_columns(&kinds, need_id).py_err(py)
}

fn frame_and_kinds(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
) -> PyResult<(DataFrame, Vec<(String, String)>)> {
    let to_polars = TO_POLARS.import(py, "retention._frames", "to_polars")?;
    let (converted, kinds): (Bound<'_, PyAny>, Vec<(String, String)>) =
        to_polars.call1((obj,))?.extract()?;
    Ok((converted.extract::<PyDataFrame>()?.0, kinds))
}

/// A frame result as a Python `polars.DataFrame`.
pub fn to_frame(py: Python<'_>, df: DataFrame) -> PyResult<Py<PyAny>> {
    Ok(PyDataFrame(df).into_pyobject(py)?.unbind())
}

/// Any serialisable value as plain Python objects (dicts, lists, floats…).
pub fn to_python<T: Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(retention_core::Error::from)
        .py_err(py)?;
    let loads = JSON_LOADS.import(py, "json", "loads")?;
    Ok(loads.call1((text,))?.unbind())
}

/// Shows the core's warnings (duplicate ids, unseen levels…) as `RetentionWarning`s.
pub fn warn(py: Python<'_>, messages: &[String]) -> PyResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let category = WARNING.import(py, "retention.errors", "RetentionWarning")?;
    for m in messages {
        // The core's texts name parameters by their core field: shown in Python's words.
        let m = retention_core::error::respell(m, &crate::errors::PySpelling);
        let text =
            std::ffi::CString::new(m.replace('\0', " ")).unwrap_or_else(|_| c"warning".to_owned());
        PyErr::warn(py, category, &text, 2)?;
    }
    Ok(())
}

/// Reads a CSV or Parquet file as the CLI does (CSV cells as text, blank = missing): the frame
/// scores, explains and drifts exactly like `retention` on the same file.
#[pyfunction]
pub fn read_table(py: Python<'_>, path: PathBuf) -> PyResult<Py<PyAny>> {
    let raw = py
        .detach(|| retention_core::data::read_table(&path))
        .py_err(py)?;
    to_frame(py, raw.frame)
}

/// The app's settings (`data`, `model`, `db`): keyword argument > `RETENTIONAI_<NAME>` (or the
/// deprecated `RETENTION_<NAME>`) > the configuration file (`config`, else
/// `RETENTIONAI_CONFIG`) > default. Each is `(value, source)`; an unknown key of the file's
/// `[app]` section is refused.
#[pyfunction]
#[pyo3(signature = (config = None, **given))]
pub fn settings(
    config: Option<std::path::PathBuf>,
    given: Option<std::collections::BTreeMap<String, String>>,
) -> PyResult<std::collections::BTreeMap<String, (Option<String>, String)>> {
    use retention_core::config as core_config;
    let file =
        core_config::load_named(config.as_deref()).map_err(crate::errors::PyRetentionError)?;
    if let Some(file) = &file {
        let known: Vec<String> = core_config::APP
            .iter()
            .map(|s| s.file_key.to_string())
            .collect();
        file.check_known(&["app"], &known)
            .map_err(crate::errors::PyRetentionError)?;
    }
    let given = given.unwrap_or_default();
    if let Some(name) = given
        .keys()
        .find(|k| !core_config::APP.iter().any(|s| s.name == k.as_str()))
    {
        return Err(
            crate::errors::PyRetentionError(retention_core::Error::param(
                name.clone(),
                format!(
                    "not an app setting (expected one of {})",
                    retention_core::error::name_list(
                        &core_config::APP.iter().map(|s| s.name).collect::<Vec<_>>()
                    )
                ),
            ))
            .into(),
        );
    }
    Ok(
        core_config::resolve(&core_config::APP, file.as_ref(), &given)
            .into_iter()
            .map(|r| {
                // A keyword argument here is what a flag is to the CLI.
                let source = match r.source {
                    core_config::Source::Flag => "argument".to_string(),
                    other => other.to_string(),
                };
                (r.name.to_string(), (r.value, source))
            })
            .collect(),
    )
}
