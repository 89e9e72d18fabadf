//! Gradient-boosted trees for log-loss: a histogram GBDT in the manner of LightGBM, written for
//! the feature matrices RetentionAI builds.
//!
//! - **Binning.** Each input is cut into at most `max_bin` bins once, before the first tree: an
//!   input with few distinct values gets one bin per value (thresholds halfway between them),
//!   others get quantile cuts from up to [`BIN_SAMPLE`] evenly spaced rows. Missing values go to
//!   the last bin, which is where `x <= threshold` sends them at prediction time. Inputs that are
//!   only ever 0 or 1 and never 1 on the same row (the one-hot levels of a column) share one
//!   field (exclusive feature bundling, as LightGBM does), and fields with few values are packed
//!   several to a byte (see the `binning` module), so a histogram adds each row once per byte: 7 bytes
//!   for Telco's 47 inputs.
//! - **Trees.** Each tree is grown leaf-wise: the leaf whose best split gains most is split next,
//!   up to `max_leaves`. A split is chosen on gradient/hessian histograms (second-order gain with
//!   an L2 penalty); only the smaller child's histogram is built, the larger one is the parent's
//!   minus it. Rows of a leaf stay contiguous in one index array, so a split is a stable
//!   partition and every row's leaf is known without walking the tree.
//! - **One pass between trees.** After a tree, one parallel pass over the rows moves each row's
//!   log-odds by its leaf's value, adds the row to its leaf's training cover, computes its next
//!   gradient and adds it to the next tree's root histogram. The fit's final log-odds are the
//!   training rows' decision, so training metrics need no second scoring.
//! - **Parallelism and determinism.** Histograms are built in tasks of [`HIST_ROWS`] rows
//!   (rayon), each into its own histogram, and the tasks' histograms are added in row order; a
//!   large leaf is partitioned in blocks whose sides are laid out in block order; ties go to the
//!   lower input. So the same data gives the same model on any number of cores.
//!
//! Trees are stored as [`TreeNode`]s with real-valued thresholds and training covers, the same
//! shape as the decision tree's, so prediction and TreeSHAP explanations are shared.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::logistic::sigmoid;
use super::tree::{MAX_TREE_DEPTH, TreeNode, check_nodes, leaf_value};
use crate::error::{Error, Result};
use crate::features::FeatureMatrix;

mod binning;

use binning::{Binned, bin_matrix};

/// Rows sampled (evenly spaced) to find the quantile cuts of an input.
pub const BIN_SAMPLE: usize = 200_000;

/// Smallest hessian sum a leaf may have (LightGBM's `min_sum_hessian_in_leaf`).
const MIN_LEAF_HESSIAN: f64 = 1e-3;

/// Settings of gradient boosting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BoostingParams {
    /// Trees (boosting rounds). Default 100.
    pub trees: usize,
    /// Shrinkage of each tree's output. Default 0.1.
    pub learning_rate: f64,
    /// Leaves per tree at most (grown best split first). Default 8.
    pub max_leaves: usize,
    /// Training rows a leaf needs at least. Default 50.
    pub min_leaf_rows: usize,
    /// L2 penalty on leaf values (added to the hessian sum). Default 1.0.
    pub l2: f64,
    /// Histogram bins per input, 2 to 256. Default 256.
    pub max_bin: u16,
}

impl Default for BoostingParams {
    fn default() -> Self {
        BoostingParams::DEFAULT
    }
}

impl BoostingParams {
    /// The defaults (what `Default` gives; the front ends show and apply these).
    pub const DEFAULT: BoostingParams = BoostingParams {
        trees: 100,
        learning_rate: 0.1,
        max_leaves: 8,
        min_leaf_rows: 50,
        l2: 1.0,
        max_bin: 256,
    };

    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the setting that is out of range.
    pub fn check(&self) -> Result<()> {
        if self.trees == 0 || self.trees > 100_000 {
            return Err(Error::param(
                "trees",
                format!("{} is not in 1..=100000", self.trees),
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(Error::param(
                "learning_rate",
                format!("{} is not in (0, 1]", self.learning_rate),
            ));
        }
        if !(2..=4096).contains(&self.max_leaves) {
            return Err(Error::param(
                "max_leaves",
                format!("{} is not in 2..=4096", self.max_leaves),
            ));
        }
        if self.min_leaf_rows == 0 {
            return Err(Error::param("min_leaf_rows", "must be at least 1"));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(Error::param("l2", "must be a non-negative number"));
        }
        if !(2..=256).contains(&self.max_bin) {
            return Err(Error::param(
                "max_bin",
                format!("{} is not in 2..=256", self.max_bin),
            ));
        }
        Ok(())
    }
}

/// A fitted booster: a base score plus the sum of its trees' leaf values, in log-odds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostingModel {
    /// Log-odds every prediction starts from (the training churn rate's).
    pub base_score: f64,
    /// The trees; node 0 of each is its root, leaf values already shrunk by the learning rate.
    pub trees: Vec<Vec<TreeNode>>,
}

/// Gradient, hessian and row count of one histogram bin.
#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: u32,
}

