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
pub mod summary;

pub use summary::{ColumnSummary, LevelSummary, NumericSummary, PredictionSummary, TableSummary};

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{self, Role, SchemaOptions};
use crate::error::{Error, Result};
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

impl DriftOptions {
    /// Checks the thresholds and the number of bins.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the setting.
    pub fn check(&self) -> Result<()> {
        self.thresholds.check()?;
        if !(2..=1000).contains(&self.bins) {
            return Err(Error::param(
                "--bins",
                format!("{} must be between 2 and 1000", self.bins),
            ));
        }
        Ok(())
    }
}

/// Refuses a comparison with an empty side.
fn non_empty(reference_rows: usize, current_rows: usize) -> Result<()> {
    for (side, rows) in [("reference", reference_rows), ("current", current_rows)] {
        if rows == 0 {
            return Err(Error::InvalidData(format!("the {side} table has no rows")));
        }
    }
    Ok(())
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
    /// How far `ks_statistic` can be from the exact statistic when the values were summarised
    /// with a bounded sketch (absent when exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks_error_bound: Option<f64>,
    /// Wasserstein distance divided by the reference's standard deviation (numeric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasserstein: Option<f64>,
    /// How far `wasserstein` can be from the exact distance when the values were summarised
    /// with a bounded sketch (absent when exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasserstein_error_bound: Option<f64>,
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
    /// Its error bound when the probabilities were summarised with a bounded sketch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks_error_bound: Option<f64>,
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

/// Which columns a comparison looks at: the schema's inputs present in both tables, those the
/// current table lacks, and the current table's extra columns. Decided from column names alone,
/// so a cluster's driver can make it before any data is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftPlan {
    /// Compared columns and their roles, in schema order.
    pub compared: Vec<(String, Role)>,
    /// Reference inputs the current table lacks (only without a model).
    pub missing_columns: Vec<String>,
    /// Current columns the reference does not have.
    pub new_columns: Vec<String>,
}

