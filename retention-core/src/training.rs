//! Training: stratified splits and cross-validation with a seed, calibration on out-of-fold
//! predictions, model selection, the decision threshold, then the final fit.
//!
//! Every fold fits its own feature pipeline on its training rows only, so imputation values,
//! vocabularies and scales never see the rows they are evaluated on. Calibration is cross-fitted:
//! the calibrator that maps fold f's out-of-fold log-odds is fitted on the other folds' out-of-fold
//! log-odds, so cross-validated figures describe the whole procedure that is deployed.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::calibration::{CalibrationMethod, Calibrator};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::estimators::{Algorithm, Estimator, EstimatorParams};
use crate::features::{FeatureSpec, FittedPipeline, PipelineParams};
use crate::metrics::{CvReport, Metrics, nan_last, same_score};
use crate::model::{
    ChurnModel, LeaderboardEntry, ModelMetrics, Provenance, RiskTiers, ThresholdChoice,
};

/// The metric `--algorithm auto` selects by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionMetric {
    /// Lowest cross-validated log-loss (rewards calibrated, sharp probabilities). Default.
    #[default]
    LogLoss,
    /// Highest cross-validated ROC-AUC (rewards ranking only).
    RocAuc,
}

/// What the decision threshold maximises.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdObjective {
    /// The threshold given (`--threshold`, default 0.5).
    #[default]
    Fixed,
    /// F1 on out-of-fold predictions.
    F1,
    /// Expected profit of retention offers on out-of-fold predictions.
    Profit,
}

/// The money behind a retention offer (the runbook's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessValues {
    /// Lifetime value of a retained customer. Default 1,200.
    pub customer_value: f64,
    /// Cost of one retention offer. Default 50.
    pub offer_cost: f64,
    /// Share of contacted churners the offer keeps. Default 0.7.
    pub offer_success_rate: f64,
}

impl Default for BusinessValues {
    fn default() -> Self {
        BusinessValues {
            customer_value: 1200.0,
            offer_cost: 50.0,
            offer_success_rate: 0.7,
        }
    }
}

impl BusinessValues {
    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for negative money or a rate outside [0, 1].
    pub fn check(&self) -> Result<()> {
        if !(self.customer_value.is_finite() && self.customer_value >= 0.0) {
            return Err(Error::param(
                "--customer-value",
                "must be a non-negative number",
            ));
        }
        if !(self.offer_cost.is_finite() && self.offer_cost >= 0.0) {
            return Err(Error::param(
                "--offer-cost",
                "must be a non-negative number",
            ));
        }
        if !(0.0..=1.0).contains(&self.offer_success_rate) {
            return Err(Error::param(
                "--offer-success-rate",
                "must be between 0 and 1",
            ));
        }
        Ok(())
    }

    /// Profit of contacting one customer who churns (`true`) or stays.
    fn gain(&self, churns: bool) -> f64 {
        if churns {
            self.customer_value * self.offer_success_rate - self.offer_cost
        } else {
            -self.offer_cost
        }
    }
}

/// Everything that decides how a model is trained. Defaults: `auto` selection by log-loss, 5-fold
/// CV, Platt calibration, no holdout, seed 42, threshold 0.5, tiers Low < 0.3 ≤ Medium < 0.7 ≤ High.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// The model family, or `Auto`.
    pub algorithm: Algorithm,
    /// Estimator settings.
    pub estimator: EstimatorParams,
    /// Feature pipeline settings.
    pub pipeline: PipelineParams,
    /// Derived features.
    pub features: FeatureSpec,
    /// Folds of stratified cross-validation (0 = none). Default 5.
    pub cv_folds: usize,
    /// Share of rows held out (stratified) for a final test, 0 for none. Default 0.
    pub test_size: f64,
    /// Seed of every random choice. Default 42.
    pub seed: u64,
    /// Calibration fitted on out-of-fold predictions (needs CV). Default Platt.
    #[serde(default)]
    pub calibration: CalibrationMethod,
    /// What `Auto` selects by. Default log-loss.
    #[serde(default)]
    pub selection: SelectionMetric,
    /// Probability at or above which a customer is predicted to churn, with
    /// `ThresholdObjective::Fixed`. Default 0.5.
    pub threshold: f64,
    /// What the threshold maximises. Default `Fixed`.
    #[serde(default)]
    pub threshold_objective: ThresholdObjective,
    /// Money behind a retention offer, for the profit threshold and its report.
    #[serde(default)]
    pub business: BusinessValues,
    /// Risk tier boundaries.
    pub tiers: RiskTiers,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            algorithm: Algorithm::Auto,
            estimator: EstimatorParams::default(),
            pipeline: PipelineParams::default(),
            features: FeatureSpec::default(),
            cv_folds: 5,
            test_size: 0.0,
            seed: 42,
            calibration: CalibrationMethod::default(),
            selection: SelectionMetric::default(),
            threshold: 0.5,
            threshold_objective: ThresholdObjective::default(),
            business: BusinessValues::default(),
            tiers: RiskTiers::default(),
        }
    }
}

