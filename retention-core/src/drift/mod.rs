//! Drift monitoring: is this table of customers still like the one the model learned from?
//!
//! [`DriftReport::compute`] compares a *reference* table (the training data, or last month) with a
//! *current* one, column by column, and — given a model — compares the model's predictions on
//! both, estimates its ROC-AUC and accuracy on the current table without labels, and measures them
//! when the current table has labels.
//!
//! Per feature:
//! - numeric: PSI on the reference's quantile bins (plus a bin for missing and one for
//!   non-numeric cells when either side has them), the two-sample Kolmogorov-Smirnov statistic
//!   and p-value, and the Wasserstein distance divided by the reference's standard deviation;
//! - categorical: PSI over the reference's levels (levels the reference never had share one
//!   "unseen" bin; missing cells have their own), the chi-square test's p-value and the
//!   Jensen-Shannon distance;
//! - both: the missing rate on each side.
//!
//! A feature's status follows [`DriftThresholds`]: a change counts only when it is statistically
//! significant (p-value below `p_value`) **and** large enough to matter — `alert` at PSI ≥
//! `psi_alert`, `warn` at PSI ≥ `psi_warn` or distance ≥ `distance_warn`. The two conditions
//! guard each other: on small tables PSI is noisy and the test keeps chance from alerting; on
//! millions of rows every test is significant and the size thresholds keep trivia quiet.
//!
//! Columns are processed in parallel; each numeric column is sorted once per side and every
//! statistic is read from one merge of the two sorted samples; each categorical column is
//! counted once per side.

pub mod stats;

use std::collections::BTreeMap;

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{self, Dataset, Role, SchemaOptions};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::model::{ChurnModel, Tier};

/// How bad a change is. Ordered: `Ok < Warn < Alert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No significant change of consequence.
    Ok,
    /// A significant change worth a look.
    Warn,
    /// A large significant change, or a column missing or retyped.
    Alert,
}

impl Status {
    /// Lower-case name, as shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Alert => "alert",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The thresholds behind every status; the defaults are the industry's rules of thumb.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftThresholds {
    /// PSI at which a significant change warns. Default 0.1.
    pub psi_warn: f64,
    /// PSI at which a significant change alerts. Default 0.25.
    pub psi_alert: f64,
    /// A change is significant when its test's p-value is below this. Default 0.05.
    pub p_value: f64,
    /// Normalised Wasserstein (numeric) or Jensen-Shannon distance (categorical) at which a
    /// significant change warns even below `psi_warn`. Default 0.1.
    pub distance_warn: f64,
    /// Share of features drifting (warn or alert) at which the whole table alerts. Default 0.5.
    pub drift_share: f64,
}

impl Default for DriftThresholds {
    fn default() -> Self {
        DriftThresholds {
            psi_warn: 0.1,
            psi_alert: 0.25,
            p_value: 0.05,
            distance_warn: 0.1,
            drift_share: 0.5,
        }
    }
}

impl DriftThresholds {
    /// Checks the thresholds are usable.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the offending threshold.
    pub fn check(&self) -> Result<()> {
        let bad = |name: &str, v: f64, why: &str| Err(Error::param(name, format!("{v} {why}")));
        if !(self.psi_warn.is_finite() && self.psi_warn > 0.0) {
            return bad("--psi-warn", self.psi_warn, "must be a positive number");
        }
        if !(self.psi_alert.is_finite() && self.psi_alert >= self.psi_warn) {
            return bad("--psi-alert", self.psi_alert, "must be at least --psi-warn");
        }
        if !(self.p_value > 0.0 && self.p_value < 1.0) {
            return bad("--p-value", self.p_value, "must be between 0 and 1");
        }
        if !(self.distance_warn.is_finite() && self.distance_warn > 0.0) {
            return bad(
                "--distance-warn",
                self.distance_warn,
                "must be a positive number",
            );
        }
        if !(self.drift_share > 0.0 && self.drift_share <= 1.0) {
            return bad("--drift-share", self.drift_share, "must be in (0, 1]");
        }
        Ok(())
    }

    /// The status of a change with the given significance, PSI and distance.
    pub fn status(&self, p_value: f64, psi: f64, distance: f64) -> Status {
        if p_value.is_nan() || p_value >= self.p_value {
            Status::Ok
        } else if psi >= self.psi_alert {
            Status::Alert
        } else if psi >= self.psi_warn || distance >= self.distance_warn {
            Status::Warn
        } else {
            Status::Ok
        }
    }
}

