//! Explanations: why the model gave each customer their score.
//!
//! Contributions are in log-odds and add up exactly to the model's raw output minus its expected
//! value: for logistic regression `wⱼ·(xⱼ − training mean of xⱼ)`; for the decision tree
//! path-dependent TreeSHAP over the tree's training covers; for boosting the same TreeSHAP summed
//! over its trees; for a blend the average of its members'. One-hot and indicator inputs are summed back
//! to their source column, so a reason reads `Contract = Month-to-month: +0.82`. The calibrated
//! probability is a monotone function of the raw output, so the reasons rank and sign the same way.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result, mention};
use crate::estimators::Estimator;
use crate::estimators::tree::TreeNode;
use crate::features::FeatureMatrix;
use crate::model::ChurnModel;

/// The column of [`ChurnModel::contributions_frame`] holding the model's expected raw output.
pub const EXPECTED_VALUE: &str = "expected_value";

/// Reasons per customer when the caller does not say (the CLI's `--top`, Python's `top`).
pub const DEFAULT_TOP: usize = 3;

/// Per-input contributions of many rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Contributions {
    /// Rows.
    pub n_rows: usize,
    /// Inputs (model columns).
    pub n_inputs: usize,
    /// Row-major `n_rows × n_inputs` log-odds contributions.
    pub values: Vec<f64>,
    /// The model's expected raw output (log-odds) over its training rows.
    pub expected_value: f64,
    /// The model's raw output (log-odds) per row.
    pub raw: Vec<f64>,
}

impl Contributions {
    /// Row `i`'s contributions.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.n_inputs..(i + 1) * self.n_inputs]
    }
}

/// One reason: a source column, the customer's value and its contribution in log-odds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Source column (or derived feature).
    pub column: String,
    /// The customer's value, as text (empty when missing).
    pub value: String,
    /// Contribution to the churn log-odds.
    pub contribution: f64,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} = {}: {:+.2}",
            self.column, self.value, self.contribution
        )
    }
}

/// A customer's score and its reasons, largest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowExplanation {
    /// The customer's id (or 1-based row number when the model has no id).
    pub id: String,
    /// Calibrated churn probability.
    pub probability: f64,
    /// Raw log-odds.
    pub raw: f64,
    /// Expected raw log-odds (the same for every row).
    pub expected_value: f64,
    /// The top reasons by absolute contribution.
    pub reasons: Vec<Reason>,
}

/// A what-if: the same customer scored before and after changing some fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatIf {
    /// The customer's id (or row number).
    pub id: String,
    /// Probability as the data stands.
    pub before: f64,
    /// Probability with the changes.
    pub after: f64,
    /// Reasons with the changes.
    pub reasons: Vec<Reason>,
}

impl Estimator {
    /// Per-input contributions and the expected value; `means` are the training means of the
    /// inputs (used by logistic regression).
    pub fn contributions(&self, x: &FeatureMatrix, means: &[f64]) -> Contributions {
        let (n, p) = (x.n_rows, x.n_cols());
        match self {
            Estimator::Logistic(lr) => {
                let mut values = vec![0.0; n * p];
                let mut expected = lr.intercept;
                for (j, w) in lr.coefficients.iter().enumerate() {
                    let mean = means.get(j).copied().unwrap_or(0.0);
                    expected += w * mean;
                    for (i, v) in x.column(j).iter().enumerate() {
                        values[i * p + j] = w * (v - mean);
                    }
                }
                Contributions {
                    n_rows: n,
                    n_inputs: p,
                    values,
                    expected_value: expected,
                    raw: lr.decision(x),
                }
            }
            Estimator::Tree(tree) => Contributions {
                n_rows: n,
                n_inputs: p,
                values: forest_shap(std::slice::from_ref(&tree.nodes), x),
                expected_value: tree_expected_value(&tree.nodes),
                raw: tree.decision(x),
            },
            Estimator::Boosting(b) => Contributions {
                n_rows: n,
                n_inputs: p,
                values: forest_shap(&b.trees, x),
                expected_value: b.base_score
                    + b.trees.iter().map(|t| tree_expected_value(t)).sum::<f64>(),
                raw: b.decision(x),
            },
            Estimator::Blend { members } => {
                let k = members.len().max(1) as f64;
                let mut acc = Contributions {
                    n_rows: n,
                    n_inputs: p,
                    values: vec![0.0; n * p],
                    expected_value: 0.0,
                    raw: vec![0.0; n],
                };
                for m in members {
                    let c = m.contributions(x, means);
                    acc.values
                        .iter_mut()
                        .zip(&c.values)
                        .for_each(|(a, v)| *a += v / k);
                    acc.raw
                        .iter_mut()
                        .zip(&c.raw)
                        .for_each(|(a, v)| *a += v / k);
                    acc.expected_value += c.expected_value / k;
                }
                acc
            }
        }
    }
}

