//! The feature pipeline: learned on training rows only, stored whole in the model.
//!
//! Numeric columns: median imputation (plus a `… (missing)` indicator when training saw nulls) and
//! standardisation. Categorical columns: mode imputation (plus indicator), one-hot encoding with the
//! training vocabulary; levels rarer than the threshold share an `(other)` column, and levels never
//! seen in training are counted in a [`TransformReport`] and encoded as `(other)` (or all zeros).

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::derive::FeatureSpec;
use crate::data::{Role, Schema};
use crate::error::{Error, Result};

mod check;
mod coded;

pub(crate) use coded::CodedTable;
use coded::code_counts;

/// Settings of the feature pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineParams {
    /// A level seen in fewer training rows than this is grouped into `(other)`. Default 10.
    pub rare_min_count: usize,
    /// … or in a smaller share of training rows than this. Default 0.005.
    pub rare_min_fraction: f64,
    /// Standardise numeric columns (mean 0, standard deviation 1). Default true.
    pub standardize: bool,
}

impl Default for PipelineParams {
    fn default() -> Self {
        PipelineParams {
            rare_min_count: 10,
            rare_min_fraction: 0.005,
            standardize: true,
        }
    }
}

impl PipelineParams {
    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a fraction outside `[0, 1)`.
    pub fn check(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.rare_min_fraction) {
            return Err(Error::param(
                "rare_min_fraction",
                format!("{} is not in [0, 1)", self.rare_min_fraction),
            ));
        }
        Ok(())
    }
}

/// How one source column becomes model inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Encoder {
    /// A numeric column: impute, standardise, optional missing indicator.
    Numeric {
        /// Source column.
        column: String,
        /// Training median, used for nulls.
        median: f64,
        /// Training mean after imputation.
        mean: f64,
        /// Training standard deviation after imputation (1 when constant or not standardising).
        scale: f64,
        /// Whether a missing-indicator output follows.
        indicator: bool,
    },
    /// A categorical column: impute, one-hot.
    Categorical {
        /// Source column.
        column: String,
        /// Levels with their own output, in output order.
        levels: Vec<String>,
        /// Levels grouped into the `(other)` output (rare in training).
        rare: Vec<String>,
        /// Whether an `(other)` output exists.
        other: bool,
        /// Most frequent training level, used for nulls.
        mode: String,
        /// Whether a missing-indicator output follows.
        indicator: bool,
    },
}

impl Encoder {
    /// The source column.
    pub fn column(&self) -> &str {
        match self {
            Encoder::Numeric { column, .. } | Encoder::Categorical { column, .. } => column,
        }
    }

    fn output_names(&self) -> Vec<String> {
        match self {
            Encoder::Numeric {
                column, indicator, ..
            } => {
                let mut v = vec![column.clone()];
                if *indicator {
                    v.push(format!("{column} (missing)"));
                }
                v
            }
            Encoder::Categorical {
                column,
                levels,
                other,
                indicator,
                ..
            } => {
                let mut v: Vec<String> = levels.iter().map(|l| format!("{column} = {l}")).collect();
                if *other {
                    v.push(format!("{column} = (other)"));
                }
                if *indicator {
                    v.push(format!("{column} (missing)"));
                }
                v
            }
        }
    }
}

/// An [`Encoder`] made ready to encode cells: the one place that turns a typed cell into model
/// inputs, used for frames ([`FittedPipeline::transform`]) and single rows
/// ([`crate::features::RowEncoder`]) alike.
#[derive(Debug, Clone)]
pub(crate) enum EncodeStep {
    /// A numeric column.
    Numeric(NumericStep),
    /// A categorical column.
    Categorical(LevelIndex),
}

/// Imputation and scaling of one numeric column.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NumericStep {
    median: f64,
    mean: f64,
    scale: f64,
    indicator: bool,
}

impl NumericStep {
    /// Writes row `i` of this column's outputs: `block` holds them column by column, `n` rows each.
    #[inline]
    pub(crate) fn write(&self, value: Option<f64>, block: &mut [f64], i: usize, n: usize) {
        block[i] = (value.unwrap_or(self.median) - self.mean) / self.scale;
        if self.indicator {
            block[n + i] = f64::from(u8::from(value.is_none()));
        }
    }
}