/// What to compare and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftOptions {
    /// Status thresholds.
    pub thresholds: DriftThresholds,
    /// Quantile bins of numeric PSI (and of the prediction PSI). Default 10.
    pub bins: usize,
    /// Column roles when no model is given (inferred from the reference otherwise).
    pub schema: SchemaOptions,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            thresholds: DriftThresholds::default(),
            bins: 10,
            schema: SchemaOptions::default(),
        }
    }
}

/// One bin of a compared histogram: a quantile range, a level, "missing", "unseen" or
/// "not a number", with its share of rows on each side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftBin {
    /// What the bin holds, e.g. `(29.5, 55]`, `Month-to-month`, `missing`.
    pub label: String,
    /// Share of reference rows.
    pub reference: f64,
    /// Share of current rows.
    pub current: f64,
}

/// Drift of one input column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    /// Column name.
    pub column: String,
    /// `numeric` or `categorical`.
    pub kind: Role,
    /// Verdict for this column.
    pub status: Status,
    /// Population stability index over `bins`.
    pub psi: f64,
    /// p-value of the column's test: Kolmogorov-Smirnov (numeric, combined with the test of the
    /// missing rate: the smaller of the two) or chi-square (categorical).
    pub p_value: f64,
    /// Two-sample Kolmogorov-Smirnov statistic (numeric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks_statistic: Option<f64>,
    /// Wasserstein distance divided by the reference's standard deviation (numeric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasserstein: Option<f64>,
    /// Chi-square statistic over the levels (categorical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chi_square: Option<f64>,
    /// Jensen-Shannon distance over the levels, base 2, in [0, 1] (categorical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub js_distance: Option<f64>,
    /// Share of reference cells that are blank.
    pub missing_reference: f64,
    /// Share of current cells that are blank.
    pub missing_current: f64,
    /// The change in words: the mean (numeric) or the level whose share moved most.
    pub change: String,
    /// The compared histogram.
    pub bins: Vec<DriftBin>,
    /// Something the user must know (non-numeric cells, unseen levels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl FeatureDrift {
    /// The distance the status uses: normalised Wasserstein or Jensen-Shannon.
    pub fn distance(&self) -> f64 {
        self.wasserstein.or(self.js_distance).unwrap_or(0.0)
    }
}

/// ROC-AUC and accuracy, estimated or measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Performance {
    /// Area under the ROC curve.
    pub roc_auc: f64,
    /// Share classified correctly at the model's threshold.
    pub accuracy: f64,
    /// Share of churners (expected: the mean probability).
    pub churn_rate: f64,
}

/// Drift of the model's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionDrift {
    /// Verdict for the predicted probabilities (same rule as a numeric feature).
    pub status: Status,
    /// PSI of the probabilities over the reference's quantile bins.
    pub psi: f64,
    /// Kolmogorov-Smirnov statistic of the probabilities.
    pub ks_statistic: f64,
    /// Its p-value.
    pub p_value: f64,
    /// Mean probability on the reference.
    pub mean_reference: f64,
    /// Mean probability on the current table.
    pub mean_current: f64,
    /// Share of customers per risk tier on each side.
    pub tiers: Vec<DriftBin>,
    /// PSI of the tier mix.
    pub tier_psi: f64,
    /// Expected performance on the reference, from the probabilities alone.
    pub estimated_reference: Performance,
    /// Expected performance on the current table, from the probabilities alone (confidence-based
    /// estimation: right when the model is calibrated and only the inputs moved).
    pub estimated_current: Performance,
    /// Measured on the reference, when it has labels (in-sample if it is the training data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realised_reference: Option<Performance>,
    /// Measured on the current table, when it has labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realised_current: Option<Performance>,
}

/// The dataset-level answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// `alert` when a feature or the predictions alert, a column is missing, or at least
    /// `drift_share` of the features drift; `warn` when anything warns; `ok` otherwise.
    pub status: Status,
    /// Features compared.
    pub features: usize,
    /// Features whose status is warn or alert.
    pub drifting: usize,
    /// `drifting / features`.
    pub share: f64,
    /// One sentence for people.
    pub summary: String,
}

/// Everything a drift comparison found. Serialises to JSON; the CLI prints it as a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Rows in the reference table.
    pub reference_rows: usize,
    /// Rows in the current table.
    pub current_rows: usize,
    /// The thresholds applied.
    pub thresholds: DriftThresholds,
    /// The verdict.
    pub verdict: Verdict,
    /// Per feature, most drifted first (status, then PSI).
    pub features: Vec<FeatureDrift>,
    /// Reference feature columns the current table lacks (each makes the verdict alert).
    pub missing_columns: Vec<String>,
    /// Current columns the reference does not have (reported, not compared).
    pub new_columns: Vec<String>,
    /// The model's side, when a model was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<PredictionDrift>,
}

