//! Derived features declared in a small TOML spec file, e.g.
//!
//! ```toml
//! [[feature]]
//! name = "avg_monthly_charge"
//! kind = "ratio"
//! numerator = "TotalCharges"
//! denominator = "tenure"
//! ```
//!
//! Kinds: `ratio`, `difference`, `log1p`, `bucket` (numeric → categorical), `count_of_value`
//! (how many of several columns equal a value) and `map` (categorical levels → numbers).
//! Each is validated against the table's schema before training.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Role;
use crate::error::excerpt as shown;
use crate::error::{Error, Result};
use crate::model::shown_number;

/// One derived feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DerivedFeature {
    /// `numerator / denominator`; null when the denominator is zero or either side is null.
    Ratio {
        /// Name of the new column.
        name: String,
        /// Numeric column on top.
        numerator: String,
        /// Numeric column below.
        denominator: String,
    },
    /// `left - right`.
    Difference {
        /// Name of the new column.
        name: String,
        /// Numeric column.
        left: String,
        /// Numeric column subtracted.
        right: String,
    },
    /// `ln(1 + x)`; null for x ≤ -1.
    Log1p {
        /// Name of the new column.
        name: String,
        /// Numeric column.
        column: String,
    },
    /// A categorical column of ranges cut at `edges` (ascending): `<e0`, `e0..e1`, …, `>=en`.
    Bucket {
        /// Name of the new column.
        name: String,
        /// Numeric column.
        column: String,
        /// Cut points, strictly ascending.
        edges: Vec<f64>,
    },
    /// How many of `columns` equal `value` (a number).
    CountOfValue {
        /// Name of the new column.
        name: String,
        /// Categorical columns.
        columns: Vec<String>,
        /// The level counted.
        value: String,
    },
    /// A number per level of a categorical column; unlisted levels give null (then imputed).
    Map {
        /// Name of the new column.
        name: String,
        /// Categorical column.
        column: String,
        /// Level → number.
        values: BTreeMap<String, f64>,
    },
}

impl DerivedFeature {
    /// Name of the column it creates.
    pub fn name(&self) -> &str {
        match self {
            DerivedFeature::Ratio { name, .. }
            | DerivedFeature::Difference { name, .. }
            | DerivedFeature::Log1p { name, .. }
            | DerivedFeature::Bucket { name, .. }
            | DerivedFeature::CountOfValue { name, .. }
            | DerivedFeature::Map { name, .. } => name,
        }
    }

    /// Role of the column it creates.
    pub fn role(&self) -> Role {
        match self {
            DerivedFeature::Bucket { .. } => Role::Categorical,
            _ => Role::Numeric,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            DerivedFeature::Ratio { .. } => "ratio",
            DerivedFeature::Difference { .. } => "difference",
            DerivedFeature::Log1p { .. } => "log1p",
            DerivedFeature::Bucket { .. } => "bucket",
            DerivedFeature::CountOfValue { .. } => "count_of_value",
            DerivedFeature::Map { .. } => "map",
        }
    }

    /// Source columns with the role each must have.
    fn inputs(&self) -> Vec<(&str, Role)> {
        match self {
            DerivedFeature::Ratio {
                numerator,
                denominator,
                ..
            } => vec![(numerator, Role::Numeric), (denominator, Role::Numeric)],
            DerivedFeature::Difference { left, right, .. } => {
                vec![(left, Role::Numeric), (right, Role::Numeric)]
            }
            DerivedFeature::Log1p { column, .. } | DerivedFeature::Bucket { column, .. } => {
                vec![(column, Role::Numeric)]
            }
            DerivedFeature::CountOfValue { columns, .. } => columns
                .iter()
                .map(|c| (c.as_str(), Role::Categorical))
                .collect(),
            DerivedFeature::Map { column, .. } => vec![(column, Role::Categorical)],
        }
    }
}

/// The contents of a feature spec file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// The derived features, computed in order (a feature may use an earlier one).
    #[serde(default, rename = "feature")]
    pub features: Vec<DerivedFeature>,
}

