//! Scoring: churn probability, prediction and risk tier per customer, for a frame or a whole file
//! in batches (bounded memory whatever the file's size).

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

mod rows;

pub use rows::{RowScore, RowScorer};

use crate::data::{Dataset, Format, Role, TableBatches, TableSink, with_file_columns};
use crate::error::{Error, Result, mention};
use crate::features::TransformReport;
use crate::metrics::Metrics;
use crate::model::{ChurnModel, Tier};

/// Name of the probability column in scored output.
pub const PROBABILITY: &str = "churn_probability";
/// Name of the 0/1 prediction column in scored output.
pub const PREDICTION: &str = "churn_prediction";
/// Name of the risk tier column in scored output.
pub const RISK_TIER: &str = "risk_tier";
/// Name of the row-number column used when the model has no id column.
pub const ROW: &str = "row";

/// How to score a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreOptions {
    /// Input columns copied to the output beside the scores.
    pub keep: Vec<String>,
    /// Bytes of CSV text per batch. Default 16 MiB.
    pub block_bytes: usize,
    /// Rows per Parquet batch. Default 100,000.
    pub batch_rows: usize,
    /// The input columns to read from a Parquet file (the others are never decoded); `None`
    /// reads every column of a readable type. [`ChurnModel::score_file`] fills it from the
    /// model and `keep` when it is `None`.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            keep: Vec::new(),
            block_bytes: 16 << 20,
            batch_rows: 100_000,
            columns: None,
        }
    }
}

/// A scored frame, the unseen levels met, and warnings (see [`ChurnModel::score_frame`]).
pub type Scored = (DataFrame, TransformReport, Vec<String>);

/// What a scoring run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreSummary {
    /// Rows scored.
    pub rows: usize,
    /// Rows predicted to churn.
    pub predicted_churn: usize,
    /// Rows per risk tier.
    pub tiers: BTreeMap<Tier, usize>,
    /// Unseen categorical levels met while scoring.
    pub unseen: TransformReport,
    /// Other warnings (duplicate ids in a batch…).
    pub warnings: Vec<String>,
}

impl ScoreSummary {
    /// An empty summary listing every tier (at zero), so that reports show all three.
    fn with_every_tier() -> Self {
        ScoreSummary {
            tiers: Tier::ALL.into_iter().map(|t| (t, 0)).collect(),
            ..ScoreSummary::default()
        }
    }
}

impl ChurnModel {
    /// The source columns scoring reads: the id and the features, and with `target` the target
    /// (what evaluation needs), in schema order. A Parquet file's other columns need not be
    /// decoded (see [`crate::data::read_table_columns`]).
    pub fn input_columns(&self, target: bool) -> Vec<String> {
        self.schema
            .columns
            .iter()
            .filter(|c| {
                c.role.is_feature() || c.role == Role::Id || (target && c.role == Role::Target)
            })
            .map(|c| c.name.clone())
            .collect()
    }