impl DriftPlan {
    /// The plan for tables with these column names under `schema`.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] when an input is missing from the reference, or (with a model)
    /// from the current table.
    pub fn new(
        schema: &data::Schema,
        reference_names: &[String],
        current_names: &[String],
        with_model: bool,
    ) -> Result<Self> {
        let mut compared = Vec::new();
        let mut missing_columns = Vec::new();
        for c in schema.columns.iter().filter(|c| c.role.is_feature()) {
            if !reference_names.contains(&c.name) {
                return Err(Error::column_not_found(
                    c.name.clone(),
                    " in the reference table (the model needs it)",
                    reference_names,
                ));
            }
            if current_names.contains(&c.name) {
                compared.push((c.name.clone(), c.role));
            } else if with_model {
                return Err(Error::column_not_found(
                    c.name.clone(),
                    " in the current table (the model needs it)",
                    current_names,
                ));
            } else {
                missing_columns.push(c.name.clone());
            }
        }
        let new_columns = current_names
            .iter()
            .filter(|n| !reference_names.contains(n))
            .cloned()
            .collect();
        Ok(DriftPlan {
            compared,
            missing_columns,
            new_columns,
        })
    }
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
        options.check()?;
        non_empty(reference.height(), current.height())?;
        let schema = match model {
            Some(m) => m.schema.clone(),
            None => data::infer_schema(reference, &options.schema)?,
        };
        let plan = DriftPlan::new(
            &schema,
            &data::column_names(reference),
            &data::column_names(current),
            model.is_some(),
        )?;
        let summarise = |table: &DataFrame| {
            TableSummary::of(
                table,
                &plan.compared,
                model,
                Some(0),
                summary::DEFAULT_CAPACITY,
            )
        };
        let (r, c) = rayon::join(|| summarise(reference), || summarise(current));
        DriftReport::from_summaries(&plan, &r?, &c?, model, options)
    }

    /// Compares two [`TableSummary`]s made under `plan` (whole tables, or merged partitions).
    /// [`DriftReport::compute`] is this on summaries of whole tables.
    ///
    /// # Errors
    /// [`Error::InvalidData`] for an empty side, [`Error::InvalidParameter`] for bad thresholds
    /// or bins, [`Error::InvalidData`] when a summary lacks a planned column or the model's side.
    pub fn from_summaries(
        plan: &DriftPlan,
        reference: &TableSummary,
        current: &TableSummary,
        model: Option<&ChurnModel>,
        options: &DriftOptions,
    ) -> Result<Self> {
        options.check()?;
        non_empty(reference.rows as usize, current.rows as usize)?;
        let thresholds = options.thresholds;
        let lacking = |name: &str| {
            Error::InvalidData(format!(
                "the drift summaries lack column '{name}': summarise both tables with the same plan"
            ))
        };
        let mut features = plan
            .compared
            .iter()
            .map(
                |(name, _)| match (reference.columns.get(name), current.columns.get(name)) {
                    (Some(ColumnSummary::Numeric(r)), Some(ColumnSummary::Numeric(c))) => {
                        Ok(numeric_drift(name, r, c, options.bins, &thresholds))
                    }
                    (Some(ColumnSummary::Categorical(r)), Some(ColumnSummary::Categorical(c))) => {
                        Ok(categorical_drift(name, r, c, &thresholds))
                    }
                    _ => Err(lacking(name)),
                },
            )
            .collect::<Result<Vec<_>>>()?;
        let prediction = match (model, &reference.prediction, &current.prediction) {
            (Some(m), Some(r), Some(c)) => {
                Some(prediction_drift(m, r, c, options.bins, &thresholds))
            }
            (Some(_), _, _) => return Err(lacking("(the model's probabilities)")),
            _ => None,
        };
        features.sort_by(|a, b| {
            b.status
                .cmp(&a.status)
                .then(b.psi.total_cmp(&a.psi))
                .then(a.column.cmp(&b.column))
        });
        let verdict = verdict(
            &features,
            &plan.missing_columns,
            prediction.as_ref(),
            &thresholds,
        );
        Ok(DriftReport {
            reference_rows: reference.rows as usize,
            current_rows: current.rows as usize,
            thresholds,
            verdict,
            features,
            missing_columns: plan.missing_columns.clone(),
            new_columns: plan.new_columns.clone(),
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

fn share(count: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        count as f64 / total as f64
    }
}

fn numeric_drift(
    name: &str,
    r: &NumericSummary,
    c: &NumericSummary,
    bins: usize,
    thresholds: &DriftThresholds,
) -> FeatureDrift {
    let edges = if r.values.is_empty() {
        Vec::new()
    } else {
        stats::quantile_edges_weighted(&r.values, bins)
    };
    let mut labels = range_labels(&edges);
    let mut rc = stats::bin_counts_weighted(&r.values, &edges);
    let mut cc = stats::bin_counts_weighted(&c.values, &edges);
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
    let (nr, nc) = (r.count(), c.count());
    let (mean_r, spread) = stats::mean_std_weighted(&r.values);
    let (mean_c, _) = stats::mean_std_weighted(&c.values);
    let (ks, wasserstein, ks_p) = if nr == 0 || nc == 0 {
        (0.0, 0.0, 1.0)
    } else {
        let (d, w) = stats::ks_and_wasserstein_weighted(&r.values, &c.values);
        let w = if spread > 0.0 { w / spread } else { w };
        (d, w, stats::ks_p_value(d, nr as usize, nc as usize))
    };
    // Each side's kept values are within moved / n (1-Wasserstein) of its exact values.
    let wasserstein_error_bound = (r.moved + c.moved > 0.0).then(|| {
        let bound = r.moved / nr.max(1) as f64 + c.moved / nc.max(1) as f64;
        if spread > 0.0 { bound / spread } else { bound }
    });
    // The KS test sees numbers only; blank and non-numeric cells are tested apart.
    let (_, _, blank_p) =
        stats::chi_square(&[nr, r.missing + r.invalid], &[nc, c.missing + c.invalid]);
    let p_value = ks_p.min(blank_p);
    let mut status = thresholds.status(p_value, psi, wasserstein);
    let note = c.first_invalid.as_ref().map(|(row, value)| {
        status = Status::Alert;
        let at = row.map(|r| format!("row {r}, ")).unwrap_or_default();
        format!(
            "{} current cells are not numbers (first: {at}{value:?}): the column's type changed",
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
        format!("mean {} -> {}", short(mean_r), short(mean_c))
    };
    FeatureDrift {
        column: name.to_string(),
        kind: Role::Numeric,
        status,
        psi,
        p_value,
        ks_statistic: Some(ks),
        ks_error_bound: ks_error_bound(r.rank_error, nr, c.rank_error, nc),
        wasserstein: Some(wasserstein),
        wasserstein_error_bound,
        chi_square: None,
        js_distance: None,
        missing_reference,
        missing_current,
        change,
        bins: histogram(labels, &rc, &cc),
        note,
    }
}

/// How far a KS statistic from compacted summaries can be from the exact one (None: exact).
fn ks_error_bound(rank_error_r: u64, nr: u64, rank_error_c: u64, nc: u64) -> Option<f64> {
    (rank_error_r + rank_error_c > 0).then(|| share(rank_error_r, nr) + share(rank_error_c, nc))
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

const UNSEEN: &str = "(unseen levels)";

fn categorical_drift(
    name: &str,
    r: &LevelSummary,
    c: &LevelSummary,
    thresholds: &DriftThresholds,
) -> FeatureDrift {
    let (r_levels, r_missing, c_levels, c_missing) = (&r.levels, r.missing, &c.levels, c.missing);
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
    let (nr, nc) = (r.rows(), c.rows());
    FeatureDrift {
        column: name.to_string(),
        kind: Role::Categorical,
        status,
        psi,
        p_value,
        ks_statistic: None,
        ks_error_bound: None,
        wasserstein_error_bound: None,
        wasserstein: None,
        chi_square: Some(chi_square),
        js_distance: Some(js),
        missing_reference: share(r_missing, nr),
        missing_current: share(c_missing, nc),
        change,
        bins,
        note,
    }
}

fn prediction_drift(
    model: &ChurnModel,
    r: &PredictionSummary,
    c: &PredictionSummary,
    bins: usize,
    thresholds: &DriftThresholds,
) -> PredictionDrift {
    let (dr, dc) = (r.distribution(), c.distribution());
    let (nr, nc) = (dr.count(), dc.count());
    let edges = stats::quantile_edges_weighted(&dr.values, bins);
    let psi = stats::psi(
        &stats::bin_counts_weighted(&dr.values, &edges),
        &stats::bin_counts_weighted(&dc.values, &edges),
    );
    let (ks, w) = stats::ks_and_wasserstein_weighted(&dr.values, &dc.values);
    let (mean_reference, spread) = stats::mean_std_weighted(&dr.values);
    let (mean_current, _) = stats::mean_std_weighted(&dc.values);
    let w = if spread > 0.0 { w / spread } else { w };
    let p_value = stats::ks_p_value(ks, nr as usize, nc as usize);
    let tier_counts = |d: &NumericSummary| -> Vec<u64> {
        let mut counts: BTreeMap<Tier, u64> = Tier::ALL.iter().map(|t| (*t, 0)).collect();
        for &(q, n) in &d.values {
            *counts.entry(model.tiers.tier(q)).or_default() += n;
        }
        counts.into_values().collect()
    };
    let (tr, tc) = (tier_counts(&dr), tier_counts(&dc));
    let tier_labels: Vec<String> = {
        let mut tiers = Tier::ALL.to_vec();
        tiers.sort();
        tiers.iter().map(|t| t.as_str().to_string()).collect()
    };
    PredictionDrift {
        status: thresholds.status(p_value, psi, w),
        psi,
        ks_statistic: ks,
        ks_error_bound: ks_error_bound(r.rank_error, nr, c.rank_error, nc),
        p_value,
        mean_reference,
        mean_current,
        tier_psi: stats::psi(&tr, &tc),
        tiers: histogram(tier_labels, &tr, &tc),
        estimated_reference: estimate_performance_weighted(&dr.values, model.threshold),
        estimated_current: estimate_performance_weighted(&dc.values, model.threshold),
        realised_reference: realised(r, model.threshold),
        realised_current: realised(c, model.threshold),
    }
}

/// Measured ROC-AUC (ties count half), accuracy at `threshold` and churn rate of a labelled
/// summary with both classes; None otherwise.
fn realised(s: &PredictionSummary, threshold: f64) -> Option<Performance> {
    let n: u64 = s.rows();
    let churners: u64 = s.probabilities.iter().map(|(_, (_, c))| c).sum();
    if !s.labelled || churners == 0 || churners == n {
        return None;
    }
    let stayers = n - churners;
    let (mut stayers_below, mut ranked_right, mut correct) = (0u64, 0.0f64, 0u64);
    for &(p, (rows, churned)) in &s.probabilities {
        let stayed = rows - churned;
        ranked_right += churned as f64 * (stayers_below as f64 + 0.5 * stayed as f64);
        stayers_below += stayed;
        correct += if p >= threshold { churned } else { stayed };
    }
    Some(Performance {
        roc_auc: ranked_right / (churners as f64 * stayers as f64),
        accuracy: correct as f64 / n as f64,
        churn_rate: churners as f64 / n as f64,
    })
}

/// Confidence-based performance estimation: if the probabilities are calibrated, row `i` churns
/// with probability `pᵢ`, so the expected accuracy at threshold `t` is the mean of `pᵢ` over rows
/// flagged and `1 − pᵢ` over the others, and the expected ROC-AUC is the share of (churner,
/// stayer) pairs ranked right, each pair `(i, j)` weighted by `pᵢ (1 − pⱼ)` (ties count half;
/// a row is never paired with itself).
pub fn estimate_performance(p: &[f64], threshold: f64) -> Performance {
    let mut counts: Vec<(f64, u64)> = Vec::with_capacity(p.len());
    let mut sorted = p.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    for v in sorted {
        match counts.last_mut() {
            Some((last, c)) if *last == v => *c += 1,
            _ => counts.push((v, 1)),
        }
    }
    estimate_performance_weighted(&counts, threshold)
}

/// [`estimate_performance`] of distinct ascending probabilities with their row counts.
pub fn estimate_performance_weighted(p: &[(f64, u64)], threshold: f64) -> Performance {
    let n = stats::weight(p) as f64;
    if n == 0.0 {
        return Performance {
            roc_auc: f64::NAN,
            accuracy: f64::NAN,
            churn_rate: f64::NAN,
        };
    }
    let accuracy = p
        .iter()
        .map(|&(q, c)| c as f64 * if q >= threshold { q } else { 1.0 - q })
        .sum::<f64>()
        / n;
    let (mut stayers_below, mut ranked_right, mut self_pairs) = (0.0f64, 0.0f64, 0.0f64);
    for &(q, c) in p {
        let c = c as f64;
        let (gp, gn, group_self) = (q * c, (1.0 - q) * c, q * (1.0 - q) * c);
        self_pairs += group_self;
        ranked_right += gp * stayers_below + 0.5 * (gp * gn - group_self);
        stayers_below += gn;
    }
    let churners: f64 = p.iter().map(|&(q, c)| q * c as f64).sum();
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
        let (r, c) = (LevelSummary::of(&r).unwrap(), LevelSummary::of(&c).unwrap());
        let f = categorical_drift("plan", &r, &c, &DriftThresholds::default());
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
        let summary = |column: Column| {
            NumericSummary::of(&column, Some(0), summary::DEFAULT_CAPACITY).unwrap()
        };
        let f = numeric_drift(
            "x",
            &summary(Column::new("x".into(), r)),
            &summary(Column::new("x".into(), c)),
            10,
            &DriftThresholds::default(),
        );
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