impl ChurnModel {
    /// Per-input contributions for a table (raw, as read from a file).
    ///
    /// # Errors
    /// Whatever [`Dataset::with_schema`] or the pipeline reports.
    pub fn contributions(&self, raw: &DataFrame) -> Result<(Dataset, Contributions)> {
        let ds = Dataset::with_schema(raw, &self.schema, 0, false)?;
        let (x, _) = self.pipeline.transform(&ds.frame)?;
        let c = self.estimator.contributions(&x, &self.pipeline.input_means);
        Ok((ds, c))
    }

    /// The source columns of the model's inputs, in the order of their first input (a derived
    /// feature is its own source column).
    pub fn source_columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = Vec::new();
        for o in &self.pipeline.outputs {
            if !columns.contains(&o.source) {
                columns.push(o.source.clone());
            }
        }
        columns
    }

    /// The customers' values of [`ChurnModel::source_columns`] as explanations show them
    /// (derived features computed): the data beside [`ChurnModel::contributions_frame`].
    ///
    /// # Errors
    /// Whatever [`Dataset::with_schema`] or the derived features report.
    pub fn source_values(&self, raw: &DataFrame) -> Result<DataFrame> {
        let ds = Dataset::with_schema(raw, &self.schema, 0, false)?;
        let shown = self.pipeline.with_derived(&ds.frame)?;
        Ok(shown.select(self.source_columns())?)
    }

    /// Contributions summed by source column: `(columns, row-major n × columns)`.
    fn by_source(&self, c: &Contributions) -> (Vec<String>, Vec<f64>) {
        let columns = self.source_columns();
        let index: Vec<usize> = self
            .pipeline
            .outputs
            .iter()
            .map(|o| columns.iter().position(|s| *s == o.source).unwrap_or(0))
            .collect();
        let m = columns.len();
        let mut out = vec![0.0; c.n_rows * m];
        for i in 0..c.n_rows {
            for (j, v) in c.row(i).iter().enumerate() {
                out[i * m + index[j]] += v;
            }
        }
        (columns, out)
    }

    /// The whole contribution matrix, summed by source column: the id column (the model's id;
    /// `row`, numbered from 1, when the model has none or the frame lacks it), one `Float64` column per source column the model reads (a
    /// derived feature is its own column) in the model's order, then [`EXPECTED_VALUE`]. Each
    /// row's source columns plus `expected_value` add up to the model's raw output for it
    /// (log-odds, before calibration): the matrix SHAP's plots take.
    ///
    /// # Errors
    /// Whatever [`ChurnModel::contributions`] reports; [`Error::InvalidData`] when a source
    /// column is itself named like the id or `expected_value` column.
    pub fn contributions_frame(&self, raw: &DataFrame) -> Result<DataFrame> {
        let (ds, c) = self.contributions(raw)?;
        let (names, values) = self.by_source(&c);
        // The id as scoring writes it; rows numbered from 1 when the model has none or the
        // frame lacks it (as explanations do).
        let ids = match self.schema.id() {
            Some(id) => ds.frame.column(id).ok().cloned(),
            None => None,
        };
        let id_name = ids
            .as_ref()
            .map_or(crate::scoring::ROW, |column| column.name().as_str())
            .to_owned();
        if let Some(clash) = names
            .iter()
            .find(|n| **n == id_name || n.as_str() == EXPECTED_VALUE)
        {
            return Err(Error::InvalidData(format!(
                "the source column {clash:?} has the name of a column of the contribution \
                 matrix; rename it"
            )));
        }
        let ids = match ids {
            Some(column) => column,
            None => Column::new(
                id_name.as_str().into(),
                (1..=c.n_rows as i64).collect::<Vec<i64>>(),
            ),
        };
        let m = names.len();
        let mut columns = Vec::with_capacity(m + 2);
        columns.push(ids);
        for (k, name) in names.iter().enumerate() {
            let column: Vec<f64> = (0..c.n_rows).map(|i| values[i * m + k]).collect();
            columns.push(Column::new(name.as_str().into(), column));
        }
        columns.push(Column::new(
            EXPECTED_VALUE.into(),
            vec![c.expected_value; c.n_rows],
        ));
        Ok(DataFrame::new(c.n_rows, columns)?)
    }

    /// Each row's calibrated probability and its `top` reasons (by absolute contribution, summed
    /// by source column).
    ///
    /// # Errors
    /// Whatever [`ChurnModel::contributions`] reports.
    pub fn explain(&self, raw: &DataFrame, top: usize) -> Result<Vec<RowExplanation>> {
        let (ds, c) = self.contributions(raw)?;
        let (columns, values) = self.by_source(&c);
        let shown = self.pipeline.with_derived(&ds.frame)?;
        let text: Vec<Option<StringChunked>> = columns
            .iter()
            .map(|col| {
                let c = shown.column(col).ok()?;
                match c.f64() {
                    Ok(f) => Some(StringChunked::from_iter_options(
                        col.as_str().into(),
                        f.iter().map(|v| v.map(display_number)),
                    )),
                    Err(_) => c.cast(&DataType::String).ok()?.str().ok().cloned(),
                }
            })
            .collect();
        let ids = ds.ids().cloned();
        let m = columns.len();
        Ok((0..c.n_rows)
            .map(|i| {
                let mut reasons: Vec<Reason> = (0..m)
                    .map(|k| Reason {
                        column: columns[k].clone(),
                        value: text[k]
                            .as_ref()
                            .and_then(|t| t.get(i))
                            .map(str::to_string)
                            .unwrap_or_default(),
                        contribution: values[i * m + k],
                    })
                    .collect();
                // Largest first; a NaN (a broken model) last, never as the top reason.
                reasons.sort_by(|a, b| {
                    crate::metrics::nan_last(-a.contribution.abs(), -b.contribution.abs())
                });
                reasons.truncate(top);
                RowExplanation {
                    id: ids
                        .as_ref()
                        .and_then(|s| s.get(i).map(str::to_string))
                        .unwrap_or_else(|| (i + 1).to_string()),
                    probability: self.calibrator.probability(c.raw[i]),
                    raw: c.raw[i],
                    expected_value: c.expected_value,
                    reasons,
                }
            })
            .collect())
    }

    /// Global importance: mean absolute contribution of each source column, largest first.
    ///
    /// # Errors
    /// Whatever [`ChurnModel::contributions`] reports.
    pub fn importance(&self, raw: &DataFrame) -> Result<Vec<(String, f64)>> {
        let (_, c) = self.contributions(raw)?;
        let (columns, values) = self.by_source(&c);
        let m = columns.len();
        let n = c.n_rows.max(1) as f64;
        let mut out: Vec<(String, f64)> = columns
            .into_iter()
            .enumerate()
            .map(|(k, col)| {
                let total: f64 = (0..c.n_rows).map(|i| values[i * m + k].abs()).sum();
                (col, total / n)
            })
            .collect();
        out.sort_by(|a, b| crate::metrics::nan_last(-a.1, -b.1));
        Ok(out)
    }

    /// Rescores rows with some fields changed (`changes`: column → new value as text).
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for a column the table does not have, and whatever scoring
    /// reports for the changed values (e.g. text in a numeric column).
    pub fn what_if(
        &self,
        raw: &DataFrame,
        changes: &BTreeMap<String, String>,
        top: usize,
    ) -> Result<Vec<WhatIf>> {
        let before = self.explain(raw, top)?;
        let mut changed = raw.clone();
        let n = raw.height();
        for (column, value) in changes {
            if raw.column(column).is_err() {
                let names = crate::data::column_names(raw);
                return Err(Error::column_not_found(
                    column.clone(),
                    format!(" (named by {})", mention("changes")),
                    &names,
                ));
            }
            let replaced = Column::new(column.as_str().into(), vec![value.as_str(); n]);
            changed.replace(column, replaced)?;
        }
        let after = self.explain(&changed, top)?;
        Ok(before
            .into_iter()
            .zip(after)
            .map(|(b, a)| WhatIf {
                id: b.id,
                before: b.probability,
                after: a.probability,
                reasons: a.reasons,
            })
            .collect())
    }
}

