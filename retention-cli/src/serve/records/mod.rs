//! Request bodies to customer records, with every limit enforced while parsing: the number of
//! customers, fields per customer, and the length of each field name and value are checked as
//! the bytes are read, before anything is built from them. Only the fields a served model uses
//! (its inputs and id column) are kept; the others are read past without being copied, so the
//! memory a request takes is bounded by its body, not amplified by it.

mod json;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use retention_core::error::excerpt;

use super::error::{ApiError, Code};

pub use json::{json_batch, json_record};

/// Limits on what one request may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most customers in one batch (`--max-batch`).
    pub max_rows: usize,
    /// Most fields in one customer (or columns in a CSV header).
    pub max_fields: usize,
    /// Longest field name, in bytes.
    pub max_name_bytes: usize,
    /// Longest field value, in bytes.
    pub max_value_bytes: usize,
}

/// Most fields in one customer record or CSV header.
pub const MAX_FIELDS: usize = 4096;
/// Longest field name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Longest field value, in bytes.
pub const MAX_VALUE_BYTES: usize = 8192;

impl Limits {
    /// The limits for a batch of at most `max_rows` customers.
    pub fn with_rows(max_rows: usize) -> Self {
        Limits {
            max_rows,
            max_fields: MAX_FIELDS,
            max_name_bytes: MAX_NAME_BYTES,
            max_value_bytes: MAX_VALUE_BYTES,
        }
    }
}

/// The field names worth keeping: the served models' inputs and id columns.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Wanted {
    /// The distinct names among `names`, in first-seen order.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut wanted = Wanted::default();
        for name in names {
            if !wanted.index.contains_key(name) {
                wanted.index.insert(name.to_string(), wanted.names.len());
                wanted.names.push(name.to_string());
            }
        }
        wanted
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    fn len(&self) -> usize {
        self.names.len()
    }
}

/// One field of a customer.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// The customer has no such field.
    Absent,
    /// The field is there without a value (JSON `null`).
    Missing,
    /// The field's value as text: strings as sent, numbers as written, `true`/`false`.
    Text(Box<str>),
}

/// Customers as the wanted fields of each, row after row.
#[derive(Debug, Clone)]
pub struct Records<'w> {
    wanted: &'w Wanted,
    cells: Vec<Cell>,
    rows: usize,
}