/// The one-hot layout of one categorical column.
#[derive(Debug, Clone)]
pub(crate) struct LevelIndex {
    levels: Vec<String>,
    /// [`level_key`] of each level.
    keys: Vec<u32>,
    /// Level → output, for columns with many levels (a scan is faster for a few).
    lookup: Option<HashMap<String, usize>>,
    rare: Vec<String>,
    mode: String,
    other_at: Option<usize>,
    indicator_at: Option<usize>,
}

/// Length, first and last byte of a level: different keys mean different levels.
#[inline]
fn level_key(level: &str) -> u32 {
    let b = level.as_bytes();
    let (first, last) = (
        b.first().copied().unwrap_or(0),
        b.last().copied().unwrap_or(0),
    );
    (b.len().min(0xFFFF) as u32) << 16 | u32::from(first) << 8 | u32::from(last)
}

impl LevelIndex {
    const SCAN_LEVELS: usize = 12;

    fn position(&self, level: &str) -> Option<usize> {
        match &self.lookup {
            Some(map) => map.get(level).copied(),
            None => {
                // Compare a cheap key (length, first and last byte) before the bytes.
                let key = level_key(level);
                self.keys.iter().zip(&self.levels).position(|(k, l)| {
                    // Levels are short: a byte loop beats a call to memcmp.
                    *k == key && l.bytes().zip(level.bytes()).all(|(a, b)| a == b)
                })
            }
        }
    }

    /// The output a level sets (`None`: all zeros), and whether training never saw it (a rare
    /// training level was seen: it goes to `(other)` without being counted): the one decision
    /// [`LevelIndex::write`] makes per cell and [`LevelIndex::write_codes`] per distinct value.
    #[inline]
    fn slot(&self, level: &str) -> (Option<usize>, bool) {
        match self.position(level) {
            Some(k) => (Some(k), false),
            None => (self.other_at, !self.rare.iter().any(|r| r == level)),
        }
    }

    /// Writes row `i` of this column's outputs, which must be zeros: sets its level's output (and
    /// the missing indicator) to one. A level training never saw is counted in `unseen` and
    /// encoded as `(other)` (or all zeros).
    #[inline]
    pub(crate) fn write(
        &self,
        cell: Option<&str>,
        block: &mut [f64],
        i: usize,
        n: usize,
        unseen: &mut UnseenLevels,
    ) {
        let level = cell.unwrap_or(self.mode.as_str());
        let (slot, new) = self.slot(level);
        if new {
            unseen.note(level);
        }
        if let Some(k) = slot {
            block[k * n + i] = 1.0;
        }
        if let (Some(k), None) = (self.indicator_at, cell) {
            block[k * n + i] = 1.0;
        }
    }

    /// [`LevelIndex::write`] for the selected rows of a coded text column (see
    /// [`coded::CodedColumn`]): each distinct value is looked up once.
    pub(crate) fn write_codes(
        &self,
        codes: &[u32],
        values: &[String],
        rows: &RowSelection,
        block: &mut [f64],
        n: usize,
        unseen: &mut UnseenLevels,
    ) {
        // Code 0 is a missing cell, encoded as the mode (plus the indicator).
        let levels: Vec<&str> = std::iter::once(self.mode.as_str())
            .chain(values.iter().map(String::as_str))
            .collect();
        let slots: Vec<(Option<usize>, bool)> = levels.iter().map(|l| self.slot(l)).collect();
        coded::for_each_code(codes, rows, |i, code| {
            let (slot, new) = slots[code as usize];
            if new {
                unseen.note(levels[code as usize]);
            }
            if let Some(k) = slot {
                block[k * n + i] = 1.0;
            }
            if let (Some(k), 0) = (self.indicator_at, code) {
                block[k * n + i] = 1.0;
            }
        });
    }
}

