//! Encoding one row at a time, without building a frame: what streaming scoring and single-row
//! (service) scoring use. It computes the same numbers as [`FittedPipeline::transform`] because
//! both go through the same steps ([`super::pipeline::EncodeStep`] and the derived-feature
//! functions in [`super::derive`]); tests check the two agree bit for bit.

use std::collections::{HashMap, HashSet};

use super::derive::{self, DerivedFeature, bucket_labels};
use super::pipeline::{EncodeStep, FittedPipeline, TransformReport, UnseenLevels};
use crate::data::Role;

/// One typed cell of a source or derived column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// A numeric cell (`None` = blank).
    Num(Option<f64>),
    /// A categorical cell, trimmed (`None` = blank).
    Text(Option<&'a str>),
}

impl<'a> Cell<'a> {
    fn num(self) -> Option<f64> {
        match self {
            Cell::Num(v) => v,
            Cell::Text(_) => None,
        }
    }

    fn text(self) -> Option<&'a str> {
        match self {
            Cell::Text(v) => v,
            Cell::Num(_) => None,
        }
    }
}

/// A derived feature with its inputs resolved to cell positions.
#[derive(Debug, Clone)]
enum DerivedStep {
    Ratio(usize, usize),
    Difference(usize, usize),
    Log1p(usize),
    Bucket {
        input: usize,
        edges: Vec<f64>,
        labels: Vec<String>,
    },
    CountOfValue {
        inputs: Vec<usize>,
        value: String,
    },
    Map {
        input: usize,
        values: std::collections::BTreeMap<String, f64>,
    },
}

/// The fitted pipeline compiled for rows: which source columns to read (in order), how to derive
/// the spec's features from them, and how to encode each into model inputs.
#[derive(Debug, Clone)]
pub struct RowEncoder {
    inputs: Vec<(String, Role)>,
    derived: Vec<DerivedStep>,
    /// Per encoder: the cell it reads, its first output and its step.
    steps: Vec<(usize, usize, EncodeStep)>,
    /// Per encoder: its column's name.
    step_columns: Vec<String>,
    n_outputs: usize,
}

impl RowEncoder {
    /// Compiles a fitted pipeline.
    pub fn new(pipeline: &FittedPipeline) -> Self {
        let derived_names: HashSet<&str> =
            pipeline.spec.features.iter().map(|f| f.name()).collect();
        // Cell position of every source and derived column, looked up by name (linear in the
        // columns, however many a model has).
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut inputs = Vec::new();
        for enc in &pipeline.encoders {
            if derived_names.contains(enc.column()) {
                continue;
            }
            let role = match enc {
                super::Encoder::Numeric { .. } => Role::Numeric,
                super::Encoder::Categorical { .. } => Role::Categorical,
            };
            let k = inputs.len();
            names.entry(enc.column().to_string()).or_insert(k);
            inputs.push((enc.column().to_string(), role));
        }
        // Derived inputs are feature columns (the spec is validated against the schema), so
        // each is a source column above or an earlier derived feature.
        let at = |names: &HashMap<String, usize>, c: &str| names.get(c).copied().unwrap_or(0);
        let mut derived = Vec::new();
        for f in &pipeline.spec.features {
            let step = match f {
                DerivedFeature::Ratio {
                    numerator,
                    denominator,
                    ..
                } => DerivedStep::Ratio(at(&names, numerator), at(&names, denominator)),
                DerivedFeature::Difference { left, right, .. } => {
                    DerivedStep::Difference(at(&names, left), at(&names, right))
                }
                DerivedFeature::Log1p { column, .. } => DerivedStep::Log1p(at(&names, column)),
                DerivedFeature::Bucket { column, edges, .. } => DerivedStep::Bucket {
                    input: at(&names, column),
                    edges: edges.clone(),
                    labels: bucket_labels(edges),
                },
                DerivedFeature::CountOfValue { columns, value, .. } => DerivedStep::CountOfValue {
                    inputs: columns.iter().map(|c| at(&names, c)).collect(),
                    value: value.clone(),
                },
                DerivedFeature::Map { column, values, .. } => DerivedStep::Map {
                    input: at(&names, column),
                    values: values.clone(),
                },
            };
            let k = inputs.len() + derived.len();
            names.entry(f.name().to_string()).or_insert(k);
            derived.push(step);
        }
        let mut steps = Vec::with_capacity(pipeline.encoders.len());
        let mut first_output = 0;
        for enc in &pipeline.encoders {
            let step = enc.step();
            let width = enc.width();
            steps.push((at(&names, enc.column()), first_output, step));
            first_output += width;
        }
        RowEncoder {
            inputs,
            derived,
            steps,
            step_columns: pipeline
                .encoders
                .iter()
                .map(|e| e.column().to_string())
                .collect(),
            n_outputs: first_output,
        }
    }

