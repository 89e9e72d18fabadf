//! Binning of the inputs before the first tree: cuts per input, bins of every row, and the
//! bundling of one-hot inputs that never overlap.

use rayon::prelude::*;

use super::BIN_SAMPLE;
use crate::features::FeatureMatrix;

/// How an input's bins are stored.
#[derive(Debug, Clone, Copy)]
pub(super) enum Slot {
    /// The input has its own bin column: group `group`, bins as cut by its cuts.
    Dense { group: usize },
    /// A 0/1 input sharing bin column `group` with other 0/1 inputs that are never 1 on the same
    /// row (one-hot levels of one column, typically): the group's bin is `code` where it is 1.
    Member { group: usize, code: u8 },
}

/// Every input binned, with 0/1 inputs that never overlap bundled into one bin column (exclusive
/// feature bundling): one histogram pass over a bundle of one-hot levels replaces one per level.
pub(super) struct Binned {
    /// Bin columns (`n_rows` bins each) and their number of bins.
    pub(super) groups: Vec<(Vec<u8>, usize)>,
    /// Where each group's bins start in a histogram.
    pub(super) offsets: Vec<usize>,
    /// Per input, where its bins live.
    pub(super) slots: Vec<Slot>,
    /// Per input, the upper bound of every bin but the last: bin `b` holds
    /// `cuts[b - 1] < x <= cuts[b]`.
    pub(super) cuts: Vec<Vec<f64>>,
}

impl Binned {
    pub(super) fn hist_len(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0) + self.groups.last().map_or(0, |(_, nb)| *nb)
    }

    /// Reorders `rows` so that those going left when input `j` is split after bin `bin` come
    /// first, each side keeping its order; returns how many go left. Branch-free: every row is
    /// written to both sides and only the side it belongs to advances.
    pub(super) fn partition(
        &self,
        j: usize,
        bin: usize,
        rows: &mut [u32],
        scratch: &mut Vec<u32>,
    ) -> usize {
        fn run(rows: &mut [u32], scratch: &mut Vec<u32>, left: impl Fn(u32) -> bool) -> usize {
            scratch.clear();
            scratch.resize(rows.len() + 1, 0);
            let (mut w, mut s) = (0, 0);
            for i in 0..rows.len() {
                let r = rows[i];
                let l = left(r);
                rows[w] = r;
                scratch[s] = r;
                w += usize::from(l);
                s += usize::from(!l);
            }
            rows[w..].copy_from_slice(&scratch[..s]);
            w
        }
        match self.slots[j] {
            Slot::Dense { group } => {
                let col = &self.groups[group].0;
                run(rows, scratch, |r| usize::from(col[r as usize]) <= bin)
            }
            Slot::Member { group, code } => {
                let col = &self.groups[group].0;
                run(rows, scratch, |r| col[r as usize] != code)
            }
        }
    }
}

/// Cuts of one input: one bin per distinct value when there are at most `max_bin`, otherwise
/// quantiles of an evenly spaced sample.
pub(super) fn cuts_of(values: &[f64], max_bin: usize) -> Vec<f64> {
    let step = values.len().div_ceil(BIN_SAMPLE).max(1);
    let mut sample: Vec<f64> = values
        .iter()
        .step_by(step)
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    sample.sort_unstable_by(f64::total_cmp);
    let mut distinct = sample.clone();
    distinct.dedup();
    if distinct.len() <= max_bin {
        return distinct
            .windows(2)
            .map(|w| w[0] + (w[1] - w[0]) / 2.0)
            .collect();
    }
    let m = sample.len();
    let mut cuts: Vec<f64> = (1..max_bin).map(|k| sample[k * m / max_bin]).collect();
    cuts.dedup();
    // The largest value would leave the last bin empty.
    if cuts.last().is_some_and(|&c| c >= sample[m - 1]) {
        cuts.pop();
    }
    cuts
}

pub(super) fn bin_of(cuts: &[f64], v: f64) -> u8 {
    if v.is_nan() {
        // Missing values take the last bin, as `x <= threshold` sends them right.
        return cuts.len() as u8;
    }
    cuts.partition_point(|&c| c < v) as u8
}

/// Whether every value is exactly 0 or 1.
fn is_indicator(values: &[f64]) -> bool {
    values.iter().all(|&v| v == 0.0 || v == 1.0)
}

pub(super) fn bin_matrix(x: &FeatureMatrix, max_bin: usize) -> Binned {
    let p = x.n_cols();
    let indicator: Vec<bool> = (0..p)
        .into_par_iter()
        .map(|j| is_indicator(x.column(j)))
        .collect();
    // Greedy bundling of indicators in input order: join the first bundle with no overlap.
    let mut bundles: Vec<(Vec<u8>, Vec<usize>)> = Vec::new();
    let mut member_of = vec![None; p];
    for j in (0..p).filter(|&j| indicator[j]) {
        let col = x.column(j);
        let fits = |bins: &[u8], members: &[usize]| {
            members.len() < usize::from(u8::MAX)
                && col.iter().zip(bins).all(|(&v, &b)| v == 0.0 || b == 0)
        };
        let k = match bundles.iter().position(|(bins, m)| fits(bins, m)) {
            Some(k) => k,
            None => {
                bundles.push((vec![0u8; x.n_rows], Vec::new()));
                bundles.len() - 1
            }
        };
        let (bins, members) = &mut bundles[k];
        members.push(j);
        let code = members.len() as u8;
        for (b, &v) in bins.iter_mut().zip(col) {
            if v == 1.0 {
                *b = code;
            }
        }
        member_of[j] = Some((k, code));
    }
    let dense: Vec<(usize, Vec<f64>, Vec<u8>)> = (0..p)
        .into_par_iter()
        .filter(|&j| member_of[j].is_none())
        .map(|j| {
            let col = x.column(j);
            let cuts = cuts_of(col, max_bin);
            let bins = col.iter().map(|&v| bin_of(&cuts, v)).collect();
            (j, cuts, bins)
        })
        .collect();
    let mut groups = Vec::new();
    let mut slots = vec![Slot::Dense { group: 0 }; p];
    let mut cuts = vec![vec![0.5]; p];
    for (j, c, bins) in dense {
        slots[j] = Slot::Dense {
            group: groups.len(),
        };
        groups.push((bins, c.len() + 1));
        cuts[j] = c;
    }
    let first_bundle = groups.len();
    for (j, m) in member_of.iter().enumerate() {
        if let Some((k, code)) = *m {
            slots[j] = Slot::Member {
                group: first_bundle + k,
                code,
            };
        }
    }
    for (bins, members) in bundles {
        groups.push((bins, members.len() + 1));
    }
    let mut offsets = Vec::with_capacity(groups.len());
    let mut at = 0;
    for (_, nb) in &groups {
        offsets.push(at);
        at += nb;
    }
    Binned {
        groups,
        offsets,
        slots,
        cuts,
    }
}
