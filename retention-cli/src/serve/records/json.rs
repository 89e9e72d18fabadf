//! JSON bodies to records: serde visitors that check every limit as the bytes are read and keep
//! only the wanted fields.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{
    ApiError, Cell, Code, Limits, NEVER, Records, Wanted, at, excerpt, name_too_long,
    too_many_fields, too_many_rows, value_too_long,
};

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
                Code::InvalidJson,
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
                .refuse(ApiError::new(Code::InvalidRecord, BATCH_SHAPE)));
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
            .refuse(ApiError::new(Code::InvalidRecord, BATCH_SHAPE))
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
            .refuse(ApiError::new(Code::InvalidRecord, BATCH_SHAPE)))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(self
            .walk
            .refuse(ApiError::new(Code::InvalidRecord, BATCH_SHAPE)))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(self
            .walk
            .refuse(ApiError::new(Code::InvalidRecord, BATCH_SHAPE)))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(self
            .walk
            .refuse(ApiError::new(Code::InvalidRecord, BATCH_SHAPE)))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(self
            .walk
            .refuse(ApiError::new(Code::InvalidRecord, BATCH_SHAPE)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(self
            .walk
            .refuse(ApiError::new(Code::InvalidRecord, BATCH_SHAPE)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self
            .walk
            .refuse(ApiError::new(Code::InvalidRecord, BATCH_SHAPE)))
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
            return Err(walk.refuse(ApiError::cancelled()));
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
        self.walk.refuse(ApiError::new(
            Code::InvalidRecord,
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
        self.walk.refuse(ApiError::new(
            Code::InvalidValue,
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
