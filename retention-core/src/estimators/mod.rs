//! Churn estimators behind one interface: fit on a [`FeatureMatrix`], predict churn log-odds.

pub mod boosting;
pub mod logistic;
pub mod tree;

use serde::{Deserialize, Serialize};

pub use boosting::{BoostingModel, BoostingParams};
pub use logistic::{LogisticModel, LogisticParams, sigmoid};
pub use tree::{TreeModel, TreeParams};

use crate::choice::{Choice, named_choice};
use crate::error::{Error, Result, mention};
use crate::features::FeatureMatrix;

/// The model families RetentionAI trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// L2-regularised logistic regression (linfa-logistic).
    Logistic,
    /// A single decision tree (linfa-trees) with smoothed leaf probabilities.
    Tree,
    /// Gradient-boosted trees (histogram GBDT, see [`boosting`]).
    Boosting,
    /// Cross-validate logistic, tree, boosting and the average of the best two; keep the best.
    Auto,
}

impl Algorithm {
    /// Every single-model algorithm, in the order they are listed to users.
    pub const ALL: [Algorithm; 3] = [Algorithm::Logistic, Algorithm::Tree, Algorithm::Boosting];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        self.name()
    }
}

impl Choice for Algorithm {
    const PARAM: &'static str = "algorithm";
    const WHAT: &'static str = "algorithm";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("auto", Algorithm::Auto),
        ("logistic", Algorithm::Logistic),
        ("tree", Algorithm::Tree),
        ("boosting", Algorithm::Boosting),
    ];
}

named_choice!(Algorithm);

/// How rows are weighted in training.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    /// Every row weighs 1.
    #[default]
    None,
    /// Each class weighs as much in total as the other (`n / (2 · n_class)` per row), as
    /// scikit-learn's `class_weight="balanced"`. Probabilities are then shifted towards churn;
    /// calibration brings them back.
    Balanced,
}

impl Choice for ClassWeight {
    const PARAM: &'static str = "class_weight";
    const WHAT: &'static str = "class weight";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("none", ClassWeight::None),
        ("balanced", ClassWeight::Balanced),
    ];
}

named_choice!(ClassWeight);

impl ClassWeight {
    /// Per-row weights, or `None` when every row weighs 1.
    pub fn weights(self, y: &[bool]) -> Option<Vec<f64>> {
        match self {
            ClassWeight::None => None,
            ClassWeight::Balanced => {
                let n = y.len() as f64;
                let pos = y.iter().filter(|v| **v).count() as f64;
                if pos == 0.0 || pos == n {
                    return None;
                }
                let (wp, wn) = (n / (2.0 * pos), n / (2.0 * (n - pos)));
                Some(y.iter().map(|&v| if v { wp } else { wn }).collect())
            }
        }
    }
}

/// Settings of every estimator; the algorithm picks which are used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EstimatorParams {
    /// Logistic regression settings.
    pub logistic: LogisticParams,
    /// Decision tree settings.
    pub tree: TreeParams,
    /// Gradient boosting settings.
    #[serde(default)]
    pub boosting: BoostingParams,
    /// Row weighting for every algorithm.
    #[serde(default)]
    pub class_weight: ClassWeight,
}

impl EstimatorParams {
    /// Checks every algorithm's settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the setting.
    pub fn check(&self) -> Result<()> {
        self.logistic.check()?;
        self.tree.check()?;
        self.boosting.check()
    }
}

/// A fitted estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// Logistic regression.
    Logistic(LogisticModel),
    /// Decision tree.
    Tree(TreeModel),
    /// Gradient boosting.
    Boosting(Box<BoostingModel>),
    /// The average of its members' log-odds.
    Blend {
        /// The blended estimators.
        members: Vec<Estimator>,
    },
}

impl Estimator {
    /// Fits the chosen algorithm; `seed` drives any randomness inside it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bad settings, [`Error::Training`] when fitting fails.
    pub fn fit(
        algorithm: Algorithm,
        params: &EstimatorParams,
        x: &FeatureMatrix,
        y: &[bool],
        seed: u64,
    ) -> Result<Self> {
        let weights = Self::weights(params, x, y)?;
        let w = weights.as_deref();
        Ok(match algorithm {
            Algorithm::Logistic => {
                Estimator::Logistic(LogisticModel::fit(&params.logistic, x, y, w)?)
            }
            Algorithm::Tree => Estimator::Tree(TreeModel::fit(&params.tree, x, y, w)?),
            Algorithm::Boosting => Estimator::Boosting(Box::new(BoostingModel::fit(
                &params.boosting,
                x,
                y,
                w,
                seed,
            )?)),
            Algorithm::Auto => {
                return Err(Error::param(
                    "algorithm",
                    "auto is resolved by cross-validation in training, not by one fit",
                ));
            }
        })
    }

