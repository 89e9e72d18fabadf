//! Training: stratified splits and cross-validation with a seed, then the final fit.
//!
//! Every fold fits its own feature pipeline on its training rows only, so imputation values,
//! vocabularies and scales never see the rows they are evaluated on.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::estimators::{Algorithm, Estimator, EstimatorParams};
use crate::features::{FeatureSpec, FittedPipeline, PipelineParams};
use crate::metrics::{CvReport, Metrics};
use crate::model::{ChurnModel, ModelMetrics, Provenance, RiskTiers};

/// Everything that decides how a model is trained. Defaults: logistic regression, 5-fold CV,
/// no holdout, seed 42, threshold 0.5, tiers Low < 0.3 ≤ Medium < 0.7 ≤ High.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// The model family.
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
    /// Probability at or above which a customer is predicted to churn. Default 0.5.
    pub threshold: f64,
    /// Risk tier boundaries.
    pub tiers: RiskTiers,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            algorithm: Algorithm::Logistic,
            estimator: EstimatorParams::default(),
            pipeline: PipelineParams::default(),
            features: FeatureSpec::default(),
            cv_folds: 5,
            test_size: 0.0,
            seed: 42,
            threshold: 0.5,
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

    let (cv, oof) = if params.cv_folds >= 2 {
        if params.cv_folds > minority {
            return Err(Error::param(
                "--cv",
                format!(
                    "{} folds need at least {} rows of each class; the smaller class has {minority}",
                    params.cv_folds, params.cv_folds
                ),
            ));
        }
        let (report, oof) = cross_validate(ds, &train_rows, &y_train, params, progress)?;
        (Some(report), Some(oof))
    } else {
        (None, None)
    };

    progress(Progress::FinalFit(train_rows.len()));
    let (pipeline, estimator) = fit_rows(ds, &train_rows, &y_train, params)?;
    let mut notes = ds.warnings.clone();
    notes.extend(estimator.fit_notes());

    let train_frame = take_rows(ds, &train_rows)?;
    let (x_train, _) = pipeline.transform(&train_frame)?;
    let training = Metrics::compute(
        &y_train,
        &estimator.predict_proba(&x_train),
        params.threshold,
    )?;
    let holdout = if test_rows.is_empty() {
        None
    } else {
        let frame = take_rows(ds, &test_rows)?;
        let (x, _) = pipeline.transform(&frame)?;
        let y_test: Vec<bool> = test_rows.iter().map(|&i| y[i]).collect();
        Some(Metrics::compute(
            &y_test,
            &estimator.predict_proba(&x),
            params.threshold,
        )?)
    };
    let out_of_fold = match &oof {
        Some(p) => Some(Metrics::compute(&y_train, p, params.threshold)?),
        None => None,
    };

    Ok(ChurnModel {
        schema: ds.schema.clone(),
        pipeline,
        estimator,
        threshold: params.threshold,
        tiers: params.tiers.clone(),
        metrics: ModelMetrics {
            cv,
            out_of_fold,
            holdout,
            training,
        },
        params: params.clone(),
        provenance: Provenance::now(ds, train_rows.len(), test_rows.len(), params.seed),
        notes,
    })
}

/// One fold's held-out positions (into `rows`), their probabilities, and their metrics.
type FoldResult = (Vec<usize>, Vec<f64>, Metrics);

/// Cross-validates on the given rows; returns the report and out-of-fold probabilities (in the
/// order of `rows`).
fn cross_validate(
    ds: &Dataset,
    rows: &[usize],
    y: &[bool],
    params: &TrainParams,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(CvReport, Vec<f64>)> {
    let k = params.cv_folds;
    let fold_of = stratified_folds(y, k, params.seed);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<FoldResult>> = (0..k)
        .into_par_iter()
        .map(|fold| {
            let (fit_pos, test_pos): (Vec<usize>, Vec<usize>) =
                (0..rows.len()).partition(|&i| fold_of[i] != fold);
            let fold_rows: Vec<usize> = fit_pos.iter().map(|&i| rows[i]).collect();
            let fold_y: Vec<bool> = fit_pos.iter().map(|&i| y[i]).collect();
            let (pipeline, estimator) = fit_rows(ds, &fold_rows, &fold_y, params)?;
            let test_rows: Vec<usize> = test_pos.iter().map(|&i| rows[i]).collect();
            let (x, _) = pipeline.transform(&take_rows(ds, &test_rows)?)?;
            let p = estimator.predict_proba(&x);
            let test_y: Vec<bool> = test_pos.iter().map(|&i| y[i]).collect();
            let metrics = Metrics::compute(&test_y, &p, params.threshold)?;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            progress(Progress::Fold(n, k));
            Ok((test_pos, p, metrics))
        })
        .collect();
    let mut oof = vec![f64::NAN; rows.len()];
    let mut per_fold = Vec::with_capacity(k);
    for r in results {
        let (positions, p, metrics) = r?;
        for (pos, q) in positions.into_iter().zip(p) {
            oof[pos] = q;
        }
        per_fold.push(metrics);
    }
    Ok((CvReport::from_folds(params.seed, per_fold), oof))
}

/// Fits the pipeline and the estimator on the given rows.
fn fit_rows(
    ds: &Dataset,
    rows: &[usize],
    y: &[bool],
    params: &TrainParams,
) -> Result<(FittedPipeline, Estimator)> {
    let frame = take_rows(ds, rows)?;
    let pipeline = FittedPipeline::fit(&frame, &ds.schema, &params.features, &params.pipeline)?;
    let (x, _) = pipeline.transform(&frame)?;
    let estimator = Estimator::fit(params.algorithm, &params.estimator, &x, y, params.seed)?;
    Ok((pipeline, estimator))
}

fn take_rows(ds: &Dataset, rows: &[usize]) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
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
    fn rng_is_uniform_enough() {
        let mut r = SplitMix64::new(0);
        let mean = (0..10_000).map(|_| r.next_f64()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
