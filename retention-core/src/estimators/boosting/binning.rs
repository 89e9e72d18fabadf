//! Binning of the inputs before the first tree: cuts per input, bins of every row, and the
//! bundling of one-hot inputs that never overlap.

use rayon::prelude::*;

use super::BIN_SAMPLE;
use crate::features::FeatureMatrix;

/// How an input's bins are stored.
#[derive(Debug, Clone, Copy)]
pub(super) enum Slot {
    /// The input is field `field` on its own: its code is its bin, as cut by its cuts.
    Dense { field: usize },
    /// A 0/1 input sharing field `field` with other 0/1 inputs that are never 1 on the same row
    /// (one-hot levels of one column, typically): the field's code is `code` where it is 1.
    Member { field: usize, code: u8 },
}

/// A field: a dense input's bins or a bundle's codes, `radix` values, stored in byte `group`
/// of each row as `(byte / stride) % radix`. A leaf's histogram of the field (its marginal) is
/// at `at` in [`Binned::marginals`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    group: usize,
    stride: usize,
    radix: usize,
    at: usize,
}

/// Every input binned, in two steps that each cut the work per row:
/// - 0/1 inputs that never overlap are bundled into one field (exclusive feature bundling, as
///   LightGBM does): one histogram entry per row serves every one-hot level of a column;
/// - fields with few values are packed into one byte together when the product of their radices
///   is at most 256 (a column of 3 levels and one of 4 make one byte of 12 values): a histogram
///   adds each row once per byte, not once per field, and a field's own histogram is summed from
///   its byte's when a leaf's splits are searched.
///
/// Bytes are stored row by row, so a leaf's histogram reads each of its rows from one place
/// however scattered its rows are.
pub(super) struct Binned {
    /// Bytes of every row, row after row: row `r`'s byte `g` is `bins[r * n_groups + g]`.
    pub(super) bins: Vec<u8>,
    /// Values of each byte (group): the product of its fields' radices.
    pub(super) group_bins: Vec<usize>,
    /// Where each group's bins start in a histogram.
    pub(super) offsets: Vec<usize>,
    /// The fields, with where their marginals start.
    fields: Vec<Field>,
    /// Per input, where its bins live.
    pub(super) slots: Vec<Slot>,
    /// Per input, the upper bound of every bin but the last: bin `b` holds
    /// `cuts[b - 1] < x <= cuts[b]`.
    pub(super) cuts: Vec<Vec<f64>>,
}

impl Binned {
    pub(super) fn n_groups(&self) -> usize {
        self.group_bins.len()
    }

    pub(super) fn hist_len(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0) + self.group_bins.last().copied().unwrap_or(0)
    }

    /// Length of [`Binned::marginals`]: every field's radix.
    pub(super) fn marginals_len(&self) -> usize {
        self.fields.iter().map(|f| f.radix).sum()
    }

    /// Row `r`'s byte of every group.
    #[inline]
    pub(super) fn row(&self, r: usize) -> &[u8] {
        let width = self.n_groups();
        &self.bins[r * width..(r + 1) * width]
    }

    /// Every field's histogram (its radix bins, at [`Field::at`]), added from the histogram of
    /// the groups `hist` into `out` (zeroed, [`Binned::marginals_len`] long).
    pub(super) fn marginals<B: Copy + std::ops::AddAssign>(&self, hist: &[B], out: &mut [B]) {
        for f in &self.fields {
            let group = &hist[self.offsets[f.group]..][..self.group_bins[f.group]];
            let out = &mut out[f.at..f.at + f.radix];
            // Byte b = (high * radix + code) * stride + low.
            for (k, block) in group.chunks_exact(f.stride).enumerate() {
                for &b in block {
                    out[k % f.radix] += b;
                }
            }
        }
    }

    /// The field of input `j` and, for a bundle member, its code there.
    fn field_of(&self, j: usize) -> (Field, Option<u8>) {
        match self.slots[j] {
            Slot::Dense { field } => (self.fields[field], None),
            Slot::Member { field, code } => (self.fields[field], Some(code)),
        }
    }

    /// Where input `j`'s histogram starts in [`Binned::marginals`], with its number of bins, and
    /// for a bundle member its code.
    pub(super) fn input_bins(&self, j: usize) -> (usize, usize, Option<u8>) {
        let (f, code) = self.field_of(j);
        (f.at, f.radix, code)
    }

    /// The split of input `j` after its bin `bin`, as a test on a row's bytes.
    pub(super) fn split(&self, j: usize, bin: usize) -> BinSplit {
        let (f, member) = self.field_of(j);
        let mut table = [false; 256];
        for (byte, t) in table.iter_mut().enumerate() {
            let code = (byte / f.stride) % f.radix;
            *t = match member {
                None => code <= bin,
                // A member's value 1 is the bundle's code and goes right.
                Some(one) => code != usize::from(one),
            };
        }
        BinSplit {
            group: f.group,
            left: table,
        }
    }

    /// Reorders `rows` so that those going left at `split` come first, each side keeping its
    /// order; returns how many go left. Up to [`PARTITION_BLOCK`] rows are one task; more are
    /// cut into blocks partitioned in parallel, whose sides are then laid out in block order,
    /// so the result is the same on any number of threads.
    pub(super) fn partition(
        &self,
        split: &BinSplit,
        rows: &mut [u32],
        scratch: &mut Vec<u32>,
    ) -> usize {
        if scratch.len() < rows.len() {
            scratch.resize(rows.len(), 0);
        }
        let scratch = &mut scratch[..rows.len()];
        if rows.len() <= PARTITION_BLOCK {
            return self.partition_block(split, rows, scratch);
        }
        let lefts: Vec<usize> = rows
            .par_chunks_mut(PARTITION_BLOCK)
            .zip(scratch.par_chunks_mut(PARTITION_BLOCK))
            .map(|(rows, scratch)| self.partition_block(split, rows, scratch))
            .collect();
        // Every block is now its left rows then its right rows: copy the left rows of every
        // block, in order, to the front of `scratch` and their right rows after them.
        let w: usize = lefts.iter().sum();
        let (mut left_to, mut right_to) = scratch.split_at_mut(w);
        let mut copies = Vec::with_capacity(lefts.len());
        for (block, &wk) in rows.chunks(PARTITION_BLOCK).zip(&lefts) {
            let (l, rest) = std::mem::take(&mut left_to).split_at_mut(wk);
            left_to = rest;
            let (r, rest) = std::mem::take(&mut right_to).split_at_mut(block.len() - wk);
            right_to = rest;
            copies.push((block, l, r));
        }
        copies.into_par_iter().for_each(|(block, l, r)| {
            let (left, right) = block.split_at(l.len());
            l.copy_from_slice(left);
            r.copy_from_slice(right);
        });
        rows.par_chunks_mut(PARTITION_BLOCK)
            .zip(scratch.par_chunks(PARTITION_BLOCK))
            .for_each(|(to, from)| to.copy_from_slice(from));
        w
    }

    /// [`Binned::partition`] of one block, in one task: right rows go through `scratch` (at
    /// least as long as `rows`). Branch-free: every row is written to both sides and only the
    /// side it belongs to advances.
    fn partition_block(&self, split: &BinSplit, rows: &mut [u32], scratch: &mut [u32]) -> usize {
        let (mut w, mut s) = (0, 0);
        for i in 0..rows.len() {
            let r = rows[i];
            let l = split.left(self.row(r as usize));
            rows[w] = r;
            scratch[s] = r;
            w += usize::from(l);
            s += usize::from(!l);
        }
        rows[w..].copy_from_slice(&scratch[..s]);
        w
    }
}