impl DriftReport {
    /// Compares `current` with `reference` (raw tables as read from files). With a model the
    /// compared columns are the model's inputs and its predictions are compared too; without one,
    /// the roles are inferred from the reference under `options.schema`.
    ///
    /// # Errors
    /// [`Error::InvalidData`] for an empty table, [`Error::InvalidParameter`] for bad thresholds
    /// or bins, [`Error::ColumnNotFound`] when a model input is missing from either table, and
    /// what scoring refuses (a non-numeric cell in a model's numeric input).
    pub fn compute(
        reference: &DataFrame,
        current: &DataFrame,
        model: Option<&ChurnModel>,
        options: &DriftOptions,
    ) -> Result<Self> {
        options.thresholds.check()?;
        if !(2..=1000).contains(&options.bins) {
            return Err(Error::param(
                "--bins",
                format!("{} must be between 2 and 1000", options.bins),
            ));
        }
        for (side, table) in [("reference", reference), ("current", current)] {
            if table.height() == 0 {
                return Err(Error::InvalidData(format!("the {side} table has no rows")));
            }
        }
        let schema = match model {
            Some(m) => m.schema.clone(),
            None => data::infer_schema(reference, &options.schema)?,
        };
        let reference_names = data::column_names(reference);
        let current_names = data::column_names(current);
        let mut compared = Vec::new();
        let mut missing_columns = Vec::new();
        for c in schema.columns.iter().filter(|c| c.role.is_feature()) {
            if !reference_names.contains(&c.name) {
                return Err(Error::column_not_found(
                    c.name.clone(),
                    " in the reference table (the model needs it)",
                    &reference_names,
                ));
            }
            if current_names.contains(&c.name) {
                compared.push((c.name.as_str(), c.role));
            } else if model.is_some() {
                return Err(Error::column_not_found(
                    c.name.clone(),
                    " in the current table (the model needs it)",
                    &current_names,
                ));
            } else {
                missing_columns.push(c.name.clone());
            }
        }
        let new_columns: Vec<String> = current_names
            .iter()
            .filter(|n| !reference_names.contains(n))
            .cloned()
            .collect();

        let thresholds = options.thresholds;
        let (features, prediction) = rayon::join(
            || {
                compared
                    .par_iter()
                    .map(|&(name, role)| {
                        let (r, c) = (reference.column(name)?, current.column(name)?);
                        match role {
                            Role::Numeric => numeric_drift(name, r, c, options.bins, &thresholds),
                            _ => categorical_drift(name, r, c, &thresholds),
                        }
                    })
                    .collect::<Result<Vec<_>>>()
            },
            || {
                model
                    .map(|m| prediction_drift(m, reference, current, options.bins, &thresholds))
                    .transpose()
            },
        );
        let mut features = features?;
        let prediction = prediction?;
        features.sort_by(|a, b| {
            b.status
                .cmp(&a.status)
                .then(b.psi.total_cmp(&a.psi))
                .then(a.column.cmp(&b.column))
        });
        let verdict = verdict(
            &features,
            &missing_columns,
            prediction.as_ref(),
            &thresholds,
        );
        Ok(DriftReport {
            reference_rows: reference.height(),
            current_rows: current.height(),
            thresholds,
            verdict,
            features,
            missing_columns,
            new_columns,
            prediction,
        })
    }

    /// The report as pretty JSON.
    ///
    /// # Errors
    /// [`Error::Json`] only if serialisation fails.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// The features drifting (warn or alert), most drifted first.
    pub fn drifting(&self) -> impl Iterator<Item = &FeatureDrift> {
        self.features.iter().filter(|f| f.status > Status::Ok)
    }
}

fn verdict(
    features: &[FeatureDrift],
    missing: &[String],
    prediction: Option<&PredictionDrift>,
    thresholds: &DriftThresholds,
) -> Verdict {
    let total = features.len() + missing.len();
    let drifting = features.iter().filter(|f| f.status > Status::Ok).count() + missing.len();
    let share = if total == 0 {
        0.0
    } else {
        drifting as f64 / total as f64
    };
    let worst = features
        .iter()
        .map(|f| f.status)
        .chain(prediction.map(|p| p.status))
        .chain((!missing.is_empty()).then_some(Status::Alert))
        .max()
        .unwrap_or(Status::Ok);
    let status = if drifting > 0 && share >= thresholds.drift_share {
        Status::Alert
    } else {
        worst
    };
    let mut summary = if drifting == 0 {
        format!("no drift: none of {total} features changed significantly")
    } else {
        let names: Vec<&str> = features
            .iter()
            .filter(|f| f.status > Status::Ok)
            .map(|f| f.column.as_str())
            .chain(missing.iter().map(String::as_str))
            .take(5)
            .collect();
        let more = if drifting > names.len() { ", …" } else { "" };
        format!(
            "{drifting} of {total} features drifting ({:.0} %): {}{more}",
            share * 100.0,
            names.join(", ")
        )
    };
    if let Some(p) = prediction {
        if p.status > Status::Ok {
            summary.push_str(&format!(
                "; predictions drifting (mean churn probability {:.3} -> {:.3})",
                p.mean_reference, p.mean_current
            ));
        }
    }
    Verdict {
        status,
        features: total,
        drifting,
        share,
        summary,
    }
}

