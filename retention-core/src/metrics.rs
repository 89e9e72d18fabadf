//! Evaluation metrics for churn probabilities.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Counts at a decision threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Churned and flagged.
    pub tp: u64,
    /// Stayed but flagged.
    pub fp: u64,
    /// Stayed and not flagged.
    pub tn: u64,
    /// Churned but not flagged.
    pub fn_: u64,
}

/// Every metric of one set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Rows evaluated.
    pub rows: usize,
    /// Share of churned rows.
    pub churn_rate: f64,
    /// Area under the ROC curve (ties counted half).
    pub roc_auc: f64,
    /// Area under the precision-recall curve (average precision).
    pub pr_auc: f64,
    /// Mean negative log-likelihood (probabilities clipped to [1e-15, 1 - 1e-15]).
    pub log_loss: f64,
    /// Mean squared error of the probabilities.
    pub brier: f64,
    /// Threshold used for the metrics below.
    pub threshold: f64,
    /// Share of rows classified correctly.
    pub accuracy: f64,
    /// Of the flagged, the share that churned.
    pub precision: f64,
    /// Of the churned, the share flagged.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Matthews correlation coefficient.
    pub mcc: f64,
    /// Churn rate among the 10 % highest scores divided by the overall churn rate.
    pub lift_top_decile: f64,
    /// Counts at the threshold.
    pub confusion: Confusion,
    /// Expected calibration error over 10 equal-width probability bins.
    #[serde(default)]
    pub ece: f64,
    /// The 10-bin reliability table behind `ece`.
    #[serde(default)]
    pub reliability: Vec<ReliabilityBin>,
}

/// The counts at one threshold of a model's probabilities on labelled rows: the customers at
/// or above it are the ones contacted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// The probability threshold.
    pub threshold: f64,
    /// Rows at or above it.
    pub contacted: usize,
    /// Churners among them (true positives).
    pub churners: usize,
}

/// The counts at every distinct probability, highest first (the last point contacts every
/// row): ROC, precision-recall, cumulative gain, lift and profit curves all follow from them
/// and the totals. Ties share one point, so no curve depends on the order of tied rows.
pub fn curve(y: &[bool], p: &[f64]) -> Vec<CurvePoint> {
    let mut order: Vec<usize> = (0..p.len().min(y.len())).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let mut points = Vec::new();
    let (mut contacted, mut churners) = (0, 0);
    let mut i = 0;
    while i < order.len() {
        let threshold = p[order[i]];
        while i < order.len() && p[order[i]].total_cmp(&threshold).is_eq() {
            contacted += 1;
            churners += usize::from(y[order[i]]);
            i += 1;
        }
        points.push(CurvePoint {
            threshold,
            contacted,
            churners,
        });
    }
    points
}

/// One bin of a reliability table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge of the bin (probability).
    pub lower: f64,
    /// Upper edge of the bin.
    pub upper: f64,
    /// Rows whose predicted probability falls in the bin.
    pub rows: usize,
    /// Mean predicted probability in the bin.
    pub predicted: f64,
    /// Observed churn rate in the bin.
    pub observed: f64,
}

/// The reliability table (10 equal-width bins; the last includes 1.0) and the expected
/// calibration error `Σ (rows_b / n) · |predicted_b − observed_b|`.
pub fn reliability(y: &[bool], p: &[f64]) -> (Vec<ReliabilityBin>, f64) {
    const BINS: usize = 10;
    let mut sums = [(0usize, 0.0f64, 0.0f64); BINS];
    for (&t, &q) in y.iter().zip(p) {
        let b = ((q * BINS as f64) as usize).min(BINS - 1);
        sums[b].0 += 1;
        sums[b].1 += q;
        sums[b].2 += f64::from(u8::from(t));
    }
    let n = y.len().max(1) as f64;
    let mut ece = 0.0;
    let bins = sums
        .iter()
        .enumerate()
        .map(|(b, &(rows, sp, so))| {
            let (predicted, observed) = if rows > 0 {
                (sp / rows as f64, so / rows as f64)
            } else {
                (0.0, 0.0)
            };
            ece += rows as f64 / n * (predicted - observed).abs();
            ReliabilityBin {
                lower: b as f64 / BINS as f64,
                upper: (b + 1) as f64 / BINS as f64,
                rows,
                predicted,
                observed,
            }
        })
        .collect();
    (bins, ece)
}