impl<'w> Records<'w> {
    fn new(wanted: &'w Wanted) -> Self {
        Records {
            wanted,
            cells: Vec::new(),
            rows: 0,
        }
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Customer `row` (0-based) as `(field, value)` pairs, absent fields left out.
    pub fn row(&self, row: usize) -> Vec<(&str, Option<&str>)> {
        let width = self.wanted.len();
        self.cells[row * width..(row + 1) * width]
            .iter()
            .zip(&self.wanted.names)
            .filter_map(|(cell, name)| match cell {
                Cell::Absent => None,
                Cell::Missing => Some((name.as_str(), None)),
                Cell::Text(t) => Some((name.as_str(), Some(&**t))),
            })
            .collect()
    }

    fn push_row(&mut self) -> usize {
        let start = self.cells.len();
        self.cells.resize(start + self.wanted.len(), Cell::Absent);
        self.rows += 1;
        start
    }
}

fn at(row: Option<usize>) -> String {
    row.map_or(String::new(), |r| format!("row {r}: "))
}

/// The flag of a parse that is never abandoned (one customer).
static NEVER: AtomicBool = AtomicBool::new(false);

fn too_many_rows(limits: &Limits) -> ApiError {
    ApiError::new(
        Code::BatchTooLarge,
        format!(
            "more than {} customers in one request (--max-batch)",
            limits.max_rows
        ),
    )
}

fn too_many_fields(row: Option<usize>, limits: &Limits) -> ApiError {
    ApiError::new(
        Code::TooManyFields,
        format!(
            "{}a customer has more than {} fields",
            at(row),
            limits.max_fields
        ),
    )
}

fn name_too_long(row: Option<usize>, name: &str, limits: &Limits) -> ApiError {
    ApiError::new(
        Code::FieldTooLong,
        format!(
            "{}field name '{}' is longer than {} bytes",
            at(row),
            excerpt(name),
            limits.max_name_bytes
        ),
    )
}

fn value_too_long(row: Option<usize>, name: &str, limits: &Limits) -> ApiError {
    ApiError::new(
        Code::FieldTooLong,
        format!(
            "{}field '{}': the value is longer than {} bytes",
            at(row),
            excerpt(name),
            limits.max_value_bytes
        ),
    )
}

fn csv_error(row: usize, reason: &str) -> ApiError {
    ApiError::new(Code::InvalidCsv, format!("CSV row {row}: {reason}"))
}

/// Parses a CSV batch: a header row, then one customer per record. Every field is text (a blank
/// one is a missing value).
///
/// # Errors
/// `invalid_csv` (400) for a body that is not UTF-8 CSV or a record with the wrong number of
/// fields; 422 for a header or value too long or too many columns; `batch_too_large` (413).
pub fn csv_batch<'w>(
    body: &[u8],
    wanted: &'w Wanted,
    limits: Limits,
    cancel: &AtomicBool,
) -> Result<Records<'w>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::new(
            Code::InvalidCsv,
            format!("the CSV body is not UTF-8 text (byte {})", e.valid_up_to()),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // A line is split into fields before they can be counted: refuse a line with more commas
    // than any accepted record can hold (every field separated, every value full of commas)
    // before it is split, so a body of commas cannot turn into fields many times its size.
    let most_commas = limits.max_fields + limits.max_value_bytes;
    let mut commas = 0usize;
    for at in memchr::memchr2_iter(b',', b'\n', text.as_bytes()) {
        if text.as_bytes()[at] == b'\n' {
            commas = 0;
        } else {
            commas += 1;
            if commas > most_commas {
                return Err(too_many_fields(None, &limits));
            }
        }
    }
    let mut reader = retention_core::data::csv::Records::new(text);
    let mut fields = Vec::new();
    let positions: Vec<Option<usize>> = match reader.next_into(&mut fields) {
        None => {
            return Err(csv_error(
                0,
                "the body is empty; send a header row and customers",
            ));
        }
        Some(Err(e)) => return Err(csv_error(0, e)),
        Some(Ok(())) => {
            if fields.len() > limits.max_fields {
                return Err(too_many_fields(None, &limits));
            }
            if let Some(name) = fields
                .iter()
                .find(|f| f.trim().len() > limits.max_name_bytes)
            {
                return Err(name_too_long(None, name.trim(), &limits));
            }
            // The same header rules as files (blank, repeated names, CR-only line endings).
            let names = retention_core::data::csv::header_names(&fields)
                .map_err(|e| csv_error(0, &format!("header: {e}")))?;
            names.iter().map(|n| wanted.position(n)).collect()
        }
    };
    let mut records = Records::new(wanted);
    let mut row = 0;
    while let Some(read) = reader.next_into(&mut fields) {
        row += 1;
        if cancel.load(Ordering::Relaxed) {
            return Err(ApiError::cancelled());
        }
        read.map_err(|e| csv_error(row, e))?;
        if row > limits.max_rows {
            return Err(too_many_rows(&limits));
        }
        if fields.len() != positions.len() {
            return Err(csv_error(
                row,
                &format!(
                    "{} fields but the header has {}",
                    fields.len(),
                    positions.len()
                ),
            ));
        }
        let start = records.push_row();
        for (field, position) in fields.iter().zip(&positions) {
            if field.len() > limits.max_value_bytes {
                return Err(ApiError::new(
                    Code::FieldTooLong,
                    format!(
                        "row {row}: a value is longer than {} bytes",
                        limits.max_value_bytes
                    ),
                ));
            }
            if let Some(p) = position {
                records.cells[start + p] = Cell::Text((**field).into());
            }
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests;
