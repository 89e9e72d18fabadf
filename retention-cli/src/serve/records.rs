//! Request bodies to customer records, with every limit enforced while parsing: the number of
//! customers, fields per customer, and the length of each field name and value are checked as
//! the bytes are read, before anything is built from them. Only the fields a served model uses
//! (its inputs and id column) are kept; the others are read past without being copied, so the
//! memory a request takes is bounded by its body, not amplified by it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use retention_core::error::excerpt;

use super::api::ApiError;

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

fn cancelled() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
        "the request ran out of time",
    )
}

fn too_many_rows(limits: &Limits) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch_too_large",
        format!(
            "more than {} customers in one request (--max-batch)",
            limits.max_rows
        ),
    )
}

fn too_many_fields(row: Option<usize>, limits: &Limits) -> ApiError {
    ApiError::unprocessable(
        "too_many_fields",
        format!(
            "{}a customer has more than {} fields",
            at(row),
            limits.max_fields
        ),
    )
}

fn name_too_long(row: Option<usize>, name: &str, limits: &Limits) -> ApiError {
    ApiError::unprocessable(
        "field_too_long",
        format!(
            "{}field name '{}' is longer than {} bytes",
            at(row),
            excerpt(name),
            limits.max_name_bytes
        ),
    )
}

fn value_too_long(row: Option<usize>, name: &str, limits: &Limits) -> ApiError {
    ApiError::unprocessable(
        "field_too_long",
        format!(
            "{}field '{}': the value is longer than {} bytes",
            at(row),
            excerpt(name),
            limits.max_value_bytes
        ),
    )
}

/// What the JSON walk shares: the limits, the wanted names, and the first refusal (serde's
/// errors carry only text, so the answer to give is kept here).
struct Walk<'w> {
    /// Set when the request was abandoned: parsing stops at the next customer.
    cancel: &'w AtomicBool,
    limits: Limits,
    refusal: RefCell<Option<ApiError>>,
    records: RefCell<Records<'w>>,
}

impl Walk<'_> {
    fn refuse<E: de::Error>(&self, e: ApiError) -> E {
        let message = e.message.clone();
        self.refusal.borrow_mut().get_or_insert(e);
        E::custom(message)
    }

    /// The answer for a failed parse: the refusal kept, else invalid JSON.
    fn failure(&self, e: &serde_json::Error) -> ApiError {
        self.refusal.borrow_mut().take().unwrap_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {e}"),
            )
        })
    }
}

/// Parses one customer (a JSON object) keeping the wanted fields.
///
/// # Errors
/// `invalid_json` (400) for bad JSON; 422 for a customer that is not an object, a nested value,
/// too many fields or a field too long.
pub fn json_record<'w>(
    body: &[u8],
    wanted: &'w Wanted,
    limits: Limits,
) -> Result<Records<'w>, ApiError> {
    let walk = Walk {
        cancel: &NEVER,
        limits,
        refusal: RefCell::new(None),
        records: RefCell::new(Records::new(wanted)),
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    RecordSeed {
        walk: &walk,
        row: None,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .map_err(|e| walk.failure(&e))?;
    Ok(walk.records.into_inner())
}

/// Parses a batch: a JSON array of customers, or an object with a `"customers"` array (other
/// keys are ignored).
///
/// # Errors
/// As [`json_record`], rows named from 1; `batch_too_large` (413) past `limits.max_rows`.
pub fn json_batch<'w>(
    body: &[u8],
    wanted: &'w Wanted,
    limits: Limits,
    cancel: &'w AtomicBool,
) -> Result<Records<'w>, ApiError> {
    let walk = Walk {
        cancel,
        limits,
        refusal: RefCell::new(None),
        records: RefCell::new(Records::new(wanted)),
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    BatchSeed { walk: &walk }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| walk.failure(&e))?;
    Ok(walk.records.into_inner())
}

const BATCH_SHAPE: &str = "send a JSON array of customers, or an object with a \"customers\" array";

struct BatchSeed<'a, 'w> {
    walk: &'a Walk<'w>,
}

impl<'de> DeserializeSeed<'de> for BatchSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(BATCH_SHAPE)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        customers(self.walk, seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key.is_customers && !seen {
                seen = true;
                map.next_value_seed(CustomersSeed { walk: self.walk })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !seen {
            return Err(self
                .walk
                .refuse(ApiError::unprocessable("invalid_record", BATCH_SHAPE)));
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(self.not_a_batch())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(self.not_a_batch())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(self.not_a_batch())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(self.not_a_batch())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(self.not_a_batch())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self.not_a_batch())
    }
}

impl BatchSeed<'_, '_> {
    fn not_a_batch<E: de::Error>(&self) -> E {
        self.walk
            .refuse(ApiError::unprocessable("invalid_record", BATCH_SHAPE))
    }
}