impl TrainParams {
    /// Default parameters for an algorithm.
    pub fn new(algorithm: Algorithm) -> Self {
        TrainParams {
            algorithm,
            ..Default::default()
        }
    }

    /// Sets the number of CV folds (0 = none).
    pub fn cv_folds(mut self, k: usize) -> Self {
        self.cv_folds = k;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the derived features.
    pub fn features(mut self, spec: FeatureSpec) -> Self {
        self.features = spec;
        self
    }

    /// Sets the holdout share.
    pub fn test_size(mut self, share: f64) -> Self {
        self.test_size = share;
        self
    }

    /// Sets the calibration method.
    pub fn calibration(mut self, method: CalibrationMethod) -> Self {
        self.calibration = method;
        self
    }

    /// Sets the threshold objective.
    pub fn threshold_objective(mut self, objective: ThresholdObjective) -> Self {
        self.threshold_objective = objective;
        self
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the setting.
    pub fn check(&self) -> Result<()> {
        if self.cv_folds == 1 {
            return Err(Error::param(
                "--cv",
                "1 fold is not cross-validation; use 2 or more, or 0 to skip",
            ));
        }
        if self.cv_folds < 2 && self.algorithm == Algorithm::Auto {
            return Err(Error::param(
                "--algorithm",
                "auto compares candidates by cross-validation: use --cv 2 or more, or name an algorithm",
            ));
        }
        if self.cv_folds < 2 && self.threshold_objective != ThresholdObjective::Fixed {
            return Err(Error::param(
                "--threshold-objective",
                "choosing the threshold needs out-of-fold predictions: use --cv 2 or more",
            ));
        }
        if !(0.0..0.9).contains(&self.test_size) {
            return Err(Error::param(
                "--test-size",
                format!("{} is not in [0, 0.9)", self.test_size),
            ));
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(Error::param(
                "--threshold",
                format!("{} is not strictly between 0 and 1", self.threshold),
            ));
        }
        self.tiers.check()?;
        self.pipeline.check()?;
        self.business.check()?;
        self.estimator.check()
    }
}

/// A step of training, reported to a progress callback.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A cross-validation fold finished (1-based count of folds done, total).
    Fold(usize, usize),
    /// The final model is being fitted on `rows` rows.
    FinalFit(usize),
}

/// One candidate's cross-validated result.
struct Candidate {
    members: Vec<Algorithm>,
    /// Out-of-fold raw log-odds, in the order of the training rows.
    oof: Vec<f64>,
    report: CvReport,
    /// Cross-fitted calibrated out-of-fold probabilities.
    calibrated: Vec<f64>,
}

impl Candidate {
    fn name(&self) -> String {
        match self.members.as_slice() {
            [one] => one.as_str().to_string(),
            many => format!(
                "blend({})",
                many.iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join("+")
            ),
        }
    }

