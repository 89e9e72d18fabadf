//! Customer tables: reading, column roles, cleaning.
//!
//! A [`Dataset`] is a table whose columns have been given roles ([`Schema`]) and typed: numeric
//! features as `f64`, categorical features and the id as trimmed text (blank = null), and the target
//! as churned / not churned.

pub mod clean;
pub mod csv;
pub mod io;
mod parquet;
pub mod schema;

use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;

pub use io::{
    Format, RawTable, TableBatches, TableSink, read_table, read_table_columns, with_file_columns,
    write_table,
};
pub use schema::{ColumnKind, ColumnRole, Role, Schema, SchemaOptions};

use crate::error::{Error, Result, excerpt, mention, name_list};

/// A categorical column with more distinct values than this (and than half its rows) is taken for
/// free text or an identifier and ignored unless the user declares it categorical.
const MAX_INFERRED_LEVELS: usize = 50;

/// A table with roles applied and cells typed.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The id column (text) and the feature columns (numeric as `f64`, categorical as text), in
    /// file order. The target is held in [`Dataset::target`], not here.
    pub frame: DataFrame,
    /// Churned (`true`) or not, one per row, when the table has the target column.
    pub target: Option<Vec<bool>>,
    /// The roles of the source columns.
    pub schema: Schema,
    /// Things the user should know (duplicate ids, ignored columns); the library never prints.
    pub warnings: Vec<String>,
    /// SHA-256 of the source file, when read from one.
    pub sha256: Option<String>,
}

impl Dataset {
    /// Reads a file and infers its schema, honouring `options`.
    ///
    /// # Errors
    /// Everything [`read_table`] and [`Dataset::infer`] refuse.
    pub fn load(path: &Path, options: &SchemaOptions) -> Result<Self> {
        let raw = read_table(path)?;
        // Parquet columns of types that are not read (lists, structs…) are left out of the
        // frame: ignoring one is a no-op, giving one another role is refused with its type.
        let present: PlHashSet<&str> = raw
            .frame
            .get_column_names()
            .into_iter()
            .map(|n| n.as_str())
            .collect();
        let left_out =
            |name: &String| !present.contains(name.as_str()) && raw.columns.contains(name);
        let mut options = options.clone();
        options.ignore.retain(|n| !left_out(n));
        let roles = options.target.iter().chain(&options.id);
        for name in roles.chain(&options.categorical).chain(&options.numeric) {
            if left_out(name) {
                let quoted = format!("'{name}'");
                let note = raw.notes.iter().find(|n| n.contains(&quoted));
                return Err(Error::InvalidData(format!(
                    "{}; it cannot be given a role",
                    note.map_or_else(|| format!("column {quoted} was not read"), String::clone)
                )));
            }
        }
        let mut ds = Dataset::infer(&raw.frame, &options)?;
        ds.sha256 = Some(raw.sha256);
        ds.warnings.splice(0..0, raw.notes);
        Ok(ds)
    }

    /// Number of rows.
    pub fn height(&self) -> usize {
        self.frame.height()
    }