impl FeatureSpec {
    /// Reads a spec file.
    ///
    /// # Errors
    /// [`Error::Io`] when unreadable, [`Error::FeatureSpec`] when it is not a valid spec.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses spec text; `origin` names it in errors.
    ///
    /// # Errors
    /// [`Error::FeatureSpec`] when it is not valid TOML or not a valid spec.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::FeatureSpec {
            path: origin.to_string(),
            reason: e.to_string().trim().replace('\n', " "),
        })
    }

    /// Checks every feature against the columns' roles (`role_of` answers for source columns).
    /// Returns the new columns with their roles, in order.
    ///
    /// # Errors
    /// [`Error::FeatureSpec`] naming the feature and the column that does not fit.
    pub fn validate(
        &self,
        origin: &str,
        role_of: impl Fn(&str) -> Option<Role>,
    ) -> Result<Vec<(String, Role)>> {
        let mut added: Vec<(String, Role)> = Vec::new();
        // Roles of the features added so far, looked up by name (a spec may be long).
        let mut added_roles: HashMap<&str, Role> = HashMap::new();
        let err = |f: &DerivedFeature, reason: String| Error::FeatureSpec {
            path: origin.to_string(),
            reason: format!("feature '{}' ({}): {reason}", shown(f.name()), f.kind()),
        };
        for f in &self.features {
            if f.name().trim().is_empty() {
                return Err(err(f, "the name is empty".into()));
            }
            if role_of(f.name()).is_some() || added_roles.contains_key(f.name()) {
                return Err(err(f, "a column with this name already exists".into()));
            }
            for (column, wanted) in f.inputs() {
                let role = added_roles.get(column).copied().or_else(|| role_of(column));
                let column = shown(column);
                match role {
                    None => return Err(err(f, format!("column '{column}' is not in the table"))),
                    Some(r) if r != wanted => {
                        return Err(err(
                            f,
                            format!(
                                "column '{column}' is {}, but {} needs a {} column",
                                r.as_str(),
                                f.kind(),
                                wanted.as_str()
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
            match f {
                DerivedFeature::Bucket { edges, .. } => {
                    if edges.is_empty() || edges.windows(2).any(|w| w[0] >= w[1]) {
                        return Err(err(
                            f,
                            "edges must be one or more strictly ascending numbers".into(),
                        ));
                    }
                    if edges.iter().any(|e| !e.is_finite()) {
                        return Err(err(f, "edges must be finite".into()));
                    }
                }
                DerivedFeature::CountOfValue { columns, .. } if columns.is_empty() => {
                    return Err(err(f, "columns is empty".into()));
                }
                DerivedFeature::Map { values, .. } => {
                    if values.is_empty() {
                        return Err(err(f, "values is empty".into()));
                    }
                    if let Some((level, v)) = values.iter().find(|(_, v)| !v.is_finite()) {
                        return Err(err(
                            f,
                            format!(
                                "the value {} of level '{}' is not finite",
                                shown_number(*v),
                                shown(level)
                            ),
                        ));
                    }
                }
                _ => {}
            }
            added_roles.insert(f.name(), f.role());
            added.push((f.name().to_string(), f.role()));
        }
        Ok(added)
    }

    /// Adds the derived columns to a frame whose source columns are typed (numeric `f64`,
    /// categorical text).
    ///
    /// # Errors
    /// [`Error::Polars`] when a source column is missing or mistyped (prevented by `validate`).
    pub fn apply(&self, frame: &mut DataFrame) -> Result<()> {
        for f in &self.features {
            let name: PlSmallStr = f.name().into();
            let column = match f {
                DerivedFeature::Ratio {
                    numerator,
                    denominator,
                    ..
                } => {
                    let (a, b) = (num(frame, numerator)?, num(frame, denominator)?);
                    binary(name, &a, &b, ratio)
                }
                DerivedFeature::Difference { left, right, .. } => {
                    let (a, b) = (num(frame, left)?, num(frame, right)?);
                    binary(name, &a, &b, difference)
                }
                DerivedFeature::Log1p { column, .. } => {
                    let a = num(frame, column)?;
                    Float64Chunked::from_iter_options(name, a.iter().map(|v| v.and_then(log1p)))
                        .into_column()
                }
                DerivedFeature::Bucket { column, edges, .. } => {
                    let a = num(frame, column)?;
                    let labels = bucket_labels(edges);
                    StringChunked::from_iter_options(
                        name,
                        a.iter()
                            .map(|v| v.map(|x| labels[bucket_index(edges, x)].as_str())),
                    )
                    .into_column()
                }
                DerivedFeature::CountOfValue { columns, value, .. } => {
                    let mut counts = vec![0.0f64; frame.height()];
                    for c in columns {
                        let text = frame.column(c)?.str()?;
                        for (count, cell) in counts.iter_mut().zip(text.iter()) {
                            if cell == Some(value.as_str()) {
                                *count += 1.0;
                            }
                        }
                    }
                    Float64Chunked::from_vec(name, counts).into_column()
                }
                DerivedFeature::Map { column, values, .. } => {
                    let text = frame.column(column)?.str()?.clone();
                    Float64Chunked::from_iter_options(
                        name,
                        text.iter().map(|v| v.and_then(|s| values.get(s).copied())),
                    )
                    .into_column()
                }
            };
            frame.with_column(column)?;
        }
        Ok(())
    }
}

fn num(frame: &DataFrame, name: &str) -> Result<Float64Chunked> {
    Ok(frame.column(name)?.f64()?.clone())
}

fn binary(
    name: PlSmallStr,
    a: &Float64Chunked,
    b: &Float64Chunked,
    op: fn(Option<f64>, Option<f64>) -> Option<f64>,
) -> Column {
    Float64Chunked::from_iter_options(name, a.iter().zip(b.iter()).map(|(x, y)| op(x, y)))
        .into_column()
}

// The value of each kind for one row: shared by frames ([`FeatureSpec::apply`]) and single rows
// ([`crate::features::RowEncoder`]), so both compute exactly the same numbers.

/// `x / y`; null when either is null, `y` is zero or the result is not finite.
pub(crate) fn ratio(x: Option<f64>, y: Option<f64>) -> Option<f64> {
    match (x, y) {
        (Some(x), Some(y)) if y != 0.0 => Some(x / y).filter(|v| v.is_finite()),
        _ => None,
    }
}

/// `x - y`; null when either is null or the result is not finite.
pub(crate) fn difference(x: Option<f64>, y: Option<f64>) -> Option<f64> {
    match (x, y) {
        (Some(x), Some(y)) => Some(x - y).filter(|v| v.is_finite()),
        _ => None,
    }
}

/// `ln(1 + x)`; null for x ≤ -1.
pub(crate) fn log1p(x: f64) -> Option<f64> {
    (x > -1.0).then(|| x.ln_1p())
}

/// Index of the [`bucket_labels`] entry `x` falls in.
pub(crate) fn bucket_index(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|e| *e <= x)
}

/// Level names of a bucketed column: `<e0`, `e0..e1`, …, `>=en`.
pub fn bucket_labels(edges: &[f64]) -> Vec<String> {
    let f = crate::data::clean::format_number;
    let mut labels = Vec::with_capacity(edges.len() + 1);
    if let Some(first) = edges.first() {
        labels.push(format!("<{}", f(*first)));
    }
    for w in edges.windows(2) {
        labels.push(format!("{}..{}", f(w[0]), f(w[1])));
    }
    if let Some(last) = edges.last() {
        labels.push(format!(">={}", f(*last)));
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
[[feature]]
name = "avg"
kind = "ratio"
numerator = "total"
denominator = "tenure"

[[feature]]
name = "cohort"
kind = "bucket"
column = "tenure"
edges = [12, 24]

[[feature]]
name = "addons"
kind = "count_of_value"
columns = ["a", "b"]
value = "Yes"

[[feature]]
name = "log_total"
kind = "log1p"
column = "total"

[[feature]]
name = "gap"
kind = "difference"
left = "total"
right = "avg"

[[feature]]
name = "months"
kind = "map"
column = "a"
values = { Yes = 1.0, No = 0.0 }
"#;

    fn roles(c: &str) -> Option<Role> {
        match c {
            "total" | "tenure" => Some(Role::Numeric),
            "a" | "b" => Some(Role::Categorical),
            _ => None,
        }
    }

    #[test]
    fn computes_every_kind() {
        let spec = FeatureSpec::parse(SPEC, "spec").unwrap();
        let added = spec.validate("spec", roles).unwrap();
        assert_eq!(added.len(), 6);
        assert_eq!(added[1], ("cohort".to_string(), Role::Categorical));
        let mut df = df!(
            "total" => [Some(100.0), Some(50.0), None],
            "tenure" => [10.0, 0.0, 30.0],
            "a" => [Some("Yes"), Some("No"), None],
            "b" => ["Yes", "Yes", "No"]
        )
        .unwrap();
        spec.apply(&mut df).unwrap();
        let get =
            |c: &str| -> Vec<Option<f64>> { df.column(c).unwrap().f64().unwrap().iter().collect() };
        assert_eq!(get("avg"), vec![Some(10.0), None, None]);
        assert_eq!(get("addons"), vec![Some(2.0), Some(1.0), Some(0.0)]);
        assert_eq!(get("gap"), vec![Some(90.0), None, None]);
        assert_eq!(get("months"), vec![Some(1.0), Some(0.0), None]);
        let lt = get("log_total");
        assert!((lt[0].unwrap() - 101f64.ln()).abs() < 1e-12);
        let cohort: Vec<Option<&str>> =
            df.column("cohort").unwrap().str().unwrap().iter().collect();
        assert_eq!(cohort, vec![Some("<12"), Some("<12"), Some(">=24")]);
        assert_eq!(bucket_labels(&[12.0, 24.0]), vec!["<12", "12..24", ">=24"]);
    }

    #[test]
    fn map_values_must_be_finite() {
        // TOML spells infinities; a map to one would put an infinite input into the model.
        let spec = FeatureSpec::parse(
            "[[feature]]\nname = \"m\"\nkind = \"map\"\ncolumn = \"a\"\nvalues = { Yes = inf, No = 0.0 }\n",
            "f.toml",
        )
        .unwrap();
        let e = spec.validate("f.toml", roles).unwrap_err().to_string();
        assert!(
            e.contains("feature 'm' (map): the value inf of level 'Yes' is not finite"),
            "{e}"
        );
    }

    #[test]
    fn validation_is_linear_in_the_features() {
        // 200,000 derived features, each reading the one before (as a crafted model file may
        // hold): comparing each with every earlier one made 2·10¹⁰ comparisons.
        let mut features = vec![DerivedFeature::Log1p {
            name: "f0".into(),
            column: "total".into(),
        }];
        for i in 1..200_000 {
            features.push(DerivedFeature::Log1p {
                name: format!("f{i}"),
                column: format!("f{}", i - 1),
            });
        }
        let added = FeatureSpec { features }.validate("spec", roles).unwrap();
        assert_eq!(added.len(), 200_000);
    }

    #[test]
    fn validation_names_the_feature_and_column() {
        let bad = "[[feature]]\nname = \"r\"\nkind = \"ratio\"\nnumerator = \"a\"\ndenominator = \"tenure\"\n";
        let e = FeatureSpec::parse(bad, "f.toml")
            .unwrap()
            .validate("f.toml", roles)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("feature 'r' (ratio): column 'a' is categorical"),
            "{e}"
        );
        let bad = "[[feature]]\nname = \"r\"\nkind = \"log1p\"\ncolumn = \"zzz\"\n";
        let e = FeatureSpec::parse(bad, "f.toml")
            .unwrap()
            .validate("f.toml", roles)
            .unwrap_err();
        assert!(e.to_string().contains("'zzz' is not in the table"), "{e}");
        let bad = "[[feature]]\nname = \"total\"\nkind = \"log1p\"\ncolumn = \"total\"\n";
        let e = FeatureSpec::parse(bad, "f.toml")
            .unwrap()
            .validate("f.toml", roles)
            .unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        let bad =
            "[[feature]]\nname = \"x\"\nkind = \"bucket\"\ncolumn = \"total\"\nedges = [3, 1]\n";
        let e = FeatureSpec::parse(bad, "f.toml")
            .unwrap()
            .validate("f.toml", roles)
            .unwrap_err();
        assert!(e.to_string().contains("ascending"), "{e}");
        let e = FeatureSpec::parse("[[feature]]\nname = \"x\"\nkind = \"cube\"\n", "f.toml")
            .unwrap_err();
        assert!(e.to_string().contains("f.toml"), "{e}");
        let e = FeatureSpec::parse(
            "[[feature]]\nname = \"x\"\nkind = \"log1p\"\ncolumn = \"total\"\ntypo = 1\n",
            "f.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("typo"), "{e}");
    }
}