/// A numeric column's non-blank numbers, sorted, with the counts of blank and non-numeric cells.
struct NumericSample {
    values: Vec<f64>,
    missing: u64,
    invalid: u64,
    first_invalid: Option<(usize, String)>,
}

impl NumericSample {
    fn of(column: &Column) -> Result<Self> {
        let (mut missing, mut invalid, mut first_invalid) = (0u64, 0u64, None);
        let mut values = Vec::with_capacity(column.len());
        if column.dtype().is_primitive_numeric() || column.dtype() == &DataType::Boolean {
            let numbers = column.cast(&DataType::Float64)?;
            for (i, v) in numbers.f64()?.iter().enumerate() {
                match v {
                    Some(v) if v.is_finite() => values.push(v),
                    Some(v) => {
                        invalid += 1;
                        first_invalid.get_or_insert((i + 1, format!("{v}")));
                    }
                    None => missing += 1,
                }
            }
        } else {
            let cast;
            let text = match column.dtype() {
                DataType::String => column.str()?,
                _ => {
                    cast = column.cast(&DataType::String)?;
                    cast.str()?
                }
            };
            // One pass: trim, blank = missing, parse.
            for (i, cell) in text.iter().enumerate() {
                match cell.map(data::clean::trim) {
                    None | Some("") => missing += 1,
                    Some(s) => match data::clean::parse_number(s) {
                        Some(v) => values.push(v),
                        None => {
                            invalid += 1;
                            first_invalid.get_or_insert_with(|| (i + 1, s.to_string()));
                        }
                    },
                }
            }
        }
        values.sort_unstable_by(f64::total_cmp);
        Ok(NumericSample {
            values,
            missing,
            invalid,
            first_invalid,
        })
    }

    fn rows(&self) -> u64 {
        self.values.len() as u64 + self.missing + self.invalid
    }
}

/// Population standard deviation (numpy's `std`, ddof 0).
fn std(values: &[f64]) -> f64 {
    let m = mean(values);
    mean(&values.iter().map(|v| (v - m).powi(2)).collect::<Vec<_>>()).sqrt()
}

fn share(count: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        count as f64 / total as f64
    }
}

fn numeric_drift(
    name: &str,
    reference: &Column,
    current: &Column,
    bins: usize,
    thresholds: &DriftThresholds,
) -> Result<FeatureDrift> {
    let (r, c) = rayon::join(
        || NumericSample::of(reference),
        || NumericSample::of(current),
    );
    let (r, c) = (r?, c?);
    let edges = if r.values.is_empty() {
        Vec::new()
    } else {
        stats::quantile_edges(&r.values, bins)
    };
    let mut labels = range_labels(&edges);
    let mut rc = stats::bin_counts(&r.values, &edges);
    let mut cc = stats::bin_counts(&c.values, &edges);
    if r.missing + c.missing > 0 {
        labels.push("missing".into());
        rc.push(r.missing);
        cc.push(c.missing);
    }
    if r.invalid + c.invalid > 0 {
        labels.push("not a number".into());
        rc.push(r.invalid);
        cc.push(c.invalid);
    }
    let psi = stats::psi(&rc, &cc);
    let (ks, wasserstein, ks_p) = if r.values.is_empty() || c.values.is_empty() {
        (0.0, 0.0, 1.0)
    } else {
        let (d, w) = stats::ks_and_wasserstein(&r.values, &c.values);
        let spread = std(&r.values);
        let w = if spread > 0.0 { w / spread } else { w };
        (d, w, stats::ks_p_value(d, r.values.len(), c.values.len()))
    };
    // The KS test sees numbers only; blank and non-numeric cells are tested apart.
    let (_, _, blank_p) = stats::chi_square(
        &[r.values.len() as u64, r.missing + r.invalid],
        &[c.values.len() as u64, c.missing + c.invalid],
    );
    let p_value = ks_p.min(blank_p);
    let mut status = thresholds.status(p_value, psi, wasserstein);
    let note = c.first_invalid.as_ref().map(|(row, value)| {
        status = Status::Alert;
        format!(
            "{} current cells are not numbers (first: row {row}, {value:?}): the column's type changed",
            c.invalid
        )
    });
    let (missing_reference, missing_current) =
        (share(r.missing, r.rows()), share(c.missing, c.rows()));
    let change = if (missing_current - missing_reference).abs() > 0.05 {
        format!(
            "missing {} -> {}",
            percent(missing_reference),
            percent(missing_current)
        )
    } else {
        format!(
            "mean {} -> {}",
            short(mean(&r.values)),
            short(mean(&c.values))
        )
    };
    Ok(FeatureDrift {
        column: name.to_string(),
        kind: Role::Numeric,
        status,
        psi,
        p_value,
        ks_statistic: Some(ks),
        wasserstein: Some(wasserstein),
        chi_square: None,
        js_distance: None,
        missing_reference,
        missing_current,
        change,
        bins: histogram(labels, &rc, &cc),
        note,
    })
}

