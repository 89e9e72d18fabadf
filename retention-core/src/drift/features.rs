//! Per-feature comparison: numeric columns (quantile-bin PSI, Kolmogorov-Smirnov, normalised
//! Wasserstein) and categorical ones (level PSI, chi-square, Jensen-Shannon).

use serde::{Deserialize, Serialize};

use super::report::{DriftThresholds, Status};
use super::stats;
use super::summary::{LevelSummary, NumericSummary};
use crate::data::Role;

/// One bin of a compared histogram: a quantile range, a level, "missing", "unseen" or
/// "not a number", with its share of rows on each side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftBin {
    /// What the bin holds, e.g. `(29.5, 55]`, `Month-to-month`, `missing`.
    pub label: String,
    /// Share of reference rows.
    pub reference: f64,
    /// Share of current rows.
    pub current: f64,
}

/// Drift of one input column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    /// Column name.
    pub column: String,
    /// `numeric` or `categorical`.
    pub kind: Role,
    /// Verdict for this column.
    pub status: Status,
    /// Population stability index over `bins`.
    pub psi: f64,
    /// p-value of the column's test: Kolmogorov-Smirnov (numeric, combined with the test of the
    /// missing rate: the smaller of the two) or chi-square (categorical).
    pub p_value: f64,
    /// Two-sample Kolmogorov-Smirnov statistic (numeric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks_statistic: Option<f64>,
    /// How far `ks_statistic` can be from the exact statistic when the values were summarised
    /// with a bounded sketch (absent when exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks_error_bound: Option<f64>,
    /// Wasserstein distance divided by the reference's standard deviation (numeric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasserstein: Option<f64>,
    /// How far `wasserstein` can be from the exact distance when the values were summarised
    /// with a bounded sketch (absent when exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasserstein_error_bound: Option<f64>,
    /// Chi-square statistic over the levels (categorical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chi_square: Option<f64>,
    /// Jensen-Shannon distance over the levels, base 2, in [0, 1] (categorical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub js_distance: Option<f64>,
    /// Share of reference cells that are blank.
    pub missing_reference: f64,
    /// Share of current cells that are blank.
    pub missing_current: f64,
    /// The change in words: the mean (numeric) or the level whose share moved most.
    pub change: String,
    /// The compared histogram.
    pub bins: Vec<DriftBin>,
    /// Something the user must know (non-numeric cells, unseen levels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl FeatureDrift {
    /// The distance the status uses: normalised Wasserstein or Jensen-Shannon.
    pub fn distance(&self) -> f64 {
        self.wasserstein.or(self.js_distance).unwrap_or(0.0)
    }
}

pub(super) fn share(count: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        count as f64 / total as f64
    }
}

pub(super) fn numeric_drift(
    name: &str,
    r: &NumericSummary,
    c: &NumericSummary,
    bins: usize,
    thresholds: &DriftThresholds,
) -> FeatureDrift {
    let edges = if r.values.is_empty() {
        Vec::new()
    } else {
        stats::quantile_edges_weighted(&r.values, bins)
    };
    let mut labels = range_labels(&edges);
    let mut rc = stats::bin_counts_weighted(&r.values, &edges);
    let mut cc = stats::bin_counts_weighted(&c.values, &edges);
    if r.missing + c.missing > 0 {
        labels.push("missing".into());
        rc.push(r.missing);
        cc.push(c.missing);
    }
    if r.invalid + c.invalid > 0 {
        labels.push("not a number".into());
        rc.push(r.invalid);
        cc.push(c.invalid);
    }
    let psi = stats::psi(&rc, &cc);
    let (nr, nc) = (r.count(), c.count());
    let (mean_r, spread) = stats::mean_std_weighted(&r.values);
    let (mean_c, _) = stats::mean_std_weighted(&c.values);
    let (ks, wasserstein, ks_p) = if nr == 0 || nc == 0 {
        (0.0, 0.0, 1.0)
    } else {
        let (d, w) = stats::ks_and_wasserstein_weighted(&r.values, &c.values);
        let w = if spread > 0.0 { w / spread } else { w };
        (d, w, stats::ks_p_value(d, nr as usize, nc as usize))
    };
    // Each side's kept values are within moved / n (1-Wasserstein) of its exact values.
    let wasserstein_error_bound = (r.moved + c.moved > 0.0).then(|| {
        let bound = r.moved / nr.max(1) as f64 + c.moved / nc.max(1) as f64;
        if spread > 0.0 { bound / spread } else { bound }
    });
    // The KS test sees numbers only; blank and non-numeric cells are tested apart.
    let (_, _, blank_p) =
        stats::chi_square(&[nr, r.missing + r.invalid], &[nc, c.missing + c.invalid]);
    let p_value = ks_p.min(blank_p);
    let mut status = thresholds.status(p_value, psi, wasserstein);
    let note = c.first_invalid.as_ref().map(|(row, value)| {
        status = Status::Alert;
        let at = row.map(|r| format!("row {r}, ")).unwrap_or_default();
        format!(
            "{} current cells are not numbers (first: {at}{value:?}): the column's type changed",
            c.invalid
        )
    });
    let (missing_reference, missing_current) =
        (share(r.missing, r.rows()), share(c.missing, c.rows()));
    let change = if (missing_current - missing_reference).abs() > 0.05 {
        format!(
            "missing {} -> {}",
            percent(missing_reference),
            percent(missing_current)
        )
    } else {
        format!("mean {} -> {}", short(mean_r), short(mean_c))
    };
    FeatureDrift {
        column: name.to_string(),
        kind: Role::Numeric,
        status,
        psi,
        p_value,
        ks_statistic: Some(ks),
        ks_error_bound: ks_error_bound(r.rank_error, nr, c.rank_error, nc),
        wasserstein: Some(wasserstein),
        wasserstein_error_bound,
        chi_square: None,
        js_distance: None,
        missing_reference,
        missing_current,
        change,
        bins: histogram(labels, &rc, &cc),
        note,
    }
}

