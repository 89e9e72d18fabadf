//! Mergeable summaries: everything a drift comparison needs of a table, computable on any part
//! of it (a batch, a Spark partition) and merged. [`super::DriftReport::compute`] summarises
//! whole tables and compares the summaries; a cluster summarises partitions, merges, and
//! compares the same way, so both give the same report.
//!
//! Counts (levels, bins, blanks, tiers, labels) are exact. Numeric values are kept as distinct
//! values with counts — exact, so quantile bins, KS and Wasserstein are exact too — until a
//! column has more than `capacity` distinct values; then neighbouring values are merged into
//! buckets and the summary carries `rank_error`, an upper bound (in rows) of how far any value's
//! rank moved, and `moved`, the total distance values moved (Σ count × |value − bucket mean|).
//! The Kolmogorov-Smirnov statistic is then within `rank_error_ref / n_ref + rank_error_cur /
//! n_cur` of the exact one (reported as `ks_error_bound`), and the Wasserstein distance within
//! `moved_ref / n_ref + moved_cur / n_cur` before normalising (reported, normalised by the
//! reference's standard deviation, as `wasserstein_error_bound`).

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{self, Role};
use crate::error::{Error, Result};
use crate::model::ChurnModel;

/// Distinct numeric values kept per column before neighbours are merged. At 16 bytes a value,
/// 1 MiB values is 16 MiB per column; customer tables' numeric columns (tenure, charges) have
/// far fewer distinct values.
pub const DEFAULT_CAPACITY: usize = 1 << 20;

/// A numeric column: its distinct finite values with counts, blanks and non-numeric cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    /// Distinct finite values, ascending, with their counts.
    pub values: Vec<(f64, u64)>,
    /// Blank cells.
    pub missing: u64,
    /// Cells that are not numbers.
    pub invalid: u64,
    /// The first non-numeric cell: its 1-based row when known, and the cell.
    pub first_invalid: Option<(Option<usize>, String)>,
    /// Upper bound of the rank error of `values`, in rows (0: exact).
    pub rank_error: u64,
    /// Total distance values moved when merged into buckets: Σ count × |value − bucket mean|
    /// (0: exact). Bounds the 1-Wasserstein distance between the exact and the kept values,
    /// times the row count.
    #[serde(default)]
    pub moved: f64,
}

impl NumericSummary {
    /// Summarises a column; `first_row` is the 0-based row of its first cell in the table, when
    /// known (for the note naming the first non-numeric cell).
    ///
    /// # Errors
    /// [`Error::Polars`] only if the column cannot be cast.
    pub fn of(column: &Column, first_row: Option<usize>, capacity: usize) -> Result<Self> {
        let (mut missing, mut invalid, mut first_invalid) = (0u64, 0u64, None);
        let mut values = Vec::with_capacity(column.len());
        let row = |i: usize| first_row.map(|f| f + i + 1);
        if column.dtype().is_primitive_numeric() || column.dtype() == &DataType::Boolean {
            let numbers = column.cast(&DataType::Float64)?;
            for (i, v) in numbers.f64()?.iter().enumerate() {
                match v {
                    Some(v) if v.is_finite() => values.push(v),
                    // NaN is a missing value, as in every numeric column.
                    Some(v) if v.is_nan() => missing += 1,
                    Some(v) => {
                        invalid += 1;
                        first_invalid.get_or_insert((row(i), format!("{v}")));
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
                        // Text `NaN` is missing, as in every numeric column.
                        None if matches!(data::clean::numeric_cell(s), Ok(None)) => missing += 1,
                        None => {
                            invalid += 1;
                            first_invalid.get_or_insert_with(|| (row(i), s.to_string()));
                        }
                    },
                }
            }
        }
        let mut summary = NumericSummary {
            values: distinct_counts(values),
            missing,
            invalid,
            first_invalid,
            rank_error: 0,
            moved: 0.0,
        };
        summary.compact(capacity);
        Ok(summary)
    }