/// Labels of the bins `(−∞, e₁], (e₁, e₂], …, (e_last, ∞)`.
fn range_labels(edges: &[f64]) -> Vec<String> {
    if edges.is_empty() {
        return vec!["all".into()];
    }
    let mut labels = Vec::with_capacity(edges.len() + 1);
    labels.push(format!("<= {}", short(edges[0])));
    for w in edges.windows(2) {
        labels.push(format!("({}, {}]", short(w[0]), short(w[1])));
    }
    labels.push(format!("> {}", short(edges[edges.len() - 1])));
    labels
}

fn histogram(labels: Vec<String>, reference: &[u64], current: &[u64]) -> Vec<DriftBin> {
    let (nr, nc) = (reference.iter().sum(), current.iter().sum());
    labels
        .into_iter()
        .zip(reference.iter().zip(current))
        .map(|(label, (&r, &c))| DriftBin {
            label,
            reference: share(r, nr),
            current: share(c, nc),
        })
        .collect()
}

/// A number in at most four significant digits, without noise (`29.85`, `0.3333`, `1.2e6`).
fn short(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-3) {
        return format!("{v:.3e}");
    }
    let digits = (4 - (v.abs().max(1e-300).log10().floor() as i32 + 1)).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// Level counts of a text column, with blank cells counted apart. Cells are counted as they are
/// and trimmed afterwards, once per distinct value rather than once per row.
fn level_counts(column: &Column) -> Result<(PlHashMap<String, u64>, u64)> {
    let cast;
    let text = match column.dtype() {
        DataType::String => column.str()?,
        _ => {
            cast = data::clean::to_text(column)?.into_column();
            cast.str()?
        }
    };
    let counts = count_distinct(text);
    let mut missing = text.null_count() as u64;
    let mut levels: PlHashMap<String, u64> = PlHashMap::default();
    for (k, v) in counts {
        match k.trim() {
            "" => missing += v,
            level => *levels.entry(level.to_string()).or_default() += v,
        }
    }
    Ok((levels, missing))
}

/// Counts of each distinct non-null cell. Customer tables' categorical columns have a handful of
/// levels, for which comparing with the levels met so far beats hashing every cell; past
/// [`FEW_LEVELS`] levels the counts move to a hash map.
fn count_distinct(text: &StringChunked) -> Vec<(&str, u64)> {
    const FEW_LEVELS: usize = 8;
    let mut few: Vec<(&str, u64)> = Vec::with_capacity(FEW_LEVELS);
    let mut many: Option<PlHashMap<&str, u64>> = None;
    for v in text.iter().flatten() {
        if let Some(map) = many.as_mut() {
            *map.entry(v).or_default() += 1;
            continue;
        }
        match few.iter().position(|(k, _)| *k == v) {
            Some(i) => few[i].1 += 1,
            None if few.len() < FEW_LEVELS => few.push((v, 1)),
            None => {
                let mut map: PlHashMap<&str, u64> = few.drain(..).collect();
                map.insert(v, 1);
                many = Some(map);
            }
        }
    }
    match many {
        Some(map) => map.into_iter().collect(),
        None => few,
    }
}

const UNSEEN: &str = "(unseen levels)";

