//! The report: statuses and their thresholds, the options of a comparison, which columns it
//! looks at, and the dataset-level verdict.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::features::{FeatureDrift, categorical_drift, numeric_drift};
use super::prediction::{PredictionDrift, prediction_drift};
use super::summary::{self, ColumnSummary, TableSummary};
use crate::choice::{Choice, named_choice};
use crate::data::{self, Role, SchemaOptions};
use crate::error::{Error, Result, mention};
use crate::model::ChurnModel;

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
    /// Lower-case name, as shown to users and stored in the operations database.
    pub fn as_str(self) -> &'static str {
        self.name()
    }

    /// The status as a number for monitoring gauges: 0 ok, 1 warn, 2 alert.
    pub fn level(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warn => 1,
            Status::Alert => 2,
        }
    }

    /// The status a stored name means; a name this version does not know counts as `Alert`, so
    /// that monitoring never reads an unknown state as healthy.
    pub fn from_stored(name: &str) -> Status {
        Status::parse(name).unwrap_or(Status::Alert)
    }
}

impl Choice for Status {
    const PARAM: &'static str = "status";
    const WHAT: &'static str = "drift status";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("ok", Status::Ok),
        ("warn", Status::Warn),
        ("alert", Status::Alert),
    ];
}

named_choice!(Status);

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
        DriftThresholds::DEFAULT
    }
}

impl DriftThresholds {
    /// The defaults (what `Default` gives; the front ends show and apply these).
    pub const DEFAULT: DriftThresholds = DriftThresholds {
        psi_warn: 0.1,
        psi_alert: 0.25,
        p_value: 0.05,
        distance_warn: 0.1,
        drift_share: 0.5,
    };

    /// Checks the thresholds are usable.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the offending threshold.
    pub fn check(&self) -> Result<()> {
        let bad = |name: &str, v: f64, why: &str| Err(Error::param(name, format!("{v} {why}")));
        if !(self.psi_warn.is_finite() && self.psi_warn > 0.0) {
            return bad("psi_warn", self.psi_warn, "must be a positive number");
        }
        if !(self.psi_alert.is_finite() && self.psi_alert >= self.psi_warn) {
            return bad(
                "psi_alert",
                self.psi_alert,
                &format!("must be at least {}", mention("psi_warn")),
            );
        }
        if !(self.p_value > 0.0 && self.p_value < 1.0) {
            return bad("p_value", self.p_value, "must be between 0 and 1");
        }
        if !(self.distance_warn.is_finite() && self.distance_warn > 0.0) {
            return bad(
                "distance_warn",
                self.distance_warn,
                "must be a positive number",
            );
        }
        if !(self.drift_share > 0.0 && self.drift_share <= 1.0) {
            return bad("drift_share", self.drift_share, "must be in (0, 1]");
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
            bins: DriftOptions::DEFAULT_BINS,
            schema: SchemaOptions::default(),
        }
    }
}

impl DriftOptions {
    /// Default quantile bins of numeric PSI.
    pub const DEFAULT_BINS: usize = 10;

    /// Checks the thresholds and the number of bins.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the setting.
    pub fn check(&self) -> Result<()> {
        self.thresholds.check()?;
        if !(2..=1000).contains(&self.bins) {
            return Err(Error::param(
                "bins",
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
            return Err(no_rows(side));
        }
    }
    Ok(())
}

/// The error for a table (`reference` or `current`) without rows.
pub(super) fn no_rows(side: &str) -> Error {
    Error::InvalidData(format!("the {side} table has no rows"))
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
