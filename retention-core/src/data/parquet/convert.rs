//! Arrow arrays to polars columns: each Arrow type converted (numbers, dates and times as ISO 8601
//! text, binary as text) or refused, naming the column and its type.

use polars_arrow::array::{
    BinaryViewArray, BooleanArray, DictionaryArray, FixedSizeBinaryArray, PrimitiveArray,
    Utf8ViewArray,
};
use polars_arrow::datatypes::TimeUnit as ArrowTimeUnit;
use polars_arrow::types::i256;
use polars_parquet::parquet::schema::types::GroupConvertedType;
use polars_parquet::read::GroupLogicalType;

use super::*;
/// Why a column of this type is not read (its type name), or `None` when it is.
pub(super) fn refusal(dtype: &ArrowDataType, parquet_type: Option<&ParquetType>) -> Option<String> {
    use ArrowDataType as D;
    match dtype {
        D::Null
        | D::Boolean
        | D::Int8
        | D::Int16
        | D::Int32
        | D::Int64
        | D::Int128
        | D::UInt8
        | D::UInt16
        | D::UInt32
        | D::UInt64
        | D::UInt128
        | D::Float16
        | D::Float32
        | D::Float64
        | D::Decimal(..)
        | D::Decimal32(..)
        | D::Decimal64(..)
        | D::Decimal256(..)
        | D::Date32
        | D::Date64
        | D::Timestamp(..)
        | D::Time32(..)
        | D::Time64(..)
        | D::Duration(..)
        | D::Binary
        | D::LargeBinary
        | D::BinaryView
        | D::FixedSizeBinary(_)
        | D::Utf8
        | D::LargeUtf8
        | D::Utf8View => None,
        D::Dictionary(_, values, _) => refusal(values, None),
        D::Extension(ext) => refusal(&ext.inner, None),
        other => {
            let is_map = matches!(
                parquet_type,
                Some(ParquetType::GroupType {
                    logical_type: Some(GroupLogicalType::Map),
                    ..
                }) | Some(ParquetType::GroupType {
                    converted_type: Some(GroupConvertedType::Map | GroupConvertedType::MapKeyValue),
                    ..
                })
            );
            Some(match (is_map, other) {
                (true, D::LargeList(f) | D::List(f)) => match f.dtype() {
                    D::Struct(kv) if kv.len() == 2 => format!(
                        "map<{}, {}>",
                        type_name(kv[0].dtype()),
                        type_name(kv[1].dtype())
                    ),
                    _ => type_name(other),
                },
                _ => type_name(other),
            })
        }
    }
}

