//! Column roles: which column is the id, which the target, which are numeric or categorical
//! inputs, which are ignored. Inferred from the data, overridable by the user, stored in the model.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, excerpt, mention};

/// What a column is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Identifies a customer; passed through to scores, never a feature.
    Id,
    /// The churn label the model learns.
    Target,
    /// A numeric input feature.
    Numeric,
    /// A categorical input feature (one-hot encoded).
    Categorical,
    /// Not used.
    Ignored,
}

impl Role {
    /// Lower-case name, as shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Id => "id",
            Role::Target => "target",
            Role::Numeric => "numeric",
            Role::Categorical => "categorical",
            Role::Ignored => "ignored",
        }
    }

    /// Whether the column feeds the model.
    pub fn is_feature(self) -> bool {
        matches!(self, Role::Numeric | Role::Categorical)
    }
}

/// One column and its role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnRole {
    /// Column name as in the file.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Why it has this role when it was inferred rather than given (shown by `inspect`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The roles of a table's columns, plus how the target's text maps to churn / no churn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Every column of the source table, in file order.
    pub columns: Vec<ColumnRole>,
    /// The target column's value that means "churned", when the schema has a target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positive_label: Option<String>,
    /// The target column's other value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_label: Option<String>,
}

impl Schema {
    /// The column with the given role, if exactly one such role exists (id, target).
    pub fn single(&self, role: Role) -> Option<&str> {
        self.columns
            .iter()
            .find(|c| c.role == role)
            .map(|c| c.name.as_str())
    }

    /// The target column name.
    pub fn target(&self) -> Option<&str> {
        self.single(Role::Target)
    }

    /// The id column name.
    pub fn id(&self) -> Option<&str> {
        self.single(Role::Id)
    }

