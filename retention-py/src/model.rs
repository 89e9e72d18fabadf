//! `retention.train` and `retention.ChurnModel`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use retention_core::drift::{DriftOptions, DriftThresholds, summary};
use retention_core::explain::{DEFAULT_TOP, explanations_frame, what_if_frame};
use retention_core::features::FeatureSpec;
use retention_core::prelude::*;
use retention_core::training::{OptionKind, OptionValue, TrainOption};

use crate::convert::{self, frame, model_frame, to_frame, to_python};
use crate::errors::{IntoPyResult, param};

/// A trained churn model: scores customers with risk tiers, explains each score, evaluates
/// itself on labelled data. Immutable and safe to share between threads.
///
/// Example:
///     >>> model = retention.train(df, target="Churn", id="customerID")
///     >>> model.score(df).head()
///     >>> model.save("churn.model")
#[pyclass(module = "retention", frozen, name = "ChurnModel")]
pub struct ChurnModel {
    pub inner: Arc<retention_core::model::ChurnModel>,
}

impl ChurnModel {
    pub fn new(model: retention_core::model::ChurnModel) -> Self {
        ChurnModel {
            inner: Arc::new(model),
        }
    }
}

#[pymethods]
impl ChurnModel {
    /// The model's training figures as HTML in a notebook (`retention.report`).
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        let report = slf.py().import("retention.report")?;
        report.call_method1("model_html", (slf,))?.extract()
    }

    /// Writes the model's training figures as one standalone HTML file; returns its path.
    fn save_html(slf: &Bound<'_, Self>, path: PathBuf) -> PyResult<Py<PyAny>> {
        let report = slf.py().import("retention.report")?;
        let fragment = report.call_method1("model_html", (slf,))?;
        Ok(report
            .call_method1("save_html", (fragment, path, "RetentionAI churn model"))?
            .unbind())
    }

    /// Scores customers: one row per input row with the id (or `row`), `churn_probability`,
    /// `churn_prediction` (0/1 at the model's threshold) and `risk_tier` (Low/Medium/High),
    /// then the `keep` columns. Unseen categorical levels and duplicate ids are reported as
    /// `RetentionWarning`s.
    ///
    /// Example:
    ///     >>> scores = model.score(customers, keep=["MonthlyCharges"])
    #[pyo3(signature = (df, keep = None))]
    fn score(
        &self,
        py: Python<'_>,
        df: &Bound<'_, PyAny>,
        keep: Option<Vec<String>>,
    ) -> PyResult<Py<PyAny>> {
        let raw = model_frame(py, df, &self.inner, true)?;
        let keep = keep.unwrap_or_default();
        let model = &self.inner;
        let (scored, unseen, mut warnings) =
            py.detach(|| model.score_frame(&raw, 0, &keep)).py_err(py)?;
        warnings.extend(unseen.messages());
        convert::warn(py, &warnings)?;
        to_frame(py, scored)
    }

    /// Each customer's probability and its `top` reasons: `id`, `churn_probability`, then
    /// `reason_k` ("column = value") and `contribution_k` (log-odds; positive pushes towards
    /// churn), largest first. Exact SHAP values for trees and boosting, linear attributions for
    /// logistic regression.
    ///
    /// Example:
    ///     >>> model.explain(customers.filter(pl.col("customerID") == "7590-VHVEG"), top=5)
    #[pyo3(signature = (df, top = DEFAULT_TOP))]
    fn explain(&self, py: Python<'_>, df: &Bound<'_, PyAny>, top: usize) -> PyResult<Py<PyAny>> {
        let raw = model_frame(py, df, &self.inner, false)?;
        let model = &self.inner;
        let rows = py.detach(|| model.explain(&raw, top)).py_err(py)?;
        to_frame(py, explanations_frame(&rows, top).py_err(py)?)
    }

    /// The whole contribution matrix: the id column (or `row`), one column per source column
    /// the model reads (log-odds; positive pushes towards churn), then `expected_value`. Each
    /// row's columns add up to the model's raw output (log-odds, before calibration): exact
    /// SHAP values for trees and boosting, linear attributions for logistic regression.
    ///
    /// Example:
    ///     >>> m = model.contributions(customers)
    ///     >>> m.drop("customerID").sum_horizontal()   # the raw output of each customer
    fn contributions(&self, py: Python<'_>, df: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let raw = model_frame(py, df, &self.inner, false)?;
        let model = &self.inner;
        let matrix = py.detach(|| model.contributions_frame(&raw)).py_err(py)?;
        to_frame(py, matrix)
    }

    /// The contributions as a `shap.Explanation` (needs the `shap` package): values, the
    /// expected value as every row's base value, the customers' values of the source columns
    /// as data, the columns' names. `shap.plots.beeswarm`, `waterfall` and `bar` take it as
    /// they take one from `shap.TreeExplainer`.
    ///
    /// Example:
    ///     >>> shap.plots.waterfall(model.shap_explanation(customers.head(1))[0])
    fn shap_explanation(&self, py: Python<'_>, df: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let shap = py.import("shap").map_err(|e| {
            pyo3::exceptions::PyImportError::new_err(format!(
                "shap_explanation needs the shap package (pip install shap): {e}"
            ))
        })?;
        let raw = model_frame(py, df, &self.inner, false)?;
        let model = &self.inner;
        let (matrix, values) = py
            .detach(|| {
                Ok::<_, retention_core::Error>((
                    model.contributions_frame(&raw)?,
                    model.source_values(&raw)?,
                ))
            })
            .py_err(py)?;
        let names = model.source_columns();
        let matrix = to_frame(py, matrix)?;
        let matrix = matrix.bind(py);
        let kwargs = PyDict::new(py);
        kwargs.set_item(
            "values",
            matrix
                .call_method1("select", (names.clone(),))?
                .call_method0("to_numpy")?,
        )?;
        kwargs.set_item(
            "base_values",
            matrix
                .call_method1("get_column", (retention_core::explain::EXPECTED_VALUE,))?
                .call_method0("to_numpy")?,
        )?;
        kwargs.set_item(
            "data",
            to_frame(py, values)?.bind(py).call_method0("to_numpy")?,
        )?;
        kwargs.set_item("feature_names", names)?;
        Ok(shap
            .getattr("Explanation")?
            .call((), Some(&kwargs))?
            .unbind())
    }

    /// Rescores customers with some fields changed: `id`, `probability_before`,
    /// `probability_after`, `change`, then the top reasons after the change.
    ///
    /// Example:
    ///     >>> model.what_if(one_customer, {"Contract": "Two year", "tenure": 24})
    #[pyo3(signature = (df, changes, top = DEFAULT_TOP))]
    fn what_if(
        &self,
        py: Python<'_>,
        df: &Bound<'_, PyAny>,
        changes: &Bound<'_, PyDict>,
        top: usize,
    ) -> PyResult<Py<PyAny>> {
        let raw = model_frame(py, df, &self.inner, false)?;
        let mut set = BTreeMap::new();
        for (k, v) in changes.iter() {
            let key: String = k.extract()?;
            let value = if v.is_none() {
                String::new()
            } else {
                v.str()?.to_string()
            };
            set.insert(key, value);
        }
        let model = &self.inner;
        let rows = py.detach(|| model.what_if(&raw, &set, top)).py_err(py)?;
        to_frame(py, what_if_frame(&rows, top).py_err(py)?)
    }

    /// Measures the model on a labelled table at its threshold: ROC-AUC, PR-AUC, log-loss,
    /// Brier, ECE, accuracy, precision, recall, F1 and the confusion counts, as a dict.
    ///
    /// Example:
    ///     >>> model.evaluate(holdout)["roc_auc"]
    fn evaluate(&self, py: Python<'_>, df: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let raw = model_frame(py, df, &self.inner, false)?;
        let model = &self.inner;
        let (metrics, unseen) = py.detach(|| model.evaluate(&raw)).py_err(py)?;
        convert::warn(py, &unseen.messages())?;
        to_python(py, &metrics)
    }

    /// The model's curves on a labelled frame, one row per distinct probability from the
    /// highest down: `threshold`, `contacted`, `churners`, `false_alarms`, `contacted_share`,
    /// `recall`, `false_positive_rate`, `precision`, `lift` and `profit` (with the model's
    /// business values). `retention.plot` draws ROC, precision-recall, gain, lift and profit
    /// charts from it.
    ///
    /// Example:
    ///     >>> c = model.curves(holdout)
    ///     >>> c.filter(pl.col("profit") == pl.col("profit").max())["threshold"]
    fn curves(&self, py: Python<'_>, df: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let raw = model_frame(py, df, &self.inner, false)?;
        let model = &self.inner;
        let curves = py.detach(|| model.curves(&raw)).py_err(py)?;
        to_frame(py, curves)
    }

    /// Global importance: the mean absolute contribution of each column over `df`, largest
    /// first, as a frame (`feature`, `importance`).
    fn importance(&self, py: Python<'_>, df: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let raw = model_frame(py, df, &self.inner, false)?;
        let model = &self.inner;
        let ranked = py.detach(|| model.importance(&raw)).py_err(py)?;
        let (names, values): (Vec<String>, Vec<f64>) = ranked.into_iter().unzip();
        let df = polars::prelude::DataFrame::new(
            names.len(),
            vec![
                polars::prelude::Column::new("feature".into(), names),
                polars::prelude::Column::new("importance".into(), values),
            ],
        )
        .map_err(retention_core::Error::from)
        .py_err(py)?;
        to_frame(py, df)
    }

    /// Writes the model file (checksummed JSON; written to a temporary name and renamed into
    /// place). The CLI, `retention serve` and the registry read the same file.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let model = &self.inner;
        py.detach(|| model.save(&path)).py_err(py)
    }

    /// Reads a model file written by `save` or `retention train`.
    ///
    /// Example:
    ///     >>> model = retention.ChurnModel.load("churn.model")
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let model = py
            .detach(|| retention_core::model::ChurnModel::load(&path))
            .py_err(py)?;
        Ok(ChurnModel::new(model))
    }

    /// The model file's bytes (what `save` writes).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.inner.to_bytes().py_err(py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A model from the bytes of a model file (checksum verified).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let model =
            retention_core::model::ChurnModel::from_bytes(data, std::path::Path::new("<bytes>"))
                .py_err(py)?;
        Ok(ChurnModel::new(model))
    }

    /// Pickling (multiprocessing, Spark, Streamlit's cache) goes through the model file's bytes.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let from_bytes = slf.get_type().getattr("from_bytes")?;
        Ok((from_bytes, (slf.get().to_bytes(py)?,)))
    }

    /// Checks columns given as (name, kind) pairs — kind `number`, `text`, `boolean` or a type
    /// name — against the model's inputs, as scoring does before reading a row (used by
    /// `retention.spark` on a Spark schema). Raises `ColumnNotFoundError` or
    /// `SchemaMismatchError`.
    #[pyo3(signature = (columns, need_id = true))]
    fn check_columns(
        &self,
        py: Python<'_>,
        columns: Vec<(String, String)>,
        need_id: bool,
    ) -> PyResult<()> {
        convert::check_columns(py, &self.inner, &columns, need_id)
    }

    /// Training-time metrics: `cv` (mean and std per metric), `out_of_fold`, `holdout`,
    /// `training`, and the `leaderboard`, as a dict.
    #[getter]
    fn metrics(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.inner.metrics)
    }

    /// Column roles of the training table: `{column: "id" | "target" | "numeric" |
    /// "categorical" | "ignored"}` in file order.
    #[getter]
    fn schema(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let roles: serde_json::Map<String, serde_json::Value> = self
            .inner
            .schema
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.role.as_str().into()))
            .collect();
        to_python(py, &roles)
    }

    /// Every candidate's cross-validated figures, best first, as a frame: `name`, `selected`,
    /// then mean and std of ROC-AUC, log-loss, PR-AUC, Brier and ECE.
    #[getter]
    fn leaderboard(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        use polars::prelude::Column;
        let entries = &self.inner.metrics.leaderboard;
        let mut columns = vec![
            Column::new(
                "name".into(),
                entries.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "selected".into(),
                entries.iter().map(|e| e.selected).collect::<Vec<_>>(),
            ),
        ];
        type Pick = fn(&retention_core::model::LeaderboardEntry) -> &MeanStd;
        let metrics: [(&str, Pick); 5] = [
            ("roc_auc", |e| &e.roc_auc),
            ("log_loss", |e| &e.log_loss),
            ("pr_auc", |e| &e.pr_auc),
            ("brier", |e| &e.brier),
            ("ece", |e| &e.ece),
        ];
        for (name, pick) in metrics {
            columns.push(Column::new(
                name.into(),
                entries.iter().map(|e| pick(e).mean).collect::<Vec<_>>(),
            ));
            columns.push(Column::new(
                format!("{name}_std").into(),
                entries.iter().map(|e| pick(e).std).collect::<Vec<_>>(),
            ));
        }
        let df = polars::prelude::DataFrame::new(entries.len(), columns)
            .map_err(retention_core::Error::from)
            .py_err(py)?;
        to_frame(py, df)
    }

    /// The estimator: `logistic`, `tree`, `boosting` or `blend(…)`.
    #[getter]
    fn algorithm(&self) -> String {
        self.inner.estimator.name()
    }

    /// Probability at or above which `churn_prediction` is 1.
    #[getter]
    fn threshold(&self) -> f64 {
        self.inner.threshold
    }

    /// Risk tier boundaries: `{"medium": 0.3, "high": 0.7}` (Low below medium).
    #[getter]
    fn tiers(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.inner.tiers)
    }

    /// Where the model came from: rows, seed, data checksum, version, creation time.
    #[getter]
    fn provenance(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.inner.provenance)
    }

    /// Warnings and notes from training.
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.inner
            .notes
            .iter()
            .map(|n| retention_core::error::respell(n, &crate::errors::PySpelling))
            .collect()
    }

    fn __repr__(&self) -> String {
        let m = &self.inner;
        format!(
            "ChurnModel(algorithm={:?}, cv_roc_auc={:.4}, threshold={}, inputs={}, trained_rows={})",
            m.estimator.name(),
            m.metrics.headline_auc(),
            m.threshold,
            m.schema.feature_names().len(),
            m.provenance.rows
        )
    }
}