    /// Calibrated churn probabilities for a typed dataset (see [`Dataset::with_schema`]).
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] when a feature column is missing.
    pub fn predict_proba(&self, ds: &Dataset) -> Result<(Vec<f64>, TransformReport)> {
        let (x, report) = self.pipeline.transform(&ds.frame)?;
        Ok((self.calibrator.apply(&self.estimator.decision(&x)), report))
    }

    /// Scores a raw table (as read from a file): id (or row number), `churn_probability`,
    /// `churn_prediction` (0/1), `risk_tier`, then the `keep` columns. `first_row` is the 0-based
    /// file row of the frame's first row, for error messages.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for a missing feature or `keep` column,
    /// [`Error::InvalidValue`] for a non-numeric cell in a numeric column.
    pub fn score_frame(
        &self,
        raw: &DataFrame,
        first_row: usize,
        keep: &[String],
    ) -> Result<(DataFrame, TransformReport, Vec<String>)> {
        let ds = Dataset::with_schema(raw, &self.schema, first_row, false)?;
        if let Some(id) = self.schema.id() {
            if ds.frame.column(id).is_err() {
                let names = crate::data::column_names(raw);
                return Err(Error::column_not_found(
                    id,
                    " (the model's id column) in this table",
                    &names,
                ));
            }
        }
        let (p, report) = self.predict_proba(&ds)?;
        let n = p.len();
        let mut columns: Vec<Column> = Vec::with_capacity(4 + keep.len());
        match self.schema.id() {
            Some(id) => columns.push(ds.frame.column(id)?.clone()),
            None => columns.push(Column::new(
                ROW.into(),
                (first_row as i64 + 1..=(first_row + n) as i64).collect::<Vec<i64>>(),
            )),
        }
        let predictions: Vec<i32> = p.iter().map(|&q| i32::from(q >= self.threshold)).collect();
        let tiers: Vec<&str> = p.iter().map(|&q| self.tiers.tier(q).as_str()).collect();
        columns.push(Column::new(PROBABILITY.into(), p));
        columns.push(Column::new(PREDICTION.into(), predictions));
        columns.push(Column::new(RISK_TIER.into(), tiers));
        for name in keep {
            if columns.iter().any(|c| c.name() == name) {
                continue;
            }
            let col = raw.column(name).map_err(|_| {
                let names = crate::data::column_names(raw);
                Error::column_not_found(
                    name.clone(),
                    format!(" (asked for by {})", mention("keep")),
                    &names,
                )
            })?;
            columns.push(col.clone());
        }
        Ok((DataFrame::new(n, columns)?, report, ds.warnings))
    }

    /// Scores a CSV or Parquet file into another, batch by batch. The output is written to a
    /// temporary file and renamed into place only when every row has been scored.
    ///
    /// # Errors
    /// Whatever reading, [`ChurnModel::score_frame`] or writing reports; no output is left then.
    /// [`Error::InvalidParameter`] when the output is the input file
    /// ([`crate::refuse_output_over_inputs`]).
    pub fn score_file(
        &self,
        input: &Path,
        output: &Path,
        options: &ScoreOptions,
        progress: &dyn Fn(usize),
    ) -> Result<ScoreSummary> {
        crate::fsutil::refuse_output_over_inputs("output", output, &[input])?;
        if Format::of_path(input) == Format::Csv && Format::of_path(output) == Format::Csv {
            return self
                .row_scorer()
                .score_csv(input, output, options, progress);
        }
        let mut options = options.clone();
        if options.columns.is_none() {
            let mut columns = self.input_columns(false);
            columns.extend(options.keep.iter().cloned());
            options.columns = Some(columns);
        }
        let options = &options;
        score_file_with(
            input,
            output,
            options,
            &|raw, first_row| self.score_frame(raw, first_row, &options.keep),
            &mut |_, _| Ok(()),
            progress,
        )
    }

    /// Evaluates the model on a labelled table at its threshold.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] when the target or a feature is missing, [`Error::InvalidValue`]
    /// for an unlabelled row.
    pub fn evaluate(&self, raw: &DataFrame) -> Result<(Metrics, TransformReport)> {
        let (y, p, report) = self.labelled_probabilities(raw)?;
        Ok((Metrics::compute(&y, &p, self.threshold)?, report))
    }

    /// The labels and the model's probabilities of a labelled table (what [`Self::evaluate`]
    /// and [`Self::curves`] compare).
    fn labelled_probabilities(
        &self,
        raw: &DataFrame,
    ) -> Result<(Vec<bool>, Vec<f64>, TransformReport)> {
        let ds = Dataset::with_schema(raw, &self.schema, 0, true)?;
        let (p, report) = self.predict_proba(&ds)?;
        let y = ds
            .target
            .ok_or_else(|| Error::InvalidData("the table has no target column".into()))?;
        Ok((y, p, report))
    }

    /// The model's curves on a labelled table, one row per distinct probability from the
    /// highest down (the customers at or above `threshold` are contacted): `threshold`,
    /// `contacted`, `churners` (among them), `false_alarms`, `contacted_share`, `recall` (the
    /// true positive rate and the cumulative gain), `false_positive_rate`, `precision`, `lift`
    /// (precision over the churn rate) and `profit` of contacting them with the model's
    /// business values (`customer_value · offer_success_rate − offer_cost` per churner,
    /// `− offer_cost` per false alarm). ROC, precision-recall, gain, lift and profit charts
    /// draw from it.
    ///
    /// # Errors
    /// As [`ChurnModel::evaluate`]; [`Error::InvalidData`] when the table does not hold both
    /// churners and customers who stayed.
    pub fn curves(&self, raw: &DataFrame) -> Result<DataFrame> {
        let (y, p, _) = self.labelled_probabilities(raw)?;
        let positives = y.iter().filter(|t| **t).count();
        let negatives = y.len() - positives;
        if positives == 0 || negatives == 0 {
            return Err(Error::InvalidData(format!(
                "curves need churners and customers who stayed; the table has {positives} \
                 churners and {negatives} others"
            )));
        }
        let points = crate::metrics::curve(&y, &p);
        let n = y.len() as f64;
        let rate = positives as f64 / n;
        let b = &self.params.business;
        let per_churner = b.customer_value * b.offer_success_rate - b.offer_cost;
        let column = |name: &str, f: &dyn Fn(&crate::metrics::CurvePoint) -> f64| {
            Column::new(name.into(), points.iter().map(f).collect::<Vec<f64>>())
        };
        let count = |name: &str, f: &dyn Fn(&crate::metrics::CurvePoint) -> usize| {
            Column::new(
                name.into(),
                points.iter().map(|c| f(c) as u64).collect::<Vec<u64>>(),
            )
        };
        let columns = vec![
            column("threshold", &|c| c.threshold),
            count("contacted", &|c| c.contacted),
            count("churners", &|c| c.churners),
            count("false_alarms", &|c| c.contacted - c.churners),
            column("contacted_share", &|c| c.contacted as f64 / n),
            column("recall", &|c| c.churners as f64 / positives as f64),
            column("false_positive_rate", &|c| {
                (c.contacted - c.churners) as f64 / negatives as f64
            }),
            column("precision", &|c| c.churners as f64 / c.contacted as f64),
            column("lift", &|c| c.churners as f64 / c.contacted as f64 / rate),
            column("profit", &|c| {
                c.churners as f64 * per_churner - (c.contacted - c.churners) as f64 * b.offer_cost
            }),
        ];
        Ok(DataFrame::new(points.len(), columns)?)
    }
}