    /// Names of the columns with the given role, in file order.
    pub fn names(&self, role: Role) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| c.role == role)
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Role of a column, if the schema knows it.
    pub fn role_of(&self, name: &str) -> Option<Role> {
        self.columns.iter().find(|c| c.name == name).map(|c| c.role)
    }

    /// Names of the feature columns (numeric and categorical), in file order.
    pub fn feature_names(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| c.role.is_feature())
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Checks a table's columns and their types, before any row is read: every feature (and,
    /// with `need_id`, the id) is present, and numeric inputs hold numbers or text. The check a
    /// cluster's driver runs on a table's declared schema, and the Python module on a frame's,
    /// so both refuse the same tables with the same message.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for the first missing column (in schema order) and
    /// [`Error::SchemaMismatch`] for a numeric input of another type (dates, lists…).
    pub fn check_columns(&self, columns: &[(String, ColumnKind)], need_id: bool) -> Result<()> {
        let available: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        for c in &self.columns {
            let kind = columns.iter().find(|(n, _)| *n == c.name).map(|(_, k)| k);
            match (c.role, kind) {
                (Role::Numeric | Role::Categorical, None) => {
                    return Err(Error::column_not_found(
                        c.name.clone(),
                        " in this table",
                        &available,
                    ));
                }
                (Role::Id, None) if need_id => {
                    return Err(Error::column_not_found(
                        c.name.clone(),
                        " (the model's id column) in this table",
                        &available,
                    ));
                }
                (Role::Numeric, Some(ColumnKind::Other(type_name))) => {
                    return Err(Error::SchemaMismatch(format!(
                        "column '{}' is a numeric input of the model, but the table's column holds {type_name} values; numbers (or text of numbers) are needed",
                        c.name
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// What a column holds, as far as its declared type tells (a frame's dtype, a Spark type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnKind {
    /// Integers, floats, decimals.
    Number,
    /// Text (cells are typed by their content).
    Text,
    /// True/false.
    Boolean,
    /// Anything else, by its type name (`date`, `list[i64]`…).
    Other(String),
}

impl ColumnKind {
    /// `number`, `text`, `boolean`, or any other type name.
    pub fn parse(name: &str) -> ColumnKind {
        match name {
            "number" => ColumnKind::Number,
            "text" => ColumnKind::Text,
            "boolean" => ColumnKind::Boolean,
            other => ColumnKind::Other(other.to_string()),
        }
    }
}

/// What the user says about the columns; everything left unsaid is inferred.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchemaOptions {
    /// Target column. Default: the first of `Churn`, `Churned`, `Exited`, `Attrition`, `Target`,
    /// `Label` (any case) present in the table.
    pub target: Option<String>,
    /// Id column. Default: a column named `id` or ending in `id` whose values are all distinct.
    pub id: Option<String>,
    /// Columns forced to be categorical.
    pub categorical: Vec<String>,
    /// Columns forced to be numeric (a non-numeric value is then an error).
    pub numeric: Vec<String>,
    /// Columns to leave out.
    pub ignore: Vec<String>,
    /// Target value meaning "churned". Default: recognised pairs Yes/No, True/False, 1/0, Y/N,
    /// Churned/Retained, any case.
    pub positive_label: Option<String>,
}

impl SchemaOptions {
    /// Empty options: infer everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the target column.
    pub fn target(mut self, name: impl Into<String>) -> Self {
        self.target = Some(name.into());
        self
    }

    /// Set the id column.
    pub fn id(mut self, name: impl Into<String>) -> Self {
        self.id = Some(name.into());
        self
    }

    /// Set the positive label.
    pub fn positive_label(mut self, label: impl Into<String>) -> Self {
        self.positive_label = Some(label.into());
        self
    }

    /// Checks that no column is given two roles and that every named column exists.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for a named column that is not in `available`, and
    /// [`Error::InvalidParameter`] for a column named in two role lists.
    pub fn check(&self, available: &[String]) -> Result<()> {
        let mut seen: Vec<(&str, &str)> = Vec::new();
        let lists: [(&str, Vec<&String>); 5] = [
            ("target", self.target.iter().collect()),
            ("id", self.id.iter().collect()),
            ("categorical", self.categorical.iter().collect()),
            ("numeric", self.numeric.iter().collect()),
            ("ignore", self.ignore.iter().collect()),
        ];
        for (field, names) in lists {
            for name in names {
                if !available.iter().any(|a| a == name) {
                    return Err(Error::column_not_found(
                        name.clone(),
                        format!(" (named by {})", mention(field)),
                        available,
                    ));
                }
                if let Some((_, other)) = seen.iter().find(|(n, _)| *n == name.as_str()) {
                    return Err(Error::param(
                        field,
                        format!(
                            "column '{name}' is already given by {}; a column has one role",
                            mention(other)
                        ),
                    ));
                }
                seen.push((name.as_str(), field));
            }
        }
        Ok(())
    }
}

/// A target label or a column name as compared: trimmed and case-folded (`" TRUE "` and `True`
/// are one label; `Churn` and `churn` one name). Borrowed when already folded.
pub fn fold(text: &str) -> Cow<'_, str> {
    let text = text.trim();
    if text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.to_lowercase())
    }
}

/// Recognised (positive, negative) label pairs, compared case-insensitively.
pub(crate) const LABEL_PAIRS: &[(&str, &str)] = &[
    ("yes", "no"),
    ("true", "false"),
    ("1", "0"),
    ("1.0", "0.0"),
    ("y", "n"),
    ("t", "f"),
    ("churned", "retained"),
    ("churn", "no churn"),
    ("churned", "stayed"),
    ("exited", "stayed"),
];

/// Default target candidates, compared case-insensitively.
pub(crate) const TARGET_CANDIDATES: &[&str] =
    &["churn", "churned", "exited", "attrition", "target", "label"];

/// Decide which of the two observed target values is the positive one. `values` are the
/// column's distinct labels after trimming and case-folding (one spelling each, see
/// [`super::clean::label_values`]); `given` is compared the same way.
///
/// # Errors
/// [`Error::InvalidData`] when there are not exactly two values, and [`Error::InvalidParameter`]
/// when `given` is not one of them or the pair is not a recognised one.
pub(crate) fn resolve_labels(
    column: &str,
    values: &[String],
    given: Option<&str>,
) -> Result<(String, String)> {
    let column = excerpt(column);
    match values {
        [] => Err(Error::InvalidData(format!(
            "target column '{column}' has no values"
        ))),
        [only] => Err(Error::InvalidData(format!(
            "target column '{column}' has a single class ({:?}): a churn model needs both churned and retained customers",
            excerpt(only)
        ))),
        [a, b] => {
            let (la, lb) = (fold(a), fold(b));
            if let Some(pos) = given {
                let lp = fold(pos);
                return if lp == la {
                    Ok((a.clone(), b.clone()))
                } else if lp == lb {
                    Ok((b.clone(), a.clone()))
                } else {
                    Err(Error::param(
                        "positive_label",
                        format!(
                            "{:?} is not a value of target column '{column}' (its values are {:?} and {:?}, in any case)",
                            excerpt(pos),
                            excerpt(a),
                            excerpt(b)
                        ),
                    ))
                };
            }
            for (p, n) in LABEL_PAIRS {
                if la == *p && lb == *n {
                    return Ok((a.clone(), b.clone()));
                }
                if lb == *p && la == *n {
                    return Ok((b.clone(), a.clone()));
                }
            }
            Err(Error::param(
                "positive_label",
                format!(
                    "cannot tell which value of target column '{column}' means churn ({:?} or {:?}); name it with {}",
                    excerpt(a),
                    excerpt(b),
                    mention("positive_label")
                ),
            ))
        }
        more => Err(Error::InvalidData(format!(
            "target column '{column}' has {} distinct values ({}); a churn target has exactly two (compared in any case)",
            more.len(),
            more.iter()
                .take(5)
                .map(|v| format!("{:?}", excerpt(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn recognised_pairs_either_order_and_case() {
        assert_eq!(
            resolve_labels("c", &s(&["No", "Yes"]), None).unwrap(),
            ("Yes".into(), "No".into())
        );
        assert_eq!(
            resolve_labels("c", &s(&["TRUE", "false"]), None).unwrap(),
            ("TRUE".into(), "false".into())
        );
        assert_eq!(
            resolve_labels("c", &s(&["0", "1"]), None).unwrap(),
            ("1".into(), "0".into())
        );
    }

    #[test]
    fn named_positive_label_and_refusals() {
        assert_eq!(
            resolve_labels("c", &s(&["gone", "here"]), Some("gone")).unwrap(),
            ("gone".into(), "here".into())
        );
        let err = resolve_labels("c", &s(&["gone", "here"]), None).unwrap_err();
        assert!(err.to_string().contains("`positive_label`"), "{err}");
        let err = resolve_labels("c", &s(&["a", "b"]), Some("x")).unwrap_err();
        assert!(err.to_string().contains("\"x\" is not a value"), "{err}");
        let err = resolve_labels("Churn", &s(&["No"]), None).unwrap_err();
        assert!(err.to_string().contains("single class"), "{err}");
        let err = resolve_labels("Churn", &s(&["a", "b", "c"]), None).unwrap_err();
        assert!(err.to_string().contains("3 distinct values"), "{err}");
    }

    #[test]
    fn labels_and_the_named_positive_label_match_in_any_case() {
        assert_eq!(
            resolve_labels("c", &s(&["FALSE", "True"]), None).unwrap(),
            ("True".into(), "FALSE".into())
        );
        assert_eq!(
            resolve_labels("c", &s(&["Gone", "here"]), Some(" gone ")).unwrap(),
            ("Gone".into(), "here".into())
        );
        assert_eq!(fold(" TRUE "), "true");
        assert_eq!(fold("ÄB"), "äb");
        assert!(matches!(fold("yes"), Cow::Borrowed("yes")));
    }

    #[test]
    fn options_refuse_double_roles_and_unknown_columns() {
        let cols = s(&["a", "b"]);
        let opts = SchemaOptions {
            numeric: vec!["a".into()],
            ignore: vec!["a".into()],
            ..Default::default()
        };
        assert!(
            opts.check(&cols)
                .unwrap_err()
                .to_string()
                .contains("one role")
        );
        let opts = SchemaOptions::new().target("zzz");
        let err = opts.check(&cols).unwrap_err().to_string();
        assert!(
            err.contains("'zzz' not found") && err.contains("a, b"),
            "{err}"
        );
    }

    fn telco_like_schema() -> Schema {
        let role = |name: &str, role: Role| ColumnRole {
            name: name.into(),
            role,
            note: None,
        };
        Schema {
            columns: vec![
                role("id", Role::Id),
                role("tenure", Role::Numeric),
                role("plan", Role::Categorical),
                role("Churn", Role::Target),
            ],
            positive_label: Some("Yes".into()),
            negative_label: Some("No".into()),
        }
    }

    #[test]
    fn column_check_names_the_first_missing_column_and_wrong_numeric_types() {
        let cols = |kinds: &[(&str, ColumnKind)]| -> Vec<(String, ColumnKind)> {
            kinds
                .iter()
                .map(|(n, k)| (n.to_string(), k.clone()))
                .collect()
        };
        let s = telco_like_schema();
        let ok = cols(&[
            ("id", ColumnKind::Number),
            ("tenure", ColumnKind::Text),
            ("plan", ColumnKind::Other("date".into())),
        ]);
        assert!(s.check_columns(&ok, true).is_ok());
        let no_id = cols(&[("tenure", ColumnKind::Number), ("plan", ColumnKind::Text)]);
        assert!(s.check_columns(&no_id, false).is_ok());
        let e = s.check_columns(&no_id, true).unwrap_err().to_string();
        assert!(e.contains("'id'") && e.contains("id column"), "{e}");
        let e = s
            .check_columns(&cols(&[("id", ColumnKind::Text)]), true)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("column 'tenure' not found"), "{e}");
        let dated = cols(&[
            ("id", ColumnKind::Text),
            ("tenure", ColumnKind::parse("date")),
            ("plan", ColumnKind::Text),
        ]);
        let e = s.check_columns(&dated, true).unwrap_err();
        assert!(matches!(e, Error::SchemaMismatch(_)), "{e}");
        assert!(e.to_string().contains("'tenure'") && e.to_string().contains("date"));
        assert_eq!(ColumnKind::parse("number"), ColumnKind::Number);
    }
}