    /// Lower is better.
    fn loss(&self, metric: SelectionMetric) -> f64 {
        let get = |m: &str| self.report.get(m).map_or(f64::INFINITY, |v| v.mean);
        match metric {
            SelectionMetric::LogLoss => get("log_loss"),
            SelectionMetric::RocAuc => -self.report.get("roc_auc").map_or(0.0, |v| v.mean),
        }
    }
}

/// Trains a model on a dataset that has a target.
///
/// # Errors
/// [`Error::InvalidParameter`] for bad params or more folds than the minority class has rows,
/// [`Error::InvalidData`] when the dataset has no target, and whatever fitting reports.
pub fn train(
    ds: &Dataset,
    params: &TrainParams,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ChurnModel> {
    params.check()?;
    let y = ds
        .target
        .as_deref()
        .ok_or_else(|| Error::InvalidData("the training table has no target column".into()))?;
    let (train_rows, test_rows) = if params.test_size > 0.0 {
        stratified_split(y, params.test_size, params.seed)?
    } else {
        ((0..y.len()).collect(), Vec::new())
    };
    let y_train: Vec<bool> = train_rows.iter().map(|&i| y[i]).collect();
    let minority = y_train
        .iter()
        .filter(|v| **v)
        .count()
        .min(y_train.iter().filter(|v| !**v).count());
    if minority < 2 {
        return Err(Error::InvalidData(format!(
            "the training rows hold {minority} example(s) of one class; at least 2 of each are needed"
        )));
    }
    let algorithms: Vec<Algorithm> = match params.algorithm {
        Algorithm::Auto => Algorithm::ALL.to_vec(),
        one => vec![one],
    };

    let mut notes = ds.warnings.clone();
    let mut leaderboard = Vec::new();
    let (members, chosen) = if params.cv_folds >= 2 {
        if params.cv_folds > minority {
            return Err(Error::param(
                "--cv",
                format!(
                    "{} folds need at least {} rows of each class; the smaller class has {minority}",
                    params.cv_folds, params.cv_folds
                ),
            ));
        }
        let fold_of = stratified_folds(&y_train, params.cv_folds, params.seed);
        let oofs = cross_validate(
            ds,
            &train_rows,
            &y_train,
            &fold_of,
            &algorithms,
            params,
            progress,
        )?;
        let mut candidates = Vec::new();
        for (algorithm, oof) in algorithms.iter().zip(oofs) {
            candidates.push(evaluate(
                vec![*algorithm],
                oof,
                &y_train,
                &fold_of,
                params,
                params.threshold,
            )?);
        }
        if params.algorithm == Algorithm::Auto {
            let mut order: Vec<usize> = (0..candidates.len()).collect();
            order.sort_by(|&a, &b| {
                nan_last(
                    candidates[a].loss(params.selection),
                    candidates[b].loss(params.selection),
                )
            });
            let (a, b) = (&candidates[order[0]], &candidates[order[1]]);
            let blend: Vec<f64> = a
                .oof
                .iter()
                .zip(&b.oof)
                .map(|(x, y)| (x + y) / 2.0)
                .collect();
            let members = vec![a.members[0], b.members[0]];
            candidates.push(evaluate(
                members,
                blend,
                &y_train,
                &fold_of,
                params,
                params.threshold,
            )?);
        }
        candidates.sort_by(|a, b| nan_last(a.loss(params.selection), b.loss(params.selection)));
        for (k, c) in candidates.iter().enumerate() {
            let get = |m: &str| {
                c.report.get(m).unwrap_or(crate::metrics::MeanStd {
                    mean: f64::NAN,
                    std: f64::NAN,
                })
            };
            leaderboard.push(LeaderboardEntry {
                name: c.name(),
                roc_auc: get("roc_auc"),
                log_loss: get("log_loss"),
                pr_auc: get("pr_auc"),
                brier: get("brier"),
                ece: get("ece"),
                selected: k == 0,
            });
        }
        let best = candidates.swap_remove(0);
        (best.members.clone(), Some((best, fold_of)))
    } else {
        if params.calibration != CalibrationMethod::None {
            notes.push("no cross-validation, so no out-of-fold predictions to calibrate on: probabilities are the model's own".into());
        }
        (algorithms, None)
    };

    // Threshold and calibration from the chosen candidate's out-of-fold predictions.
    let mut threshold = params.threshold;
    let mut threshold_choice = None;
    let mut calibrator = Calibrator::Identity;
    let (mut cv, mut out_of_fold) = (None, None);
    if let Some((best, fold_of)) = chosen {
        threshold = choose_threshold(params, &best.calibrated, &y_train);
        threshold_choice = Some(ThresholdChoice {
            objective: params.threshold_objective,
            threshold,
            expected_profit_per_1000: Some(
                profit_at(&params.business, &best.calibrated, &y_train, threshold) * 1000.0
                    / y_train.len() as f64,
            ),
            customer_value: params.business.customer_value,
            offer_cost: params.business.offer_cost,
            offer_success_rate: params.business.offer_success_rate,
        });
        let report = if threshold == params.threshold {
            best.report
        } else {
            evaluate(
                best.members.clone(),
                best.oof.clone(),
                &y_train,
                &fold_of,
                params,
                threshold,
            )?
            .report
        };
        out_of_fold = Some(Metrics::compute(&y_train, &best.calibrated, threshold)?);
        cv = Some(report);
        if params.calibration != CalibrationMethod::None {
            calibrator = Calibrator::fit(params.calibration, &best.oof, &y_train)?;
        }
    }

    progress(Progress::FinalFit(train_rows.len()));
    let train_frame = take_rows(ds, &train_rows)?;
    let (pipeline, x_train) = FittedPipeline::fit_transform(
        &train_frame,
        &ds.schema,
        &params.features,
        &params.pipeline,
    )?;
    let mut fitted = members
        .iter()
        .map(|a| Estimator::fit(*a, &params.estimator, &x_train, &y_train, params.seed))
        .collect::<Result<Vec<_>>>()?;
    let estimator = if fitted.len() == 1 {
        fitted.remove(0)
    } else {
        Estimator::Blend { members: fitted }
    };
    notes.extend(estimator.fit_notes());

    let training = Metrics::compute(
        &y_train,
        &calibrator.apply(&estimator.decision(&x_train)),
        threshold,
    )?;
    let holdout = if test_rows.is_empty() {
        None
    } else {
        let frame = take_rows(ds, &test_rows)?;
        let (x, _) = pipeline.transform(&frame)?;
        let y_test: Vec<bool> = test_rows.iter().map(|&i| y[i]).collect();
        Some(Metrics::compute(
            &y_test,
            &calibrator.apply(&estimator.decision(&x)),
            threshold,
        )?)
    };

    Ok(ChurnModel {
        schema: ds.schema.clone(),
        pipeline,
        estimator,
        calibrator,
        threshold,
        threshold_choice,
        tiers: params.tiers.clone(),
        metrics: ModelMetrics {
            cv,
            out_of_fold,
            holdout,
            training,
            leaderboard,
        },
        params: params.clone(),
        provenance: Provenance::now(ds, train_rows.len(), test_rows.len(), params.seed),
        notes,
    })
}

/// A fold's held-out positions (into the training rows) and each algorithm's log-odds for them.
type FoldPredictions = (Vec<usize>, Vec<Vec<f64>>);

/// Out-of-fold raw log-odds of every algorithm (in the order of `rows`), sharing each fold's
/// fitted pipeline between algorithms.
fn cross_validate(
    ds: &Dataset,
    rows: &[usize],
    y: &[bool],
    fold_of: &[usize],
    algorithms: &[Algorithm],
    params: &TrainParams,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<Vec<f64>>> {
    let k = params.cv_folds;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let folds: Vec<Result<FoldPredictions>> = (0..k)
        .into_par_iter()
        .map(|fold| {
            let (fit_pos, test_pos): (Vec<usize>, Vec<usize>) =
                (0..rows.len()).partition(|&i| fold_of[i] != fold);
            let fold_rows: Vec<usize> = fit_pos.iter().map(|&i| rows[i]).collect();
            let fold_y: Vec<bool> = fit_pos.iter().map(|&i| y[i]).collect();
            let frame = take_rows(ds, &fold_rows)?;
            let (pipeline, x_fit) = FittedPipeline::fit_transform(
                &frame,
                &ds.schema,
                &params.features,
                &params.pipeline,
            )?;
            let test_rows: Vec<usize> = test_pos.iter().map(|&i| rows[i]).collect();
            let (x_test, _) = pipeline.transform(&take_rows(ds, &test_rows)?)?;
            let mut raw = Vec::with_capacity(algorithms.len());
            for a in algorithms {
                let estimator =
                    Estimator::fit(*a, &params.estimator, &x_fit, &fold_y, params.seed)?;
                raw.push(estimator.decision(&x_test));
            }
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            progress(Progress::Fold(n, k));
            Ok((test_pos, raw))
        })
        .collect();
    let mut oof = vec![vec![f64::NAN; rows.len()]; algorithms.len()];
    for fold in folds {
        let (positions, raw) = fold?;
        for (a, z) in raw.into_iter().enumerate() {
            for (&pos, v) in positions.iter().zip(z) {
                oof[a][pos] = v;
            }
        }
    }
    Ok(oof)
}

/// Cross-fitted calibration and per-fold metrics of out-of-fold log-odds.
fn evaluate(
    members: Vec<Algorithm>,
    oof: Vec<f64>,
    y: &[bool],
    fold_of: &[usize],
    params: &TrainParams,
    threshold: f64,
) -> Result<Candidate> {
    let k = params.cv_folds;
    let mut calibrated = vec![f64::NAN; oof.len()];
    let mut per_fold = Vec::with_capacity(k);
    for fold in 0..k {
        let (inside, outside): (Vec<usize>, Vec<usize>) =
            (0..oof.len()).partition(|&i| fold_of[i] == fold);
        let calibrator = match params.calibration {
            CalibrationMethod::None => Calibrator::Identity,
            method => {
                let z: Vec<f64> = outside.iter().map(|&i| oof[i]).collect();
                let t: Vec<bool> = outside.iter().map(|&i| y[i]).collect();
                Calibrator::fit(method, &z, &t)?
            }
        };
        let p: Vec<f64> = inside
            .iter()
            .map(|&i| calibrator.probability(oof[i]))
            .collect();
        let t: Vec<bool> = inside.iter().map(|&i| y[i]).collect();
        per_fold.push(Metrics::compute(&t, &p, threshold)?);
        for (&i, q) in inside.iter().zip(p) {
            calibrated[i] = q;
        }
    }
    Ok(Candidate {
        members,
        oof,
        report: CvReport::from_folds(params.seed, per_fold),
        calibrated,
    })
}

/// The threshold the objective asks for, on calibrated out-of-fold probabilities.
fn choose_threshold(params: &TrainParams, p: &[f64], y: &[bool]) -> f64 {
    let objective = params.threshold_objective;
    if objective == ThresholdObjective::Fixed {
        return params.threshold;
    }
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let positives = y.iter().filter(|v| **v).count() as f64;
    let (mut tp, mut flagged, mut profit) = (0.0, 0.0, 0.0);
    let (mut best, mut best_value) = (params.threshold, f64::NEG_INFINITY);
    let mut i = 0;
    while i < order.len() {
        let cut = p[order[i]];
        while i < order.len() && same_score(p[order[i]], cut) {
            let churns = y[order[i]];
            tp += f64::from(u8::from(churns));
            flagged += 1.0;
            profit += params.business.gain(churns);
            i += 1;
        }
        let value = match objective {
            ThresholdObjective::F1 => 2.0 * tp / (flagged + positives),
            _ => profit,
        };
        if value > best_value && cut > 0.0 && cut < 1.0 {
            best_value = value;
            best = cut;
        }
    }
    // Contacting nobody is worth 0: never pick a loss-making threshold.
    if objective == ThresholdObjective::Profit && best_value <= 0.0 {
        return 1.0 - f64::EPSILON;
    }
    best
}

/// Total profit of contacting every customer with probability at or above `threshold`.
fn profit_at(business: &BusinessValues, p: &[f64], y: &[bool], threshold: f64) -> f64 {
    p.iter()
        .zip(y)
        .filter(|(q, _)| **q >= threshold)
        .map(|(_, &churns)| business.gain(churns))
        .sum()
}

fn take_rows(ds: &Dataset, rows: &[usize]) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    // Every row in order (no holdout): the frame itself, without a copy.
    if rows.len() == ds.frame.height() && rows.iter().enumerate().all(|(k, &i)| k == i) {
        return Ok(ds.frame.clone());
    }
    let idx = IdxCa::from_vec("idx".into(), rows.iter().map(|&i| i as IdxSize).collect());
    Ok(ds.frame.take(&idx)?)
}

/// A small, fast, seedable generator (SplitMix64) so that folds are the same on every platform
/// and every version.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Shuffles a slice (Fisher–Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Assigns each row to one of `k` folds so that each fold has the same share of churners
/// (within one row). Returns the fold of every row.
pub fn stratified_folds(y: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed);
    let mut fold_of = vec![0usize; y.len()];
    let mut offset = 0;
    for class in [true, false] {
        let mut members: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        rng.shuffle(&mut members);
        for (r, &i) in members.iter().enumerate() {
            fold_of[i] = (r + offset) % k;
        }
        offset += members.len();
    }
    fold_of
}

/// Splits rows into (train, test) with the same churn share in each; `test_size` of each class
/// goes to test.
///
/// # Errors
/// [`Error::InvalidParameter`] when the test set would lack a class.
pub fn stratified_split(y: &[bool], test_size: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    let mut rng = SplitMix64::new(seed ^ 0x005E_ED0F_5E77);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in [true, false] {
        let mut members: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        rng.shuffle(&mut members);
        let n_test = (members.len() as f64 * test_size).round() as usize;
        if n_test == 0 || n_test == members.len() {
            return Err(Error::param(
                "--test-size",
                format!(
                    "{test_size} leaves no {} rows in the {} set",
                    if class { "churned" } else { "retained" },
                    if n_test == 0 { "test" } else { "training" }
                ),
            ));
        }
        test.extend_from_slice(&members[..n_test]);
        train.extend_from_slice(&members[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified_and_seeded() {
        let y: Vec<bool> = (0..1000).map(|i| i % 4 == 0).collect();
        let f = stratified_folds(&y, 5, 42);
        for fold in 0..5 {
            let pos = (0..1000).filter(|&i| f[i] == fold && y[i]).count();
            let all = (0..1000).filter(|&i| f[i] == fold).count();
            assert_eq!(pos, 50);
            assert_eq!(all, 200);
        }
        assert_eq!(f, stratified_folds(&y, 5, 42));
        assert_ne!(f, stratified_folds(&y, 5, 7));
    }

    #[test]
    fn split_keeps_the_churn_share() {
        let y: Vec<bool> = (0..1000).map(|i| i % 4 == 0).collect();
        let (train, test) = stratified_split(&y, 0.2, 1).unwrap();
        assert_eq!(test.len(), 200);
        assert_eq!(test.iter().filter(|&&i| y[i]).count(), 50);
        assert_eq!(train.len() + test.len(), 1000);
        assert!(stratified_split(&y[..3], 0.2, 1).is_err());
    }

    #[test]
    fn profit_threshold_maximises_profit() {
        let params = TrainParams::default().threshold_objective(ThresholdObjective::Profit);
        // Contacting a churner gains 1200·0.7 − 50 = 790; a stayer costs 50.
        let p = [0.9, 0.8, 0.6, 0.4, 0.2, 0.1];
        let y = [true, false, true, false, false, false];
        let t = choose_threshold(&params, &p, &y);
        assert_eq!(t, 0.6);
        assert!((profit_at(&params.business, &p, &y, t) - (790.0 * 2.0 - 50.0)).abs() < 1e-9);
        let f1 = TrainParams::default().threshold_objective(ThresholdObjective::F1);
        assert_eq!(choose_threshold(&f1, &p, &y), 0.6);
        // When every contact loses money, contact nobody.
        let expensive = TrainParams {
            business: BusinessValues {
                offer_cost: 10_000.0,
                ..Default::default()
            },
            ..params
        };
        assert!(choose_threshold(&expensive, &p, &y) > 0.99);
    }

    #[test]
    fn thresholds_and_selection_are_total_over_nan() {
        // A NaN probability used to stop the tie loop from advancing: an endless loop.
        let p = [0.9, f64::NAN, 0.6, -f64::NAN, 0.2];
        let y = [true, false, true, false, false];
        for objective in [ThresholdObjective::F1, ThresholdObjective::Profit] {
            let params = TrainParams::default().threshold_objective(objective);
            let t = choose_threshold(&params, &p, &y);
            assert!(t.is_finite(), "{objective:?}: {t}");
        }
        // A NaN loss ranks last, whatever its sign bit.
        let mut losses = [0.5, -f64::NAN, 0.3, f64::NAN];
        losses.sort_by(|a, b| nan_last(*a, *b));
        assert_eq!(&losses[..2], &[0.3, 0.5]);
        assert!(losses[2].is_nan() && losses[3].is_nan());
    }

    #[test]
    fn rng_is_uniform_enough() {
        let mut r = SplitMix64::new(0);
        let mean = (0..10_000).map(|_| r.next_f64()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