/// A type's name as users know it (`list<struct<sku: string, qty: int32>>`, `date`…).
pub(super) fn type_name(dtype: &ArrowDataType) -> String {
    use ArrowDataType as D;
    match dtype {
        D::Null => "null".into(),
        D::Boolean => "boolean".into(),
        D::Int8 => "int8".into(),
        D::Int16 => "int16".into(),
        D::Int32 => "int32".into(),
        D::Int64 => "int64".into(),
        D::Int128 => "int128".into(),
        D::UInt8 => "uint8".into(),
        D::UInt16 => "uint16".into(),
        D::UInt32 => "uint32".into(),
        D::UInt64 => "uint64".into(),
        D::UInt128 => "uint128".into(),
        D::Float16 => "float16".into(),
        D::Float32 => "float32".into(),
        D::Float64 => "float64".into(),
        D::Decimal(p, s) | D::Decimal32(p, s) | D::Decimal64(p, s) | D::Decimal256(p, s) => {
            format!("decimal({p}, {s})")
        }
        D::Date32 | D::Date64 => "date".into(),
        D::Timestamp(_, Some(tz)) => format!("timestamp ({tz})"),
        D::Timestamp(_, None) => "timestamp".into(),
        D::Time32(_) | D::Time64(_) => "time".into(),
        D::Duration(_) => "duration".into(),
        D::Interval(_) => "interval".into(),
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => "binary".into(),
        D::Utf8 | D::LargeUtf8 | D::Utf8View => "string".into(),
        D::List(f) | D::LargeList(f) | D::FixedSizeList(f, _) => {
            format!("list<{}>", type_name(f.dtype()))
        }
        D::Struct(fields) => format!(
            "struct<{}>",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.name, type_name(f.dtype())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        D::Map(f, _) => match f.dtype() {
            D::Struct(kv) if kv.len() == 2 => format!(
                "map<{}, {}>",
                type_name(kv[0].dtype()),
                type_name(kv[1].dtype())
            ),
            _ => "map".into(),
        },
        D::Dictionary(_, values, _) => type_name(values),
        D::Extension(ext) => format!("{} ({})", ext.name, type_name(&ext.inner)),
        D::Union(_) => "union".into(),
        D::Unknown => "unknown".into(),
    }
}

/// Converts decoded arrays of one column into a polars column: numbers stay numbers (small and
/// unsigned integers widened, decimals and durations as `f64`, durations in seconds), text and
/// booleans stay themselves, dates and times become ISO 8601 text, binary becomes text (hex for
/// fixed-size binary). `first_row` is the 0-based file row of the first value.
///
/// # Errors
/// [`Error::InvalidValue`] for a value that cannot be converted, [`Error::Polars`] otherwise.
pub(super) fn to_series(
    name: &str,
    dtype: &ArrowDataType,
    arrays: &[ArrayRef],
    first_row: usize,
) -> Result<Series> {
    use ArrowDataType as D;
    let pl_name = PlSmallStr::from(name);
    Ok(match dtype {
        // Types polars holds natively: no copy.
        D::Boolean
        | D::Int32
        | D::Int64
        | D::UInt32
        | D::UInt64
        | D::Float32
        | D::Float64
        | D::Utf8View
            if arrays.iter().all(|a| a.dtype() == dtype) =>
        {
            Series::from_arrow_chunks(pl_name, arrays.to_vec())?
        }
        D::Null => Series::full_null(pl_name, total_len(arrays), &DataType::String),
        D::Boolean => BooleanChunked::from_iter_options(
            pl_name,
            arrays.iter().flat_map(|a| {
                downcast::<BooleanArray>(a)
                    .into_iter()
                    .flat_map(|a| a.iter())
            }),
        )
        .into_series(),
        D::Int8 => ints::<i8>(pl_name, arrays),
        D::Int16 => ints::<i16>(pl_name, arrays),
        D::Int32 => ints::<i32>(pl_name, arrays),
        D::UInt8 => ints::<u8>(pl_name, arrays),
        D::UInt16 => ints::<u16>(pl_name, arrays),
        D::Int64 => Int64Chunked::from_iter_options(pl_name, values::<i64>(arrays)).into_series(),
        D::UInt32 => UInt32Chunked::from_iter_options(pl_name, values::<u32>(arrays)).into_series(),
        D::UInt64 => UInt64Chunked::from_iter_options(pl_name, values::<u64>(arrays)).into_series(),
        D::Int128 => floats(pl_name, values::<i128>(arrays).map(|v| v.map(|v| v as f64))),
        D::UInt128 => floats(pl_name, values::<u128>(arrays).map(|v| v.map(|v| v as f64))),
        D::Float16 => floats(pl_name, values::<pf16>(arrays).map(|v| v.map(f64::from))),
        D::Float32 => floats(pl_name, values::<f32>(arrays).map(|v| v.map(f64::from))),
        D::Float64 => floats(pl_name, values::<f64>(arrays)),
        D::Decimal32(_, s) => floats(
            pl_name,
            values::<i32>(arrays).map(|v| v.map(|v| decimal(i128::from(v), *s))),
        ),
        D::Decimal64(_, s) => floats(
            pl_name,
            values::<i64>(arrays).map(|v| v.map(|v| decimal(i128::from(v), *s))),
        ),
        D::Decimal(_, s) => floats(
            pl_name,
            values::<i128>(arrays).map(|v| v.map(|v| decimal(v, *s))),
        ),
        D::Decimal256(_, s) => floats(
            pl_name,
            values::<i256>(arrays).map(|v| v.map(|v| decimal_text(&v.to_string(), *s))),
        ),
        D::Duration(unit) => {
            let per_second = units_per_second(*unit) as f64;
            floats(
                pl_name,
                values::<i64>(arrays).map(|v| v.map(|v| v as f64 / per_second)),
            )
        }
        D::Date32 | D::Date64 | D::Timestamp(..) | D::Time32(_) | D::Time64(_) => {
            temporal(name, dtype, arrays, first_row)?
        }
        D::Utf8View | D::Utf8 | D::LargeUtf8 => utf8(pl_name, arrays)?,
        D::Binary | D::LargeBinary | D::BinaryView => binary(name, arrays, first_row)?,
        D::FixedSizeBinary(_) => {
            let cells = arrays.iter().flat_map(|a| {
                downcast::<FixedSizeBinaryArray>(a)
                    .into_iter()
                    .flat_map(|a| a.iter())
                    .map(|v| v.map(hex))
            });
            StringChunked::from_iter_options(pl_name, cells).into_series()
        }
        D::Dictionary(key, value_type, _) => dictionary(name, *key, value_type, arrays, first_row)?,
        D::Extension(ext) => to_series(name, &ext.inner, arrays, first_row)?,
        other => {
            return Err(Error::InvalidData(format!(
                "column '{name}' holds {} values, which RetentionAI does not read",
                type_name(other)
            )));
        }
    })
}

/// A cell of column `name` that cannot be converted: `i` is its index from `first_row`.
fn cell_error(name: &str, first_row: usize, i: usize, value: String, reason: &str) -> Error {
    Error::InvalidValue {
        column: name.to_string(),
        row: first_row + i + 1,
        value: short(&value, QUOTE_CHARS),
        reason: reason.to_string(),
    }
}

/// Dates, timestamps and times of day as ISO 8601 text.
fn temporal(
    name: &str,
    dtype: &ArrowDataType,
    arrays: &[ArrayRef],
    first_row: usize,
) -> Result<Series> {
    use ArrowDataType as D;
    let pl_name = PlSmallStr::from(name);
    let refused = |reason: &'static str| {
        move |(i, v): (usize, String)| cell_error(name, first_row, i, v, reason)
    };
    Ok(match dtype {
        D::Date32 => texts(pl_name, values::<i32>(arrays), |d| {
            let date = chrono::DateTime::from_timestamp(i64::from(d) * 86_400, 0)?;
            Some(date.format("%Y-%m-%d").to_string())
        })
        .map_err(refused("not a valid date"))?,
        D::Date64 => texts(pl_name, values::<i64>(arrays), |ms| {
            let t = timestamp(ms, ArrowTimeUnit::Millisecond)?;
            Some(if ms.rem_euclid(86_400_000) == 0 {
                t.format("%Y-%m-%d").to_string()
            } else {
                t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
            })
        })
        .map_err(refused("not a valid date"))?,
        D::Timestamp(unit, tz) => {
            let zone = if tz.is_some() { "Z" } else { "" };
            texts(pl_name, values::<i64>(arrays), |v| {
                let t = timestamp(v, *unit)?;
                Some(format!("{}{zone}", t.format("%Y-%m-%dT%H:%M:%S%.f")))
            })
            .map_err(refused("not a valid timestamp"))?
        }
        D::Time32(unit) => texts(pl_name, values::<i32>(arrays), |v| {
            time_of_day(i64::from(v), *unit)
        })
        .map_err(refused("not a valid time of day"))?,
        D::Time64(unit) => texts(pl_name, values::<i64>(arrays), |v| time_of_day(v, *unit))
            .map_err(refused("not a valid time of day"))?,
        other => {
            return Err(Error::InvalidData(format!(
                "column '{name}': {} is not a date or time type",
                type_name(other)
            )));
        }
    })
}

