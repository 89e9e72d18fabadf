//! Training: stratified splits and cross-validation with a seed, calibration on out-of-fold
//! predictions, model selection, the decision threshold, then the final fit.
//!
//! Every fold fits its own feature pipeline on its training rows only, so imputation values,
//! vocabularies and scales never see the rows they are evaluated on. Calibration is cross-fitted:
//! the calibrator that maps fold f's out-of-fold log-odds is fitted on the other folds' out-of-fold
//! log-odds, so cross-validated figures describe the whole procedure that is deployed.

mod options;
mod params;
mod split;

use std::fmt;

use rayon::prelude::*;

pub use options::{OptionKind, OptionValue, TrainOption};
pub use params::{BusinessValues, SelectionMetric, ThresholdObjective, TrainParams};
pub use split::{SplitMix64, stratified_folds, stratified_split};

use crate::calibration::{CalibrationMethod, Calibrator};
use crate::data::{Dataset, Schema};
use crate::error::{Error, Result};
use crate::estimators::{Algorithm, Estimator};
use crate::features::{CodedTable, FeatureMatrix, FittedPipeline, RowSelection};
use crate::metrics::{CvReport, MeanStd, Metrics, nan_last, same_score};
use crate::model::{ChurnModel, LeaderboardEntry, ModelMetrics, Provenance, ThresholdChoice};

/// A step of training, reported to a progress callback.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A cross-validation fold finished (1-based count of folds done, total).
    Fold(usize, usize),
    /// The final model is being fitted on `rows` rows.
    FinalFit(usize),
}

/// The step as one line for people (what the CLI shows and Python's `progress` callback gets).
impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Progress::Fold(done, k) => write!(f, "cross-validation: {done}/{k} folds done"),
            Progress::FinalFit(rows) => write!(f, "fitting the final model on {rows} rows"),
        }
    }
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
        match metric {
            SelectionMetric::LogLoss => self.report.log_loss().map_or(f64::INFINITY, |v| v.mean),
            SelectionMetric::RocAuc => -self.report.roc_auc().map_or(0.0, |v| v.mean),
        }
    }
}

/// Trains a model on a dataset that has a target: the candidates are cross-validated
/// ([`candidates`]), the best is selected ([`select`]), its threshold chosen and its calibration
/// fitted on its out-of-fold predictions ([`calibrate_and_threshold`]), then it is fitted on every
/// training row ([`final_fit`]).
///
/// # Errors
/// [`Error::InvalidParameter`] for bad params or more folds than the minority class has rows,
/// [`Error::InvalidData`] when the dataset has no target, and whatever fitting reports.
pub fn train(
    ds: &Dataset,
    params: &TrainParams,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ChurnModel> {
    train_owned(ds.clone(), params, progress)
}

/// [`train`], consuming the dataset: each text column is freed as soon as it is coded, so what
/// training holds beyond the coded columns (4 bytes a cell) is its feature matrices. The way to
/// train on a table nothing else needs.
///
/// # Errors
/// As [`train`].
pub fn train_owned(
    mut ds: Dataset,
    params: &TrainParams,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ChurnModel> {
    params.check()?;
    let frame = std::mem::take(&mut ds.frame);
    let n_rows = frame.height();
    let rows = TrainingRows::of(&ds, params)?;
    let table = FittedPipeline::training_table(frame, &ds.schema, &params.features)?;
    let src = Source {
        table: &table,
        schema: &ds.schema,
        params,
    };
    let algorithms: Vec<Algorithm> = match params.algorithm {
        Algorithm::Auto => Algorithm::ALL.to_vec(),
        one => vec![one],
    };
    let mut notes = ds.warnings.clone();
    let (members, leaderboard, outcome) = if params.cv_folds >= 2 {
        let (candidates, fold_of) = candidates(&src, &rows, &algorithms, params, progress)?;
        let (best, leaderboard) = select(candidates, params.selection);
        let members = best.members.clone();
        let outcome = calibrate_and_threshold(best, &fold_of, &rows.y_train, params)?;
        (members, leaderboard, Some(outcome))
    } else {
        if params.calibration != CalibrationMethod::None {
            notes.push("no cross-validation, so no out-of-fold predictions to calibrate on: probabilities are the model's own".into());
        }
        (algorithms, Vec::new(), None)
    };
    let outcome = outcome.unwrap_or_else(|| CvOutcome::without_cv(params));
    progress(Progress::FinalFit(rows.train.len()));
    let fit = final_fit(&src, &rows, &members, &outcome, params)?;
    notes.extend(fit.estimator.fit_notes());
    Ok(ChurnModel {
        schema: ds.schema.clone(),
        pipeline: fit.pipeline,
        estimator: fit.estimator,
        calibrator: outcome.calibrator,
        threshold: outcome.threshold,
        threshold_choice: outcome.threshold_choice,
        tiers: params.tiers.clone(),
        metrics: ModelMetrics {
            cv: outcome.cv,
            out_of_fold: outcome.out_of_fold,
            holdout: fit.holdout,
            training: fit.training,
            leaderboard,
        },
        params: params.clone(),
        provenance: Provenance::now(&ds, n_rows, rows.train.len(), rows.test.len(), params.seed),
        notes,
    })
}

/// What every fit reads: the coded feature columns, with the schema and the params.
struct Source<'a> {
    table: &'a CodedTable,
    schema: &'a Schema,
    params: &'a TrainParams,
}

impl Source<'_> {
    /// The pipeline fitted on these rows, and them transformed.
    fn fit(&self, rows: &[usize]) -> Result<(FittedPipeline, FeatureMatrix)> {
        FittedPipeline::fit_transform_table(
            self.table,
            &RowSelection::of(rows, self.table.height()),
            self.schema,
            &self.params.features,
            &self.params.pipeline,
        )
    }

    /// These rows transformed by a fitted pipeline.
    fn transform(&self, pipeline: &FittedPipeline, rows: &[usize]) -> Result<FeatureMatrix> {
        let selection = RowSelection::of(rows, self.table.height());
        Ok(pipeline.transform_table(self.table, &selection)?.0)
    }
}