impl Encoder {
    /// Number of model inputs it produces.
    pub(crate) fn width(&self) -> usize {
        match self {
            Encoder::Numeric { indicator, .. } => 1 + usize::from(*indicator),
            Encoder::Categorical {
                levels,
                other,
                indicator,
                ..
            } => levels.len() + usize::from(*other) + usize::from(*indicator),
        }
    }

    /// The encoder made ready to encode cells.
    pub(crate) fn step(&self) -> EncodeStep {
        match self {
            Encoder::Numeric {
                median,
                mean,
                scale,
                indicator,
                ..
            } => EncodeStep::Numeric(NumericStep {
                median: *median,
                mean: *mean,
                scale: *scale,
                indicator: *indicator,
            }),
            Encoder::Categorical {
                levels,
                rare,
                other,
                mode,
                indicator,
                ..
            } => {
                let other_at = other.then_some(levels.len());
                let indicator_at = indicator.then_some(levels.len() + usize::from(*other));
                EncodeStep::Categorical(LevelIndex {
                    lookup: (levels.len() > LevelIndex::SCAN_LEVELS).then(|| {
                        levels
                            .iter()
                            .enumerate()
                            .map(|(k, l)| (l.clone(), k))
                            .collect()
                    }),
                    keys: levels.iter().map(|l| level_key(l)).collect(),
                    levels: levels.clone(),
                    rare: rare.clone(),
                    mode: mode.clone(),
                    other_at,
                    indicator_at,
                })
            }
        }
    }
}

/// One model input and the source column it came from (explanations add these back up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFeature {
    /// Input name, e.g. `Contract = Month-to-month` or `tenure`.
    pub name: String,
    /// Source column, e.g. `Contract`.
    pub source: String,
}

/// A dense feature matrix stored column by column (`values[j * n_rows + i]`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    /// Number of rows.
    pub n_rows: usize,
    /// Column-major values.
    pub values: Vec<f64>,
    /// Input names, one per column.
    pub names: Vec<String>,
}

impl FeatureMatrix {
    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.names.len()
    }

    /// Column `j` as a slice.
    pub fn column(&self, j: usize) -> &[f64] {
        &self.values[j * self.n_rows..(j + 1) * self.n_rows]
    }

    /// Row `i` gathered into `out` (length `n_cols`).
    pub fn row_into(&self, i: usize, out: &mut [f64]) {
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.values[j * self.n_rows + i];
        }
    }

    /// The matrix as an ndarray (linfa's layout), copied column by column.
    pub fn to_ndarray(&self) -> ndarray::Array2<f64> {
        use ndarray::ShapeBuilder;
        ndarray::Array2::from_shape_vec((self.n_rows, self.n_cols()).f(), self.values.clone())
            .unwrap_or_else(|_| ndarray::Array2::zeros((self.n_rows, self.n_cols())))
    }
}

/// Levels seen at transform time that training never saw, per column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransformReport {
    /// Column → unseen levels.
    pub unseen: BTreeMap<String, UnseenLevels>,
}

/// Count and examples of unseen levels in one column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnseenLevels {
    /// Cells with an unseen level.
    pub count: usize,
    /// Up to five distinct unseen levels.
    pub examples: Vec<String>,
}

impl UnseenLevels {
    /// Adds another count of the same column (batches, blocks).
    pub fn merge(&mut self, other: UnseenLevels) {
        self.count += other.count;
        for x in other.examples {
            if self.examples.len() < 5 && !self.examples.contains(&x) {
                self.examples.push(x);
            }
        }
    }
}

impl TransformReport {
    /// Adds another report's counts to this one (batches).
    pub fn merge(&mut self, other: TransformReport) {
        for (col, u) in other.unseen {
            self.unseen.entry(col).or_default().merge(u);
        }
    }