/// Explanations as a table, one row per customer: `id`, `churn_probability`, then for each of
/// the `top` reasons `reason_k` ("column = value") and `contribution_k` (log-odds). The form of
/// `retention explain --out`, the Python module and Spark.
///
/// # Errors
/// [`Error::Polars`] only if the frame cannot be built.
pub fn explanations_frame(rows: &[RowExplanation], top: usize) -> Result<DataFrame> {
    let mut columns = vec![
        Column::new(
            "id".into(),
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "churn_probability".into(),
            rows.iter().map(|r| r.probability).collect::<Vec<_>>(),
        ),
    ];
    push_reasons(&mut columns, rows.iter().map(|r| r.reasons.as_slice()), top);
    Ok(DataFrame::new(rows.len(), columns)?)
}

/// What-ifs as a table: `id`, `probability_before`, `probability_after`, `change` (after −
/// before), then the `top` reasons after the change as in [`explanations_frame`].
///
/// # Errors
/// [`Error::Polars`] only if the frame cannot be built.
pub fn what_if_frame(rows: &[WhatIf], top: usize) -> Result<DataFrame> {
    let mut columns = vec![
        Column::new(
            "id".into(),
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "probability_before".into(),
            rows.iter().map(|r| r.before).collect::<Vec<_>>(),
        ),
        Column::new(
            "probability_after".into(),
            rows.iter().map(|r| r.after).collect::<Vec<_>>(),
        ),
        Column::new(
            "change".into(),
            rows.iter().map(|r| r.after - r.before).collect::<Vec<_>>(),
        ),
    ];
    push_reasons(&mut columns, rows.iter().map(|r| r.reasons.as_slice()), top);
    Ok(DataFrame::new(rows.len(), columns)?)
}

