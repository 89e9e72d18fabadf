//! The model's side of a comparison: drift of the predicted probabilities and of the risk-tier
//! mix, performance estimated from the probabilities alone (CBPE), and measured performance when
//! a table has labels.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::features::{DriftBin, histogram, ks_error_bound};
use super::report::{DriftThresholds, Status};
use super::stats;
use super::summary::{NumericSummary, PredictionSummary};
use crate::model::{ChurnModel, Tier};

/// ROC-AUC and accuracy, estimated or measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Performance {
    /// Area under the ROC curve.
    pub roc_auc: f64,
    /// Share classified correctly at the model's threshold.
    pub accuracy: f64,
    /// Share of churners (expected: the mean probability).
    pub churn_rate: f64,
}

/// Drift of the model's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionDrift {
    /// Verdict for the predicted probabilities (same rule as a numeric feature).
    pub status: Status,
    /// PSI of the probabilities over the reference's quantile bins.
    pub psi: f64,
    /// Kolmogorov-Smirnov statistic of the probabilities.
    pub ks_statistic: f64,
    /// Its error bound when the probabilities were summarised with a bounded sketch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks_error_bound: Option<f64>,
    /// Its p-value.
    pub p_value: f64,
    /// Mean probability on the reference.
    pub mean_reference: f64,
    /// Mean probability on the current table.
    pub mean_current: f64,
    /// Share of customers per risk tier on each side.
    pub tiers: Vec<DriftBin>,
    /// PSI of the tier mix.
    pub tier_psi: f64,
    /// Expected performance on the reference, from the probabilities alone.
    pub estimated_reference: Performance,
    /// Expected performance on the current table, from the probabilities alone (confidence-based
    /// estimation: right when the model is calibrated and only the inputs moved).
    pub estimated_current: Performance,
    /// Measured on the reference, when it has labels (in-sample if it is the training data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realised_reference: Option<Performance>,
    /// Measured on the current table, when it has labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realised_current: Option<Performance>,
}

pub(super) fn prediction_drift(
    model: &ChurnModel,
    r: &PredictionSummary,
    c: &PredictionSummary,
    bins: usize,
    thresholds: &DriftThresholds,
) -> PredictionDrift {
    let (dr, dc) = (r.distribution(), c.distribution());
    let (nr, nc) = (dr.count(), dc.count());
    let edges = stats::quantile_edges_weighted(&dr.values, bins);
    let psi = stats::psi(
        &stats::bin_counts_weighted(&dr.values, &edges),
        &stats::bin_counts_weighted(&dc.values, &edges),
    );
    let (ks, w) = stats::ks_and_wasserstein_weighted(&dr.values, &dc.values);
    let (mean_reference, spread) = stats::mean_std_weighted(&dr.values);
    let (mean_current, _) = stats::mean_std_weighted(&dc.values);
    let w = if spread > 0.0 { w / spread } else { w };
    let p_value = stats::ks_p_value(ks, nr as usize, nc as usize);
    let tier_counts = |d: &NumericSummary| -> Vec<u64> {
        let mut counts: BTreeMap<Tier, u64> = Tier::ALL.iter().map(|t| (*t, 0)).collect();
        for &(q, n) in &d.values {
            *counts.entry(model.tiers.tier(q)).or_default() += n;
        }
        counts.into_values().collect()
    };
    let (tr, tc) = (tier_counts(&dr), tier_counts(&dc));
    let tier_labels: Vec<String> = {
        let mut tiers = Tier::ALL.to_vec();
        tiers.sort();
        tiers.iter().map(|t| t.as_str().to_string()).collect()
    };
    PredictionDrift {
        status: thresholds.status(p_value, psi, w),
        psi,
        ks_statistic: ks,
        ks_error_bound: ks_error_bound(r.rank_error, nr, c.rank_error, nc),
        p_value,
        mean_reference,
        mean_current,
        tier_psi: stats::psi(&tr, &tc),
        tiers: histogram(tier_labels, &tr, &tc),
        estimated_reference: estimate_performance_weighted(&dr.values, model.threshold),
        estimated_current: estimate_performance_weighted(&dc.values, model.threshold),
        realised_reference: realised(r, model.threshold),
        realised_current: realised(c, model.threshold),
    }
}

/// Measured ROC-AUC (ties count half), accuracy at `threshold` and churn rate of a labelled
/// summary with both classes; None otherwise.
fn realised(s: &PredictionSummary, threshold: f64) -> Option<Performance> {
    let n: u64 = s.rows();
    let churners: u64 = s.probabilities.iter().map(|(_, (_, c))| c).sum();
    if !s.labelled || churners == 0 || churners == n {
        return None;
    }
    let stayers = n - churners;
    let (mut stayers_below, mut ranked_right, mut correct) = (0u64, 0.0f64, 0u64);
    for &(p, (rows, churned)) in &s.probabilities {
        let stayed = rows - churned;
        ranked_right += churned as f64 * (stayers_below as f64 + 0.5 * stayed as f64);
        stayers_below += stayed;
        correct += if p >= threshold { churned } else { stayed };
    }
    Some(Performance {
        roc_auc: ranked_right / (churners as f64 * stayers as f64),
        accuracy: correct as f64 / n as f64,
        churn_rate: churners as f64 / n as f64,
    })
}

/// Confidence-based performance estimation: if the probabilities are calibrated, row `i` churns
/// with probability `pᵢ`, so the expected accuracy at threshold `t` is the mean of `pᵢ` over rows
/// flagged and `1 − pᵢ` over the others, and the expected ROC-AUC is the share of (churner,
/// stayer) pairs ranked right, each pair `(i, j)` weighted by `pᵢ (1 − pⱼ)` (ties count half;
/// a row is never paired with itself).
pub fn estimate_performance(p: &[f64], threshold: f64) -> Performance {
    let mut counts: Vec<(f64, u64)> = Vec::with_capacity(p.len());
    let mut sorted = p.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    for v in sorted {
        match counts.last_mut() {
            Some((last, c)) if *last == v => *c += 1,
            _ => counts.push((v, 1)),
        }
    }
    estimate_performance_weighted(&counts, threshold)
}

/// [`estimate_performance`] of distinct ascending probabilities with their row counts.
pub fn estimate_performance_weighted(p: &[(f64, u64)], threshold: f64) -> Performance {
    let n = stats::weight(p) as f64;
    if n == 0.0 {
        return Performance {
            roc_auc: f64::NAN,
            accuracy: f64::NAN,
            churn_rate: f64::NAN,
        };
    }
    let accuracy = p
        .iter()
        .map(|&(q, c)| c as f64 * if q >= threshold { q } else { 1.0 - q })
        .sum::<f64>()
        / n;
    let (mut stayers_below, mut ranked_right, mut self_pairs) = (0.0f64, 0.0f64, 0.0f64);
    for &(q, c) in p {
        let c = c as f64;
        let (gp, gn, group_self) = (q * c, (1.0 - q) * c, q * (1.0 - q) * c);
        self_pairs += group_self;
        ranked_right += gp * stayers_below + 0.5 * (gp * gn - group_self);
        stayers_below += gn;
    }
    let churners: f64 = p.iter().map(|&(q, c)| q * c as f64).sum();
    let pairs = churners * (n - churners) - self_pairs;
    Performance {
        roc_auc: if pairs > 0.0 {
            ranked_right / pairs
        } else {
            f64::NAN
        },
        accuracy,
        churn_rate: churners / n,
    }
}