/// Text columns: views kept, other layouts cast by polars.
fn utf8(pl_name: PlSmallStr, arrays: &[ArrayRef]) -> Result<Series> {
    let mut out: Vec<Option<&str>> = Vec::with_capacity(total_len(arrays));
    for a in arrays {
        if let Some(a) = downcast::<Utf8ViewArray>(a) {
            out.extend(a.iter());
        } else {
            let cast = Series::from_arrow(pl_name.clone(), a.clone())?;
            return Ok(cast.cast(&DataType::String)?);
        }
    }
    Ok(StringChunked::from_iter_options(pl_name, out.into_iter()).into_series())
}

/// Binary columns as text: every value must be UTF-8.
fn binary(name: &str, arrays: &[ArrayRef], first_row: usize) -> Result<Series> {
    let mut out: Vec<Option<&str>> = Vec::with_capacity(total_len(arrays));
    for a in arrays {
        let Some(a) = downcast::<BinaryViewArray>(a) else {
            return Err(Error::InvalidData(format!(
                "column '{name}': unexpected binary layout"
            )));
        };
        for cell in a.iter() {
            match cell.map(std::str::from_utf8) {
                None => out.push(None),
                Some(Ok(s)) => out.push(Some(s)),
                Some(Err(_)) => {
                    let i = out.len();
                    let bytes = cell.unwrap_or_default();
                    return Err(cell_error(
                        name,
                        first_row,
                        i,
                        String::from_utf8_lossy(&bytes[..bytes.len().min(QUOTE_CHARS)])
                            .into_owned(),
                        "binary values that are not UTF-8 text cannot be read",
                    ));
                }
            }
        }
    }
    Ok(StringChunked::from_iter_options(PlSmallStr::from(name), out.into_iter()).into_series())
}