    /// Infers column roles for training and types the cells.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for a named column that is absent, [`Error::InvalidData`] for no
    /// target, a single-class target or an all-null feature column, [`Error::InvalidValue`] for a
    /// non-numeric cell in a column declared numeric or a blank/unknown target label.
    pub fn infer(raw: &DataFrame, options: &SchemaOptions) -> Result<Self> {
        if raw.height() == 0 {
            return Err(Error::InvalidData("the table has no rows".into()));
        }
        let names = column_names(raw);
        options.check(&names)?;
        let target = match target_column(&names, options)? {
            Some(t) => t,
            None => {
                return Err(Error::InvalidData(format!(
                    "no target column: name it with {} (looked for {}; columns are {})",
                    mention("target"),
                    schema::TARGET_CANDIDATES.join(", "),
                    name_list(&names)
                )));
            }
        };
        let id = resolve_id(raw, &names, &target, options)?;

        // Columns are judged and typed independently: in parallel, kept in file order.
        let judged: Vec<(ColumnRole, Option<Column>, Option<String>)> = names
            .par_iter()
            .map(
                |name| -> Result<(ColumnRole, Option<Column>, Option<String>)> {
                    let column = raw.column(name)?;
                    let listed = |list: &[String]| list.iter().any(|n| n == name);
                    let (role, note) = decide_role(column, Some(&target), id.as_deref(), options)?;
                    let mut warning = None;
                    let typed = match role {
                        Role::Numeric => {
                            let values = clean::to_numeric(column, 0)?;
                            refuse_all_null(name, values.null_count(), values.len())?;
                            Some(values.into_column())
                        }
                        Role::Categorical => {
                            let values = clean::to_text(column)?;
                            refuse_all_null(name, values.null_count(), values.len())?;
                            Some(values.into_column())
                        }
                        Role::Id => {
                            let values = clean::to_text(column)?;
                            // An inferred id is all distinct already (that is how it was found).
                            if options.id.is_some() {
                                warning = duplicate_id_warning(name, values.iter());
                            }
                            Some(values.into_column())
                        }
                        Role::Ignored => {
                            if let (Some(n), false) = (&note, listed(&options.ignore)) {
                                warning = Some(format!("column '{name}' ignored: {n}"));
                            }
                            None
                        }
                        Role::Target => None,
                    };
                    let role = ColumnRole {
                        name: name.clone(),
                        role,
                        note,
                    };
                    Ok((role, typed, warning))
                },
            )
            .collect::<Result<_>>()?;
        let mut warnings = Vec::new();
        let mut roles = Vec::with_capacity(names.len());
        let mut columns: Vec<Column> = Vec::new();
        for (role, typed, warning) in judged {
            roles.push(role);
            columns.extend(typed);
            warnings.extend(warning);
        }

        let target_column = raw.column(&target)?;
        let labels = clean::label_values(&clean::to_text(target_column)?);
        let (positive, negative) =
            schema::resolve_labels(&target, &labels, options.positive_label.as_deref())?;
        let y = clean::to_target(target_column, &positive, &negative, 0)?;
        let schema = Schema {
            columns: roles,
            positive_label: Some(positive),
            negative_label: Some(negative),
        };
        if schema.feature_names().is_empty() {
            return Err(Error::InvalidData(
                "no feature columns left: every column is the target, the id or ignored".into(),
            ));
        }
        Ok(Dataset {
            frame: DataFrame::new(raw.height(), columns)?,
            target: Some(y),
            schema,
            warnings,
            sha256: None,
        })
    }

    /// Applies a known schema (a trained model's) to a raw table, e.g. a batch to score.
    /// `first_row` is the 0-based file row of the frame's first row, for error messages.
    /// With `need_target` the target column must be present and labelled.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for a missing feature column (or missing target with
    /// `need_target`), [`Error::InvalidValue`] for a non-numeric cell in a numeric column or an
    /// unknown target label.
    pub fn with_schema(
        raw: &DataFrame,
        schema: &Schema,
        first_row: usize,
        need_target: bool,
    ) -> Result<Self> {
        let available = column_names(raw);
        let mut columns = Vec::new();
        let mut target = None;
        let mut warnings = Vec::new();
        for c in &schema.columns {
            let present = available.contains(&c.name);
            let missing = || Error::column_not_found(c.name.clone(), " in this table", &available);
            match c.role {
                Role::Numeric => {
                    let col = raw.column(&c.name).map_err(|_| missing())?;
                    columns.push(clean::to_numeric(col, first_row)?.into_column());
                }
                Role::Categorical => {
                    let col = raw.column(&c.name).map_err(|_| missing())?;
                    columns.push(clean::to_text(col)?.into_column());
                }
                Role::Id => {
                    if present {
                        let values = clean::to_text(raw.column(&c.name)?)?;
                        if let Some(w) = duplicate_id_warning(&c.name, values.iter()) {
                            warnings.push(w);
                        }
                        columns.push(values.into_column());
                    }
                }
                Role::Target => {
                    if need_target && !present {
                        return Err(missing());
                    }
                    if present {
                        let (Some(pos), Some(neg)) =
                            (&schema.positive_label, &schema.negative_label)
                        else {
                            return Err(Error::SchemaMismatch(
                                "the schema has a target but no labels".into(),
                            ));
                        };
                        let col = raw.column(&c.name)?;
                        match clean::to_target(col, pos, neg, first_row) {
                            Ok(y) => target = Some(y),
                            Err(e) if need_target => return Err(e),
                            Err(_) => {}
                        }
                    }
                }
                Role::Ignored => {}
            }
        }
        Ok(Dataset {
            frame: DataFrame::new(raw.height(), columns)?,
            target,
            schema: schema.clone(),
            warnings,
            sha256: None,
        })
    }