/// The rows training fits on and those it holds out.
struct TrainingRows<'a> {
    /// Every row's outcome.
    y: &'a [bool],
    /// Positions of the training rows.
    train: Vec<usize>,
    /// Positions of the held-out rows (empty without a holdout).
    test: Vec<usize>,
    /// The training rows' outcomes.
    y_train: Vec<bool>,
    /// Rows of the smaller class among the training rows.
    minority: usize,
}

impl<'a> TrainingRows<'a> {
    /// The stratified holdout split (when `test_size` > 0), refusing fewer than 2 rows of a class.
    fn of(ds: &'a Dataset, params: &TrainParams) -> Result<Self> {
        let y = ds
            .target
            .as_deref()
            .ok_or_else(|| Error::InvalidData("the training table has no target column".into()))?;
        let (train, test) = if params.test_size > 0.0 {
            stratified_split(y, params.test_size, params.seed)?
        } else {
            ((0..y.len()).collect(), Vec::new())
        };
        let y_train: Vec<bool> = train.iter().map(|&i| y[i]).collect();
        let churned = y_train.iter().filter(|v| **v).count();
        let minority = churned.min(y_train.len() - churned);
        if minority < 2 {
            return Err(Error::InvalidData(format!(
                "the training rows hold {minority} example(s) of one class; at least 2 of each are needed"
            )));
        }
        Ok(TrainingRows {
            y,
            train,
            test,
            y_train,
            minority,
        })
    }
}

