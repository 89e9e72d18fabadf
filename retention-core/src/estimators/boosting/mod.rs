//! Gradient-boosted trees for log-loss: a histogram GBDT in the manner of LightGBM, written for
//! the feature matrices RetentionAI builds.
//!
//! - **Binning.** Each input is cut into at most `max_bin` bins once, before the first tree: an
//!   input with few distinct values gets one bin per value (thresholds halfway between them),
//!   others get quantile cuts from up to [`BIN_SAMPLE`] evenly spaced rows. Missing values go to
//!   the last bin, which is where `x <= threshold` sends them at prediction time. Inputs that are
//!   only ever 0 or 1 and never 1 on the same row (the one-hot levels of a column) share one bin
//!   column (exclusive feature bundling, as LightGBM does), so one pass over a bundle's bins gives
//!   the histogram of every level in it.
//! - **Trees.** Each tree is grown leaf-wise: the leaf whose best split gains most is split next,
//!   up to `max_leaves`. A split is chosen on gradient/hessian histograms (second-order gain with
//!   an L2 penalty); only the smaller child's histogram is built, the larger one is the parent's
//!   minus it. Rows of a leaf stay contiguous in one index array, so a split is a stable
//!   partition and the trained predictions are updated leaf by leaf without walking the tree.
//! - **Parallelism and determinism.** Histograms are built one input per task (rayon); each sum
//!   runs in row order and ties go to the lower input, so the same data gives the same model on
//!   any number of cores.
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

use binning::{Binned, Slot, bin_matrix};

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

/// A finished leaf: node index, rows `order[start..end]` and value.
struct LeafRows {
    node: usize,
    start: usize,
    end: usize,
    value: f64,
}

/// The state shared by every tree of one fit.
struct Grower<'a> {
    params: &'a BoostingParams,
    data: &'a Binned,
}

/// Adds rows to one group's histogram. Two interleaved copies keep consecutive rows that fall in
/// the same bin (common in a bin column with few bins) from waiting on each other's additions.
fn accumulate(out: &mut [Bin], bins: &[u8], rows: Option<&[u32]>, gh: &[(f64, f64)]) {
    let nb = out.len();
    let mut twin = vec![Bin::default(); 2 * nb];
    let (a, b) = twin.split_at_mut(nb);
    match rows {
        Some(rows) => {
            for (r, v) in rows.chunks_exact(2).zip(gh.chunks_exact(2)) {
                a[usize::from(bins[r[0] as usize])].add(v[0].0, v[0].1);
                b[usize::from(bins[r[1] as usize])].add(v[1].0, v[1].1);
            }
            if let (Some(&r), Some(&(g, h))) = (rows.last(), gh.last())
                && rows.len() % 2 == 1
            {
                a[usize::from(bins[r as usize])].add(g, h);
            }
        }
        None => {
            for (k, v) in bins.chunks_exact(2).zip(gh.chunks_exact(2)) {
                a[usize::from(k[0])].add(v[0].0, v[0].1);
                b[usize::from(k[1])].add(v[1].0, v[1].1);
            }
            if let (Some(&k), Some(&(g, h))) = (bins.last(), gh.last())
                && bins.len() % 2 == 1
            {
                a[usize::from(k)].add(g, h);
            }
        }
    }
    for ((o, x), y) in out.iter_mut().zip(a.iter()).zip(b.iter()) {
        o.g = x.g + y.g;
        o.h = x.h + y.h;
        o.n = x.n + y.n;
    }
}

