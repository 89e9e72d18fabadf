//! Scoring without frames: one customer at a time (what a service needs), or a whole CSV file
//! streamed block by block on every core. Both use the model's [`RowEncoder`], which computes the
//! same inputs as the frame pipeline, and write the same output as the frame path, byte for byte.

use std::borrow::Cow;
use std::io::{BufWriter, Write};
use std::path::Path;

use rayon::prelude::*;

use super::{PREDICTION, PROBABILITY, RISK_TIER, ROW, ScoreOptions, ScoreSummary};
use crate::data::clean::{numeric_cell, text_cell};
use crate::data::csv::{CsvBlocks, Records, push_field};
use crate::data::io::offset_row;
use crate::data::{Role, duplicate_id_warning};
use crate::error::{Error, Result, mention};
use crate::features::{Cell, FeatureMatrix, RowEncoder, TransformReport, UnseenLevels};
use crate::fsutil;
use crate::model::{ChurnModel, Tier};

/// Rows encoded together before the estimator runs over them.
const CHUNK_ROWS: usize = 256;
/// Largest block of CSV text a worker scores at once.
const STREAM_BLOCK_BYTES: usize = 1 << 20;

/// The score of one customer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowScore {
    /// Calibrated churn probability.
    pub probability: f64,
    /// Whether the probability reaches the model's threshold.
    pub prediction: bool,
    /// Risk tier of the probability.
    pub tier: Tier,
}

/// A model made ready to score rows without frames (see [`ChurnModel::row_scorer`]). Build it
/// once and keep it: building compiles the pipeline. It borrows its model, or owns it
/// ([`ChurnModel::into_row_scorer`]) when it must outlive the caller (a service's loaded model).
#[derive(Debug, Clone)]
pub struct RowScorer<'m> {
    model: Cow<'m, ChurnModel>,
    encoder: RowEncoder,
    names: Vec<String>,
}

impl ChurnModel {
    /// The model made ready to score single rows and streams (see [`RowScorer`]).
    pub fn row_scorer(&self) -> RowScorer<'_> {
        RowScorer::build(Cow::Borrowed(self))
    }

    /// The model made ready to score single rows, owning the model (see [`RowScorer`]).
    pub fn into_row_scorer(self) -> RowScorer<'static> {
        RowScorer::build(Cow::Owned(self))
    }
}

impl<'m> RowScorer<'m> {
    fn build(model: Cow<'m, ChurnModel>) -> Self {
        RowScorer {
            encoder: RowEncoder::new(&model.pipeline),
            names: model
                .pipeline
                .outputs
                .iter()
                .map(|o| o.name.clone())
                .collect(),
            model,
        }
    }

    /// The model this scorer scores with.
    pub fn model(&self) -> &ChurnModel {
        &self.model
    }

    /// The source columns a record must have, with their roles.
    pub fn inputs(&self) -> &[(String, Role)] {
        self.encoder.inputs()
    }

    /// Scores one customer given as `(column, text)` pairs (`None` or blank text = missing
    /// value); other columns are ignored.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for a column the model needs that the record lacks,
    /// [`Error::InvalidValue`] for a numeric field that is not a number.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> retention_core::Result<()> {
    /// let model = retention_core::model::ChurnModel::load(std::path::Path::new("model.json"))?;
    /// let scorer = model.row_scorer();
    /// let (score, _unseen) = scorer.score_record(&[("tenure", Some("3")), ("Contract", Some("Month-to-month"))])?;
    /// println!("{:.3} {}", score.probability, score.tier.as_str());
    /// # Ok(()) }
    /// ```
    pub fn score_record(
        &self,
        record: &[(&str, Option<&str>)],
    ) -> Result<(RowScore, TransformReport)> {
        let mut cells = Vec::with_capacity(self.encoder.inputs().len());
        for (name, role) in self.encoder.inputs() {
            let Some((_, text)) = record.iter().find(|(k, _)| k == name) else {
                let available: Vec<&str> = record.iter().map(|(k, _)| *k).collect();
                return Err(Error::column_not_found(
                    name.clone(),
                    " in this record",
                    &available,
                ));
            };
            cells.push(typed_cell(name, *role, *text, 1)?);
        }
        let mut values = vec![0.0; self.encoder.n_outputs()];
        let mut unseen = self.encoder.unseen_counts();
        self.encoder
            .encode(&mut cells, &mut values, 0, 1, &mut unseen);
        let p = self.probabilities_of(values, 1).0[0];
        Ok((self.row_score(p), self.encoder.report(unseen)))
    }