/// Rows one task of [`Binned::partition`] reorders.
const PARTITION_BLOCK: usize = 65_536;

/// A split as a test on a row's bytes: whether each value of byte `group` goes left.
pub(super) struct BinSplit {
    group: usize,
    left: [bool; 256],
}

impl BinSplit {
    /// Whether a row whose bytes are `row` goes left.
    #[inline]
    fn left(&self, row: &[u8]) -> bool {
        self.left[usize::from(row[self.group])]
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
    // The fields (codes per row, radix): dense inputs, then bundles.
    let mut codes: Vec<(Vec<u8>, usize)> = Vec::new();
    let mut slots = vec![Slot::Dense { field: 0 }; p];
    let mut cuts = vec![vec![0.5]; p];
    for (j, c, bins) in dense {
        slots[j] = Slot::Dense { field: codes.len() };
        codes.push((bins, c.len() + 1));
        cuts[j] = c;
    }
    let first_bundle = codes.len();
    for (j, m) in member_of.iter().enumerate() {
        if let Some((k, code)) = *m {
            slots[j] = Slot::Member {
                field: first_bundle + k,
                code,
            };
        }
    }
    for (bins, members) in bundles {
        codes.push((bins, members.len() + 1));
    }
    let (fields, group_bins) = pack(&codes.iter().map(|(_, radix)| *radix).collect::<Vec<_>>());
    let mut offsets = Vec::with_capacity(group_bins.len());
    let mut at = 0;
    for nb in &group_bins {
        offsets.push(at);
        at += nb;
    }
    Binned {
        bins: row_major(&codes, &fields, group_bins.len(), x.n_rows),
        group_bins,
        offsets,
        fields,
        slots,
        cuts,
    }
}

/// Packs fields of radices `radices` into bytes: largest radix first, each into the first byte
/// whose product of radices stays at most 256. Returns the fields (in the order given) and the
/// number of values of each byte.
fn pack(radices: &[usize]) -> (Vec<Field>, Vec<usize>) {
    let mut by_size: Vec<usize> = (0..radices.len()).collect();
    by_size.sort_by_key(|&f| std::cmp::Reverse(radices[f]));
    let mut group_bins: Vec<usize> = Vec::new();
    let mut placed = vec![(0, 1); radices.len()];
    for f in by_size {
        let radix = radices[f].max(1);
        let group = match group_bins.iter().position(|&b| b * radix <= 256) {
            Some(g) => g,
            None => {
                group_bins.push(1);
                group_bins.len() - 1
            }
        };
        placed[f] = (group, group_bins[group]);
        group_bins[group] *= radix;
    }
    let mut at = 0;
    let fields = placed
        .iter()
        .zip(radices)
        .map(|(&(group, stride), &radix)| {
            let field = Field {
                group,
                stride,
                radix: radix.max(1),
                at,
            };
            at += field.radix;
            field
        })
        .collect();
    (fields, group_bins)
}

/// The fields' codes packed into bytes, row by row.
fn row_major(codes: &[(Vec<u8>, usize)], fields: &[Field], width: usize, n_rows: usize) -> Vec<u8> {
    const ROWS: usize = 4096;
    let mut out = vec![0u8; n_rows * width];
    if width == 0 {
        return out;
    }
    out.par_chunks_mut(ROWS * width)
        .enumerate()
        .for_each(|(c, block)| {
            for ((col, _), f) in codes.iter().zip(fields) {
                let col = &col[c * ROWS..];
                for (row, &code) in block.chunks_exact_mut(width).zip(col) {
                    // At most 255 in all: the product of the radices in a byte is at most 256.
                    let byte = usize::from(row[f.group]) + usize::from(code) * f.stride;
                    row[f.group] = byte as u8;
                }
            }
        });
    out
}
