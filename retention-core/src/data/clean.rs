//! Typing and cleaning cells: trims text, turns blank cells into nulls, parses numeric text, and
//! maps the target's labels to churn / no churn. Errors name the column, the row and the value.

use std::borrow::Cow;
use std::collections::HashMap;

use polars::prelude::*;

use super::schema::fold;
use crate::error::{Error, Result, excerpt};

/// Converts a column to nullable `f64`: numbers are cast, text is trimmed, blank cells become null,
/// and anything else is an error naming the row (`first_row` is the 0-based index of the column's
/// first cell in the file, for batches). Non-finite numbers follow one rule whatever the source
/// (text, Parquet floats, frames from Python): NaN is missing, an infinity is refused.
///
/// # Errors
/// [`Error::InvalidValue`] for a cell that is not a number (or is infinite).
pub fn to_numeric(column: &Column, first_row: usize) -> Result<Float64Chunked> {
    let name = column.name().to_string();
    if column.dtype().is_primitive_numeric() || column.dtype() == &DataType::Boolean {
        let cast = column.cast(&DataType::Float64)?;
        let values = cast.f64()?;
        if !column.dtype().is_float() {
            return Ok(values.clone());
        }
        let mut has_nan = false;
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) if v.is_nan() => has_nan = true,
                Some(v) if v.is_infinite() => {
                    return Err(Error::InvalidValue {
                        column: name,
                        row: first_row + i + 1,
                        value: format!("{v}"),
                        reason: INFINITE.into(),
                    });
                }
                _ => {}
            }
        }
        if !has_nan {
            return Ok(values.clone());
        }
        return Ok(Float64Chunked::from_iter_options(
            name.as_str().into(),
            values.iter().map(|v| v.filter(|x| !x.is_nan())),
        ));
    }
    let text = match column.dtype() {
        DataType::String => column.str()?.clone(),
        _ => column.cast(&DataType::String)?.str()?.clone(),
    };
    let mut out: Vec<Option<f64>> = Vec::with_capacity(text.len());
    for (i, cell) in text.iter().enumerate() {
        let value = match cell.map(numeric_cell) {
            None => None,
            Some(Ok(v)) => v,
            Some(Err(reason)) => {
                return Err(Error::InvalidValue {
                    column: name,
                    row: first_row + i + 1,
                    value: cell.unwrap_or_default().to_string(),
                    reason: reason.into(),
                });
            }
        };
        out.push(value);
    }
    Ok(Float64Chunked::from_iter_options(
        name.as_str().into(),
        out.into_iter(),
    ))
}

/// Types one numeric cell: trimmed, blank (or `NaN`) is `None`, a finite number is its value;
/// anything else is an error saying why. The one definition of a numeric cell, for frames
/// ([`to_numeric`]) and streamed rows alike.
///
/// # Errors
/// A reason to show the user when the cell is not a finite number.
#[inline]
pub fn numeric_cell(cell: &str) -> std::result::Result<Option<f64>, &'static str> {
    let s = trim(cell);
    if s.is_empty() {
        return Ok(None);
    }
    if let Some(v) = parse_number(s) {
        return Ok(Some(v));
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_nan() => Ok(None),
        Ok(_) => Err(INFINITE),
        Err(_) => Err("expected a number in this numeric column"),
    }
}

/// Why an infinite number is refused (text `inf`, a Parquet or Python float alike).
pub const INFINITE: &str = "infinite values are not allowed in a numeric column";

/// Types one categorical cell: trimmed, blank is `None`. The one definition of a categorical
/// cell, for frames ([`to_text`]) and streamed rows alike.
#[inline]
pub fn text_cell(cell: &str) -> Option<&str> {
    Some(trim(cell)).filter(|s| !s.is_empty())
}

/// Trims whitespace, checking the cheap ASCII case first (cells rarely have any).
#[inline]
pub fn trim(s: &str) -> &str {
    match s.as_bytes() {
        [first, .., last] if !first.is_ascii_whitespace() && !last.is_ascii_whitespace() => {
            if first.is_ascii() && last.is_ascii() {
                s
            } else {
                s.trim()
            }
        }
        [only] if !only.is_ascii_whitespace() && only.is_ascii() => s,
        _ => s.trim(),
    }
}