/// Scores a file batch by batch with any scorer (one model, or champion and challenger), writing
/// the output atomically; `on_batch` sees each scored batch and its first row (e.g. to log it)
/// before the next is read.
///
/// # Errors
/// Whatever reading, the scorer, `on_batch` or writing reports; no output is left then.
/// [`Error::InvalidParameter`] when the output is the input file
/// ([`crate::refuse_output_over_inputs`]).
pub fn score_file_with(
    input: &Path,
    output: &Path,
    options: &ScoreOptions,
    score: &dyn Fn(&DataFrame, usize) -> Result<Scored>,
    on_batch: &mut dyn FnMut(usize, &DataFrame) -> Result<()>,
    progress: &dyn Fn(usize),
) -> Result<ScoreSummary> {
    crate::fsutil::refuse_output_over_inputs("output", output, &[input])?;
    let mut batches = TableBatches::open_columns(
        input,
        options.block_bytes,
        options.batch_rows,
        options.columns.as_deref(),
    )?;
    let mut sink: Option<TableSink> = None;
    let mut summary = ScoreSummary::with_every_tier();
    while let Some((first_row, raw)) = batches.next_batch()? {
        // A batch may hold only the columns asked for: a missing column's error lists the file's.
        let (scored, report, warnings) =
            score(&raw, first_row).map_err(|e| with_file_columns(e, batches.columns()))?;
        on_batch(first_row, &scored)?;
        summary.unseen.merge(report);
        summary.warnings.extend(warnings);
        let sink = match &mut sink {
            Some(s) => s,
            None => sink.insert(TableSink::create(output, scored.schema())?),
        };
        sink.write(&scored)?;
        summary.rows += scored.height();
        let predictions = scored.column(PREDICTION)?.i32()?;
        summary.predicted_churn += predictions.iter().flatten().filter(|v| *v == 1).count();
        for t in scored.column(RISK_TIER)?.str()?.iter().flatten() {
            if let Some(tier) = Tier::ALL.into_iter().find(|x| x.as_str() == t) {
                *summary.tiers.entry(tier).or_default() += 1;
            }
        }
        progress(summary.rows);
    }
    match sink {
        Some(s) => s.finish()?,
        None => {
            return Err(Error::InvalidData(format!(
                "{} has a header but no data rows",
                input.display()
            )));
        }
    }
    Ok(summary)
}