impl Metrics {
    /// Computes every metric.
    ///
    /// # Errors
    /// [`Error::InvalidData`] when the lengths differ, there are no rows, or a probability is not
    /// a finite number (it could only come from a broken model; no metric is defined on it).
    pub fn compute(y: &[bool], p: &[f64], threshold: f64) -> Result<Self> {
        if y.len() != p.len() {
            return Err(Error::InvalidData(format!(
                "{} labels but {} predictions",
                y.len(),
                p.len()
            )));
        }
        if y.is_empty() {
            return Err(Error::InvalidData("no rows to evaluate".into()));
        }
        if let Some(i) = p.iter().position(|q| !q.is_finite()) {
            return Err(Error::InvalidData(format!(
                "the churn probability of row {} is {}: metrics need finite probabilities",
                i + 1,
                p[i]
            )));
        }
        let n = y.len() as f64;
        let positives = y.iter().filter(|v| **v).count() as f64;
        let confusion = confusion(y, p, threshold);
        let (tp, fp, tn, fn_) = (
            confusion.tp as f64,
            confusion.fp as f64,
            confusion.tn as f64,
            confusion.fn_ as f64,
        );
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let (bins, ece) = reliability(y, p);
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        let mcc_den = ((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)).sqrt();
        Ok(Metrics {
            rows: y.len(),
            churn_rate: positives / n,
            roc_auc: roc_auc(y, p),
            pr_auc: average_precision(y, p),
            log_loss: log_loss(y, p),
            brier: y
                .iter()
                .zip(p)
                .map(|(&t, &q)| (q - f64::from(u8::from(t))).powi(2))
                .sum::<f64>()
                / n,
            threshold,
            accuracy: (tp + tn) / n,
            precision,
            recall,
            f1: ratio(2.0 * precision * recall, precision + recall),
            mcc: ratio(tp * tn - fp * fn_, mcc_den),
            lift_top_decile: lift_top_decile(y, p),
            confusion,
            ece,
            reliability: bins,
        })
    }

    /// The scalar metrics by name, in display order.
    pub fn named(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("roc_auc", self.roc_auc),
            ("pr_auc", self.pr_auc),
            ("log_loss", self.log_loss),
            ("brier", self.brier),
            ("ece", self.ece),
            ("accuracy", self.accuracy),
            ("precision", self.precision),
            ("recall", self.recall),
            ("f1", self.f1),
            ("mcc", self.mcc),
            ("lift_top_decile", self.lift_top_decile),
        ]
    }
}

/// Mean and standard deviation of a metric over folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// Mean over folds.
    pub mean: f64,
    /// Population standard deviation over folds (as `numpy.std`).
    pub std: f64,
}

impl MeanStd {
    /// Mean and standard deviation of values.
    pub fn of(values: &[f64]) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        MeanStd {
            mean,
            std: var.sqrt(),
        }
    }
}

/// Cross-validation results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvReport {
    /// Number of folds.
    pub folds: usize,
    /// Seed of the fold assignment.
    pub seed: u64,
    /// Each metric's mean ± std over folds.
    pub summary: BTreeMap<String, MeanStd>,
    /// Each fold's metrics.
    pub per_fold: Vec<Metrics>,
}

impl CvReport {
    /// Summarises per-fold metrics.
    pub fn from_folds(seed: u64, per_fold: Vec<Metrics>) -> Self {
        let mut summary = BTreeMap::new();
        if let Some(first) = per_fold.first() {
            for (k, (name, _)) in first.named().into_iter().enumerate() {
                let values: Vec<f64> = per_fold.iter().map(|m| m.named()[k].1).collect();
                summary.insert(name.to_string(), MeanStd::of(&values));
            }
        }
        CvReport {
            folds: per_fold.len(),
            seed,
            summary,
            per_fold,
        }
    }

    /// Mean ± std of one metric, by its name in [`Metrics::named`].
    pub fn get(&self, metric: &str) -> Option<MeanStd> {
        self.summary.get(metric).copied()
    }

    /// Cross-validated ROC-AUC.
    pub fn roc_auc(&self) -> Option<MeanStd> {
        self.get("roc_auc")
    }

    /// Cross-validated log-loss.
    pub fn log_loss(&self) -> Option<MeanStd> {
        self.get("log_loss")
    }

    /// Cross-validated PR-AUC (average precision).
    pub fn pr_auc(&self) -> Option<MeanStd> {
        self.get("pr_auc")
    }

    /// Cross-validated Brier score.
    pub fn brier(&self) -> Option<MeanStd> {
        self.get("brier")
    }

    /// Cross-validated expected calibration error.
    pub fn ece(&self) -> Option<MeanStd> {
        self.get("ece")
    }
}