/// How far a KS statistic from compacted summaries can be from the exact one (None: exact).
pub(super) fn ks_error_bound(
    rank_error_r: u64,
    nr: u64,
    rank_error_c: u64,
    nc: u64,
) -> Option<f64> {
    (rank_error_r + rank_error_c > 0).then(|| share(rank_error_r, nr) + share(rank_error_c, nc))
}

/// Labels of the bins `(−∞, e₁], (e₁, e₂], …, (e_last, ∞)`.
fn range_labels(edges: &[f64]) -> Vec<String> {
    if edges.is_empty() {
        return vec!["all".into()];
    }
    let mut labels = Vec::with_capacity(edges.len() + 1);
    labels.push(format!("<= {}", short(edges[0])));
    for w in edges.windows(2) {
        labels.push(format!("({}, {}]", short(w[0]), short(w[1])));
    }
    labels.push(format!("> {}", short(edges[edges.len() - 1])));
    labels
}

pub(super) fn histogram(labels: Vec<String>, reference: &[u64], current: &[u64]) -> Vec<DriftBin> {
    let (nr, nc) = (reference.iter().sum(), current.iter().sum());
    labels
        .into_iter()
        .zip(reference.iter().zip(current))
        .map(|(label, (&r, &c))| DriftBin {
            label,
            reference: share(r, nr),
            current: share(c, nc),
        })
        .collect()
}

/// A number in at most four significant digits, without noise (`29.85`, `0.3333`, `1.2e6`).
pub(super) fn short(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-3) {
        return format!("{v:.3e}");
    }
    let digits = (4 - (v.abs().max(1e-300).log10().floor() as i32 + 1)).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

pub(super) const UNSEEN: &str = "(unseen levels)";

pub(super) fn categorical_drift(
    name: &str,
    r: &LevelSummary,
    c: &LevelSummary,
    thresholds: &DriftThresholds,
) -> FeatureDrift {
    let (r_levels, r_missing, c_levels, c_missing) = (&r.levels, r.missing, &c.levels, c.missing);
    // Reference levels, most frequent first; then unseen levels in one bin; then missing.
    let mut levels: Vec<(&String, u64)> = r_levels.iter().map(|(k, v)| (k, *v)).collect();
    levels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut labels: Vec<String> = levels.iter().map(|(k, _)| (*k).clone()).collect();
    let mut rc: Vec<u64> = levels.iter().map(|(_, v)| *v).collect();
    let mut cc: Vec<u64> = levels
        .iter()
        .map(|(k, _)| c_levels.get(*k).copied().unwrap_or(0))
        .collect();
    let mut unseen: Vec<(&String, u64)> = c_levels
        .iter()
        .filter(|(k, _)| !r_levels.contains_key(*k))
        .map(|(k, v)| (k, *v))
        .collect();
    unseen.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let unseen_rows: u64 = unseen.iter().map(|(_, v)| v).sum();
    if unseen_rows > 0 {
        labels.push(UNSEEN.into());
        rc.push(0);
        cc.push(unseen_rows);
    }
    if r_missing + c_missing > 0 {
        labels.push("missing".into());
        rc.push(r_missing);
        cc.push(c_missing);
    }
    let psi = stats::psi(&rc, &cc);
    let (chi_square, _, p_value) = stats::chi_square(&rc, &cc);
    let js = stats::jensen_shannon(&rc, &cc);
    let status = thresholds.status(p_value, psi, js);
    let bins = histogram(labels, &rc, &cc);
    // On ties the earlier (more common in the reference) bin is named.
    let moved = bins.iter().rev().max_by(|a, b| {
        (a.current - a.reference)
            .abs()
            .total_cmp(&(b.current - b.reference).abs())
    });
    let change = moved.map_or_else(String::new, |b| {
        format!(
            "{} {} -> {}",
            b.label,
            percent(b.reference),
            percent(b.current)
        )
    });
    let note = (!unseen.is_empty()).then(|| {
        let shown: Vec<String> = unseen
            .iter()
            .take(3)
            .map(|(k, v)| format!("{k:?} ({v})"))
            .collect();
        format!(
            "{} level(s) the reference never had: {}{}",
            unseen.len(),
            shown.join(", "),
            if unseen.len() > 3 { ", …" } else { "" }
        )
    });
    let (nr, nc) = (r.rows(), c.rows());
    FeatureDrift {
        column: name.to_string(),
        kind: Role::Categorical,
        status,
        psi,
        p_value,
        ks_statistic: None,
        ks_error_bound: None,
        wasserstein_error_bound: None,
        wasserstein: None,
        chi_square: Some(chi_square),
        js_distance: Some(js),
        missing_reference: share(r_missing, nr),
        missing_current: share(c_missing, nc),
        change,
        bins,
        note,
    }
}