/// Trains a churn model on a frame (polars or pandas).
///
/// `target` and `id` name the churn label and customer id columns (inferred when omitted:
/// `Churn`, `Exited`…; a unique `…id` column). `algorithm` is `"auto"` (cross-validates
/// logistic regression, a tree, gradient boosting and a blend, keeps the best), `"logistic"`,
/// `"tree"` or `"boosting"`.
///
/// Options, each the `retention train` flag of the same name (`select_by` is `--select-by`) with
/// the same default: `cv` (folds, default 5; 0 = none), `seed` (42), `test_size` (held-out
/// share, 0), `calibration` (`"platt"`, `"isotonic"`, `"none"`), `select_by` (`"log_loss"`,
/// `"roc_auc"`: what `"auto"` selects by), `l2` (logistic regression's penalty), `max_depth`,
/// `min_samples_leaf` (the tree), `trees`, `learning_rate`, `max_leaves` (gradient boosting),
/// `class_weight` (`"none"`, `"balanced"`), `threshold` (0.5), `threshold_objective`
/// (`"fixed"`, `"f1"`, `"profit"`), `customer_value`, `offer_cost`, `offer_success_rate` (for
/// the profit threshold), `tiers` (`(medium, high)`, default `(0.3, 0.7)`), `categorical`,
/// `numeric`, `ignore` (column lists), `positive_label`, `features` (a derived-feature spec
/// file, TOML), `progress` (a callable receiving each step: its line of text, a `str`, with
/// `.stage`, `.done`, `.total`; by default a tqdm bar in a notebook, nothing elsewhere). The signature in
/// the stubs shows every default.
///
/// Example:
///     >>> model = retention.train(df, target="Churn", id="customerID", algorithm="boosting")
///     >>> model.metrics["cv"]["summary"]["roc_auc"]
#[pyfunction]
#[pyo3(signature = (df, target = None, id = None, algorithm = TrainParams::DEFAULT_ALGORITHM.name(), **options))]
pub fn train(
    py: Python<'_>,
    df: &Bound<'_, PyAny>,
    target: Option<String>,
    id: Option<String>,
    algorithm: &str,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<ChurnModel> {
    let raw = frame(py, df)?;
    let algorithm = Algorithm::parse(algorithm).py_err(py)?;
    let mut params = TrainParams::new(algorithm);
    let mut schema = SchemaOptions {
        target,
        id,
        ..SchemaOptions::default()
    };
    let mut progress: Option<Py<PyAny>> = None;
    if let Some(options) = options {
        if options.contains("selection")? && options.contains("select_by")? {
            return Err(param(
                py,
                "select_by",
                "given twice: as select_by= and as its old name selection=",
            ));
        }
        for (key, value) in options.iter() {
            let key: String = key.extract()?;
            apply_option(py, &key, &value, &mut params, &mut schema, &mut progress)?;
        }
    }
    // Steps reach Python as `retention._progress.Step`: the line of text, with its numbers.
    // Without a callback (the keyword absent), a notebook with tqdm shows a bar.
    let steps = py.import("retention._progress")?;
    let step_type = steps.getattr("Step")?.unbind();
    let given = options.is_some_and(|o| o.contains("progress").unwrap_or(false));
    let bar = if given {
        None
    } else {
        Some(steps.call_method0("default")?).filter(|b| !b.is_none())
    };
    if let Some(bar) = &bar {
        progress = Some(bar.clone().unbind());
    }
    let report = |p: Progress| {
        if let Some(cb) = &progress {
            let line = p.to_string();
            let (stage, done, total) = match p {
                Progress::Fold(done, total) => ("folds", Some(done), Some(total)),
                Progress::FinalFit(_) => ("final_fit", None, None),
            };
            // A failing callback must not abort training; Python shows the error as unraisable.
            Python::attach(|py| {
                let sent = step_type
                    .call1(py, (line, stage, done, total))
                    .and_then(|step| cb.call1(py, (step,)));
                if let Err(e) = sent {
                    e.write_unraisable(py, None);
                }
            });
        }
    };
    let trained = py.detach(|| {
        let ds = Dataset::infer(&raw, &schema)?;
        let warnings = ds.warnings.clone();
        let model = retention_core::training::train_owned(ds, &params, &report)?;
        Ok::<_, retention_core::Error>((model, warnings))
    });
    if let Some(bar) = &bar {
        bar.call_method0("close")?;
    }
    let (model, warnings) = trained.py_err(py)?;
    let mut notes = warnings;
    notes.extend(model.estimator.fit_notes());
    convert::warn(py, &notes)?;
    Ok(ChurnModel::new(model))
}

fn apply_option(
    py: Python<'_>,
    key: &str,
    value: &Bound<'_, PyAny>,
    params: &mut TrainParams,
    schema: &mut SchemaOptions,
    progress: &mut Option<Py<PyAny>>,
) -> PyResult<()> {
    match key {
        "categorical" => schema.categorical = column_names(py, key, value)?,
        "numeric" => schema.numeric = column_names(py, key, value)?,
        "ignore" => schema.ignore = column_names(py, key, value)?,
        "positive_label" => {
            if !value.is_none() {
                let label = value.extract::<String>().map_err(|_| {
                    param(
                        py,
                        key,
                        format!("must be the label's text, not {}", shown(value)),
                    )
                })?;
                schema.positive_label = Some(label);
            }
        }
        "features" => {
            if value.is_none() {
                return Ok(());
            }
            let path: PathBuf = value.extract().map_err(|_| {
                param(
                    py,
                    key,
                    format!("must be the path of a feature file, not {}", shown(value)),
                )
            })?;
            params.features = py.detach(|| FeatureSpec::load(&path)).py_err(py)?;
        }
        "progress" => {
            if !value.is_none() {
                if !value.is_callable() {
                    return Err(param(py, key, "must be a callable taking one string"));
                }
                *progress = Some(value.clone().unbind());
            }
        }
        "selection" => {
            // The name before the options were the CLI's (`--select-by`).
            let warning = py.get_type::<pyo3::exceptions::PyDeprecationWarning>();
            PyErr::warn(
                py,
                &warning,
                c"selection= is now select_by=, as the CLI's --select-by",
                2,
            )?;
            return apply_option(py, "select_by", value, params, schema, progress);
        }
        _ => {
            let Some(option) = TrainParams::find_option(key) else {
                let mut known: Vec<&str> = TrainParams::OPTIONS.iter().map(|o| o.name).collect();
                known.extend([
                    "categorical",
                    "numeric",
                    "ignore",
                    "positive_label",
                    "features",
                    "progress",
                ]);
                return Err(param(
                    py,
                    key,
                    format!("unknown option; accepted: {}", known.join(", ")),
                ));
            };
            let value = option_value(py, option, value)?;
            params.set_option(option.name, value).py_err(py)?;
        }
    }
    Ok(())
}

/// A list of column names (`categorical=`, `numeric=`, `ignore=`); a lone string is refused
/// rather than read as a list of its characters.
fn column_names(py: Python<'_>, key: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if value.is_none() {
        return Ok(Vec::new());
    }
    if let Ok(one) = value.extract::<String>() {
        return Err(param(
            py,
            key,
            format!("must be a list of column names, not the string '{one}' (write ['{one}'])"),
        ));
    }
    value.extract::<Vec<String>>().map_err(|_| {
        param(
            py,
            key,
            format!("must be a list of column names, not {}", shown(value)),
        )
    })
}