/// A key of the batch object: only whether it is `"customers"`.
struct KeySeed;

struct BatchKey {
    is_customers: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = BatchKey;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<BatchKey, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = BatchKey;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<BatchKey, E> {
        Ok(BatchKey {
            is_customers: v == "customers",
        })
    }
}

struct CustomersSeed<'a, 'w> {
    walk: &'a Walk<'w>,
}

impl<'de> DeserializeSeed<'de> for CustomersSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CustomersSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of customers")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        customers(self.walk, seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self
            .walk
            .refuse(ApiError::unprocessable("invalid_record", BATCH_SHAPE)))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(self
            .walk
            .refuse(ApiError::unprocessable("invalid_record", BATCH_SHAPE)))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(self
            .walk
            .refuse(ApiError::unprocessable("invalid_record", BATCH_SHAPE)))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(self
            .walk
            .refuse(ApiError::unprocessable("invalid_record", BATCH_SHAPE)))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(self
            .walk
            .refuse(ApiError::unprocessable("invalid_record", BATCH_SHAPE)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(self
            .walk
            .refuse(ApiError::unprocessable("invalid_record", BATCH_SHAPE)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self
            .walk
            .refuse(ApiError::unprocessable("invalid_record", BATCH_SHAPE)))
    }
}

/// The elements of the customers array, one record each, stopping at the row limit.
fn customers<'de, A: SeqAccess<'de>>(walk: &Walk<'_>, mut seq: A) -> Result<(), A::Error> {
    let mut row = 0;
    loop {
        if row == walk.limits.max_rows {
            // One more element is one too many: refuse it without reading it.
            return match seq.next_element_seed(Refuse { walk })? {
                None => Ok(()),
                Some(()) => Err(walk.refuse(too_many_rows(&walk.limits))),
            };
        }
        row += 1;
        if walk.cancel.load(Ordering::Relaxed) {
            return Err(walk.refuse(cancelled()));
        }
        if seq
            .next_element_seed(RecordSeed {
                walk,
                row: Some(row),
            })?
            .is_none()
        {
            return Ok(());
        }
    }
}

/// A seed that refuses whatever value it is given (the row past the limit).
struct Refuse<'a, 'w> {
    walk: &'a Walk<'w>,
}

impl<'de> DeserializeSeed<'de> for Refuse<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
        Err(self.walk.refuse(too_many_rows(&self.walk.limits)))
    }
}

/// One customer object.
struct RecordSeed<'a, 'w> {
    walk: &'a Walk<'w>,
    row: Option<usize>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl RecordSeed<'_, '_> {
    fn not_an_object<E: de::Error>(&self) -> E {
        self.walk.refuse(ApiError::unprocessable(
            "invalid_record",
            format!(
                "{}a customer must be a JSON object of field names to values",
                at(self.row)
            ),
        ))
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of field names to values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let walk = self.walk;
        let start = walk.records.borrow_mut().push_row();
        let mut fields = 0usize;
        while let Some(name) = map.next_key_seed(FieldName {
            walk,
            row: self.row,
        })? {
            fields += 1;
            if fields > walk.limits.max_fields {
                return Err(walk.refuse(too_many_fields(self.row, &walk.limits)));
            }
            let cell = map.next_value_seed(FieldValue {
                walk,
                row: self.row,
                name: &name,
            })?;
            if let (Some(position), Some(cell)) = (name.position, cell) {
                walk.records.borrow_mut().cells[start + position] = cell;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.not_an_object())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(self.not_an_object())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(self.not_an_object())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(self.not_an_object())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(self.not_an_object())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(self.not_an_object())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self.not_an_object())
    }
}

/// A field's name: its position among the wanted names (if wanted), and a short form for
/// messages.
struct FieldName<'a, 'w> {
    walk: &'a Walk<'w>,
    row: Option<usize>,
}

struct Name {
    position: Option<usize>,
    shown: String,
}

impl<'de> DeserializeSeed<'de> for FieldName<'_, '_> {
    type Value = Name;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Name, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldName<'_, '_> {
    type Value = Name;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Name, E> {
        if v.len() > self.walk.limits.max_name_bytes {
            return Err(self
                .walk
                .refuse(name_too_long(self.row, v, &self.walk.limits)));
        }
        let position = self.walk.records.borrow().wanted.position(v);
        Ok(Name {
            position,
            // Names are needed for messages about nested values only; keep them short.
            shown: excerpt(v).into_owned(),
        })
    }
}

/// A field's value: a cell when the field is wanted, `None` otherwise (read past, not copied).
struct FieldValue<'a, 'w, 'n> {
    walk: &'a Walk<'w>,
    row: Option<usize>,
    name: &'n Name,
}

impl FieldValue<'_, '_, '_> {
    fn keep<E: de::Error>(&self, text: &str) -> Result<Option<Cell>, E> {
        if text.len() > self.walk.limits.max_value_bytes {
            return Err(self.walk.refuse(value_too_long(
                self.row,
                &self.name.shown,
                &self.walk.limits,
            )));
        }
        Ok(self.name.position.map(|_| Cell::Text(text.into())))
    }