fn categorical_drift(
    name: &str,
    reference: &Column,
    current: &Column,
    thresholds: &DriftThresholds,
) -> Result<FeatureDrift> {
    let (r, c) = rayon::join(|| level_counts(reference), || level_counts(current));
    let ((r_levels, r_missing), (c_levels, c_missing)) = (r?, c?);
    // Reference levels, most frequent first; then unseen levels in one bin; then missing.
    let mut levels: Vec<(&String, u64)> = r_levels.iter().map(|(k, v)| (k, *v)).collect();
    levels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut labels: Vec<String> = levels.iter().map(|(k, _)| (*k).clone()).collect();
    let mut rc: Vec<u64> = levels.iter().map(|(_, v)| *v).collect();
    let mut cc: Vec<u64> = levels
        .iter()
        .map(|(k, _)| c_levels.get(*k).copied().unwrap_or(0))
        .collect();
    let mut unseen: Vec<(&String, u64)> = c_levels
        .iter()
        .filter(|(k, _)| !r_levels.contains_key(*k))
        .map(|(k, v)| (k, *v))
        .collect();
    unseen.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let unseen_rows: u64 = unseen.iter().map(|(_, v)| v).sum();
    if unseen_rows > 0 {
        labels.push(UNSEEN.into());
        rc.push(0);
        cc.push(unseen_rows);
    }
    if r_missing + c_missing > 0 {
        labels.push("missing".into());
        rc.push(r_missing);
        cc.push(c_missing);
    }
    let psi = stats::psi(&rc, &cc);
    let (chi_square, _, p_value) = stats::chi_square(&rc, &cc);
    let js = stats::jensen_shannon(&rc, &cc);
    let status = thresholds.status(p_value, psi, js);
    let bins = histogram(labels, &rc, &cc);
    // On ties the earlier (more common in the reference) bin is named.
    let moved = bins.iter().rev().max_by(|a, b| {
        (a.current - a.reference)
            .abs()
            .total_cmp(&(b.current - b.reference).abs())
    });
    let change = moved.map_or_else(String::new, |b| {
        format!(
            "{} {} -> {}",
            b.label,
            percent(b.reference),
            percent(b.current)
        )
    });
    let note = (!unseen.is_empty()).then(|| {
        let shown: Vec<String> = unseen
            .iter()
            .take(3)
            .map(|(k, v)| format!("{k:?} ({v})"))
            .collect();
        format!(
            "{} level(s) the reference never had: {}{}",
            unseen.len(),
            shown.join(", "),
            if unseen.len() > 3 { ", …" } else { "" }
        )
    });
    let (nr, nc) = (reference.len() as u64, current.len() as u64);
    Ok(FeatureDrift {
        column: name.to_string(),
        kind: Role::Categorical,
        status,
        psi,
        p_value,
        ks_statistic: None,
        wasserstein: None,
        chi_square: Some(chi_square),
        js_distance: Some(js),
        missing_reference: share(r_missing, nr),
        missing_current: share(c_missing, nc),
        change,
        bins,
        note,
    })
}

fn prediction_drift(
    model: &ChurnModel,
    reference: &DataFrame,
    current: &DataFrame,
    bins: usize,
    thresholds: &DriftThresholds,
) -> Result<PredictionDrift> {
    let score = |raw: &DataFrame| -> Result<(Vec<f64>, Option<Vec<bool>>)> {
        let ds = Dataset::with_schema(raw, &model.schema, 0, false)?;
        let (p, _) = model.predict_proba(&ds)?;
        Ok((p, ds.target))
    };
    let (r, c) = rayon::join(|| score(reference), || score(current));
    let ((pr, yr), (pc, yc)) = (r?, c?);
    let mut sr = pr.clone();
    let mut sc = pc.clone();
    sr.sort_unstable_by(f64::total_cmp);
    sc.sort_unstable_by(f64::total_cmp);
    let edges = stats::quantile_edges(&sr, bins);
    let psi = stats::psi(
        &stats::bin_counts(&sr, &edges),
        &stats::bin_counts(&sc, &edges),
    );
    let (ks, w) = stats::ks_and_wasserstein(&sr, &sc);
    let spread = std(&sr);
    let w = if spread > 0.0 { w / spread } else { w };
    let p_value = stats::ks_p_value(ks, pr.len(), pc.len());
    let tier_counts = |p: &[f64]| -> Vec<u64> {
        let mut counts: BTreeMap<Tier, u64> = Tier::ALL.iter().map(|t| (*t, 0)).collect();
        for &q in p {
            *counts.entry(model.tiers.tier(q)).or_default() += 1;
        }
        counts.into_values().collect()
    };
    let (tr, tc) = (tier_counts(&pr), tier_counts(&pc));
    let tier_labels: Vec<String> = {
        let mut tiers = Tier::ALL.to_vec();
        tiers.sort();
        tiers.iter().map(|t| t.as_str().to_string()).collect()
    };
    let realised = |y: Option<Vec<bool>>, p: &[f64]| -> Result<Option<Performance>> {
        match y {
            Some(y) if y.iter().any(|v| *v) && y.iter().any(|v| !*v) => {
                let m = Metrics::compute(&y, p, model.threshold)?;
                Ok(Some(Performance {
                    roc_auc: m.roc_auc,
                    accuracy: m.accuracy,
                    churn_rate: m.churn_rate,
                }))
            }
            _ => Ok(None),
        }
    };
    Ok(PredictionDrift {
        status: thresholds.status(p_value, psi, w),
        psi,
        ks_statistic: ks,
        p_value,
        mean_reference: mean(&pr),
        mean_current: mean(&pc),
        tier_psi: stats::psi(&tr, &tc),
        tiers: histogram(tier_labels, &tr, &tc),
        estimated_reference: estimate_performance(&pr, model.threshold),
        estimated_current: estimate_performance(&pc, model.threshold),
        realised_reference: realised(yr, &pr)?,
        realised_current: realised(yc, &pc)?,
    })
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.iter().sum::<f64>() / v.len() as f64
}