/// Parses a trimmed numeric cell. Plain decimals (`-12`, `29.85`: at most 15 significant digits,
/// at most 22 after the point) take a fast path that is exact — an integer mantissa and a power
/// of ten are both exact doubles, and one correctly rounded division gives the same bits as
/// `str::parse`; anything else (exponents, `inf`, long numbers) goes through `str::parse`.
/// Returns `None` for text that is not a finite number.
pub fn parse_number(s: &str) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let bytes = s.as_bytes();
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    // Digits before the point, then after it; `point` is where the point was (or the end).
    let mut mantissa = 0u64;
    let mut point = None::<usize>;
    let mut fast = !digits.is_empty() && digits.len() <= 16;
    if fast {
        for (i, &b) in digits.iter().enumerate() {
            let d = b.wrapping_sub(b'0');
            if d < 10 {
                mantissa = mantissa * 10 + u64::from(d);
            } else if b == b'.' && point.is_none() {
                point = Some(i);
            } else {
                fast = false;
                break;
            }
        }
    }
    let any_digit = digits.len() > usize::from(point.is_some());
    let decimals = point.map_or(0, |p| digits.len() - p - 1);
    // At most 16 characters: at most 16 digits, so check the mantissa is below 10^15.
    if fast && any_digit && mantissa < 1_000_000_000_000_000 && decimals < POW10.len() {
        let v = mantissa as f64 / POW10[decimals];
        return Some(if negative { -v } else { v });
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Converts a column to nullable text: trims, and turns blank cells into null.
///
/// # Errors
/// [`Error::Polars`] only if the column cannot be cast to text.
pub fn to_text(column: &Column) -> Result<StringChunked> {
    let name = column.name().clone();
    let text = match column.dtype() {
        DataType::String => column.str()?.clone(),
        DataType::Float32 | DataType::Float64 => {
            // 1.0 → "1" so that a Parquet float flag reads like the CSV's integer flag; NaN is
            // missing, as in a numeric column.
            let f = column.cast(&DataType::Float64)?;
            let f = f.f64()?;
            return Ok(StringChunked::from_iter_options(
                name,
                f.iter()
                    .map(|v| v.filter(|x| !x.is_nan()).map(format_number)),
            ));
        }
        _ => column.cast(&DataType::String)?.str()?.clone(),
    };
    let needs_cleaning = text.iter().flatten().any(|s| {
        s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace)
    });
    if !needs_cleaning {
        return Ok(text);
    }
    Ok(StringChunked::from_iter_options(
        name,
        text.iter().map(|cell| cell.and_then(text_cell)),
    ))
}

/// Formats a number the way it would be written in a CSV (no trailing `.0`).
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Maps a target column to booleans (`true` = churned) given the positive and negative labels.
/// Cells and labels are compared trimmed and in any case (`TRUE`, `True` and ` true` are one
/// label), as the labels were found ([`label_values`]); only labels that differ in nothing but
/// case (a model saved with such a pair) are compared exactly.
///
/// # Errors
/// [`Error::InvalidValue`] for a blank cell or a value that is neither label.
pub fn to_target(
    column: &Column,
    positive: &str,
    negative: &str,
    first_row: usize,
) -> Result<Vec<bool>> {
    let text = to_text(column)?;
    let name = column.name().to_string();
    let (pos_key, neg_key) = (fold(positive), fold(negative));
    let folded = pos_key != neg_key;
    let mut out = Vec::with_capacity(text.len());
    for (i, cell) in text.iter().enumerate() {
        let label = match cell {
            Some(v) if v == positive => Some(true),
            Some(v) if v == negative => Some(false),
            Some(v) if folded => {
                let key = fold(v);
                if key == pos_key {
                    Some(true)
                } else if key == neg_key {
                    Some(false)
                } else {
                    None
                }
            }
            _ => None,
        };
        match (label, cell) {
            (Some(y), _) => out.push(y),
            (None, Some(v)) => {
                return Err(Error::InvalidValue {
                    column: name,
                    row: first_row + i + 1,
                    value: v.to_string(),
                    reason: format!(
                        "the target's labels are {:?} (churn) and {:?}, in any case",
                        excerpt(positive),
                        excerpt(negative)
                    ),
                });
            }
            (None, None) => {
                return Err(Error::InvalidValue {
                    column: name,
                    row: first_row + i + 1,
                    value: String::new(),
                    reason: "the target is blank; every training or evaluation row needs a label"
                        .into(),
                });
            }
        }
    }
    Ok(out)
}

