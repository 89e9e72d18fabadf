//! A decision tree grown split by split with linfa-trees, with probabilities from the training
//! rows in each leaf.
//!
//! linfa-trees leaves hold only a class label. After fitting, the tree is copied into a flat node
//! list, every training row is routed to its leaf, and each leaf's churn probability is the
//! m-estimate `(churned + m · base rate) / (rows + m)`, which keeps small leaves away from 0 and 1.
//! Node row counts are kept for explanations.

use linfa::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(test)]
use super::logistic::sigmoid;
use crate::error::{Error, Result};
use crate::features::FeatureMatrix;
use crate::model::shown_number as num;

/// Relative extra weight of churned rows, so that no node has exactly tied class weights.
const TIE_BREAK: f32 = 1e-4;

/// Depth (edges from the root) no node of a tree may exceed: the decision tree's `max_depth` and
/// every boosted tree stop there, and a model file with a deeper tree is refused. It bounds the
/// work and the recursion of scoring and TreeSHAP explanations for any model file.
pub const MAX_TREE_DEPTH: usize = 64;

/// Settings of the decision tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeParams {
    /// Depth at most. Default 6.
    pub max_depth: usize,
    /// Training rows a leaf needs at least. Default 20.
    pub min_samples_leaf: usize,
    /// Training rows a node needs to be split. Default 40: twice the leaf size, as
    /// [`TreeParams::set_min_samples_leaf`] keeps it.
    pub min_samples_split: usize,
    /// Weight `m` of the base rate in leaf probabilities (0 = raw leaf frequency). Default 5.
    pub smoothing: f64,
}

impl Default for TreeParams {
    fn default() -> Self {
        TreeParams::DEFAULT
    }
}

impl TreeParams {
    /// The defaults (what `Default` gives; the front ends show and apply these).
    pub const DEFAULT: TreeParams = TreeParams {
        max_depth: 6,
        min_samples_leaf: 20,
        min_samples_split: TreeParams::split_for_leaf(20),
        smoothing: 5.0,
    };

    /// The rows a node needs to be split when a leaf needs `min_samples_leaf`: twice as many,
    /// so that a split can leave a full leaf on each side.
    pub const fn split_for_leaf(min_samples_leaf: usize) -> usize {
        2 * min_samples_leaf
    }

    /// Sets the leaf size, and the split size with it ([`TreeParams::split_for_leaf`]).
    pub fn set_min_samples_leaf(&mut self, min_samples_leaf: usize) {
        self.min_samples_leaf = min_samples_leaf;
        self.min_samples_split = TreeParams::split_for_leaf(min_samples_leaf);
    }

    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero depth or leaf size, or negative smoothing.
    pub fn check(&self) -> Result<()> {
        if !(1..=MAX_TREE_DEPTH).contains(&self.max_depth) {
            return Err(Error::param(
                "max_depth",
                format!("{} is not in 1..={MAX_TREE_DEPTH}", self.max_depth),
            ));
        }
        if self.min_samples_leaf == 0 {
            return Err(Error::param("min_samples_leaf", "must be at least 1"));
        }
        if !(self.smoothing.is_finite() && self.smoothing >= 0.0) {
            return Err(Error::param("smoothing", "must be a non-negative number"));
        }
        Ok(())
    }
}

/// A node of the flat tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// Input index tested (internal nodes).
    pub feature: u32,
    /// Rows with `x[feature] <= threshold` go left.
    pub threshold: f64,
    /// Left child index (internal nodes).
    pub left: u32,
    /// Right child index (internal nodes).
    pub right: u32,
    /// Whether this is a leaf.
    pub leaf: bool,
    /// Training rows (weighted) reaching the node.
    pub cover: f64,
    /// Churned training rows (weighted) reaching the node.
    pub positives: f64,
    /// Smoothed churn log-odds of the node (what a leaf predicts).
    pub value: f64,
}