fn push_reasons<'a>(
    columns: &mut Vec<Column>,
    reasons: impl Iterator<Item = &'a [Reason]> + Clone,
    top: usize,
) {
    for k in 0..top {
        columns.push(Column::new(
            format!("reason_{}", k + 1).into(),
            reasons
                .clone()
                .map(|r| r.get(k).map(|x| format!("{} = {}", x.column, x.value)))
                .collect::<Vec<_>>(),
        ));
        columns.push(Column::new(
            format!("contribution_{}", k + 1).into(),
            reasons
                .clone()
                .map(|r| r.get(k).map(|x| x.contribution))
                .collect::<Vec<_>>(),
        ));
    }
}

/// A number as shown in a reason: whole numbers as integers, others to 4 decimals.
fn display_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Row-major TreeSHAP contributions of every row of `x`, summed over `trees`. Rows are
/// independent: they are explained in parallel, in chunks to amortise set-up.
fn forest_shap(trees: &[Vec<TreeNode>], x: &FeatureMatrix) -> Vec<f64> {
    use rayon::prelude::*;
    const CHUNK: usize = 64;
    let p = x.n_cols();
    let mut values = vec![0.0; x.n_rows * p];
    values
        .par_chunks_mut(p * CHUNK)
        .enumerate()
        .for_each(|(chunk, out)| {
            let mut row = vec![0.0; p];
            for (k, phi) in out.chunks_mut(p).enumerate() {
                x.row_into(chunk * CHUNK + k, &mut row);
                for tree in trees {
                    tree_shap(tree, &row, phi);
                }
            }
        });
    values
}