/// A value as an error message shows it: its type and a short repr.
fn shown(value: &Bound<'_, PyAny>) -> String {
    let type_name = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_string());
    let text = value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".to_string());
    format!("{type_name} {}", retention_core::error::excerpt(&text))
}

/// A Python value as the core's value of `option` (a bool is not taken for a number).
fn option_value(
    py: Python<'_>,
    option: &TrainOption,
    value: &Bound<'_, PyAny>,
) -> PyResult<OptionValue> {
    let wrong = |what: &str| param(py, option.name, format!("must be {what}, not {value}"));
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(wrong("a number or a name"));
    }
    Ok(match option.kind {
        OptionKind::Count => match value.extract::<u64>() {
            Ok(n) => OptionValue::Count(n),
            Err(_) => return Err(wrong("a whole number of 0 or more")),
        },
        OptionKind::Number => match value.extract::<f64>() {
            Ok(x) => OptionValue::Number(x),
            Err(_) => return Err(wrong("a number")),
        },
        OptionKind::Choice(names) => match value.extract::<String>() {
            Ok(s) => OptionValue::Name(s),
            Err(_) => return Err(wrong(&format!("one of {}", names().join(", ")))),
        },
        // A pair, a list or array of two, or the dict `ChurnModel.tiers` gives.
        OptionKind::Pair => {
            if let Ok((a, b)) = value.extract::<(f64, f64)>() {
                OptionValue::Pair(a, b)
            } else if let Ok(d) = value.cast::<PyDict>() {
                let bound = |key: &str| -> Option<f64> { d.get_item(key).ok()??.extract().ok() };
                match (bound("medium"), bound("high"), d.len()) {
                    (Some(a), Some(b), 2) => OptionValue::Pair(a, b),
                    _ => return Err(wrong("two numbers (medium, high)")),
                }
            } else {
                match value.extract::<Vec<f64>>().ok().as_deref() {
                    Some([a, b]) => OptionValue::Pair(*a, *b),
                    _ => return Err(wrong("two numbers (medium, high)")),
                }
            }
        }
    })
}