impl TreeNode {
    /// A leaf predicting `value`, with no training rows counted yet.
    pub fn leaf(value: f64) -> Self {
        TreeNode {
            feature: 0,
            threshold: 0.0,
            left: 0,
            right: 0,
            leaf: true,
            cover: 0.0,
            positives: 0.0,
            value,
        }
    }
}

/// A fitted decision tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeModel {
    /// Nodes; index 0 is the root.
    pub nodes: Vec<TreeNode>,
    /// Training churn rate.
    pub base_rate: f64,
}

impl TreeModel {
    /// Grows the tree and computes leaf probabilities.
    ///
    /// # Errors
    /// [`Error::Training`] when linfa-trees fails.
    /// With `weights`, splits are searched and leaf probabilities computed on weighted rows.
    pub fn fit(
        params: &TreeParams,
        x: &FeatureMatrix,
        y: &[bool],
        weights: Option<&[f64]>,
    ) -> Result<Self> {
        params.check()?;
        let unit;
        let w = match weights {
            Some(w) => w,
            None => {
                unit = vec![1.0; y.len()];
                &unit
            }
        };
        let mut nodes = Vec::new();
        let rows: Vec<usize> = (0..x.n_rows).collect();
        grow(params, x, y, w, &rows, 0, &mut nodes)?;
        let positives: f64 = y.iter().zip(w).filter(|(v, _)| **v).map(|(_, w)| w).sum();
        let base_rate = positives / w.iter().sum::<f64>().max(1e-300);
        let mut model = TreeModel { nodes, base_rate };
        model.set_leaf_values(x, y, w, params.smoothing);
        Ok(model)
    }

    fn set_leaf_values(&mut self, x: &FeatureMatrix, y: &[bool], w: &[f64], m: f64) {
        for node in &mut self.nodes {
            node.cover = 0.0;
            node.positives = 0.0;
        }
        let mut row = vec![0.0; x.n_cols()];
        for (i, &yi) in y.iter().enumerate() {
            x.row_into(i, &mut row);
            let mut k = 0usize;
            loop {
                let node = &mut self.nodes[k];
                node.cover += w[i];
                node.positives += w[i] * f64::from(u8::from(yi));
                if node.leaf {
                    break;
                }
                k = if row[node.feature as usize] <= node.threshold {
                    node.left as usize
                } else {
                    node.right as usize
                };
            }
        }
        let prior = self.base_rate;
        for node in &mut self.nodes {
            let p = (node.positives + m * prior) / (node.cover + m);
            let p = if p.is_finite() { p } else { prior };
            node.value = logit(p.clamp(1e-6, 1.0 - 1e-6));
        }
    }
}

/// Grows the subtree of `rows` at `depth`, appending its nodes; returns the subtree's index.
fn grow(
    params: &TreeParams,
    x: &FeatureMatrix,
    y: &[bool],
    w: &[f64],
    rows: &[usize],
    depth: usize,
    nodes: &mut Vec<TreeNode>,
) -> Result<u32> {
    let index = nodes.len();
    nodes.push(TreeNode::leaf(0.0));
    let churned = rows.iter().filter(|&&i| y[i]).count();
    let pure = churned == 0 || churned == rows.len();
    if depth >= params.max_depth || rows.len() < params.min_samples_split || pure {
        return Ok(index as u32);
    }
    let Some((feature, threshold)) = best_split(params, x, y, w, rows)? else {
        return Ok(index as u32);
    };
    let column = x.column(feature);
    let (left_rows, right_rows): (Vec<usize>, Vec<usize>) =
        rows.iter().partition(|&&i| column[i] <= threshold);
    if left_rows.len() < params.min_samples_leaf || right_rows.len() < params.min_samples_leaf {
        return Ok(index as u32);
    }
    let left = grow(params, x, y, w, &left_rows, depth + 1, nodes)?;
    let right = grow(params, x, y, w, &right_rows, depth + 1, nodes)?;
    let node = &mut nodes[index];
    node.leaf = false;
    node.feature = feature as u32;
    node.threshold = threshold;
    node.left = left;
    node.right = right;
    Ok(index as u32)
}

