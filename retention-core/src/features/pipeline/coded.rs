//! The table the pipeline reads: numeric columns as they are, text columns as codes into their
//! distinct values. A churn table's text is a handful of levels repeated on every row; coded, a
//! cell is 4 bytes instead of a 16-byte string view (and its bytes), so training holds the codes
//! and the matrices, not the text.

use polars::prelude::*;
use rayon::prelude::*;

use super::{RowSelection, UnseenLevels};
use crate::error::{Error, Result};

/// One column of a [`CodedTable`].
#[derive(Debug, Clone)]
pub(crate) enum CodedColumn {
    /// A numeric column, shared with the frame it came from.
    Numeric(Float64Chunked),
    /// A text column: `codes[i]` is 0 for a missing cell, else `k + 1` for `values[k]`.
    Text {
        codes: Vec<u32>,
        values: Vec<String>,
    },
}

impl CodedColumn {
    fn of(col: &Column) -> Result<Self> {
        let text = match col.dtype() {
            DataType::Float64 => return Ok(CodedColumn::Numeric(col.f64()?.clone())),
            DataType::String => col.str()?,
            other => {
                return Err(Error::InvalidData(format!(
                    "column '{}' is {other}: the pipeline reads numbers as Float64 and categories as String (a typed table has only these)",
                    col.name()
                )));
            }
        };
        let mut index: PlHashMap<&str, u32> = PlHashMap::new();
        let mut values: Vec<String> = Vec::new();
        let mut codes = Vec::with_capacity(text.len());
        for cell in text.iter() {
            codes.push(match cell {
                None => 0,
                Some(v) => match index.get(v) {
                    Some(&code) => code,
                    None => {
                        values.push(v.to_string());
                        let code = u32::try_from(values.len()).map_err(|_| {
                            Error::InvalidData(format!(
                                "column '{}' has more than {} distinct values",
                                col.name(),
                                u32::MAX
                            ))
                        })?;
                        index.insert(v, code);
                        code
                    }
                },
            });
        }
        Ok(CodedColumn::Text { codes, values })
    }

    /// The selected cells of a numeric column.
    pub(crate) fn numbers(&self, name: &str, rows: &RowSelection) -> Result<Float64Chunked> {
        match self {
            CodedColumn::Numeric(ca) => Ok(match rows {
                RowSelection::All => ca.clone(),
                RowSelection::Only(idx) => ca.take(idx)?,
            }),
            CodedColumn::Text { .. } => Err(Error::InvalidData(format!(
                "column '{name}' holds text where numbers are expected"
            ))),
        }
    }

    /// The codes and values of a text column.
    pub(crate) fn text(&self, name: &str) -> Result<(&[u32], &[String])> {
        match self {
            CodedColumn::Text { codes, values } => Ok((codes, values)),
            CodedColumn::Numeric(_) => Err(Error::InvalidData(format!(
                "column '{name}' holds numbers where text is expected"
            ))),
        }
    }
}

/// The columns the pipeline reads, coded (see the module's documentation).
#[derive(Debug, Clone)]
pub(crate) struct CodedTable {
    height: usize,
    columns: Vec<(String, CodedColumn)>,
}

impl CodedTable {
    /// Codes the `wanted` columns of `frame`, dropping each one's text as soon as it is coded
    /// (so a frame nothing else holds is freed while the codes are built).
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for a wanted column the frame lacks, [`Error::Polars`] for a
    /// column that is neither numbers nor text.
    pub(crate) fn new(frame: DataFrame, wanted: &[&str]) -> Result<Self> {
        let height = frame.height();
        let names = crate::data::column_names(&frame);
        if let Some(missing) = wanted.iter().find(|w| !names.iter().any(|n| n == *w)) {
            return Err(Error::column_not_found(*missing, " in this table", &names));
        }
        let taken: Vec<Column> = frame
            .into_columns()
            .into_iter()
            .filter(|c| wanted.contains(&c.name().as_str()))
            .collect();
        let columns = taken
            .into_par_iter()
            .map(|col| Ok((col.name().to_string(), CodedColumn::of(&col)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(CodedTable { height, columns })
    }

    /// Number of rows.
    pub(crate) fn height(&self) -> usize {
        self.height
    }

    /// At least as many model inputs as a pipeline fitted on this table has: one per numeric
    /// column and one per distinct text value, each column with a missing indicator and an
    /// `(other)` output.
    pub(crate) fn width_bound(&self) -> usize {
        self.columns
            .iter()
            .map(|(_, c)| match c {
                CodedColumn::Numeric(_) => 2,
                CodedColumn::Text { values, .. } => values.len() + 2,
            })
            .sum()
    }

    /// A column by name.
    pub(crate) fn column(&self, name: &str) -> Result<&CodedColumn> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
            .ok_or_else(|| {
                let names: Vec<String> = self.columns.iter().map(|(n, _)| n.clone()).collect();
                Error::column_not_found(name, " in this table", &names)
            })
    }
}

/// Calls `f(position in the output, code)` for every selected row of a text column.
pub(crate) fn for_each_code(codes: &[u32], rows: &RowSelection, mut f: impl FnMut(usize, u32)) {
    match rows {
        RowSelection::All => codes.iter().enumerate().for_each(|(i, &c)| f(i, c)),
        RowSelection::Only(idx) => {
            for (i, r) in idx.into_no_null_iter().enumerate() {
                f(i, codes[r as usize]);
            }
        }
    }
}

/// How many selected rows hold each code.
pub(crate) fn code_counts(codes: &[u32], n_values: usize, rows: &RowSelection) -> Vec<usize> {
    let mut counts = vec![0usize; n_values + 1];
    for_each_code(codes, rows, |_, c| counts[c as usize] += 1);
    counts
}

impl UnseenLevels {
    /// Counts one cell of a level training never saw.
    #[inline]
    pub(crate) fn note(&mut self, level: &str) {
        self.count += 1;
        if self.examples.len() < 5 && !self.examples.iter().any(|e| e == level) {
            self.examples.push(level.to_string());
        }
    }
}