    /// Source columns to read, in the order [`RowEncoder::encode`] expects their cells, with the
    /// kind of cell each must be.
    pub fn inputs(&self) -> &[(String, Role)] {
        &self.inputs
    }

    /// Number of model inputs per row.
    pub fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    /// Encodes one row. `cells` holds the row's [`RowEncoder::inputs`] in order (derived cells are
    /// appended to it); the model inputs go to row `i` of `values`, a column-major block of `n`
    /// rows that must hold zeros in that row. Unseen levels are counted per encoder in `unseen`
    /// (see [`RowEncoder::unseen_counts`]).
    pub fn encode<'a>(
        &'a self,
        cells: &mut Vec<Cell<'a>>,
        values: &mut [f64],
        i: usize,
        n: usize,
        unseen: &mut [UnseenLevels],
    ) {
        cells.truncate(self.inputs.len());
        for step in &self.derived {
            let cell = match step {
                DerivedStep::Ratio(a, b) => {
                    Cell::Num(derive::ratio(cells[*a].num(), cells[*b].num()))
                }
                DerivedStep::Difference(a, b) => {
                    Cell::Num(derive::difference(cells[*a].num(), cells[*b].num()))
                }
                DerivedStep::Log1p(a) => Cell::Num(cells[*a].num().and_then(derive::log1p)),
                DerivedStep::Bucket {
                    input,
                    edges,
                    labels,
                } => Cell::Text(
                    cells[*input]
                        .num()
                        .map(|x| labels[derive::bucket_index(edges, x)].as_str()),
                ),
                DerivedStep::CountOfValue { inputs, value } => Cell::Num(Some(
                    inputs
                        .iter()
                        .filter(|&&k| cells[k].text() == Some(value.as_str()))
                        .count() as f64,
                )),
                DerivedStep::Map { input, values } => {
                    Cell::Num(cells[*input].text().and_then(|s| values.get(s).copied()))
                }
            };
            cells.push(cell);
        }
        for (k, (cell, first, step)) in self.steps.iter().enumerate() {
            let block = &mut values[first * n..];
            match step {
                EncodeStep::Numeric(num) => num.write(cells[*cell].num(), block, i, n),
                EncodeStep::Categorical(levels) => {
                    levels.write(cells[*cell].text(), block, i, n, &mut unseen[k]);
                }
            }
        }
    }

    /// A fresh count of unseen levels, one per encoder, for [`RowEncoder::encode`].
    pub fn unseen_counts(&self) -> Vec<UnseenLevels> {
        vec![UnseenLevels::default(); self.steps.len()]
    }

    /// The report of the unseen levels counted by [`RowEncoder::encode`].
    pub fn report(&self, unseen: Vec<UnseenLevels>) -> TransformReport {
        TransformReport {
            unseen: self
                .step_columns
                .iter()
                .cloned()
                .zip(unseen)
                .filter(|(_, u)| u.count > 0)
                .collect(),
        }
    }
}