impl std::ops::AddAssign for Bin {
    fn add_assign(&mut self, other: Bin) {
        self.g += other.g;
        self.h += other.h;
        self.n += other.n;
    }
}

impl Bin {
    #[inline]
    fn add(&mut self, g: f64, h: f64) {
        self.g += g;
        self.h += h;
        self.n += 1;
    }
}

/// The best split of a leaf: rows with `bin <= bin` of the input go left.
#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    bin: usize,
    gain: f64,
}

/// A leaf while a tree grows: its rows are `order[start..end]`.
struct Leaf {
    node: usize,
    /// Edges from the root; a leaf at [`MAX_TREE_DEPTH`] is not split.
    depth: usize,
    start: usize,
    end: usize,
    g: f64,
    h: f64,
    /// Bins of every group, at [`Binned::offsets`].
    hist: Vec<Bin>,
    best: Option<Split>,
}

/// A grown tree: its nodes and, per leaf, its node index and rows `order[start..end]`.
struct Tree {
    nodes: Vec<TreeNode>,
    leaves: Vec<(usize, usize, usize)>,
}

/// The state shared by every tree of one fit.
struct Grower<'a> {
    params: &'a BoostingParams,
    data: &'a Binned,
}

/// Rows per histogram task: each task sums its rows into its own histogram and the tasks'
/// histograms are added in row order, so the sums do not depend on the number of threads.
const HIST_ROWS: usize = 16_384;

/// Adds one row's bins (`row`, one per group) with its gradient/hessian to a histogram of every
/// group: the groups' additions are independent, so they overlap.
#[inline]
fn add_row(offsets: &[usize], out: &mut [Bin], row: &[u8], g: f64, h: f64) {
    for (&b, &at) in row.iter().zip(offsets) {
        out[at + usize::from(b)].add(g, h);
    }
}

/// A histogram of every group with the gradient and hessian totals it was built from.
struct Histogram {
    hist: Vec<Bin>,
    g: f64,
    h: f64,
}

impl Histogram {
    fn empty(len: usize) -> Histogram {
        Histogram {
            hist: vec![Bin::default(); len],
            g: 0.0,
            h: 0.0,
        }
    }

    /// Adds `other` (the next rows' histogram) in.
    fn merge(mut self, other: &Histogram) -> Histogram {
        for (o, &p) in self.hist.iter_mut().zip(&other.hist) {
            *o += p;
        }
        self.g += other.g;
        self.h += other.h;
        self
    }
}