/// Step 1, the candidates: every algorithm cross-validated (and, with `Auto`, the blend of the
/// best two), each with its cross-fitted calibration and per-fold metrics. Returns them with
/// the fold of every training row.
fn candidates(
    src: &Source<'_>,
    rows: &TrainingRows<'_>,
    algorithms: &[Algorithm],
    params: &TrainParams,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(Vec<Candidate>, Vec<usize>)> {
    let minority = rows.minority;
    if params.cv_folds > minority {
        return Err(Error::param(
            "cv",
            format!(
                "{} folds need at least {} rows of each class; the smaller class has {minority}",
                params.cv_folds, params.cv_folds
            ),
        ));
    }
    let y_train = &rows.y_train;
    let fold_of = stratified_folds(y_train, params.cv_folds, params.seed);
    let oofs = cross_validate(
        src,
        &rows.train,
        y_train,
        &fold_of,
        algorithms,
        params,
        progress,
    )?;
    let mut candidates = Vec::new();
    for (algorithm, oof) in algorithms.iter().zip(oofs) {
        candidates.push(evaluate(
            vec![*algorithm],
            oof,
            y_train,
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
            y_train,
            &fold_of,
            params,
            params.threshold,
        )?);
    }
    Ok((candidates, fold_of))
}

/// Step 2, selection: the candidates ranked by `metric` (best first, NaN last) as the
/// leaderboard, and the best one.
fn select(
    mut candidates: Vec<Candidate>,
    metric: SelectionMetric,
) -> (Candidate, Vec<LeaderboardEntry>) {
    candidates.sort_by(|a, b| nan_last(a.loss(metric), b.loss(metric)));
    let leaderboard = candidates
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let or_nan = |m: Option<MeanStd>| {
                m.unwrap_or(MeanStd {
                    mean: f64::NAN,
                    std: f64::NAN,
                })
            };
            LeaderboardEntry {
                name: c.name(),
                roc_auc: or_nan(c.report.roc_auc()),
                log_loss: or_nan(c.report.log_loss()),
                pr_auc: or_nan(c.report.pr_auc()),
                brier: or_nan(c.report.brier()),
                ece: or_nan(c.report.ece()),
                selected: k == 0,
            }
        })
        .collect();
    (candidates.swap_remove(0), leaderboard)
}

/// What the selected candidate's out-of-fold predictions decide: the threshold, the calibrator
/// and the cross-validated figures at that threshold.
struct CvOutcome {
    threshold: f64,
    threshold_choice: Option<ThresholdChoice>,
    calibrator: Calibrator,
    cv: Option<CvReport>,
    out_of_fold: Option<Metrics>,
}

impl CvOutcome {
    /// Without cross-validation: the given threshold, the model's own probabilities.
    fn without_cv(params: &TrainParams) -> Self {
        CvOutcome {
            threshold: params.threshold,
            threshold_choice: None,
            calibrator: Calibrator::Identity,
            cv: None,
            out_of_fold: None,
        }
    }
}

/// Steps 3 and 4, threshold and calibration, from the selected candidate's out-of-fold
/// predictions: the threshold the objective asks for (with its expected profit), the
/// cross-validated figures re-evaluated at it, and the calibrator fitted on every out-of-fold
/// log-odds.
fn calibrate_and_threshold(
    best: Candidate,
    fold_of: &[usize],
    y_train: &[bool],
    params: &TrainParams,
) -> Result<CvOutcome> {
    let threshold = choose_threshold(params, &best.calibrated, y_train);
    let threshold_choice = Some(ThresholdChoice {
        objective: params.threshold_objective,
        threshold,
        expected_profit_per_1000: Some(
            profit_at(&params.business, &best.calibrated, y_train, threshold) * 1000.0
                / y_train.len() as f64,
        ),
        customer_value: params.business.customer_value,
        offer_cost: params.business.offer_cost,
        offer_success_rate: params.business.offer_success_rate,
    });
    let report = if threshold == params.threshold {
        best.report
    } else {
        let (members, oof) = (best.members.clone(), best.oof.clone());
        evaluate(members, oof, y_train, fold_of, params, threshold)?.report
    };
    let out_of_fold = Some(Metrics::compute(y_train, &best.calibrated, threshold)?);
    let calibrator = match params.calibration {
        CalibrationMethod::None => Calibrator::Identity,
        method => Calibrator::fit(method, &best.oof, y_train)?,
    };
    Ok(CvOutcome {
        threshold,
        threshold_choice,
        calibrator,
        cv: Some(report),
        out_of_fold,
    })
}

/// The model fitted on every training row, with its training and holdout metrics.
struct FinalFit {
    pipeline: FittedPipeline,
    estimator: Estimator,
    training: Metrics,
    holdout: Option<Metrics>,
}