    fn row_score(&self, probability: f64) -> RowScore {
        RowScore {
            probability,
            prediction: probability >= self.model.threshold,
            tier: self.model.tiers.tier(probability),
        }
    }

    /// Calibrated probabilities of the `n` rows encoded in `values`, and `values` back for reuse.
    fn probabilities_of(&self, values: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
        let x = FeatureMatrix {
            n_rows: n,
            values,
            names: self.names.clone(),
        };
        let p = self
            .model
            .calibrator
            .apply(&self.model.estimator.decision(&x));
        (p, x.values)
    }

    /// Scores a CSV file into a CSV file, streaming blocks of records through every core; memory
    /// stays bounded whatever the file's size. Writes exactly what the frame path writes.
    pub(crate) fn score_csv(
        &self,
        input: &Path,
        output: &Path,
        options: &ScoreOptions,
        progress: &dyn Fn(usize),
    ) -> Result<ScoreSummary> {
        let mut blocks = CsvBlocks::open(input, options.block_bytes.min(STREAM_BLOCK_BYTES))?;
        let layout = Layout::new(self, blocks.columns(), &options.keep)?;
        let tmp = fsutil::temp_beside(output)?;
        let handle = tmp.reopen().map_err(|e| Error::io(output, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, handle);
        let mut header = Vec::new();
        layout.write_header(&mut header);
        out.write_all(&header).map_err(|e| Error::io(output, e))?;

        let mut summary = ScoreSummary::with_every_tier();
        let mut unseen = self.encoder.unseen_counts();
        let group = rayon::current_num_threads().max(1) * 2;
        let mut line = Vec::new();
        loop {
            let mut texts = Vec::with_capacity(group);
            // A block that cannot be read is reported after the blocks before it are scored,
            // with its row counted in the file.
            let mut unreadable = None;
            while texts.len() < group {
                match blocks.next_block() {
                    Ok(Some(b)) => texts.push(b),
                    Ok(None) => break,
                    Err(e) => {
                        unreadable = Some(e);
                        break;
                    }
                }
            }
            if texts.is_empty() && unreadable.is_none() {
                break;
            }
            let scored: Vec<Result<BlockOut>> = texts
                .par_iter()
                .map(|text| self.score_block(&layout, input, text))
                .collect();
            for block in scored {
                let block = block.map_err(|e| offset_row(e, summary.rows))?;
                match &block.line_starts {
                    None => out.write_all(&block.bytes),
                    Some(starts) => {
                        // No id column: lines start with the file's row number.
                        let mut io = Ok(());
                        for (k, &start) in starts.iter().enumerate() {
                            let end = starts.get(k + 1).map_or(block.bytes.len(), |&e| e);
                            line.clear();
                            line.extend_from_slice(
                                itoa_row(summary.rows + k + 1, &mut [0u8; 20]).as_bytes(),
                            );
                            line.extend_from_slice(&block.bytes[start..end]);
                            io = out.write_all(&line);
                            if io.is_err() {
                                break;
                            }
                        }
                        io
                    }
                }
                .map_err(|e| Error::io(output, e))?;
                summary.rows += block.rows;
                summary.predicted_churn += block.churn;
                for (tier, count) in Tier::ALL.into_iter().zip(block.tiers) {
                    *summary.tiers.entry(tier).or_default() += count;
                }
                for (total, u) in unseen.iter_mut().zip(block.unseen) {
                    total.merge(u);
                }
                summary.warnings.extend(block.warning);
            }
            if let Some(e) = unreadable {
                return Err(offset_row(e, summary.rows));
            }
            progress(summary.rows);
        }
        if summary.rows == 0 {
            return Err(Error::InvalidData(format!(
                "{} has a header but no data rows",
                input.display()
            )));
        }
        out.flush().map_err(|e| Error::io(output, e))?;
        drop(out);
        fsutil::persist(tmp, output)?;
        summary.unseen = self.encoder.report(unseen);
        Ok(summary)
    }

    /// Scores one block of whole records; errors name rows counted from the block's start.
    fn score_block(&self, layout: &Layout, path: &Path, text: &[u8]) -> Result<BlockOut> {
        let n_inputs = self.encoder.inputs().len();
        let mut out = BlockOut {
            bytes: Vec::with_capacity(text.len() / 2),
            line_starts: layout.id.is_none().then(Vec::new),
            rows: 0,
            churn: 0,
            tiers: [0; 3],
            unseen: self.encoder.unseen_counts(),
            warning: None,
        };
        let mut ids: Vec<Option<Cow<str>>> = Vec::new();
        let mut fields: Vec<Cow<str>> = Vec::with_capacity(layout.n_fields);
        let mut cell_buf: Vec<Cell> = Vec::with_capacity(n_inputs);
        // Per chunk: each row's id and kept fields in CSV form; row r's id ends at `ends[r].0`
        // and its kept fields at `ends[r].1`.
        let mut pending: Vec<u8> = Vec::new();
        let mut ends: Vec<(usize, usize)> = Vec::with_capacity(CHUNK_ROWS);
        let mut values = vec![0.0; CHUNK_ROWS * self.encoder.n_outputs()];
        let mut float = zmij::Buffer::new();
        // Validated once for the whole block: every field is then text.
        let text = block_text(path, text)?;
        let mut records = Records::new(text);
        loop {
            pending.clear();
            ends.clear();
            values.fill(0.0);
            while let Some(read) = records.next_into(&mut fields) {
                let row = out.rows + ends.len() + 1;
                read.map_err(|reason| Error::Malformed {
                    path: path.to_path_buf(),
                    reason: format!("row {row}: {reason}"),
                })?;
                if fields.len() != layout.n_fields {
                    return Err(Error::Malformed {
                        path: path.to_path_buf(),
                        reason: format!(
                            "row {row} has {} fields but the header has {} columns",
                            fields.len(),
                            layout.n_fields
                        ),
                    });
                }
                let mut cells = recycle(std::mem::take(&mut cell_buf));
                for ((name, role), &k) in self.encoder.inputs().iter().zip(&layout.inputs) {
                    cells.push(typed_cell(name, *role, Some(&fields[k]), row)?);
                }
                self.encoder.encode(
                    &mut cells,
                    &mut values,
                    ends.len(),
                    CHUNK_ROWS,
                    &mut out.unseen,
                );
                cell_buf = recycle(cells);
                if let Some(k) = layout.id {
                    let id: Option<Cow<str>> = match &fields[k] {
                        Cow::Borrowed(b) => text_cell(b).map(Cow::Borrowed),
                        Cow::Owned(o) => text_cell(o).map(|s| Cow::Owned(s.to_string())),
                    };
                    if let Some(id) = &id {
                        push_field(&mut pending, id.as_bytes());
                    }
                    ids.push(id);
                }
                let id_end = pending.len();
                for &k in &layout.keep {
                    pending.push(b',');
                    push_field(&mut pending, fields[k].as_bytes());
                }
                ends.push((id_end, pending.len()));
                if ends.len() == CHUNK_ROWS {
                    break;
                }
            }
            if ends.is_empty() {
                break;
            }
            let p;
            (p, values) = self.probabilities_of(values, CHUNK_ROWS);
            self.write_chunk(&mut out, &p, &pending, &ends, &mut float);
            if ends.len() < CHUNK_ROWS {
                break;
            }
        }
        if let Some(name) = self.model.schema.id() {
            out.warning = duplicate_id_warning(name, ids.iter().map(Option::as_deref));
        }
        Ok(out)
    }

    /// Writes a chunk's output lines: each row's id (from `pending`, up to `ends[r].0`), its
    /// probability `p[r]`, prediction and tier, then its kept fields (up to `ends[r].1`).
    fn write_chunk(
        &self,
        out: &mut BlockOut,
        p: &[f64],
        pending: &[u8],
        ends: &[(usize, usize)],
        float: &mut zmij::Buffer,
    ) {
        let mut start = 0;
        for (&prob, &(id_end, end)) in p.iter().zip(ends) {
            let score = self.row_score(prob);
            if let Some(starts) = &mut out.line_starts {
                starts.push(out.bytes.len());
            }
            out.bytes.extend_from_slice(&pending[start..id_end]);
            out.bytes.push(b',');
            out.bytes.extend_from_slice(float.format(prob).as_bytes());
            out.bytes
                .extend_from_slice(if score.prediction { b",1," } else { b",0," });
            out.bytes.extend_from_slice(score.tier.as_str().as_bytes());
            out.bytes.extend_from_slice(&pending[id_end..end]);
            out.bytes.push(b'\n');
            out.churn += usize::from(score.prediction);
            if let Some(t) = Tier::ALL.iter().position(|t| *t == score.tier) {
                out.tiers[t] += 1;
            }
            start = end;
        }
        out.rows += ends.len();
    }
}

/// A block's bytes as text, or the row of the first byte that is not UTF-8.
fn block_text<'t>(path: &Path, text: &'t [u8]) -> Result<&'t str> {
    std::str::from_utf8(text).map_err(|e| {
        let row = text[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Error::Malformed {
            path: path.to_path_buf(),
            reason: format!("row {row}: not valid UTF-8"),
        }
    })
}