/// The best split of a node's rows by linfa-trees' Gini search, or `None` when no split helps.
///
/// linfa-trees labels every node with its majority class and, after growing, merges sibling leaves
/// that share a label, which discards a split between, say, a 5 % and a 20 % churn leaf. Asking it
/// for one split at a time, with the node's classes weighted to balance, avoids that: a split that
/// lowers impurity puts one child above the node's churn rate and one below, so their labels differ
/// and nothing is merged. Churners also weigh 1e-4 more, because linfa breaks a tie between equally
/// weighted classes by hash-map order, which made trees differ from run to run.
fn best_split(
    params: &TreeParams,
    x: &FeatureMatrix,
    y: &[bool],
    w: &[f64],
    rows: &[usize],
) -> Result<Option<(usize, f64)>> {
    use ndarray::ShapeBuilder;
    let n = rows.len();
    let p = x.n_cols();
    let mut values = Vec::with_capacity(n * p);
    for j in 0..p {
        let column = x.column(j);
        values.extend(rows.iter().map(|&i| column[i]));
    }
    let records =
        ndarray::Array2::from_shape_vec((n, p).f(), values).map_err(|e| Error::Training {
            algorithm: "tree".into(),
            reason: e.to_string(),
        })?;
    let labels: Vec<bool> = rows.iter().map(|&i| y[i]).collect();
    let (w_pos, w_all) = rows.iter().fold((0.0f64, 0.0f64), |(p, a), &i| {
        (if y[i] { p + w[i] } else { p }, a + w[i])
    });
    let (f_pos, f_neg) = (w_all / (2.0 * w_pos), w_all / (2.0 * (w_all - w_pos)));
    let weights = rows
        .iter()
        .map(|&i| {
            let balanced = if y[i] {
                f_pos * (1.0 + f64::from(TIE_BREAK))
            } else {
                f_neg
            };
            (w[i] * balanced) as f32
        })
        .collect::<ndarray::Array1<f32>>();
    let dataset = Dataset::new(records, ndarray::Array1::from_vec(labels)).with_weights(weights);
    let stump = linfa_trees::DecisionTree::params()
        .max_depth(Some(1))
        .min_weight_leaf(params.min_samples_leaf as f32)
        .min_weight_split(params.min_samples_split as f32)
        .fit(&dataset)
        .map_err(|e| Error::Training {
            algorithm: "tree".into(),
            reason: e.to_string(),
        })?;
    let root = stump.root_node();
    if root.is_leaf() {
        return Ok(None);
    }
    let (feature, threshold, _) = root.split();
    Ok(Some((feature, threshold)))
}

impl TreeModel {
    /// Checks a tree read from a model file against `n_inputs` model inputs (see
    /// [`check_nodes`]); returns what is wrong.
    pub(crate) fn check(&self, n_inputs: usize) -> std::result::Result<(), String> {
        if !(0.0..=1.0).contains(&self.base_rate) {
            return Err(format!(
                "base rate {} is not in [0, 1]",
                num(self.base_rate)
            ));
        }
        check_nodes(&self.nodes, n_inputs)
    }

    /// Log-odds of churn per row.
    pub fn decision(&self, x: &FeatureMatrix) -> Vec<f64> {
        (0..x.n_rows)
            .map(|i| leaf_value(&self.nodes, x, i))
            .collect()
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.leaf).count()
    }
}

/// The value of the leaf that row `i` of `x` reaches in a flat tree (node 0 is the root; rows
/// with `x[feature] <= threshold` go left). Shared by the decision tree and every boosted tree.
#[inline]
pub(crate) fn leaf_value(nodes: &[TreeNode], x: &FeatureMatrix, i: usize) -> f64 {
    let n = x.n_rows;
    let mut k = 0usize;
    loop {
        let node = &nodes[k];
        if node.leaf {
            return node.value;
        }
        k = if x.values[node.feature as usize * n + i] <= node.threshold {
            node.left as usize
        } else {
            node.right as usize
        };
    }
}