/// Dictionary-encoded columns: each chunk's values converted, then taken by its keys.
fn dictionary(
    name: &str,
    key: IntegerType,
    value_type: &ArrowDataType,
    arrays: &[ArrayRef],
    first_row: usize,
) -> Result<Series> {
    let pl_name = PlSmallStr::from(name);
    let mut parts: Vec<Series> = Vec::with_capacity(arrays.len());
    let mut offset = 0;
    for a in arrays {
        let (keys, values) = dictionary_parts(a.as_ref(), key).ok_or_else(|| {
            Error::InvalidData(format!("column '{name}': unexpected dictionary layout"))
        })?;
        let values = to_series(name, value_type, &[values], first_row + offset)?;
        let idx = IdxCa::from_iter_options(
            "idx".into(),
            keys.into_iter().map(|k| k.map(|k| k as IdxSize)),
        );
        let taken = values.take(&idx)?;
        offset += taken.len();
        parts.push(taken);
    }
    let mut iter = parts.into_iter();
    let mut out = iter
        .next()
        .unwrap_or_else(|| Series::new_empty(pl_name.clone(), &DataType::String));
    for p in iter {
        out.append(&p)?;
    }
    Ok(out.with_name(pl_name))
}

pub(super) fn total_len(arrays: &[ArrayRef]) -> usize {
    arrays.iter().map(|a| a.len()).sum()
}

pub(super) fn downcast<A: 'static>(a: &ArrayRef) -> Option<&A> {
    a.as_any().downcast_ref::<A>()
}

/// The cells of primitive arrays of type `T`, in order (arrays of another type give nothing: the
/// length check of the frame then refuses the column).
pub(super) fn values<T: polars_arrow::types::NativeType>(
    arrays: &[ArrayRef],
) -> impl Iterator<Item = Option<T>> + '_ {
    arrays.iter().flat_map(|a| {
        downcast::<PrimitiveArray<T>>(a)
            .into_iter()
            .flat_map(|a| a.iter().map(|v| v.copied()))
    })
}