    /// Summarises values already known (e.g. predicted probabilities).
    pub fn of_values(values: Vec<f64>, capacity: usize) -> Self {
        let mut summary = NumericSummary {
            values: distinct_counts(values),
            missing: 0,
            invalid: 0,
            first_invalid: None,
            rank_error: 0,
            moved: 0.0,
        };
        summary.compact(capacity);
        summary
    }

    /// Adds another part's summary.
    pub fn merge(&mut self, other: &NumericSummary, capacity: usize) {
        self.values = merge_sorted(&self.values, &other.values, |a, b| a + b);
        self.missing += other.missing;
        self.invalid += other.invalid;
        if self.first_invalid.is_none() {
            self.first_invalid.clone_from(&other.first_invalid);
        }
        self.rank_error += other.rank_error;
        self.moved += other.moved;
        self.compact(capacity);
    }

    /// Numbers summarised (blank and non-numeric cells excluded).
    pub fn count(&self) -> u64 {
        self.values.iter().map(|(_, c)| c).sum()
    }

    /// Every cell.
    pub fn rows(&self) -> u64 {
        self.count() + self.missing + self.invalid
    }

    /// Merges neighbouring values into buckets of at most `⌈2n / capacity⌉` rows (each bucket
    /// becomes its weighted mean, so the mean stays exact) until at most `capacity` remain.
    fn compact(&mut self, capacity: usize) {
        let capacity = capacity.max(2);
        if self.values.len() <= capacity {
            return;
        }
        let buckets = compact_weighted(&self.values, |&c| c, capacity);
        let mut out: Vec<(f64, u64)> = Vec::with_capacity(buckets.len());
        for b in &buckets {
            out.push((b.mean, b.rows));
        }
        self.rank_error += buckets.iter().map(|b| b.rows).max().unwrap_or(0);
        self.moved += buckets.iter().map(|b| b.moved).sum::<f64>();
        self.values = out;
    }
}

/// A categorical column: rows per level (trimmed), and blank cells.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelSummary {
    /// Rows per level.
    pub levels: BTreeMap<String, u64>,
    /// Blank cells.
    pub missing: u64,
}

impl LevelSummary {
    /// Summarises a column.
    ///
    /// # Errors
    /// [`Error::Polars`] only if the column cannot be read as text.
    pub fn of(column: &Column) -> Result<Self> {
        let cast;
        let text = match column.dtype() {
            DataType::String => column.str()?,
            _ => {
                cast = data::clean::to_text(column)?.into_column();
                cast.str()?
            }
        };
        let mut missing = text.null_count() as u64;
        let mut levels: BTreeMap<String, u64> = BTreeMap::new();
        for (k, v) in count_distinct(text) {
            match k.trim() {
                "" => missing += v,
                level => *levels.entry(level.to_string()).or_default() += v,
            }
        }
        Ok(LevelSummary { levels, missing })
    }

    /// Adds another part's summary.
    pub fn merge(&mut self, other: &LevelSummary) {
        for (k, v) in &other.levels {
            *self.levels.entry(k.clone()).or_default() += v;
        }
        self.missing += other.missing;
    }

    /// Every cell.
    pub fn rows(&self) -> u64 {
        self.levels.values().sum::<u64>() + self.missing
    }
}

/// One compared column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnSummary {
    /// A numeric input.
    Numeric(NumericSummary),
    /// A categorical input.
    Categorical(LevelSummary),
}

/// A model's probabilities on a table: distinct probabilities with rows and churners (when
/// every row is labelled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionSummary {
    /// Distinct probabilities, ascending, with (rows, churned rows).
    pub probabilities: Vec<(f64, (u64, u64))>,
    /// Whether every summarised row had a label.
    pub labelled: bool,
    /// Upper bound of the rank error of `probabilities`, in rows (0: exact).
    pub rank_error: u64,
    /// Total distance probabilities moved in compaction (see [`NumericSummary::moved`]).
    #[serde(default)]
    pub moved: f64,
}

impl PredictionSummary {
    /// Rows.
    pub fn rows(&self) -> u64 {
        self.probabilities.iter().map(|(_, (n, _))| n).sum()
    }