/// Confidence-based performance estimation: if the probabilities are calibrated, row `i` churns
/// with probability `pᵢ`, so the expected accuracy at threshold `t` is the mean of `pᵢ` over rows
/// flagged and `1 − pᵢ` over the others, and the expected ROC-AUC is the share of (churner,
/// stayer) pairs ranked right, each pair `(i, j)` weighted by `pᵢ (1 − pⱼ)` (ties count half;
/// a row is never paired with itself).
pub fn estimate_performance(p: &[f64], threshold: f64) -> Performance {
    if p.is_empty() {
        return Performance {
            roc_auc: f64::NAN,
            accuracy: f64::NAN,
            churn_rate: f64::NAN,
        };
    }
    let n = p.len() as f64;
    let accuracy = p
        .iter()
        .map(|&q| if q >= threshold { q } else { 1.0 - q })
        .sum::<f64>()
        / n;
    let mut sorted = p.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let (mut stayers_below, mut ranked_right, mut self_pairs) = (0.0f64, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        let (mut gp, mut gn, mut group_self) = (0.0, 0.0, 0.0);
        while j < sorted.len() && sorted[j] == sorted[i] {
            gp += sorted[j];
            gn += 1.0 - sorted[j];
            group_self += sorted[j] * (1.0 - sorted[j]);
            j += 1;
        }
        self_pairs += group_self;
        ranked_right += gp * stayers_below + 0.5 * (gp * gn - group_self);
        stayers_below += gn;
        i = j;
    }
    let churners: f64 = p.iter().sum();
    let pairs = churners * (n - churners) - self_pairs;
    Performance {
        roc_auc: if pairs > 0.0 {
            ranked_right / pairs
        } else {
            f64::NAN
        },
        accuracy,
        churn_rate: churners / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(columns: Vec<Column>) -> DataFrame {
        let n = columns[0].len();
        DataFrame::new(n, columns).unwrap()
    }

    #[test]
    fn status_needs_significance_and_size() {
        let t = DriftThresholds::default();
        assert_eq!(t.status(0.2, 0.9, 0.9), Status::Ok);
        assert_eq!(t.status(0.01, 0.3, 0.0), Status::Alert);
        assert_eq!(t.status(0.01, 0.12, 0.0), Status::Warn);
        assert_eq!(t.status(0.01, 0.05, 0.15), Status::Warn);
        assert_eq!(t.status(0.01, 0.05, 0.05), Status::Ok);
        assert!(
            DriftThresholds {
                psi_alert: 0.05,
                ..t
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn a_tiny_categorical_table_by_hand() {
        // Reference: a a a a b b c ⌀ ; current: a a b b b b d ⌀
        let r = Column::new(
            "plan".into(),
            ["a", "a", "a", "a", "b", "b", "c", ""].as_slice(),
        );
        let c = Column::new(
            "plan".into(),
            ["a", "a", "b", "b", "b", "b", "d", ""].as_slice(),
        );
        let f = categorical_drift("plan", &r, &c, &DriftThresholds::default()).unwrap();
        let labels: Vec<&str> = f.bins.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["a", "b", "c", UNSEEN, "missing"]);
        // Bins: r = (4, 2, 1, 0, 1)/8, c = (2, 4, 0, 1, 1)/8; empty bins floored at 1e-4.
        let rp: [f64; 5] = [0.5, 0.25, 0.125, 1e-4, 0.125];
        let cp = [0.25, 0.5, 1e-4, 0.125, 0.125];
        let expected: f64 = rp.iter().zip(cp).map(|(r, c)| (c - r) * (c / r).ln()).sum();
        assert!((f.psi - expected).abs() < 1e-12, "{} vs {expected}", f.psi);
        assert_eq!(f.missing_reference, 0.125);
        assert!(f.note.as_deref().unwrap_or("").contains("\"d\" (1)"));
        // Eight rows a side cannot show significance.
        assert_eq!(f.status, Status::Ok);
        assert_eq!(f.change, "a 50.0% -> 25.0%");
    }

    #[test]
    fn numeric_bins_missing_and_type_changes() {
        let r: Vec<Option<f64>> = (0..100)
            .map(|i| (i % 10 != 0).then_some(i as f64))
            .collect();
        let c: Vec<Option<&str>> = (0..100)
            .map(|i| match i {
                0 => Some("abc"),
                i if i % 10 == 0 => None,
                i => Some(if i % 2 == 0 { "50" } else { "51" }),
            })
            .collect();
        let f = numeric_drift(
            "x",
            &Column::new("x".into(), r),
            &Column::new("x".into(), c),
            10,
            &DriftThresholds::default(),
        )
        .unwrap();
        assert_eq!(f.status, Status::Alert);
        assert!(
            f.note.as_deref().unwrap_or("").contains("row 1, \"abc\""),
            "{:?}",
            f.note
        );
        let labels: Vec<&str> = f.bins.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels.len(), 12, "{labels:?}");
        assert_eq!(labels[10..], ["missing", "not a number"]);
        assert!((f.missing_reference - 0.1).abs() < 1e-12);
        assert!((f.missing_current - 0.09).abs() < 1e-12);
    }

    #[test]
    fn identical_tables_do_not_drift() {
        let x: Vec<f64> = (0..500).map(|i| ((i * 37) % 101) as f64).collect();
        let g: Vec<&str> = (0..500).map(|i| ["a", "b", "c"][i % 3]).collect();
        let y: Vec<&str> = (0..500)
            .map(|i| if i % 4 == 0 { "Yes" } else { "No" })
            .collect();
        let t = frame(vec![
            Column::new("x".into(), x),
            Column::new("g".into(), g),
            Column::new("Churn".into(), y),
        ]);
        let report = DriftReport::compute(&t, &t, None, &DriftOptions::default()).unwrap();
        assert_eq!(report.verdict.status, Status::Ok);
        assert_eq!(report.features.len(), 2, "the target is not a feature");
        for f in &report.features {
            assert_eq!(f.psi, 0.0);
            assert!(f.p_value > 0.99, "{f:?}");
        }
        assert!(report.to_json().unwrap().contains("\"verdict\""));
    }

    #[test]
    fn missing_and_new_columns_are_reported() {
        let r = frame(vec![
            Column::new("a".into(), [1.0, 2.0, 3.0, 4.0]),
            Column::new("b".into(), ["x", "y", "x", "y"]),
        ]);
        let c = frame(vec![
            Column::new("a".into(), [1.0, 2.0, 3.0, 4.0]),
            Column::new("z".into(), ["x", "y", "x", "y"]),
        ]);
        let report = DriftReport::compute(&r, &c, None, &DriftOptions::default()).unwrap();
        assert_eq!(report.missing_columns, ["b"]);
        assert_eq!(report.new_columns, ["z"]);
        assert_eq!(report.verdict.status, Status::Alert);
        let empty = c.head(Some(0));
        let e = DriftReport::compute(&r, &empty, None, &DriftOptions::default()).unwrap_err();
        assert!(e.to_string().contains("current table has no rows"), "{e}");
    }

    #[test]
    fn estimated_auc_by_hand() {
        // p = (0.2, 0.6, 0.9): pairs (i churns, j stays), i ≠ j, weight p_i (1 − p_j).
        let p = [0.2, 0.6, 0.9];
        let mut right = 0.0;
        let mut all = 0.0;
        for i in 0..3 {
            for j in 0..3 {
                if i != j {
                    let w = p[i] * (1.0 - p[j]);
                    all += w;
                    if p[i] > p[j] {
                        right += w;
                    }
                }
            }
        }
        let est = estimate_performance(&p, 0.5);
        assert!((est.roc_auc - right / all).abs() < 1e-12);
        assert!((est.accuracy - (0.8 + 0.6 + 0.9) / 3.0).abs() < 1e-12);
        // All tied: every pair counts half.
        let tied = estimate_performance(&[0.3; 4], 0.5);
        assert!((tied.roc_auc - 0.5).abs() < 1e-12);
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(29.85), "29.85");
        assert_eq!(short(1397.475), "1397");
        assert_eq!(short(0.0), "0");
        assert_eq!(short(72.0), "72");
        assert_eq!(short(0.333_333), "0.3333");
    }
}