impl Grower<'_> {
    fn n_inputs(&self) -> usize {
        self.data.slots.len()
    }

    /// Histogram of the rows `rows` (all rows when `None`), `gh` being every row's gradient and
    /// hessian, with their totals: one task per [`HIST_ROWS`] rows, added up in row order.
    fn histogram(&self, rows: Option<&[u32]>, gh: &[(f64, f64)]) -> Histogram {
        let len = self.data.hist_len();
        let offsets = &self.data.offsets;
        let count = rows.map_or(gh.len(), <[u32]>::len);
        let parts: Vec<Histogram> = (0..count.div_ceil(HIST_ROWS))
            .into_par_iter()
            .map(|c| {
                let mut part = Histogram::empty(len);
                for k in c * HIST_ROWS..((c + 1) * HIST_ROWS).min(count) {
                    let r = rows.map_or(k, |rows| rows[k] as usize);
                    let (g, h) = gh[r];
                    add_row(offsets, &mut part.hist, self.data.row(r), g, h);
                    part.g += g;
                    part.h += h;
                }
                part
            })
            .collect();
        parts
            .iter()
            .fold(Histogram::empty(len), |acc, part| acc.merge(part))
    }

    fn score(&self, g: f64, h: f64) -> f64 {
        g * g / (h + self.params.l2)
    }

    /// The best split of a leaf with totals `(g, h, n)`, if any gains.
    fn best_split(&self, hist: &[Bin], g: f64, h: f64, n: usize) -> Option<Split> {
        let min_rows = self.params.min_leaf_rows;
        if n < 2 * min_rows {
            return None;
        }
        let parent = self.score(g, h);
        let mut best: Option<Split> = None;
        let mut marginals = vec![Bin::default(); self.data.marginals_len()];
        self.data.marginals(hist, &mut marginals);
        let mut member = [Bin::default(); 2];
        for j in 0..self.n_inputs() {
            let bins: &[Bin] = match self.data.input_bins(j) {
                (at, radix, None) => &marginals[at..at + radix],
                (at, _, Some(code)) => {
                    // Value 1 is the bundle's code `code`; value 0 is every other row.
                    let one = marginals[at + usize::from(code)];
                    member[0] = Bin {
                        g: g - one.g,
                        h: h - one.h,
                        n: n as u32 - one.n,
                    };
                    member[1] = one;
                    &member
                }
            };
            let (mut lg, mut lh, mut ln) = (0.0, 0.0, 0usize);
            for (b, bin) in bins[..bins.len() - 1].iter().enumerate() {
                lg += bin.g;
                lh += bin.h;
                ln += bin.n as usize;
                if ln < min_rows || lh < MIN_LEAF_HESSIAN {
                    continue;
                }
                let (rg, rh, rn) = (g - lg, h - lh, n - ln);
                if rn < min_rows || rh < MIN_LEAF_HESSIAN {
                    break;
                }
                let gain = self.score(lg, lh) + self.score(rg, rh) - parent;
                if gain > 1e-12 && best.is_none_or(|s| gain > s.gain) {
                    best = Some(Split {
                        feature: j,
                        bin: b,
                        gain,
                    });
                }
            }
        }
        best
    }

    /// Grows one tree on gradients `gh` (per row) whose histogram over every row is `root`.
    fn grow(
        &self,
        gh: &[(f64, f64)],
        root: Histogram,
        order: &mut [u32],
        scratch: &mut Vec<u32>,
    ) -> Tree {
        let n = order.len();
        for (i, o) in order.iter_mut().enumerate() {
            *o = i as u32;
        }
        let Histogram { hist, g, h } = root;
        let best = self.best_split(&hist, g, h, n);
        let mut nodes = vec![TreeNode::leaf(0.0)];
        let mut leaves = vec![Leaf {
            node: 0,
            depth: 0,
            start: 0,
            end: n,
            g,
            h,
            hist,
            best,
        }];
        while leaves.len() < self.params.max_leaves {
            let Some((k, split)) = best_leaf(&leaves) else {
                break;
            };
            let parent = leaves.swap_remove(k);
            let children = self.split_leaf(parent, split, gh, order, scratch, &mut nodes);
            leaves.extend(children);
        }
        let lr = self.params.learning_rate;
        for l in &leaves {
            nodes[l.node].value = -lr * l.g / (l.h + self.params.l2);
        }
        Tree {
            nodes,
            leaves: leaves.iter().map(|l| (l.node, l.start, l.end)).collect(),
        }
    }

    /// Splits a leaf: its rows are partitioned in place, the smaller child's histogram is built
    /// and the larger one's is the parent's minus it; the parent's node becomes the split and
    /// two leaf nodes are added. Returns the children (smaller first), each with its best split.
    fn split_leaf(
        &self,
        parent: Leaf,
        split: Split,
        gh: &[(f64, f64)],
        order: &mut [u32],
        scratch: &mut Vec<u32>,
        nodes: &mut Vec<TreeNode>,
    ) -> [Leaf; 2] {
        let rows = &mut order[parent.start..parent.end];
        // Stable partition: left rows keep their order in place, right rows go through
        // `scratch`.
        let w = self
            .data
            .partition(&self.data.split(split.feature, split.bin), rows, scratch);
        let mid = parent.start + w;
        let (left_range, right_range) = ((parent.start, mid), (mid, parent.end));
        let (small, large) = if mid - parent.start <= parent.end - mid {
            (left_range, right_range)
        } else {
            (right_range, left_range)
        };
        let small_rows = &order[small.0..small.1];
        let Histogram {
            hist: small_hist,
            g: sg,
            h: sh,
        } = self.histogram(Some(small_rows), gh);
        let mut large_hist = parent.hist;
        for (l, s) in large_hist.iter_mut().zip(&small_hist) {
            l.g -= s.g;
            l.h -= s.h;
            l.n -= s.n;
        }
        let children = [
            (small, small_hist, sg, sh),
            (large, large_hist, parent.g - sg, parent.h - sh),
        ];
        let left_index = nodes.len();
        nodes.push(TreeNode::leaf(0.0));
        nodes.push(TreeNode::leaf(0.0));
        let p = &mut nodes[parent.node];
        p.leaf = false;
        p.feature = split.feature as u32;
        p.threshold = self.data.cuts[split.feature][split.bin];
        p.left = left_index as u32;
        p.right = left_index as u32 + 1;
        children.map(|((start, end), hist, g, h)| {
            let node = if start == left_range.0 {
                left_index
            } else {
                left_index + 1
            };
            let depth = parent.depth + 1;
            let best = if depth < MAX_TREE_DEPTH {
                self.best_split(&hist, g, h, end - start)
            } else {
                None
            };
            Leaf {
                node,
                depth,
                start,
                end,
                g,
                h,
                hist,
                best,
            }
        })
    }
}