    /// The probabilities as a [`NumericSummary`] (rows per distinct value).
    pub fn distribution(&self) -> NumericSummary {
        NumericSummary {
            values: self
                .probabilities
                .iter()
                .map(|(p, (n, _))| (*p, *n))
                .collect(),
            missing: 0,
            invalid: 0,
            first_invalid: None,
            rank_error: self.rank_error,
            moved: self.moved,
        }
    }

    fn merge(&mut self, other: &PredictionSummary, capacity: usize) {
        self.probabilities = merge_sorted(&self.probabilities, &other.probabilities, |a, b| {
            (a.0 + b.0, a.1 + b.1)
        });
        self.labelled &= other.labelled;
        self.rank_error += other.rank_error;
        self.moved += other.moved;
        self.compact(capacity);
    }

    fn compact(&mut self, capacity: usize) {
        if self.probabilities.len() <= capacity.max(2) {
            return;
        }
        let buckets = compact_weighted(&self.probabilities, |&(rows, _)| rows, capacity);
        let mut out = Vec::with_capacity(buckets.len());
        for b in &buckets {
            let churned = self.probabilities[b.range.clone()]
                .iter()
                .map(|(_, (_, c))| c)
                .sum();
            out.push((b.mean, (b.rows, churned)));
        }
        self.rank_error += buckets.iter().map(|b| b.rows).max().unwrap_or(0);
        self.moved += buckets.iter().map(|b| b.moved).sum::<f64>();
        self.probabilities = out;
    }
}

/// Neighbouring values merged into one: their rows, weighted mean, the distance they moved
/// (Σ rows × |value − mean|) and where they were in the input.
struct Bucket {
    rows: u64,
    mean: f64,
    moved: f64,
    range: std::ops::Range<usize>,
}

/// Groups ascending weighted values into buckets of at most `⌈2n / capacity⌉` rows (a value
/// heavier than that is a bucket of its own), so that at most `capacity` remain.
fn compact_weighted<W>(
    values: &[(f64, W)],
    rows: impl Fn(&W) -> u64,
    capacity: usize,
) -> Vec<Bucket> {
    let capacity = capacity.max(2) as u64;
    let n: u64 = values.iter().map(|(_, w)| rows(w)).sum();
    let width = n.div_ceil(capacity / 2).max(1);
    let mut buckets = Vec::new();
    let mut start = 0usize;
    while start < values.len() {
        let (mut end, mut weight, mut sum) = (start, 0u64, 0.0f64);
        while end < values.len() {
            let c = rows(&values[end].1);
            if weight > 0 && weight + c > width {
                break;
            }
            weight += c;
            sum += values[end].0 * c as f64;
            end += 1;
        }
        let mean = sum / weight.max(1) as f64;
        let moved = values[start..end]
            .iter()
            .map(|(v, w)| rows(w) as f64 * (v - mean).abs())
            .sum();
        buckets.push(Bucket {
            rows: weight,
            mean,
            moved,
            range: start..end,
        });
        start = end;
    }
    buckets
}

/// What a drift comparison needs of one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSummary {
    /// Rows.
    pub rows: u64,
    /// The compared columns, by name.
    pub columns: BTreeMap<String, ColumnSummary>,
    /// The model's probabilities, when a model is compared.
    pub prediction: Option<PredictionSummary>,
    /// Distinct values kept per numeric column (and for the probabilities) before compaction.
    pub capacity: usize,
}

impl TableSummary {
    /// Summarises `frame`'s `columns` (name and role) and, with a model, its probabilities.
    /// `first_row` is the 0-based row of the frame's first row in its table, when known.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for a column the frame lacks; what scoring refuses.
    pub fn of(
        frame: &DataFrame,
        columns: &[(String, Role)],
        model: Option<&ChurnModel>,
        first_row: Option<usize>,
        capacity: usize,
    ) -> Result<Self> {
        use rayon::prelude::*;
        let (summaries, prediction) = rayon::join(
            || {
                columns
                    .par_iter()
                    .map(|(name, role)| {
                        let column = frame.column(name).map_err(|_| {
                            Error::column_not_found(
                                name.clone(),
                                " in this table",
                                &data::column_names(frame),
                            )
                        })?;
                        let summary = match role {
                            Role::Numeric => ColumnSummary::Numeric(NumericSummary::of(
                                column, first_row, capacity,
                            )?),
                            _ => ColumnSummary::Categorical(LevelSummary::of(column)?),
                        };
                        Ok((name.clone(), summary))
                    })
                    .collect::<Result<BTreeMap<_, _>>>()
            },
            || {
                model
                    .map(|m| prediction_summary(m, frame, first_row.unwrap_or(0), capacity))
                    .transpose()
            },
        );
        Ok(TableSummary {
            rows: frame.height() as u64,
            columns: summaries?,
            prediction: prediction?,
            capacity,
        })
    }