    fn nested<E: de::Error>(&self) -> E {
        self.walk.refuse(ApiError::unprocessable(
            "invalid_value",
            format!(
                "{}field '{}' must be a string, a number, a boolean or null",
                at(self.row),
                self.name.shown
            ),
        ))
    }
}

impl<'de> DeserializeSeed<'de> for FieldValue<'_, '_, '_> {
    type Value = Option<Cell>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Cell>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldValue<'_, '_, '_> {
    type Value = Option<Cell>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, a number, a boolean or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<Cell>, E> {
        self.keep(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<Cell>, E> {
        self.keep(if v { "true" } else { "false" })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<Cell>, E> {
        self.keep(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<Cell>, E> {
        self.keep(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<Cell>, E> {
        // Written as JSON writes it (`1e+300`, not three hundred digits).
        match serde_json::Number::from_f64(v) {
            Some(n) => self.keep(&n.to_string()),
            None => self.keep(&v.to_string()),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<Cell>, E> {
        Ok(self.name.position.map(|_| Cell::Missing))
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<Cell>, E> {
        Ok(self.name.position.map(|_| Cell::Missing))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Option<Cell>, A::Error> {
        Err(self.nested())
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Option<Cell>, A::Error> {
        Err(self.nested())
    }
}

fn csv_error(row: usize, reason: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_csv",
        format!("CSV row {row}: {reason}"),
    )
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
            StatusCode::BAD_REQUEST,
            "invalid_csv",
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
            return Err(cancelled());
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
                return Err(ApiError::unprocessable(
                    "field_too_long",
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    static NO: AtomicBool = AtomicBool::new(false);

    fn wanted() -> Wanted {
        Wanted::new(["id", "a", "b"])
    }

    fn limits() -> Limits {
        Limits::with_rows(3)
    }

    #[test]
    fn json_records_keep_wanted_scalars_and_refuse_nesting() {
        let w = wanted();
        let r = json_record(
            br#"{"a": "x", "b": 1.5, "id": null, "other": [1, {"deep": 2}]}"#,
            &w,
            limits(),
        );
        // A nested value is refused even in a field the model does not use.
        let e = r.unwrap_err();
        assert_eq!(e.code, "invalid_value");
        assert!(e.message.contains("field 'other'"), "{}", e.message);

        let r = json_record(
            br#"{"a": "x", "b": 1.5, "id": null, "c": true}"#,
            &w,
            limits(),
        )
        .unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            r.row(0),
            vec![("id", None), ("a", Some("x")), ("b", Some("1.5"))]
        );
        let r = json_record(br#"{"b": 1e300, "a": false}"#, &w, limits()).unwrap();
        assert_eq!(r.row(0), vec![("a", Some("false")), ("b", Some("1e+300"))]);
        let e = json_record(b"[1]", &w, limits()).unwrap_err();
        assert_eq!(e.code, "invalid_record");
        let e = json_record(b"{\"a\": 1", &w, limits()).unwrap_err();
        assert_eq!(e.code, "invalid_json");
        let e = json_record(b"{\"a\": 1} x", &w, limits()).unwrap_err();
        assert_eq!(e.code, "invalid_json");
    }

    #[test]
    fn batches_stop_at_the_row_limit_before_reading_on() {
        let w = wanted();
        let r = json_batch(br#"[{"a": 1}, {}, {"b": "2"}]"#, &w, limits(), &NO).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r.row(1), vec![]);
        let r = json_batch(
            br#"{"x": [[[]]], "customers": [{"a": 1}]}"#,
            &w,
            limits(),
            &NO,
        )
        .unwrap();
        assert_eq!(r.len(), 1);
        // The fourth element is refused, and what follows it is never read (even invalid JSON).
        let e = json_batch(br#"[{}, {}, {}, {}, this is not json"#, &w, limits(), &NO).unwrap_err();
        assert_eq!(e.code, "batch_too_large");
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        for bad in [
            &b"{\"rows\": []}"[..],
            b"3",
            b"\"x\"",
            b"{\"customers\": {}}",
        ] {
            let e = json_batch(bad, &w, limits(), &NO).unwrap_err();
            assert_eq!(e.code, "invalid_record", "{}", String::from_utf8_lossy(bad));
        }
        let e = json_batch(br#"[{"a": 1}, 7]"#, &w, limits(), &NO).unwrap_err();
        assert!(e.message.starts_with("row 2: "), "{}", e.message);
    }

    #[test]
    fn names_values_and_field_counts_are_bounded() {
        let w = wanted();
        let long = "n".repeat(MAX_NAME_BYTES + 1);
        let e = json_record(format!("{{\"{long}\": 1}}").as_bytes(), &w, limits()).unwrap_err();
        assert_eq!(e.code, "field_too_long");
        assert!(e.message.len() < 200, "the message quotes a prefix only");
        let value = "v".repeat(MAX_VALUE_BYTES + 1);
        let e =
            json_record(format!("{{\"zz\": \"{value}\"}}").as_bytes(), &w, limits()).unwrap_err();
        assert_eq!(e.code, "field_too_long");
        let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("\"f{i}\": 0")).collect();
        let e =
            json_record(format!("{{{}}}", many.join(",")).as_bytes(), &w, limits()).unwrap_err();
        assert_eq!(e.code, "too_many_fields");

        let header = format!("id,{long}\n1,2\n");
        let e = csv_batch(header.as_bytes(), &w, limits(), &NO).unwrap_err();
        assert_eq!(e.code, "field_too_long");
        let e = csv_batch(format!("a,b\n1,{value}\n").as_bytes(), &w, limits(), &NO).unwrap_err();
        assert_eq!(e.code, "field_too_long");
        assert!(e.message.starts_with("row 1:"), "{}", e.message);
    }

    #[test]
    fn csv_batches_keep_wanted_columns_and_name_the_bad_row() {
        let w = wanted();
        let r = csv_batch(b"id,x,a\n1,2,3\n\"4\",5,\n", &w, limits(), &NO).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.row(0), vec![("id", Some("1")), ("a", Some("3"))]);
        assert_eq!(r.row(1), vec![("id", Some("4")), ("a", Some(""))]);
        let e = csv_batch(b"id,x\n1,2\n3\n", &w, limits(), &NO).unwrap_err();
        assert_eq!(e.code, "invalid_csv");
        assert!(e.message.contains("row 2"), "{}", e.message);
        assert_eq!(
            csv_batch(b"", &w, limits(), &NO).unwrap_err().code,
            "invalid_csv"
        );
        assert_eq!(
            csv_batch(b"\xff\xfe", &w, limits(), &NO).unwrap_err().code,
            "invalid_csv"
        );
        let e = csv_batch(b"a,a\n1,2\n", &w, limits(), &NO).unwrap_err();
        assert!(e.message.contains("appears twice"), "{}", e.message);
        let e = csv_batch(b"a\n1\n2\n3\n4\n", &w, limits(), &NO).unwrap_err();
        assert_eq!(e.code, "batch_too_large");
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            "[a-z\"\\\\é ]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("[a-c]{1,2}|id", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    // 256 cases each by default (briefly, in every test run); `PROPTEST_CASES=100000` runs them
    // longer on demand.
    proptest! {
        /// Arbitrary bytes never panic any parser, and every refusal has a code.
        #[test]
        fn parsers_never_panic_on_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
            let w = wanted();
            for r in [json_record(&body, &w, limits()), json_batch(&body, &w, limits(), &NO), csv_batch(&body, &w, limits(), &NO)] {
                if let Err(e) = r {
                    prop_assert!(!e.code.is_empty());
                }
            }
        }

        /// Any JSON value: a batch either parses into at most `max_rows` rows that agree with
        /// the value's wanted scalar fields, or is refused with a client error.
        #[test]
        fn json_batches_agree_with_the_value(value in json_value()) {
            let w = wanted();
            let body = serde_json::to_vec(&value).unwrap();
            match json_batch(&body, &w, limits(), &NO) {
                Ok(records) => {
                    let items = match &value {
                        serde_json::Value::Array(items) => items.clone(),
                        serde_json::Value::Object(m) => m["customers"].as_array().cloned().unwrap(),
                        _ => unreachable!("only arrays and objects parse"),
                    };
                    prop_assert_eq!(records.len(), items.len());
                    prop_assert!(records.len() <= 3);
                    for (i, item) in items.iter().enumerate() {
                        let map = item.as_object().unwrap();
                        let expected: Vec<(String, Option<String>)> = w.names.iter().filter_map(|n| {
                            map.get(n).map(|v| (n.clone(), match v {
                                serde_json::Value::Null => None,
                                serde_json::Value::String(s) => Some(s.clone()),
                                other => Some(other.to_string()),
                            }))
                        }).collect();
                        let got: Vec<(String, Option<String>)> = records.row(i).into_iter()
                            .map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect();
                        prop_assert_eq!(got, expected);
                    }
                }
                Err(e) => prop_assert!(e.status.is_client_error(), "{:?}", e),
            }
        }
    }
}