/// An empty vector reusing another's allocation for cells of another lifetime.
fn recycle<'b>(mut cells: Vec<Cell<'_>>) -> Vec<Cell<'b>> {
    cells.clear();
    cells.into_iter().map(|_| Cell::Num(None)).collect()
}

/// Where the fields a model needs sit in a CSV file's records.
struct Layout {
    /// Header position of each encoder input.
    inputs: Vec<usize>,
    /// Header position of the id column (`None` when the model has none).
    id: Option<usize>,
    /// Header positions of the kept columns, and their names.
    keep: Vec<usize>,
    keep_names: Vec<String>,
    id_name: String,
    /// Fields per record.
    n_fields: usize,
}

impl Layout {
    fn new(scorer: &RowScorer<'_>, columns: &[String], keep: &[String]) -> Result<Self> {
        let position = |name: &str, context: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| Error::column_not_found(name, context, columns))
        };
        let schema = &scorer.model.schema;
        // Every numeric and categorical column of the schema is an encoder input; report the
        // first missing one in the schema's order, as the frame path does.
        for c in &schema.columns {
            if matches!(c.role, Role::Numeric | Role::Categorical) {
                position(&c.name, " in this table")?;
            }
        }
        let inputs = scorer
            .encoder
            .inputs()
            .iter()
            .map(|(name, _)| position(name, " in this table"))
            .collect::<Result<Vec<_>>>()?;
        let id = match schema.id() {
            Some(name) => Some(position(name, " (the model's id column) in this table")?),
            None => None,
        };
        let id_name = schema.id().unwrap_or(ROW).to_string();
        let mut kept = Vec::new();
        let mut keep_names = Vec::new();
        for name in keep {
            let taken = [id_name.as_str(), PROBABILITY, PREDICTION, RISK_TIER];
            if taken.contains(&name.as_str()) || keep_names.contains(name) {
                continue;
            }
            kept.push(position(
                name,
                &format!(" (asked for by {})", mention("keep")),
            )?);
            keep_names.push(name.clone());
        }
        Ok(Layout {
            inputs,
            id,
            keep: kept,
            keep_names,
            id_name,
            n_fields: columns.len(),
        })
    }

    fn write_header(&self, out: &mut Vec<u8>) {
        push_field(out, self.id_name.as_bytes());
        for name in [PROBABILITY, PREDICTION, RISK_TIER]
            .into_iter()
            .chain(self.keep_names.iter().map(String::as_str))
        {
            out.push(b',');
            push_field(out, name.as_bytes());
        }
        out.push(b'\n');
    }
}

/// What scoring one block produced.
struct BlockOut {
    /// Output lines (without the row number when the model has no id column).
    bytes: Vec<u8>,
    /// Where each line starts, when row numbers are to be written in front.
    line_starts: Option<Vec<usize>>,
    rows: usize,
    churn: usize,
    tiers: [usize; 3],
    unseen: Vec<UnseenLevels>,
    warning: Option<String>,
}

/// Types one cell of a source column; `row` (1-based) names it in errors.
fn typed_cell<'a>(column: &str, role: Role, text: Option<&'a str>, row: usize) -> Result<Cell<'a>> {
    Ok(match role {
        Role::Numeric => match text.map(numeric_cell) {
            None => Cell::Num(None),
            Some(Ok(v)) => Cell::Num(v),
            Some(Err(reason)) => {
                return Err(Error::InvalidValue {
                    column: column.to_string(),
                    row,
                    value: text.unwrap_or_default().to_string(),
                    reason: reason.into(),
                });
            }
        },
        _ => Cell::Text(text.and_then(text_cell)),
    })
}

/// A row number as decimal text, without allocating.
fn itoa_row(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}
