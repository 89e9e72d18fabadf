//! A decision tree grown by linfa-trees, with probabilities from the training rows in each leaf.
//!
//! linfa-trees leaves hold only a class label. After fitting, the tree is copied into a flat node
//! list, every training row is routed to its leaf, and each leaf's churn probability is the
//! m-estimate `(churned + m · base rate) / (rows + m)`, which keeps small leaves away from 0 and 1.
//! Node row counts are kept for explanations.

use linfa::prelude::*;
use serde::{Deserialize, Serialize};

use super::logistic::sigmoid;
use crate::error::{Error, Result};
use crate::features::FeatureMatrix;

/// Relative extra weight of churned rows, so that no node has exactly tied class weights.
const TIE_BREAK: f32 = 1e-4;

/// Settings of the decision tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeParams {
    /// Depth at most. Default 6.
    pub max_depth: usize,
    /// Training rows a leaf needs at least. Default 20.
    pub min_samples_leaf: usize,
    /// Training rows a node needs to be split. Default 40.
    pub min_samples_split: usize,
    /// Weight `m` of the base rate in leaf probabilities (0 = raw leaf frequency). Default 5.
    pub smoothing: f64,
}

impl Default for TreeParams {
    fn default() -> Self {
        TreeParams {
            max_depth: 6,
            min_samples_leaf: 20,
            min_samples_split: 40,
            smoothing: 5.0,
        }
    }
}

impl TreeParams {
    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero depth or leaf size, or negative smoothing.
    pub fn check(&self) -> Result<()> {
        if self.max_depth == 0 {
            return Err(Error::param("--max-depth", "must be at least 1"));
        }
        if self.min_samples_leaf == 0 {
            return Err(Error::param("--min-samples-leaf", "must be at least 1"));
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
    /// Training rows reaching the node.
    pub cover: f64,
    /// Churned training rows reaching the node.
    pub positives: f64,
    /// Smoothed churn log-odds of the node (what a leaf predicts).
    pub value: f64,
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
    pub fn fit(params: &TreeParams, x: &FeatureMatrix, y: &[bool]) -> Result<Self> {
        params.check()?;
        let records = x.to_ndarray();
        let targets = ndarray::Array1::from_iter(y.iter().copied());
        // linfa-trees picks a node's class by iterating a HashMap, so a node with as much churn as
        // retention gets a random label, and pruning (which merges siblings of equal label) then
        // differs from run to run. A tiny extra weight on churners makes such ties impossible.
        let weights = ndarray::Array1::from_iter(
            y.iter()
                .map(|&churned| if churned { 1.0 + TIE_BREAK } else { 1.0 }),
        );
        let dataset = Dataset::new(records, targets).with_weights(weights);
        let fitted = linfa_trees::DecisionTree::params()
            .max_depth(Some(params.max_depth))
            .min_weight_leaf(params.min_samples_leaf as f32)
            .min_weight_split(params.min_samples_split as f32)
            .fit(&dataset)
            .map_err(|e| Error::Training {
                algorithm: "tree".into(),
                reason: e.to_string(),
            })?;
        let mut nodes = Vec::new();
        flatten(fitted.root_node(), &mut nodes);
        let positives = y.iter().filter(|v| **v).count() as f64;
        let base_rate = positives / y.len().max(1) as f64;
        let mut model = TreeModel { nodes, base_rate };
        model.set_leaf_values(x, y, params.smoothing);
        Ok(model)
    }

    fn set_leaf_values(&mut self, x: &FeatureMatrix, y: &[bool], m: f64) {
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
                node.cover += 1.0;
                node.positives += f64::from(u8::from(yi));
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

    /// Index of the leaf a row reaches.
    pub fn leaf_of(&self, row: &[f64]) -> usize {
        let mut k = 0usize;
        while !self.nodes[k].leaf {
            let node = &self.nodes[k];
            k = if row[node.feature as usize] <= node.threshold {
                node.left as usize
            } else {
                node.right as usize
            };
        }
        k
    }

    /// Log-odds of churn per row.
    pub fn decision(&self, x: &FeatureMatrix) -> Vec<f64> {
        let n = x.n_rows;
        (0..n)
            .map(|i| {
                let mut k = 0usize;
                while !self.nodes[k].leaf {
                    let node = &self.nodes[k];
                    let v = x.values[node.feature as usize * n + i];
                    k = if v <= node.threshold {
                        node.left as usize
                    } else {
                        node.right as usize
                    };
                }
                self.nodes[k].value
            })
            .collect()
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.leaf).count()
    }

    /// Churn probability of a leaf.
    pub fn leaf_probability(&self, k: usize) -> f64 {
        sigmoid(self.nodes[k].value)
    }
}

fn flatten(node: &linfa_trees::TreeNode<f64, bool>, out: &mut Vec<TreeNode>) -> u32 {
    let index = out.len();
    out.push(TreeNode {
        feature: 0,
        threshold: 0.0,
        left: 0,
        right: 0,
        leaf: true,
        cover: 0.0,
        positives: 0.0,
        value: 0.0,
    });
    let children = node.children();
    if let (false, [Some(left), Some(right)]) = (node.is_leaf(), children.as_slice()) {
        let (feature, threshold, _) = node.split();
        let l = flatten(left, out);
        let r = flatten(right, out);
        let this = &mut out[index];
        this.leaf = false;
        this.feature = feature as u32;
        this.threshold = threshold;
        this.left = l;
        this.right = r;
    }
    index as u32
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
        let t = TreeModel::fit(&params, &x, &y).unwrap();
        assert_eq!(t.n_leaves(), 2);
        let d = t.decision(&x);
        assert!((sigmoid(d[0]) - 0.1).abs() < 1e-9, "{}", sigmoid(d[0]));
        assert!((sigmoid(d[300]) - 0.8).abs() < 1e-9, "{}", sigmoid(d[300]));
        assert_eq!(t.nodes[0].cover, n as f64);
        // Smoothing pulls leaves toward the base rate.
        let smooth = TreeModel::fit(&TreeParams::default(), &x, &y).unwrap();
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
