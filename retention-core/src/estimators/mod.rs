//! Churn estimators behind one interface: fit on a [`FeatureMatrix`], predict churn log-odds.

pub mod logistic;
pub mod tree;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use logistic::{LogisticModel, LogisticParams, sigmoid};
pub use tree::{TreeModel, TreeParams};

use crate::error::{Error, Result};
use crate::features::FeatureMatrix;

/// The model families RetentionAI trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// L2-regularised logistic regression (linfa-logistic).
    Logistic,
    /// A single decision tree (linfa-trees) with smoothed leaf probabilities.
    Tree,
}

impl Algorithm {
    /// Every algorithm, in the order they are listed to users.
    pub const ALL: [Algorithm; 2] = [Algorithm::Logistic, Algorithm::Tree];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Logistic => "logistic",
            Algorithm::Tree => "tree",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::param(
                    "--algorithm",
                    format!("unknown algorithm {s:?}; choose one of: logistic, tree"),
                )
            })
    }
}

/// Settings of every estimator; the algorithm picks which are used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EstimatorParams {
    /// Logistic regression settings.
    pub logistic: LogisticParams,
    /// Decision tree settings.
    pub tree: TreeParams,
}

/// A fitted estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case")]
pub enum Estimator {
    /// Logistic regression.
    Logistic(LogisticModel),
    /// Decision tree.
    Tree(TreeModel),
}

impl Estimator {
    /// Fits the chosen algorithm.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bad settings, [`Error::Training`] when fitting fails.
    pub fn fit(
        algorithm: Algorithm,
        params: &EstimatorParams,
        x: &FeatureMatrix,
        y: &[bool],
    ) -> Result<Self> {
        if x.n_rows != y.len() {
            return Err(Error::InvalidData(format!(
                "{} feature rows but {} labels",
                x.n_rows,
                y.len()
            )));
        }
        Ok(match algorithm {
            Algorithm::Logistic => Estimator::Logistic(LogisticModel::fit(&params.logistic, x, y)?),
            Algorithm::Tree => Estimator::Tree(TreeModel::fit(&params.tree, x, y)?),
        })
    }

    /// Which algorithm this is.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Estimator::Logistic(_) => Algorithm::Logistic,
            Estimator::Tree(_) => Algorithm::Tree,
        }
    }

    /// Churn log-odds per row.
    pub fn decision(&self, x: &FeatureMatrix) -> Vec<f64> {
        match self {
            Estimator::Logistic(m) => m.decision(x),
            Estimator::Tree(m) => m.decision(x),
        }
    }

    /// Churn probability per row.
    pub fn predict_proba(&self, x: &FeatureMatrix) -> Vec<f64> {
        self.decision(x).into_iter().map(sigmoid).collect()
    }

    /// Notes about the fit worth telling the user (e.g. the solver did not converge).
    pub fn fit_notes(&self) -> Vec<String> {
        match self {
            Estimator::Logistic(m) if !m.converged => vec![format!(
                "logistic regression did not converge (gradient norm per row {:.2e}); raise the iterations or --l2",
                m.gradient_norm
            )],
            _ => Vec::new(),
        }
    }
}