/// Whether two scores are one tie group in a sorted order: equal, or both NaN. Grouping by `==`
/// alone never advances past a NaN (NaN ≠ NaN), so every loop over tie groups uses this.
pub(crate) fn same_score(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Orders scores ascending with NaN last whatever its sign bit (`total_cmp` alone puts a
/// negative NaN, what `0.0 / 0.0` gives on x86, before every number).
pub(crate) fn nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (false, false) => a.total_cmp(&b),
        (a_nan, b_nan) => a_nan.cmp(&b_nan),
    }
}

fn confusion(y: &[bool], p: &[f64], threshold: f64) -> Confusion {
    let mut c = Confusion::default();
    for (&t, &q) in y.iter().zip(p) {
        match (t, q >= threshold) {
            (true, true) => c.tp += 1,
            (false, true) => c.fp += 1,
            (false, false) => c.tn += 1,
            (true, false) => c.fn_ += 1,
        }
    }
    c
}

/// Indices sorted by score (descending when `desc`), ties in index order: the order a stable
/// sort gives, found by sorting (score, index) pairs in parallel.
fn order_by_score(p: &[f64], desc: bool) -> Vec<usize> {
    use rayon::prelude::*;
    let mut pairs: Vec<(f64, usize)> = p.iter().copied().zip(0..).collect();
    pairs.par_sort_unstable_by(|a, b| {
        let by_score = if desc {
            b.0.total_cmp(&a.0)
        } else {
            a.0.total_cmp(&b.0)
        };
        by_score.then(a.1.cmp(&b.1))
    });
    pairs.into_iter().map(|(_, i)| i).collect()
}

/// Indices sorted by descending score.
fn order_desc(p: &[f64]) -> Vec<usize> {
    order_by_score(p, true)
}

/// ROC-AUC by the rank-sum formula, ties counted half. 0.5 when one class is absent.
pub fn roc_auc(y: &[bool], p: &[f64]) -> f64 {
    let idx = order_by_score(p, false);
    let n_pos = y.iter().filter(|v| **v).count() as f64;
    let n_neg = y.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return 0.5;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && same_score(p[idx[j + 1]], p[idx[i]]) {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if y[k] {
                rank_sum += avg_rank;
            }
        }
        i = j + 1;
    }
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// Average precision: Σ (Rₖ − Rₖ₋₁)·Pₖ over distinct thresholds (as scikit-learn).
pub fn average_precision(y: &[bool], p: &[f64]) -> f64 {
    let idx = order_desc(p);
    let n_pos = y.iter().filter(|v| **v).count() as f64;
    if n_pos == 0.0 {
        return 0.0;
    }
    let (mut tp, mut fp, mut prev_recall, mut ap) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j < idx.len() && same_score(p[idx[j]], p[idx[i]]) {
            if y[idx[j]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            j += 1;
        }
        let recall = tp / n_pos;
        ap += (recall - prev_recall) * tp / (tp + fp);
        prev_recall = recall;
        i = j;
    }
    ap
}

/// Mean negative log-likelihood.
pub fn log_loss(y: &[bool], p: &[f64]) -> f64 {
    let eps = 1e-15;
    y.iter()
        .zip(p)
        .map(|(&t, &q)| {
            let q = q.clamp(eps, 1.0 - eps);
            if t { -q.ln() } else { -(1.0 - q).ln() }
        })
        .sum::<f64>()
        / y.len().max(1) as f64
}