/// Expected raw output of a tree: leaf values weighted by their training cover.
fn tree_expected_value(nodes: &[TreeNode]) -> f64 {
    let Some(root) = nodes.first() else {
        return 0.0;
    };
    let total = root.cover.max(1e-300);
    nodes
        .iter()
        .filter(|n| n.leaf)
        .map(|n| n.cover / total * n.value)
        .sum()
}

#[derive(Debug, Clone, Copy)]
struct PathElement {
    feature: isize,
    zero: f64,
    one: f64,
    weight: f64,
}

/// Path-dependent TreeSHAP (Lundberg et al., 2018, Algorithm 2) for one row.
fn tree_shap(nodes: &[TreeNode], x: &[f64], phi: &mut [f64]) {
    if !nodes.is_empty() {
        recurse(nodes, x, phi, 0, Vec::with_capacity(16), 1.0, 1.0, -1);
    }
}

#[allow(clippy::too_many_arguments)]
fn recurse(
    tree: &[TreeNode],
    x: &[f64],
    phi: &mut [f64],
    node: usize,
    mut path: Vec<PathElement>,
    zero: f64,
    one: f64,
    feature: isize,
) {
    extend(&mut path, zero, one, feature);
    let depth = path.len() - 1;
    let n = &tree[node];
    if n.leaf {
        for i in 1..=depth {
            let w = unwound_sum(&path, depth, i);
            let el = path[i];
            phi[el.feature as usize] += w * (el.one - el.zero) * n.value;
        }
        return;
    }
    let f = n.feature as usize;
    let (hot, cold) = if x[f] <= n.threshold {
        (n.left as usize, n.right as usize)
    } else {
        (n.right as usize, n.left as usize)
    };
    let cover = n.cover.max(1e-300);
    let hot_zero = tree[hot].cover / cover;
    let cold_zero = tree[cold].cover / cover;
    let (mut in_zero, mut in_one) = (1.0, 1.0);
    if let Some(k) = path.iter().position(|e| e.feature == f as isize) {
        in_zero = path[k].zero;
        in_one = path[k].one;
        unwind(&mut path, depth, k);
        path.truncate(depth);
    }
    recurse(
        tree,
        x,
        phi,
        hot,
        path.clone(),
        hot_zero * in_zero,
        in_one,
        f as isize,
    );
    recurse(
        tree,
        x,
        phi,
        cold,
        path,
        cold_zero * in_zero,
        0.0,
        f as isize,
    );
}