/// Step 5, the final fit: the pipeline and the selected members (a blend when several) fitted
/// on every training row, measured on them and on the holdout.
fn final_fit(
    src: &Source<'_>,
    rows: &TrainingRows<'_>,
    members: &[Algorithm],
    outcome: &CvOutcome,
    params: &TrainParams,
) -> Result<FinalFit> {
    let (pipeline, x_train) = src.fit(&rows.train)?;
    let y_train = &rows.y_train;
    let (mut fitted, mut decisions): (Vec<Estimator>, Vec<Vec<f64>>) = members
        .iter()
        .map(|a| Estimator::fit_scored(*a, &params.estimator, &x_train, y_train, params.seed))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .unzip();
    let n_train = x_train.n_rows;
    // The training matrix is no longer needed: the holdout's is encoded in its place.
    drop(x_train);
    let (estimator, decision) = if fitted.len() == 1 {
        (fitted.remove(0), decisions.remove(0))
    } else {
        let z = Estimator::blend_decisions(decisions, n_train);
        (Estimator::Blend { members: fitted }, z)
    };
    let (calibrator, threshold) = (&outcome.calibrator, outcome.threshold);
    let training = Metrics::compute(y_train, &calibrator.apply(&decision), threshold)?;
    let holdout = if rows.test.is_empty() {
        None
    } else {
        let x = src.transform(&pipeline, &rows.test)?;
        let y_test: Vec<bool> = rows.test.iter().map(|&i| rows.y[i]).collect();
        Some(Metrics::compute(
            &y_test,
            &calibrator.apply(&estimator.decision(&x)),
            threshold,
        )?)
    };
    Ok(FinalFit {
        pipeline,
        estimator,
        training,
        holdout,
    })
}

/// A fold's held-out positions (into the training rows) and each algorithm's log-odds for them.
type FoldPredictions = (Vec<usize>, Vec<Vec<f64>>);

/// Folds whose matrices (one fold's fit and test rows) take at most this many bytes are fitted
/// side by side.
const FOLDS_SIDE_BY_SIDE_BYTES: usize = 64 << 20;

/// Out-of-fold raw log-odds of every algorithm (in the order of `rows`), sharing each fold's
/// fitted pipeline between algorithms.
fn cross_validate(
    src: &Source<'_>,
    rows: &[usize],
    y: &[bool],
    fold_of: &[usize],
    algorithms: &[Algorithm],
    params: &TrainParams,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<Vec<f64>>> {
    let k = params.cv_folds;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let run_fold = |fold: usize| -> Result<FoldPredictions> {
        let (fit_pos, test_pos): (Vec<usize>, Vec<usize>) =
            (0..rows.len()).partition(|&i| fold_of[i] != fold);
        let fold_rows: Vec<usize> = fit_pos.iter().map(|&i| rows[i]).collect();
        let fold_y: Vec<bool> = fit_pos.iter().map(|&i| y[i]).collect();
        let (pipeline, x_fit) = src.fit(&fold_rows)?;
        let test_rows: Vec<usize> = test_pos.iter().map(|&i| rows[i]).collect();
        let x_test = src.transform(&pipeline, &test_rows)?;
        let mut raw = Vec::with_capacity(algorithms.len());
        for a in algorithms {
            let estimator = Estimator::fit(*a, &params.estimator, &x_fit, &fold_y, params.seed)?;
            raw.push(estimator.decision(&x_test));
        }
        let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        progress(Progress::Fold(n, k));
        Ok((test_pos, raw))
    };
    // A fold's matrices hold every training row once (its fit rows and its test rows). Small
    // folds run side by side, where a fit's own threads would idle; past that, each fit keeps
    // both cores busy by itself (1M rows: the same time either way) and folds side by side
    // would only add their matrices up, so they run one after another and memory stays one
    // fold's matrices.
    let fold_bytes = rows.len() * src.table.width_bound() * std::mem::size_of::<f64>();
    let folds: Vec<Result<FoldPredictions>> = if fold_bytes <= FOLDS_SIDE_BY_SIDE_BYTES {
        (0..k).into_par_iter().map(run_fold).collect()
    } else {
        (0..k).map(run_fold).collect()
    };
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

#[cfg(test)]
mod tests;