fn lift_top_decile(y: &[bool], p: &[f64]) -> f64 {
    let n = y.len();
    let base = y.iter().filter(|v| **v).count() as f64 / n.max(1) as f64;
    let k = n.div_ceil(10).max(1);
    let top = order_desc(p).into_iter().take(k).filter(|&i| y[i]).count() as f64 / k as f64;
    if base > 0.0 { top / base } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_hand_computation_with_ties() {
        // Pairs (pos, neg): scores pos [0.8, 0.4], neg [0.4, 0.1].
        // Pairs: 0.8>0.4 ✓, 0.8>0.1 ✓, 0.4=0.4 ½, 0.4>0.1 ✓ → 3.5/4.
        let y = [true, true, false, false];
        let p = [0.8, 0.4, 0.4, 0.1];
        assert!((roc_auc(&y, &p) - 0.875).abs() < 1e-12);
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), 0.5);
    }

    #[test]
    fn average_precision_matches_scikit_learn() {
        // sklearn.metrics.average_precision_score([1,0,1,1,0],[0.9,0.8,0.7,0.3,0.2]) = 0.80555…
        let y = [true, false, true, true, false];
        let p = [0.9, 0.8, 0.7, 0.3, 0.2];
        assert!((average_precision(&y, &p) - 0.805_555_555_555_555_6).abs() < 1e-12);
    }

    #[test]
    fn threshold_metrics_and_log_loss() {
        let y = [true, false, true, false];
        let p = [0.9, 0.6, 0.4, 0.1];
        let m = Metrics::compute(&y, &p, 0.5).unwrap();
        assert_eq!(
            m.confusion,
            Confusion {
                tp: 1,
                fp: 1,
                tn: 1,
                fn_: 1
            }
        );
        assert!((m.accuracy - 0.5).abs() < 1e-12);
        assert!((m.f1 - 0.5).abs() < 1e-12);
        assert!(m.mcc.abs() < 1e-12);
        let expected = -(0.9f64.ln() + 0.4f64.ln() + 0.4f64.ln() + 0.9f64.ln()) / 4.0;
        assert!((m.log_loss - expected).abs() < 1e-12);
        assert!((m.brier - (0.01 + 0.36 + 0.36 + 0.01) / 4.0).abs() < 1e-12);
        // Top decile of 4 rows is 1 row (0.9, churned): lift = 1 / 0.5.
        assert!((m.lift_top_decile - 2.0).abs() < 1e-12);
        assert!(Metrics::compute(&y, &p[..2], 0.5).is_err());
    }

    #[test]
    fn the_curve_counts_ties_once_and_its_area_is_the_roc_auc() {
        let y = [true, false, true, false, true, false, false];
        let p = [0.9, 0.8, 0.8, 0.3, 0.3, 0.3, 0.1];
        let points = curve(&y, &p);
        let counts: Vec<(usize, usize)> =
            points.iter().map(|c| (c.contacted, c.churners)).collect();
        assert_eq!(counts, [(1, 1), (3, 2), (6, 3), (7, 3)]);
        // The trapezoidal area under (false positive rate, true positive rate) is the ROC-AUC.
        let (pos, neg) = (3.0, 4.0);
        let mut area = 0.0;
        let (mut x0, mut y0) = (0.0, 0.0);
        for c in &points {
            let (x1, y1) = (
                (c.contacted - c.churners) as f64 / neg,
                c.churners as f64 / pos,
            );
            area += (x1 - x0) * (y0 + y1) / 2.0;
            (x0, y0) = (x1, y1);
        }
        assert!((area - roc_auc(&y, &p)).abs() < 1e-12, "{area}");
    }

    #[test]
    fn reliability_table_and_ece() {
        // Bin 0.1–0.2: predicted 0.15, observed 0.5 (2 rows); bin 0.9–1.0: predicted 0.95, 1.0.
        let y = [true, false, true, true];
        let p = [0.15, 0.15, 0.95, 1.0];
        let (bins, ece) = reliability(&y, &p);
        assert_eq!(bins.len(), 10);
        assert_eq!(bins[1].rows, 2);
        assert!((bins[1].observed - 0.5).abs() < 1e-12);
        assert_eq!(bins[9].rows, 2);
        let expected = 0.5 * (0.5f64 - 0.15).abs() + 0.5 * (1.0f64 - 0.975).abs();
        assert!((ece - expected).abs() < 1e-12, "{ece} {expected}");
    }

    #[test]
    fn every_metric_is_total_over_nan_scores() {
        // Average precision used to loop forever on a NaN score (NaN == NaN is false).
        let y = [true, false, true, false, true];
        let p = [f64::NAN, 0.4, -f64::NAN, 0.4, 0.9];
        assert!(average_precision(&y, &p).is_finite());
        assert!(roc_auc(&y, &p).is_finite());
        assert!(lift_top_decile(&y, &p).is_finite());
        let e = Metrics::compute(&y, &p, 0.5).unwrap_err().to_string();
        assert!(e.contains("row 1") && e.contains("NaN"), "{e}");
        let e = Metrics::compute(&y, &[0.1, 0.2, f64::INFINITY, 0.3, 0.4], 0.5).unwrap_err();
        assert!(e.to_string().contains("row 3"), "{e}");
        // Ties are grouped by value; NaNs with each other, never with a number.
        assert!(same_score(0.0, -0.0) && same_score(f64::NAN, -f64::NAN));
        assert!(!same_score(f64::NAN, 0.4));
        let mut v = [0.4, f64::NAN, 0.1, -f64::NAN];
        v.sort_by(|a, b| nan_last(*a, *b));
        assert_eq!(&v[..2], &[0.1, 0.4]);
    }

    #[test]
    fn cv_summary() {
        let s = MeanStd::of(&[1.0, 3.0]);
        assert_eq!((s.mean, s.std), (2.0, 1.0));
    }
}