/// The distinct labels of a target column, compared trimmed and in any case: one spelling per
/// label (its most frequent one, the first in sort order on a tie), sorted. `TRUE`, `True`,
/// `FALSE` and `False` are two labels, not four.
pub fn label_values(text: &StringChunked) -> Vec<String> {
    let mut spellings: HashMap<&str, usize> = HashMap::new();
    for v in text.iter().flatten() {
        *spellings.entry(v).or_default() += 1;
    }
    let mut labels: HashMap<Cow<'_, str>, (&str, usize)> = HashMap::new();
    for (spelling, count) in spellings {
        let best = labels.entry(fold(spelling)).or_insert((spelling, 0));
        if count > best.1 || (count == best.1 && spelling < best.0) {
            *best = (spelling, count);
        }
    }
    let mut out: Vec<String> = labels.into_values().map(|(s, _)| s.to_string()).collect();
    out.sort_unstable();
    out
}

/// Distinct non-null values of a text column, sorted.
pub fn distinct(text: &StringChunked) -> Vec<String> {
    let mut set: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for v in text.iter().flatten() {
        set.insert(v);
    }
    set.into_iter().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_number_agrees_with_str_parse_to_the_bit() {
        let cases = [
            "0",
            "1",
            "-1",
            "72",
            "29.85",
            "1889.5",
            "0.1",
            "0.3",
            "-0.000001",
            "123456789012345",
            "1234567890.12345",
            "99999999999999.9",
            "3.",
            ".5",
            "+7",
            "1e5",
            "2.5E-3",
            "00012",
            "0.0000000000000000000001",
            "1234567890123456789",
        ];
        for c in cases {
            assert_eq!(
                parse_number(c).map(f64::to_bits),
                c.parse::<f64>().ok().map(f64::to_bits),
                "{c}"
            );
        }
        for c in ["", "-", ".", "abc", "1.2.3", "12a", "inf", "NaN", "1e999"] {
            assert_eq!(parse_number(c), None, "{c}");
        }
        let mut x = 0.37f64;
        for _ in 0..10_000 {
            x = (x * 7919.0 + 0.123) % 100_000.0;
            let s = format!("{x:.2}");
            assert_eq!(parse_number(&s), s.parse::<f64>().ok(), "{s}");
        }
    }

    fn col(name: &str, v: &[Option<&str>]) -> Column {
        Column::new(name.into(), v)
    }

    #[test]
    fn numeric_text_with_blanks_and_spaces() {
        let c = col(
            "TotalCharges",
            &[Some(" 29.85"), Some(" "), None, Some("1e3"), Some("NaN")],
        );
        let f = to_numeric(&c, 0).unwrap();
        let v: Vec<Option<f64>> = f.iter().collect();
        assert_eq!(v, vec![Some(29.85), None, None, Some(1000.0), None]);
    }

    #[test]
    fn non_numeric_cell_names_column_row_and_value() {
        let c = col("tenure", &[Some("1"), Some("2"), Some("ten")]);
        let err = to_numeric(&c, 100).unwrap_err().to_string();
        assert!(
            err.contains("'tenure'") && err.contains("row 103") && err.contains("\"ten\""),
            "{err}"
        );
        let c = col("x", &[Some("inf")]);
        assert!(
            to_numeric(&c, 0)
                .unwrap_err()
                .to_string()
                .contains("infinite")
        );
    }

    #[test]
    fn non_finite_numbers_one_rule_for_floats_and_text() {
        // Float columns (Parquet, Python frames): NaN of either sign is missing.
        for dtype in [DataType::Float64, DataType::Float32] {
            let c = Column::new(
                "x".into(),
                &[Some(1.5), Some(f64::NAN), None, Some(-f64::NAN)],
            )
            .cast(&dtype)
            .unwrap();
            let v: Vec<Option<f64>> = to_numeric(&c, 0).unwrap().iter().collect();
            assert_eq!(v, vec![Some(1.5), None, None, None], "{dtype}");
            // The same column read as a category: NaN is blank there too.
            let text = to_text(&c).unwrap();
            let t: Vec<Option<&str>> = text.iter().collect();
            assert_eq!(t, vec![Some("1.5"), None, None, None]);
        }
        // Infinities are refused naming the column, the file row and the value, as in text.
        for (inf, shown) in [(f64::INFINITY, "inf"), (f64::NEG_INFINITY, "-inf")] {
            let c = Column::new("MonthlyCharges".into(), &[1.0, 2.0, inf]);
            let e = to_numeric(&c, 10).unwrap_err().to_string();
            assert_eq!(
                e,
                format!("column 'MonthlyCharges', row 13: {INFINITE} (value \"{shown}\")")
            );
            let t = Column::new("MonthlyCharges".into(), &["1", "2", shown]);
            assert_eq!(to_numeric(&t, 10).unwrap_err().to_string(), e);
        }
        for text in ["NaN", "nan", "-nan", " NAN "] {
            assert_eq!(numeric_cell(text), Ok(None), "{text}");
        }
        for text in ["inf", "-inf", "+Infinity", "INF"] {
            assert_eq!(numeric_cell(text), Err(INFINITE), "{text}");
        }
        // Integer columns are untouched.
        let c = Column::new("n".into(), &[1i64, 2]);
        assert_eq!(to_numeric(&c, 0).unwrap().get(1), Some(2.0));
    }

    #[test]
    fn text_is_trimmed_and_blank_is_null() {
        let c = col("c", &[Some(" Yes "), Some(""), Some("   "), Some("No")]);
        let t = to_text(&c).unwrap();
        let v: Vec<Option<&str>> = t.iter().collect();
        assert_eq!(v, vec![Some("Yes"), None, None, Some("No")]);
        let f = Column::new("f".into(), &[1.0f64, 2.5]);
        let t = to_text(&f).unwrap();
        assert_eq!(t.get(0), Some("1"));
        assert_eq!(t.get(1), Some("2.5"));
    }

    #[test]
    fn target_mapping_and_errors() {
        let c = col("Churn", &[Some("Yes"), Some("No ")]);
        assert_eq!(to_target(&c, "Yes", "No", 0).unwrap(), vec![true, false]);
        let c = col("Churn", &[Some("Yes"), None]);
        let err = to_target(&c, "Yes", "No", 0).unwrap_err().to_string();
        assert!(err.contains("row 2") && err.contains("blank"), "{err}");
        let c = col("Churn", &[Some("Maybe")]);
        let err = to_target(&c, "Yes", "No", 0).unwrap_err().to_string();
        assert!(err.contains("\"Maybe\""), "{err}");
    }

    #[test]
    fn labels_differing_in_case_are_one_label() {
        let c = col(
            "Churn",
            &[
                Some("TRUE"),
                Some("True"),
                Some(" false"),
                Some("FALSE"),
                Some("True"),
            ],
        );
        let labels = label_values(&to_text(&c).unwrap());
        assert_eq!(labels, ["FALSE", "True"]);
        assert_eq!(
            to_target(&c, "True", "FALSE", 0).unwrap(),
            [true, true, false, false, true]
        );
        // A pair that differs only in case (an old model's) is compared exactly.
        let c = col("Churn", &[Some("Y"), Some("y")]);
        assert_eq!(to_target(&c, "Y", "y", 0).unwrap(), [true, false]);
    }
}