/// Small integers widened to `i32`.
pub(super) fn ints<T: polars_arrow::types::NativeType + Into<i32>>(
    name: PlSmallStr,
    arrays: &[ArrayRef],
) -> Series {
    Int32Chunked::from_iter_options(name, values::<T>(arrays).map(|v| v.map(Into::into)))
        .into_series()
}

pub(super) fn floats(name: PlSmallStr, cells: impl Iterator<Item = Option<f64>>) -> Series {
    Float64Chunked::from_iter_options(name, cells).into_series()
}

/// Text made from each value by `f`; a value `f` cannot format is returned with its position.
pub(super) fn texts<T: Copy + std::fmt::Display>(
    name: PlSmallStr,
    cells: impl Iterator<Item = Option<T>>,
    f: impl Fn(T) -> Option<String>,
) -> std::result::Result<Series, (usize, String)> {
    let mut out: Vec<Option<String>> = Vec::new();
    for (i, cell) in cells.enumerate() {
        out.push(match cell {
            None => None,
            Some(v) => Some(f(v).ok_or_else(|| (i, v.to_string()))?),
        });
    }
    Ok(StringChunked::from_iter_options(name, out.into_iter()).into_series())
}

/// A decimal's value: `v / 10^scale`, exact to the last bit for up to 15 digits (one correctly
/// rounded division, as parsing the decimal's text gives), through its text beyond.
pub(super) fn decimal(v: i128, scale: usize) -> f64 {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    if v.unsigned_abs() < 1 << 53 && scale < POW10.len() {
        v as f64 / POW10[scale]
    } else {
        decimal_text(&v.to_string(), scale)
    }
}

/// A decimal's value from the text of its unscaled integer.
pub(super) fn decimal_text(digits: &str, scale: usize) -> f64 {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", digits),
    };
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}0").parse().unwrap_or(f64::NAN)
}

pub(super) fn units_per_second(unit: ArrowTimeUnit) -> i64 {
    match unit {
        ArrowTimeUnit::Second => 1,
        ArrowTimeUnit::Millisecond => 1_000,
        ArrowTimeUnit::Microsecond => 1_000_000,
        ArrowTimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// A timestamp as UTC date and time, if in range.
pub(super) fn timestamp(v: i64, unit: ArrowTimeUnit) -> Option<chrono::NaiveDateTime> {
    let per = units_per_second(unit);
    let nanos = v.rem_euclid(per) * (1_000_000_000 / per);
    let t = chrono::DateTime::from_timestamp(v.div_euclid(per), u32::try_from(nanos).ok()?)?;
    Some(t.naive_utc())
}

/// A time of day as `HH:MM:SS[.fff]`, if within a day.
pub(super) fn time_of_day(v: i64, unit: ArrowTimeUnit) -> Option<String> {
    let per = units_per_second(unit);
    let secs = u32::try_from(v.div_euclid(per)).ok()?;
    let nanos = u32::try_from(v.rem_euclid(per) * (1_000_000_000 / per)).ok()?;
    let t = chrono::NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)?;
    Some(t.format("%H:%M:%S%.f").to_string())
}

pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// A dictionary array's keys (as positions) and values.
pub(super) fn dictionary_parts(
    a: &dyn Array,
    key: IntegerType,
) -> Option<(Vec<Option<usize>>, ArrayRef)> {
    macro_rules! parts {
        ($k:ty) => {{
            let d = a.as_any().downcast_ref::<DictionaryArray<$k>>()?;
            Some((d.keys_iter().collect(), d.values().clone()))
        }};
    }
    match key {
        IntegerType::Int8 => parts!(i8),
        IntegerType::Int16 => parts!(i16),
        IntegerType::Int32 => parts!(i32),
        IntegerType::Int64 => parts!(i64),
        IntegerType::UInt8 => parts!(u8),
        IntegerType::UInt16 => parts!(u16),
        IntegerType::UInt32 => parts!(u32),
        IntegerType::UInt64 => parts!(u64),
        _ => None,
    }
}