    /// One line per column, for users.
    pub fn messages(&self) -> Vec<String> {
        self.unseen
            .iter()
            .map(|(c, u)| {
                format!(
                    "column '{c}': {} cell(s) with level(s) not seen in training (e.g. {}); scored as '(other)'",
                    u.count,
                    u.examples
                        .iter()
                        .map(|x| format!("{x:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect()
    }
}

/// The fitted pipeline: derived features, then one encoder per feature column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedPipeline {
    /// Derived features computed before encoding.
    pub spec: FeatureSpec,
    /// Encoders in output order.
    pub encoders: Vec<Encoder>,
    /// Every model input with its source column.
    pub outputs: Vec<OutputFeature>,
    /// Mean of every model input over the training rows (the baseline of linear explanations).
    #[serde(default)]
    pub input_means: Vec<f64>,
}

impl FittedPipeline {
    /// Learns the pipeline from typed training rows (see [`crate::data::Dataset`]).
    ///
    /// # Errors
    /// [`Error::FeatureSpec`] when the spec does not fit the schema, [`Error::InvalidParameter`]
    /// for bad params, [`Error::ColumnNotFound`] for a missing column, [`Error::InvalidData`] for
    /// a column of another type than its role's (numbers as Float64, categories as String).
    pub fn fit(
        frame: &DataFrame,
        schema: &Schema,
        spec: &FeatureSpec,
        params: &PipelineParams,
    ) -> Result<Self> {
        Ok(Self::fit_transform(frame, schema, spec, params)?.0)
    }

    /// [`FittedPipeline::fit`], and the training rows transformed (which fitting computes anyway).
    ///
    /// # Errors
    /// As [`FittedPipeline::fit`].
    pub fn fit_transform(
        frame: &DataFrame,
        schema: &Schema,
        spec: &FeatureSpec,
        params: &PipelineParams,
    ) -> Result<(Self, FeatureMatrix)> {
        let table = Self::training_table(frame.clone(), schema, spec)?;
        Self::fit_transform_table(&table, &RowSelection::All, schema, spec, params)
    }

    /// The columns a pipeline fitted with `spec` reads, with their roles: the schema's features
    /// and the derived ones.
    fn feature_columns(schema: &Schema, spec: &FeatureSpec) -> Result<Vec<(String, Role)>> {
        let added = spec.validate("features", |c| schema.role_of(c).filter(|r| r.is_feature()))?;
        let mut columns: Vec<(String, Role)> = schema
            .columns
            .iter()
            .filter(|c| c.role.is_feature())
            .map(|c| (c.name.clone(), c.role))
            .collect();
        columns.extend(added);
        Ok(columns)
    }

    /// A training frame made ready for fitting: `spec`'s features derived, then every feature
    /// column coded (see [`CodedTable`]). The frame's text is freed as it is coded when nothing
    /// else holds it.
    ///
    /// # Errors
    /// As [`FittedPipeline::fit`].
    pub(crate) fn training_table(
        mut frame: DataFrame,
        schema: &Schema,
        spec: &FeatureSpec,
    ) -> Result<CodedTable> {
        let columns = Self::feature_columns(schema, spec)?;
        spec.apply(&mut frame)?;
        let wanted: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        CodedTable::new(frame, &wanted)
    }

    /// Learns the pipeline from the selected rows of a [`FittedPipeline::training_table`] and
    /// returns those rows transformed, in the selection's order.
    ///
    /// # Errors
    /// As [`FittedPipeline::fit`], and [`Error::InvalidData`] for a position past the table's end.
    pub(crate) fn fit_transform_table(
        table: &CodedTable,
        rows: &RowSelection,
        schema: &Schema,
        spec: &FeatureSpec,
        params: &PipelineParams,
    ) -> Result<(Self, FeatureMatrix)> {
        params.check()?;
        rows.check(table.height())?;
        let columns = Self::feature_columns(schema, spec)?;
        let n = rows.len(table.height());
        // Columns are fitted independently: one task each.
        let encoders = columns
            .par_iter()
            .map(|(name, role)| {
                let col = table.column(name)?;
                Ok(match role {
                    Role::Numeric => fit_numeric(name, &col.numbers(name, rows)?, params),
                    _ => {
                        let (codes, values) = col.text(name)?;
                        fit_categorical(name, codes, values, rows, n, params)
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let outputs = encoders
            .iter()
            .flat_map(|e| {
                let source = e.column().to_string();
                e.output_names().into_iter().map(move |name| OutputFeature {
                    name,
                    source: source.clone(),
                })
            })
            .collect();
        let mut pipeline = FittedPipeline {
            spec: spec.clone(),
            encoders,
            outputs,
            input_means: Vec::new(),
        };
        let (x, _) = pipeline.transform_table(table, rows)?;
        pipeline.input_means = (0..x.n_cols())
            .map(|j| x.column(j).iter().sum::<f64>() / x.n_rows.max(1) as f64)
            .collect();
        Ok((pipeline, x))
    }

    /// Number of model inputs.
    pub fn n_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// The frame with the derived features added: the source values explanations refer to.
    ///
    /// # Errors
    /// [`Error::Polars`] for a mistyped frame.
    pub fn with_derived(&self, frame: &DataFrame) -> Result<DataFrame> {
        let mut frame = frame.clone();
        self.spec.apply(&mut frame)?;
        Ok(frame)
    }

    /// Turns typed rows into model inputs.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] or [`Error::InvalidData`] when a source column is missing or
    /// mistyped, [`Error::Polars`] when a derived feature cannot be computed.
    pub fn transform(&self, frame: &DataFrame) -> Result<(FeatureMatrix, TransformReport)> {
        let frame = self.with_derived(frame)?;
        let wanted: Vec<&str> = self.encoders.iter().map(Encoder::column).collect();
        self.transform_table(&CodedTable::new(frame, &wanted)?, &RowSelection::All)
    }

    /// [`FittedPipeline::transform`] of the selected rows of a table holding the derived
    /// features, in the selection's order.
    ///
    /// # Errors
    /// As [`FittedPipeline::transform`], and [`Error::InvalidData`] for a position past the
    /// table's end.
    pub(crate) fn transform_table(
        &self,
        table: &CodedTable,
        rows: &RowSelection,
    ) -> Result<(FeatureMatrix, TransformReport)> {
        rows.check(table.height())?;
        let n = rows.len(table.height());
        let mut values = vec![0.0f64; n * self.n_outputs()];
        // Each encoder writes its own block of output columns: one task per source column.
        let mut tasks = Vec::with_capacity(self.encoders.len());
        let mut rest: &mut [f64] = &mut values;
        for enc in &self.encoders {
            let col = table.column(enc.column())?;
            let (block, tail) = rest.split_at_mut(enc.width() * n);
            rest = tail;
            tasks.push((enc, col, block));
        }
        let unseen = tasks
            .into_par_iter()
            .map(
                |(enc, col, block)| -> Result<Option<(String, UnseenLevels)>> {
                    let name = enc.column();
                    match enc.step() {
                        EncodeStep::Numeric(num) => {
                            for (i, v) in col.numbers(name, rows)?.iter().enumerate() {
                                num.write(v, block, i, n);
                            }
                            Ok(None)
                        }
                        EncodeStep::Categorical(levels) => {
                            let (codes, values) = col.text(name)?;
                            let mut unseen = UnseenLevels::default();
                            levels.write_codes(codes, values, rows, block, n, &mut unseen);
                            Ok((unseen.count > 0).then(|| (name.to_string(), unseen)))
                        }
                    }
                },
            )
            .collect::<Result<Vec<_>>>()?;
        let report = TransformReport {
            unseen: unseen.into_iter().flatten().collect(),
        };
        Ok((
            FeatureMatrix {
                n_rows: n,
                values,
                names: self.outputs.iter().map(|o| o.name.clone()).collect(),
            },
            report,
        ))
    }
}

/// Which rows of a table the pipeline reads: every row, or the given positions in their order.
#[derive(Debug, Clone)]
pub(crate) enum RowSelection {
    /// Every row, in order.
    All,
    /// These positions (a position may repeat).
    Only(IdxCa),
}

impl RowSelection {
    /// The positions `rows`; every row of a table of `height` rows, in order, is [`Self::All`].
    pub fn of(rows: &[usize], height: usize) -> Self {
        if rows.len() == height && rows.iter().enumerate().all(|(k, &i)| k == i) {
            return RowSelection::All;
        }
        RowSelection::Only(IdxCa::from_vec(
            "rows".into(),
            rows.iter().map(|&i| i as IdxSize).collect(),
        ))
    }

    /// Number of rows selected from a table of `height` rows.
    pub fn len(&self, height: usize) -> usize {
        match self {
            RowSelection::All => height,
            RowSelection::Only(idx) => idx.len(),
        }
    }

    /// Refuses a position past the end of a table of `height` rows.
    fn check(&self, height: usize) -> Result<()> {
        if let RowSelection::Only(idx) = self {
            if let Some(max) = idx.max() {
                if max as usize >= height {
                    return Err(Error::InvalidData(format!(
                        "row {max} selected from a table of {height} rows"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn fit_numeric(name: &str, ca: &Float64Chunked, params: &PipelineParams) -> Encoder {
    let mut present: Vec<f64> = ca.iter().flatten().collect();
    // The median by selection (linear time), not a full sort.
    let m = present.len();
    let median = if m == 0 {
        0.0
    } else {
        let (below, &mut upper, _) = present.select_nth_unstable_by(m / 2, f64::total_cmp);
        if m % 2 == 1 {
            upper
        } else {
            let lower = below
                .iter()
                .copied()
                .max_by(f64::total_cmp)
                .unwrap_or(upper);
            (lower + upper) / 2.0
        }
    };
    let n = ca.len().max(1) as f64;
    let mean = ca.iter().map(|v| v.unwrap_or(median)).sum::<f64>() / n;
    let var = ca
        .iter()
        .map(|v| (v.unwrap_or(median) - mean).powi(2))
        .sum::<f64>()
        / n;
    // Values near the largest numbers overflow the sums: such a column is left unscaled (a model
    // file holds only finite numbers).
    let (mean, scale) = if params.standardize && mean.is_finite() {
        let sd = var.sqrt();
        (
            mean,
            if var > 1e-24 && sd.is_finite() {
                sd
            } else {
                1.0
            },
        )
    } else {
        (0.0, 1.0)
    };
    Encoder::Numeric {
        column: name.to_string(),
        median,
        mean,
        scale,
        indicator: ca.null_count() > 0,
    }
}

fn fit_categorical(
    name: &str,
    codes: &[u32],
    values: &[String],
    rows: &RowSelection,
    n: usize,
    params: &PipelineParams,
) -> Encoder {
    let per_code = code_counts(codes, values.len(), rows);
    let nulls = per_code.first().copied().unwrap_or(0);
    let counts: Vec<(&str, usize)> = values
        .iter()
        .zip(per_code.iter().skip(1))
        .filter(|(_, c)| **c > 0)
        .map(|(v, &c)| (v.as_str(), c))
        .collect();
    categorical_from_counts(name, counts, nulls > 0, n, params)
}

/// The encoder of a text column from each present level's count among the training rows.
fn categorical_from_counts(
    name: &str,
    mut counts: Vec<(&str, usize)>,
    has_nulls: bool,
    n: usize,
    params: &PipelineParams,
) -> Encoder {
    // Levels in byte order, as the encoder lists them.
    counts.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let min_count = params
        .rare_min_count
        .max((params.rare_min_fraction * n as f64).ceil() as usize);
    let mode = counts
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(l, _)| l.to_string())
        .unwrap_or_default();
    let (mut levels, mut rare): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for (level, count) in &counts {
        if *count >= min_count || *level == mode.as_str() {
            levels.push(level.to_string());
        } else {
            rare.push(level.to_string());
        }
    }
    // One rare level alone is no group: keep it as its own column.
    if rare.len() == 1 {
        levels.append(&mut rare);
        levels.sort();
    }
    Encoder::Categorical {
        column: name.to_string(),
        other: !rare.is_empty(),
        levels,
        rare,
        mode,
        indicator: has_nulls,
    }
}

#[cfg(test)]
mod tests;