/// The leaf whose split gains most (the first on ties), if any can be split.
fn best_leaf(leaves: &[Leaf]) -> Option<(usize, Split)> {
    leaves
        .iter()
        .enumerate()
        .filter_map(|(k, l)| l.best.map(|s| (k, s)))
        .fold(None, |acc: Option<(usize, Split)>, (k, s)| match acc {
            Some((_, b)) if b.gain >= s.gain => acc,
            _ => Some((k, s)),
        })
}

impl BoostingModel {
    /// Fits a log-loss booster; `weights` are per-row sample weights. The fit has no randomness,
    /// so `_seed` is unused.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bad settings, [`Error::Training`] for an empty table or
    /// a weight that is negative or not finite.
    pub fn fit(
        params: &BoostingParams,
        x: &FeatureMatrix,
        y: &[bool],
        weights: Option<&[f64]>,
        seed: u64,
    ) -> Result<Self> {
        Ok(Self::fit_scored(params, x, y, weights, seed)?.0)
    }

    /// [`BoostingModel::fit`], also returning the fitted model's log-odds of every training row:
    /// the fit keeps them up to date tree by tree, adding the same leaf values in the same order
    /// as [`BoostingModel::decision`], so they equal `decision(x)` without scoring `x` again.
    ///
    /// # Errors
    /// As [`BoostingModel::fit`].
    pub fn fit_scored(
        params: &BoostingParams,
        x: &FeatureMatrix,
        y: &[bool],
        weights: Option<&[f64]>,
        _seed: u64,
    ) -> Result<(Self, Vec<f64>)> {
        params.check()?;
        let n = x.n_rows;
        let fail = |reason: String| Error::Training {
            algorithm: "boosting".into(),
            reason,
        };
        if n == 0 || x.n_cols() == 0 {
            return Err(fail("no rows or no inputs to train on".into()));
        }
        if n > u32::MAX as usize {
            return Err(fail(format!("{n} rows is more than {} ", u32::MAX)));
        }
        if let Some(w) = weights
            && let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0))
        {
            return Err(fail(format!("row {i} has weight {}", w[i])));
        }
        let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
        let (pos, total) = y.iter().enumerate().fold((0.0, 0.0), |(p, t), (i, &v)| {
            (p + if v { weight(i) } else { 0.0 }, t + weight(i))
        });
        let rate = (pos / total.max(1e-300)).clamp(1e-6, 1.0 - 1e-6);
        let base_score = (rate / (1.0 - rate)).ln();
        let data = bin_matrix(x, usize::from(params.max_bin));
        let grower = Grower {
            params,
            data: &data,
        };
        let gradient = |i: usize, f: f64| {
            let p = sigmoid(f);
            let w = weight(i);
            let t = f64::from(u8::from(y[i]));
            (w * (p - t), (w * p * (1.0 - p)).max(1e-16))
        };
        let mut raw = vec![base_score; n];
        let mut gh: Vec<(f64, f64)> = (0..n)
            .into_par_iter()
            .map(|i| gradient(i, base_score))
            .collect();
        let mut root = grower.histogram(None, &gh);
        let mut order = vec![0u32; n];
        let mut scratch = Vec::with_capacity(n);
        // Each row's leaf in the last tree, as the leaf's position in `Tree::leaves`.
        let mut leaf_of = vec![0u16; n];
        let mut trees = Vec::with_capacity(params.trees);
        let len = data.hist_len();
        for t in 0..params.trees {
            let this = std::mem::replace(&mut root, Histogram::empty(0));
            let Tree { mut nodes, leaves } = grower.grow(&gh, this, &mut order, &mut scratch);
            let last = t + 1 == params.trees;
            for (k, &(_, start, end)) in leaves.iter().enumerate() {
                for &r in &order[start..end] {
                    leaf_of[r as usize] = k as u16;
                }
            }
            let values: Vec<f64> = leaves.iter().map(|&(node, ..)| nodes[node].value).collect();
            // One parallel pass in tasks of HIST_ROWS rows: each row's raw output moves by its
            // leaf's value, the leaf's training cover (weighted rows, churned rows) grows and,
            // unless this is the last tree, the row's next gradient goes into the next tree's
            // root histogram. The tasks are added up in row order.
            let parts: Vec<(Histogram, Vec<(f64, f64)>)> = raw
                .par_chunks_mut(HIST_ROWS)
                .zip(gh.par_chunks_mut(HIST_ROWS))
                .zip(leaf_of.par_chunks(HIST_ROWS))
                .enumerate()
                .map(|(c, ((raw, gh), leaf_of))| {
                    let mut part = Histogram::empty(if last { 0 } else { len });
                    let mut covers = vec![(0.0, 0.0); leaves.len()];
                    for (k, ((f, out), &leaf)) in raw.iter_mut().zip(gh).zip(leaf_of).enumerate() {
                        let r = c * HIST_ROWS + k;
                        let leaf = usize::from(leaf);
                        *f += values[leaf];
                        let w = weight(r);
                        let cover = &mut covers[leaf];
                        cover.0 += w;
                        if y[r] {
                            cover.1 += w;
                        }
                        if !last {
                            let (g, h) = gradient(r, *f);
                            *out = (g, h);
                            add_row(&data.offsets, &mut part.hist, data.row(r), g, h);
                            part.g += g;
                            part.h += h;
                        }
                    }
                    (part, covers)
                })
                .collect();
            let mut next = Histogram::empty(if last { 0 } else { len });
            for (part, covers) in &parts {
                next = next.merge(part);
                for (&(node, ..), (c, p)) in leaves.iter().zip(covers) {
                    nodes[node].cover += c;
                    nodes[node].positives += p;
                }
            }
            root = next;
            // Children come after their parent: add them up from the end.
            for k in (0..nodes.len()).rev() {
                if !nodes[k].leaf {
                    let (l, r) = (nodes[k].left as usize, nodes[k].right as usize);
                    nodes[k].cover = nodes[l].cover + nodes[r].cover;
                    nodes[k].positives = nodes[l].positives + nodes[r].positives;
                }
            }
            trees.push(nodes);
        }
        Ok((BoostingModel { base_score, trees }, raw))
    }

    /// Churn log-odds per row.
    pub fn decision(&self, x: &FeatureMatrix) -> Vec<f64> {
        let mut z = vec![self.base_score; x.n_rows];
        z.par_chunks_mut(1024).enumerate().for_each(|(c, out)| {
            for tree in &self.trees {
                for (k, zi) in out.iter_mut().enumerate() {
                    *zi += leaf_value(tree, x, c * 1024 + k);
                }
            }
        });
        z
    }

    /// Checks a booster read from a model file against `n_inputs` model inputs: a finite base
    /// score and every tree sound (see [`check_nodes`]); returns what is wrong, naming the tree.
    pub(crate) fn check(&self, n_inputs: usize) -> std::result::Result<(), String> {
        if !self.base_score.is_finite() {
            return Err(format!(
                "base score {} is not finite",
                crate::model::shown_number(self.base_score)
            ));
        }
        for (t, tree) in self.trees.iter().enumerate() {
            check_nodes(tree, n_inputs).map_err(|e| format!("tree {t} {e}"))?;
        }
        Ok(())
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }
}

#[cfg(test)]
mod tests;