    /// The id column as text, when the schema has one and the table carries it.
    pub fn ids(&self) -> Option<&StringChunked> {
        let id = self.schema.id()?;
        self.frame.column(id).ok()?.str().ok()
    }
}

/// Rows [`infer_schema`] looks at: roles are a property of a column, not of every cell.
pub const INFERENCE_ROWS: usize = 20_000;

/// Infers the roles of a table's columns without typing them, for tables that need not carry a
/// target (drift monitoring compares inputs). The target is the named or recognised one, if
/// present. Larger tables are judged on [`INFERENCE_ROWS`] evenly spaced rows; columns are
/// examined in parallel.
///
/// # Errors
/// [`Error::ColumnNotFound`] for a named column that is absent, [`Error::InvalidData`] for an
/// empty table or an all-null column, [`Error::InvalidValue`] for a numeric-looking column with a
/// stray word.
pub fn infer_schema(raw: &DataFrame, options: &SchemaOptions) -> Result<Schema> {
    if raw.height() == 0 {
        return Err(Error::InvalidData("the table has no rows".into()));
    }
    let sample;
    let raw = if raw.height() > INFERENCE_ROWS {
        let step = raw.height() as f64 / INFERENCE_ROWS as f64;
        let idx: Vec<IdxSize> = (0..INFERENCE_ROWS)
            .map(|i| (i as f64 * step) as IdxSize)
            .collect();
        sample = raw.take(&IdxCa::from_vec("row".into(), idx))?;
        &sample
    } else {
        raw
    };
    let names = column_names(raw);
    options.check(&names)?;
    let target = target_column(&names, options)?;
    let id = resolve_id(raw, &names, target.as_deref().unwrap_or_default(), options)?;
    let columns = names
        .par_iter()
        .map(|name| {
            let (role, note) =
                decide_role(raw.column(name)?, target.as_deref(), id.as_deref(), options)?;
            Ok(ColumnRole {
                name: name.clone(),
                role,
                note,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Schema {
        columns,
        positive_label: None,
        negative_label: None,
    })
}

/// The target column: the one named in `options`, else the first recognised name present.
///
/// # Errors
/// [`Error::InvalidData`] when another column has the same name in another case (see
/// [`refuse_case_twins`]).
fn target_column(names: &[String], options: &SchemaOptions) -> Result<Option<String>> {
    let target = options.target.clone().or_else(|| {
        names
            .iter()
            .find(|n| {
                schema::TARGET_CANDIDATES
                    .iter()
                    .any(|c| n.eq_ignore_ascii_case(c))
            })
            .cloned()
    });
    if let Some(t) = &target {
        refuse_case_twins("target", t, names, options)?;
    }
    Ok(target)
}

/// The id column: the one named in `options`, else an inferred one ([`infer_id`]).
///
/// # Errors
/// [`Error::InvalidData`] when another column has the same name in another case.
fn resolve_id(
    raw: &DataFrame,
    names: &[String],
    target: &str,
    options: &SchemaOptions,
) -> Result<Option<String>> {
    let id = match &options.id {
        Some(id) => Some(id.clone()),
        None => infer_id(raw, names, target)?,
    };
    if let Some(id) = &id {
        refuse_case_twins("id", id, names, options)?;
    }
    Ok(id)
}

/// Refuses a target or id column (`chosen`, given or inferred) when another column's name is the
/// same but for case or surrounding spaces (`Churn` and `churn`): picking one silently would make
/// the other a feature, the label itself among the inputs. A twin named by `--ignore` is the
/// user's answer and is allowed.
///
/// # Errors
/// [`Error::InvalidData`] naming both columns.
fn refuse_case_twins(
    role: &str,
    chosen: &str,
    names: &[String],
    options: &SchemaOptions,
) -> Result<()> {
    let key = schema::fold(chosen);
    let twin = names.iter().find(|n| {
        n.as_str() != chosen && schema::fold(n) == key && !options.ignore.iter().any(|i| i == *n)
    });
    match twin {
        None => Ok(()),
        Some(other) => {
            let (chosen, other) = (excerpt(chosen), excerpt(other));
            let (flag, ignore) = (mention(role), mention("ignore"));
            Err(Error::InvalidData(format!(
                "the {role} name matches two columns, '{chosen}' and '{other}' (names are compared in any case): rename one, or name the {role} with {flag} and pass {ignore} for the other"
            )))
        }
    }
}

/// The role of one column: the target and id as resolved, then the user's lists, then inference.
fn decide_role(
    column: &Column,
    target: Option<&str>,
    id: Option<&str>,
    options: &SchemaOptions,
) -> Result<(Role, Option<String>)> {
    let name = column.name().as_str();
    let listed = |list: &[String]| list.iter().any(|n| n == name);
    Ok(if Some(name) == target {
        (Role::Target, None)
    } else if Some(name) == id {
        (Role::Id, None)
    } else if listed(&options.ignore) {
        (
            Role::Ignored,
            Some(format!("ignored by {}", mention("ignore"))),
        )
    } else if listed(&options.numeric) {
        (Role::Numeric, None)
    } else if listed(&options.categorical) {
        (Role::Categorical, None)
    } else {
        infer_feature_role(column)?
    })
}

/// A frame's column names, as owned strings (for error messages that list them).
pub fn column_names(frame: &DataFrame) -> Vec<String> {
    frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect()
}

fn refuse_all_null(name: &str, nulls: usize, len: usize) -> Result<()> {
    if len > 0 && nulls == len {
        let name = excerpt(name);
        let ignore = mention("ignore");
        return Err(Error::InvalidData(format!(
            "column '{name}' has no values (all {len} cells are blank); remove it or pass {ignore} {name}"
        )));
    }
    Ok(())
}

/// An id column is one named `id` or ending in `id` (any case) whose values are all distinct.
fn infer_id(raw: &DataFrame, names: &[String], target: &str) -> Result<Option<String>> {
    for name in names {
        let lower = name.to_ascii_lowercase();
        if name == target || !(lower == "id" || lower.ends_with("id")) {
            continue;
        }
        let text = clean::to_text(raw.column(name)?)?;
        if text.null_count() == 0 && all_distinct(&text) {
            return Ok(Some(name.clone()));
        }
    }
    Ok(None)
}

/// Whether no cell repeats (stopping at the first repeat).
fn all_distinct(text: &StringChunked) -> bool {
    let mut seen: PlHashSet<&str> = PlHashSet::with_capacity(text.len());
    text.iter().flatten().all(|v| seen.insert(v))
}

/// Numeric when every non-blank cell is a number and there are more than two distinct values;
/// categorical otherwise; ignored when it looks like free text or a second identifier.
fn infer_feature_role(column: &Column) -> Result<(Role, Option<String>)> {
    let text = clean::to_text(column)?;
    let non_null = text.len() - text.null_count();
    if non_null == 0 {
        refuse_all_null(column.name(), text.len(), text.len())?;
        return Err(Error::InvalidData(format!(
            "column '{}' has no values",
            excerpt(column.name())
        )));
    }
    let numeric = column.dtype().is_primitive_numeric() || clean::to_numeric(column, 0).is_ok();
    if !numeric {
        refuse_mostly_numeric(column.name(), &text, non_null)?;
    }
    // Distinct non-null values: a number column needs only to know whether there are more than
    // two, a text column the exact count when it is small; a full count only beyond that.
    let cap = if numeric { 2 } else { MAX_INFERRED_LEVELS };
    let levels = match distinct_up_to(&text, cap) {
        Some(k) => k,
        None if numeric => cap + 1,
        None => text.n_unique()? - usize::from(text.null_count() > 0),
    };
    if numeric && levels > 2 {
        return Ok((Role::Numeric, Some("inferred: numeric values".into())));
    }
    if numeric {
        return Ok((
            Role::Categorical,
            Some(format!(
                "inferred: numeric with only {levels} distinct values, treated as a flag"
            )),
        ));
    }
    if levels > MAX_INFERRED_LEVELS && levels * 2 > non_null {
        return Ok((
            Role::Ignored,
            Some(format!(
                "{levels} distinct values in {non_null} rows looks like free text or an identifier; pass {} {} to use it",
                mention("categorical"),
                column.name()
            )),
        ));
    }
    Ok((
        Role::Categorical,
        Some(format!("inferred: text with {levels} levels")),
    ))
}

/// The number of distinct non-null cells if it is at most `cap`, else `None` (stopping at the
/// first cell past the cap).
fn distinct_up_to(text: &StringChunked, cap: usize) -> Option<usize> {
    let mut seen: Vec<&str> = Vec::with_capacity(cap + 1);
    for cell in text.iter().flatten() {
        if !seen.contains(&cell) {
            if seen.len() == cap {
                return None;
            }
            seen.push(cell);
        }
    }
    Some(seen.len())
}

/// A column whose cells are numbers but for a few (at most 1 %) is a numeric column with bad
/// cells, not a categorical one: refuse it, naming the first bad cell. Infinities are numbers
/// refused: a numeric column with any is refused, naming the first.
fn refuse_mostly_numeric(name: &str, text: &StringChunked, non_null: usize) -> Result<()> {
    let mut bad: Option<(usize, &str)> = None;
    let mut infinite: Option<(usize, &str)> = None;
    let mut n_bad = 0usize;
    let mut numbers = std::collections::HashSet::new();
    for (i, cell) in text.iter().enumerate() {
        let Some(cell) = cell else { continue };
        // The numeric-cell rule: NaN is blank, an infinity is a number refused.
        match clean::numeric_cell(cell) {
            Ok(Some(v)) => {
                numbers.insert(v.to_bits());
            }
            Ok(None) => {}
            Err(why) if why == clean::INFINITE => {
                infinite.get_or_insert((i, cell));
            }
            Err(_) => {
                n_bad += 1;
                bad.get_or_insert((i, cell));
                if n_bad * 100 > non_null {
                    return Ok(());
                }
            }
        }
    }
    if numbers.len() <= 2 {
        return Ok(());
    }
    let error = |(row, value): (usize, &str), reason: String| Error::InvalidValue {
        column: name.to_string(),
        row: row + 1,
        value: value.to_string(),
        reason,
    };
    match (infinite, bad) {
        (Some(inf), b) if b.is_none_or(|b| inf.0 < b.0) => Err(error(
            inf,
            format!(
                "{}; fix it, or pass {} {}",
                clean::INFINITE,
                mention("categorical"),
                excerpt(name)
            ),
        )),
        (_, Some(b)) => Err(error(
            b,
            format!(
                "the column looks numeric ({} of {non_null} values are numbers) but this cell is not; fix it, or pass {} {}",
                non_null - n_bad,
                mention("categorical"),
                excerpt(name)
            ),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn duplicate_id_warning<'a>(
    name: &str,
    ids: impl ExactSizeIterator<Item = Option<&'a str>>,
) -> Option<String> {
    let mut seen: PlHashMap<&str, usize> = PlHashMap::with_capacity(ids.len());
    for id in ids.flatten() {
        *seen.entry(id).or_default() += 1;
    }
    let mut dups: Vec<&str> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    if dups.is_empty() {
        return None;
    }
    dups.sort_unstable();
    Some(format!(
        "column '{}': {} id(s) appear more than once (e.g. {})",
        excerpt(name),
        dups.len(),
        dups.iter()
            .take(3)
            .map(|d| format!("{:?}", excerpt(d)))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

#[cfg(test)]
mod tests;