    /// [`Estimator::fit`], also returning the fitted estimator's log-odds of the training rows
    /// (exactly what `decision(x)` gives): boosting keeps them up to date as it fits, so they
    /// cost nothing; the others score `x`.
    ///
    /// # Errors
    /// As [`Estimator::fit`].
    pub fn fit_scored(
        algorithm: Algorithm,
        params: &EstimatorParams,
        x: &FeatureMatrix,
        y: &[bool],
        seed: u64,
    ) -> Result<(Self, Vec<f64>)> {
        if algorithm == Algorithm::Boosting {
            let weights = Self::weights(params, x, y)?;
            let (model, z) =
                BoostingModel::fit_scored(&params.boosting, x, y, weights.as_deref(), seed)?;
            return Ok((Estimator::Boosting(Box::new(model)), z));
        }
        let fitted = Self::fit(algorithm, params, x, y, seed)?;
        let z = fitted.decision(x);
        Ok((fitted, z))
    }

    /// The per-row weights of the class weighting, once the rows and labels are checked to match.
    fn weights(
        params: &EstimatorParams,
        x: &FeatureMatrix,
        y: &[bool],
    ) -> Result<Option<Vec<f64>>> {
        if x.n_rows != y.len() {
            return Err(Error::InvalidData(format!(
                "{} feature rows but {} labels",
                x.n_rows,
                y.len()
            )));
        }
        Ok(params.class_weight.weights(y))
    }

    /// A blend's log-odds: the average of its members' (`n_rows` each), added in member order.
    pub fn blend_decisions(members: impl IntoIterator<Item = Vec<f64>>, n_rows: usize) -> Vec<f64> {
        let mut z = vec![0.0; n_rows];
        let mut k = 0usize;
        for member in members {
            for (zi, v) in z.iter_mut().zip(member) {
                *zi += v;
            }
            k += 1;
        }
        let k = k.max(1) as f64;
        z.iter_mut().for_each(|v| *v /= k);
        z
    }

    /// Display name: `logistic`, `tree`, `boosting` or `blend(logistic+boosting)`.
    pub fn name(&self) -> String {
        match self {
            Estimator::Logistic(_) => "logistic".into(),
            Estimator::Tree(_) => "tree".into(),
            Estimator::Boosting(_) => "boosting".into(),
            Estimator::Blend { members } => format!(
                "blend({})",
                members
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join("+")
            ),
        }
    }

    /// Checks an estimator read from a model file against the `n_inputs` inputs its pipeline
    /// makes: logistic coefficients one per input, trees sound (indices in range, acyclic, depth
    /// at most [`tree::MAX_TREE_DEPTH`], inputs that exist), numbers finite, blends not empty and
    /// made of sound members. Returns what is wrong, naming the part.
    pub(crate) fn check(&self, n_inputs: usize) -> std::result::Result<(), String> {
        match self {
            Estimator::Logistic(m) => m
                .check(n_inputs)
                .map_err(|e| format!("logistic regression: {e}")),
            Estimator::Tree(m) => m.check(n_inputs).map_err(|e| format!("decision tree {e}")),
            Estimator::Boosting(m) => m
                .check(n_inputs)
                .map_err(|e| format!("gradient boosting: {e}")),
            Estimator::Blend { members } => {
                if members.is_empty() {
                    return Err("a blend with no members".into());
                }
                for (k, m) in members.iter().enumerate() {
                    m.check(n_inputs)
                        .map_err(|e| format!("blend member {k}: {e}"))?;
                }
                Ok(())
            }
        }
    }

    /// Churn log-odds per row (before calibration).
    pub fn decision(&self, x: &FeatureMatrix) -> Vec<f64> {
        match self {
            Estimator::Logistic(m) => m.decision(x),
            Estimator::Tree(m) => m.decision(x),
            Estimator::Boosting(m) => m.decision(x),
            Estimator::Blend { members } => {
                Self::blend_decisions(members.iter().map(|m| m.decision(x)), x.n_rows)
            }
        }
    }

    /// Churn probability per row (before calibration).
    pub fn predict_proba(&self, x: &FeatureMatrix) -> Vec<f64> {
        self.decision(x).into_iter().map(sigmoid).collect()
    }

    /// Notes about the fit worth telling the user (e.g. the solver did not converge).
    pub fn fit_notes(&self) -> Vec<String> {
        match self {
            Estimator::Logistic(m) if !m.converged => vec![format!(
                "logistic regression did not converge (gradient norm per row {:.2e}); raise {}",
                m.gradient_norm,
                mention("l2")
            )],
            Estimator::Blend { members } => members.iter().flat_map(|m| m.fit_notes()).collect(),
            _ => Vec::new(),
        }
    }
}