impl Grower<'_> {
    fn n_inputs(&self) -> usize {
        self.data.slots.len()
    }

    /// Histogram of the rows `rows` (all rows when `None`) whose gradients/hessians are `gh`
    /// (same order): one task per bin column.
    fn histogram(&self, rows: Option<&[u32]>, gh: &[(f64, f64)]) -> Vec<Bin> {
        let mut hist = vec![Bin::default(); self.data.hist_len()];
        let mut parts: Vec<&mut [Bin]> = Vec::with_capacity(self.data.groups.len());
        let mut rest = hist.as_mut_slice();
        for (_, nb) in &self.data.groups {
            let (head, tail) = rest.split_at_mut(*nb);
            parts.push(head);
            rest = tail;
        }
        parts
            .into_par_iter()
            .zip(&self.data.groups)
            .for_each(|(out, (bins, _))| accumulate(out, bins, rows, gh));
        hist
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
        let mut member = [Bin::default(); 2];
        for j in 0..self.n_inputs() {
            let bins: &[Bin] = match self.data.slots[j] {
                Slot::Dense { group } => {
                    let at = self.data.offsets[group];
                    &hist[at..at + self.data.groups[group].1]
                }
                Slot::Member { group, code } => {
                    // Value 1 is the bundle's bin `code`; value 0 is every other row.
                    let one = hist[self.data.offsets[group] + usize::from(code)];
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

    /// Grows one tree on gradients `gh` (per row), returning its nodes and its leaves' rows.
    fn grow(
        &self,
        gh: &[(f64, f64)],
        order: &mut [u32],
        scratch: &mut Vec<u32>,
    ) -> (Vec<TreeNode>, Vec<LeafRows>) {
        let n = order.len();
        for (i, o) in order.iter_mut().enumerate() {
            *o = i as u32;
        }
        let (g, h) = gh.iter().fold((0.0, 0.0), |(a, b), &(g, h)| (a + g, b + h));
        let hist = self.histogram(None, gh);
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
        let mut buffers = Buffers {
            scratch,
            ordered: Vec::new(),
        };
        while leaves.len() < self.params.max_leaves {
            let Some((k, split)) = best_leaf(&leaves) else {
                break;
            };
            let parent = leaves.swap_remove(k);
            let children = self.split_leaf(parent, split, gh, order, &mut buffers, &mut nodes);
            leaves.extend(children);
        }
        let lr = self.params.learning_rate;
        let out = leaves
            .iter()
            .map(|l| LeafRows {
                node: l.node,
                start: l.start,
                end: l.end,
                value: -lr * l.g / (l.h + self.params.l2),
            })
            .collect::<Vec<_>>();
        for l in &out {
            nodes[l.node].value = l.value;
        }
        (nodes, out)
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
        buffers: &mut Buffers<'_>,
        nodes: &mut Vec<TreeNode>,
    ) -> [Leaf; 2] {
        let rows = &mut order[parent.start..parent.end];
        // Stable partition: left rows keep their order in place, right rows go through
        // `scratch`.
        let w = self
            .data
            .partition(split.feature, split.bin, rows, buffers.scratch);
        let mid = parent.start + w;
        let (left_range, right_range) = ((parent.start, mid), (mid, parent.end));
        let (small, large) = if mid - parent.start <= parent.end - mid {
            (left_range, right_range)
        } else {
            (right_range, left_range)
        };
        let small_rows = &order[small.0..small.1];
        let ordered = &mut buffers.ordered;
        ordered.clear();
        ordered.extend(small_rows.iter().map(|&r| gh[r as usize]));
        let small_hist = self.histogram(Some(small_rows), ordered);
        let mut large_hist = parent.hist;
        for (l, s) in large_hist.iter_mut().zip(&small_hist) {
            l.g -= s.g;
            l.h -= s.h;
            l.n -= s.n;
        }
        let (sg, sh) = ordered
            .iter()
            .fold((0.0, 0.0), |(a, b), &(g, h)| (a + g, b + h));
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

/// Buffers reused by every split of one tree.
struct Buffers<'a> {
    /// Right rows while a leaf's rows are partitioned.
    scratch: &'a mut Vec<u32>,
    /// Gradients and hessians of the smaller child's rows, in row order.
    ordered: Vec<(f64, f64)>,
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
        _seed: u64,
    ) -> Result<Self> {
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
        let mut order = vec![0u32; n];
        let mut delta = vec![0.0; n];
        let mut scratch = Vec::with_capacity(n);
        let mut trees = Vec::with_capacity(params.trees);
        const CHUNK: usize = 4096;
        for t in 0..params.trees {
            let (mut nodes, leaves) = grower.grow(&gh, &mut order, &mut scratch);
            let last = t + 1 == params.trees;
            // Each row's leaf value, from the leaves' row ranges; then, in one parallel pass,
            // the new raw outputs and (unless this is the last tree) the next gradients.
            for l in &leaves {
                for &r in &order[l.start..l.end] {
                    delta[r as usize] = l.value;
                }
            }
            raw.par_chunks_mut(CHUNK)
                .zip(gh.par_chunks_mut(CHUNK))
                .zip(delta.par_chunks(CHUNK))
                .enumerate()
                .for_each(|(c, ((raw, gh), delta))| {
                    for (k, ((f, out), d)) in raw.iter_mut().zip(gh).zip(delta).enumerate() {
                        *f += d;
                        if !last {
                            *out = gradient(c * CHUNK + k, *f);
                        }
                    }
                });
            // Training covers (weighted rows, churned rows) of the leaves, then of their parents.
            let covers: Vec<(f64, f64)> = leaves
                .par_iter()
                .map(|l| {
                    order[l.start..l.end].iter().fold((0.0, 0.0), |(c, p), &r| {
                        let w = weight(r as usize);
                        (c + w, if y[r as usize] { p + w } else { p })
                    })
                })
                .collect();
            for (l, (cover, positives)) in leaves.iter().zip(covers) {
                nodes[l.node].cover = cover;
                nodes[l.node].positives = positives;
            }
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
        Ok(BoostingModel { base_score, trees })
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