fn extend(path: &mut Vec<PathElement>, zero: f64, one: f64, feature: isize) {
    let l = path.len();
    path.push(PathElement {
        feature,
        zero,
        one,
        weight: if l == 0 { 1.0 } else { 0.0 },
    });
    for i in (0..l).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / (l + 1) as f64;
        path[i].weight = zero * path[i].weight * (l - i) as f64 / (l + 1) as f64;
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let one = path[index].one;
    let zero = path[index].zero;
    let mut next = path[depth].weight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = path[i].weight;
            path[i].weight = next * (depth + 1) as f64 / ((i + 1) as f64 * one);
            next = tmp - path[i].weight * zero * (depth - i) as f64 / (depth + 1) as f64;
        } else {
            path[i].weight = path[i].weight * (depth + 1) as f64 / (zero * (depth - i) as f64);
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let one = path[index].one;
    let zero = path[index].zero;
    let mut next = path[depth].weight;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = next * (depth + 1) as f64 / ((i + 1) as f64 * one);
            total += tmp;
            next = path[i].weight - tmp * zero * ((depth - i) as f64 / (depth + 1) as f64);
        } else if zero != 0.0 {
            total += (path[i].weight / zero) / ((depth - i) as f64 / (depth + 1) as f64);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimators::TreeModel;

    fn leaf(cover: f64, value: f64) -> TreeNode {
        TreeNode {
            cover,
            ..TreeNode::leaf(value)
        }
    }

    fn split(feature: u32, threshold: f64, left: u32, right: u32, cover: f64) -> TreeNode {
        TreeNode {
            feature,
            threshold,
            left,
            right,
            leaf: false,
            cover,
            positives: 0.0,
            value: 0.0,
        }
    }

    #[test]
    fn tree_shap_matches_exact_shapley_values_by_hand() {
        // x0 <= 0.5 ? (x1 <= 0.5 ? 1 : 2) : 3, covers 40/10 under the left, 50 right.
        let tree = TreeModel {
            nodes: vec![
                split(0, 0.5, 1, 4, 100.0),
                split(1, 0.5, 2, 3, 50.0),
                leaf(40.0, 1.0),
                leaf(10.0, 2.0),
                leaf(50.0, 3.0),
            ],
            base_rate: 0.5,
        };
        let ev = tree_expected_value(&tree.nodes);
        assert!((ev - (0.4 + 0.2 + 1.5)).abs() < 1e-12);
        // Row (0, 1) reaches leaf value 2. Value of coalitions (path-dependent expectations):
        // v({}) = 2.1, v({0}) = E[f | x0 left] = 0.8·1 + 0.2·2 = 1.2,
        // v({1}) = 0.5·2 + 0.5·3 = 2.5, v({0,1}) = 2.
        // φ0 = ½[(1.2 − 2.1) + (2 − 2.5)] = −0.7; φ1 = ½[(2.5 − 2.1) + (2 − 1.2)] = 0.6.
        let mut phi = [0.0; 2];
        tree_shap(&tree.nodes, &[0.0, 1.0], &mut phi);
        assert!((phi[0] + 0.7).abs() < 1e-12, "{phi:?}");
        assert!((phi[1] - 0.6).abs() < 1e-12, "{phi:?}");
        assert!((phi.iter().sum::<f64>() + ev - 2.0).abs() < 1e-12);
    }

    #[test]
    fn repeated_features_on_a_path_still_add_up() {
        // The same feature split twice on one path.
        let tree = TreeModel {
            nodes: vec![
                split(0, 0.5, 1, 4, 100.0),
                split(0, 0.2, 2, 3, 60.0),
                leaf(30.0, -1.0),
                leaf(30.0, 0.5),
                split(1, 0.0, 5, 6, 40.0),
                leaf(10.0, 2.0),
                leaf(30.0, 1.0),
            ],
            base_rate: 0.5,
        };
        let ev = tree_expected_value(&tree.nodes);
        for row in [[0.1, 1.0], [0.3, -1.0], [0.9, -1.0], [0.9, 1.0]] {
            let mut phi = [0.0; 2];
            tree_shap(&tree.nodes, &row, &mut phi);
            let x = FeatureMatrix {
                n_rows: 1,
                values: vec![row[0], row[1]],
                names: vec!["a".into(), "b".into()],
            };
            let raw = tree.decision(&x)[0];
            assert!(
                (phi.iter().sum::<f64>() + ev - raw).abs() < 1e-12,
                "{row:?} {phi:?}"
            );
        }
    }
}