/// Checks a flat tree read from a model file against `n_inputs` model inputs: at least one node;
/// every number finite (covers not negative); every internal node tests an input that exists and
/// has two children that come after it, each the child of no other node, so the nodes form one
/// tree rooted at node 0 in which every walk ends; no node deeper than [`MAX_TREE_DEPTH`].
/// Returns what is wrong, naming the node.
pub(crate) fn check_nodes(nodes: &[TreeNode], n_inputs: usize) -> std::result::Result<(), String> {
    let n = nodes.len();
    if n == 0 {
        return Err("has no nodes".into());
    }
    let mut has_parent = vec![false; n];
    let mut depth = vec![0usize; n];
    for (k, node) in nodes.iter().enumerate() {
        if !node.value.is_finite() {
            return Err(format!("node {k}: value {} is not finite", num(node.value)));
        }
        for (what, v) in [("cover", node.cover), ("positives", node.positives)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!(
                    "node {k}: {what} {} is not a non-negative number",
                    num(v)
                ));
            }
        }
        if node.leaf {
            continue;
        }
        if node.feature as usize >= n_inputs {
            return Err(format!(
                "node {k}: tests input {}, but the model has {n_inputs} input(s)",
                node.feature
            ));
        }
        if !node.threshold.is_finite() {
            return Err(format!(
                "node {k}: threshold {} is not finite",
                num(node.threshold)
            ));
        }
        for child in [node.left as usize, node.right as usize] {
            if child >= n {
                return Err(format!(
                    "node {k}: child {child} is out of range (the tree has {n} nodes)"
                ));
            }
            if child <= k {
                return Err(format!("node {k}: child {child} is not after its parent"));
            }
            if has_parent[child] {
                return Err(format!(
                    "node {k}: child {child} already has another parent"
                ));
            }
            has_parent[child] = true;
            depth[child] = depth[k] + 1;
            if depth[child] > MAX_TREE_DEPTH {
                return Err(format!(
                    "node {child} is at depth {}, deeper than the {MAX_TREE_DEPTH} allowed",
                    depth[child]
                ));
            }
        }
    }
    if let Some(k) = (1..n).find(|&k| !has_parent[k]) {
        return Err(format!("node {k} is not reachable from the root"));
    }
    Ok(())
}

/// `ln(p / (1 - p))`.
pub fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_probabilities_follow_training_rows() {
        // x0 < 0.5: 10 % churn; x0 >= 0.5: 80 % churn.
        let n = 400;
        let x0: Vec<f64> = (0..n).map(|i| if i < 200 { 0.0 } else { 1.0 }).collect();
        let y: Vec<bool> = (0..n)
            .map(|i| if i < 200 { i % 10 == 0 } else { i % 5 != 0 })
            .collect();
        let x = FeatureMatrix {
            n_rows: n,
            values: x0,
            names: vec!["x0".into()],
        };
        let params = TreeParams {
            smoothing: 0.0,
            ..Default::default()
        };
        let t = TreeModel::fit(&params, &x, &y, None).unwrap();
        assert_eq!(t.n_leaves(), 2);
        let d = t.decision(&x);
        assert!((sigmoid(d[0]) - 0.1).abs() < 1e-9, "{}", sigmoid(d[0]));
        assert!((sigmoid(d[300]) - 0.8).abs() < 1e-9, "{}", sigmoid(d[300]));
        assert_eq!(t.nodes[0].cover, n as f64);
        // Smoothing pulls leaves toward the base rate.
        let smooth = TreeModel::fit(&TreeParams::default(), &x, &y, None).unwrap();
        let p = sigmoid(smooth.decision(&x)[0]);
        assert!(p > 0.1 && p < t.base_rate, "{p}");
    }

    #[test]
    fn refuses_bad_params() {
        let p = TreeParams {
            max_depth: 0,
            ..Default::default()
        };
        assert!(p.check().is_err());
    }
}