/// A core option value as the Python object a signature shows.
fn option_to_python<'py>(py: Python<'py>, value: OptionValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        OptionValue::Count(n) => n.into_pyobject(py)?.into_any(),
        OptionValue::Number(x) => x.into_pyobject(py)?.into_any(),
        OptionValue::Name(s) => s.into_pyobject(py)?.into_any(),
        OptionValue::Pair(a, b) => (a, b).into_pyobject(py)?.into_any(),
    })
}

/// The core's defaults of every argument the stubs (`_retention.pyi`) give a default, by
/// function (`train`, `drift`, `ChurnModel.explain`…), plus the keys and defaults of a drift
/// `Thresholds` dict: one source for the signatures here and the stubs' values (checked by
/// `tests/test_defaults.py`).
#[pyfunction(name = "_defaults")]
pub fn defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let train = TrainParams::default();
    let out = PyDict::new(py);
    let entry = |name: &str| -> PyResult<Bound<'_, PyDict>> {
        let d = PyDict::new(py);
        out.set_item(name, &d)?;
        Ok(d)
    };
    let t = entry("train")?;
    for option in TrainParams::OPTIONS {
        if let Some(value) = train.option(option.name) {
            t.set_item(option.name, option_to_python(py, value)?)?;
        }
    }
    for name in ["drift", "drift_from_summaries"] {
        entry(name)?.set_item("bins", DriftOptions::DEFAULT_BINS)?;
    }
    entry("drift_summary")?.set_item("capacity", summary::DEFAULT_CAPACITY)?;
    entry("generate")?.set_item("seed", retention_core::generate::DEFAULT_SEED)?;
    for name in ["ChurnModel.explain", "ChurnModel.what_if"] {
        entry(name)?.set_item("top", DEFAULT_TOP)?;
    }
    let d = DriftThresholds::DEFAULT;
    let thresholds = entry("Thresholds")?;
    thresholds.set_item("psi_warn", d.psi_warn)?;
    thresholds.set_item("psi_alert", d.psi_alert)?;
    thresholds.set_item("p_value", d.p_value)?;
    thresholds.set_item("distance_warn", d.distance_warn)?;
    thresholds.set_item("drift_share", d.drift_share)?;
    Ok(out)
}