    /// Adds another part's summary (the same columns, model and capacity).
    ///
    /// # Errors
    /// [`Error::InvalidData`] when the parts summarise different columns or kinds.
    pub fn merge(&mut self, other: &TableSummary) -> Result<()> {
        let differ = || {
            Error::InvalidData(
                "drift summaries of different columns, kinds or models cannot be merged".into(),
            )
        };
        if self.columns.len() != other.columns.len()
            || self.prediction.is_some() != other.prediction.is_some()
        {
            return Err(differ());
        }
        for (name, summary) in &mut self.columns {
            match (summary, other.columns.get(name)) {
                (ColumnSummary::Numeric(a), Some(ColumnSummary::Numeric(b))) => {
                    a.merge(b, self.capacity)
                }
                (ColumnSummary::Categorical(a), Some(ColumnSummary::Categorical(b))) => a.merge(b),
                _ => return Err(differ()),
            }
        }
        if let (Some(a), Some(b)) = (&mut self.prediction, &other.prediction) {
            a.merge(b, self.capacity);
        }
        self.rows += other.rows;
        Ok(())
    }

    /// The summary as JSON bytes (to ship between processes).
    ///
    /// # Errors
    /// [`Error::Json`] only if serialisation fails.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(self)?)
    }

    /// A summary from [`TableSummary::to_bytes`].
    ///
    /// # Errors
    /// [`Error::Json`] for bytes that are not a summary.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(serde_json::from_slice(bytes)?)
    }
}

fn prediction_summary(
    model: &ChurnModel,
    frame: &DataFrame,
    first_row: usize,
    capacity: usize,
) -> Result<PredictionSummary> {
    let ds = crate::data::Dataset::with_schema(frame, &model.schema, first_row, false)?;
    let (p, _) = model.predict_proba(&ds)?;
    let labelled = ds.target.is_some();
    let y = ds.target.unwrap_or_default();
    let mut pairs: Vec<(f64, bool)> = p
        .iter()
        .enumerate()
        .map(|(i, &q)| (q, y.get(i).copied().unwrap_or(false)))
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut probabilities: Vec<(f64, (u64, u64))> = Vec::new();
    for (q, churned) in pairs {
        match probabilities.last_mut() {
            Some((last, (n, c))) if *last == q => {
                *n += 1;
                *c += u64::from(churned);
            }
            _ => probabilities.push((q, (1, u64::from(churned)))),
        }
    }
    let mut summary = PredictionSummary {
        probabilities,
        labelled,
        rank_error: 0,
        moved: 0.0,
    };
    summary.compact(capacity);
    Ok(summary)
}

/// Sorted distinct values with counts.
fn distinct_counts(mut values: Vec<f64>) -> Vec<(f64, u64)> {
    values.sort_unstable_by(f64::total_cmp);
    let mut out: Vec<(f64, u64)> = Vec::new();
    for v in values {
        match out.last_mut() {
            Some((last, c)) if *last == v => *c += 1,
            _ => out.push((v, 1)),
        }
    }
    out
}

/// Merges two ascending distinct-value lists, combining the weights of equal values.
fn merge_sorted<W: Copy>(a: &[(f64, W)], b: &[(f64, W)], add: impl Fn(W, W) -> W) -> Vec<(f64, W)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.total_cmp(&b[j].0) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push((a[i].0, add(a[i].1, b[j].1)));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Counts of each distinct non-null cell. Customer tables' categorical columns have a handful of
/// levels, for which comparing with the levels met so far beats hashing every cell; past
/// `FEW_LEVELS` levels the counts move to a hash map.
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

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
