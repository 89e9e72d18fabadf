//! # RetentionAI core
//!
//! Churn prediction you can trust: read a customer table, learn who is about to leave, say how
//! sure the model is, and score new customers with risk tiers.
//!
//! ```
//! use retention_core::prelude::*;
//! use polars::prelude::*;
//!
//! # fn main() -> retention_core::Result<()> {
//! // A tiny table; real use reads a file with `Dataset::load`.
//! let n = 200;
//! let tenure: Vec<f64> = (0..n).map(|i| (i % 72) as f64).collect();
//! let contract: Vec<&str> = (0..n).map(|i| if i % 3 == 0 { "Two year" } else { "Month-to-month" }).collect();
//! let churn: Vec<&str> = (0..n)
//!     .map(|i| if (i % 72) < 12 && i % 3 != 0 && i % 2 == 0 { "Yes" } else { "No" })
//!     .collect();
//! let raw = df!("tenure" => tenure, "Contract" => contract, "Churn" => churn)?;
//!
//! let ds = Dataset::infer(&raw, &SchemaOptions::new().target("Churn"))?;
//! let model = train(&ds, &TrainParams::new(Algorithm::Logistic).cv_folds(5), &|_| {})?;
//! assert!(model.headline_auc() > 0.8);
//!
//! let (scores, _unseen, _warnings) = model.score_frame(&raw, 0, &[])?;
//! assert_eq!(scores.height(), n);
//! # Ok(())
//! # }
//! ```
//!
//! The modules follow the data: [`data`] (read, roles, cleaning) → [`features`] (derived
//! features, imputation, encoding) → [`estimators`] → [`training`] (splits, cross-validation) →
//! [`model`] (the artifact) → [`scoring`] and [`metrics`]; [`drift`] compares tables (and a
//! model's predictions on them) over time.

pub mod calibration;
pub mod choice;
pub mod config;
pub mod data;
pub mod doctor;
pub mod drift;
pub mod error;
pub mod estimators;
pub mod explain;
pub mod features;
mod fsutil;
pub mod generate;
pub mod lifecycle;
pub mod metrics;
pub mod model;
pub mod registry;
pub mod scoring;
pub mod store;
pub mod training;

pub use error::{Error, Result};
pub use fsutil::{
    atomic_write, atomic_write_private, free_bytes, parent_dir, refuse_output_over_inputs,
    sha256_file, sha256_hex,
};

/// The types most programs need.
pub mod prelude {
    pub use crate::calibration::{CalibrationMethod, Calibrator};
    pub use crate::choice::Choice;
    pub use crate::data::{Dataset, Format, Role, Schema, SchemaOptions, read_table, write_table};
    pub use crate::drift::{DriftOptions, DriftReport, DriftThresholds};
    pub use crate::error::{Error, Result};
    pub use crate::estimators::{
        Algorithm, BoostingParams, ClassWeight, Estimator, EstimatorParams, LogisticParams,
        TreeParams,
    };
    pub use crate::features::{FeatureSpec, PipelineParams, TransformReport};
    pub use crate::metrics::{CvReport, MeanStd, Metrics};
    pub use crate::model::{ChurnModel, RiskTiers, Tier};
    pub use crate::scoring::{ScoreOptions, ScoreSummary};
    pub use crate::training::{
        BusinessValues, Progress, SelectionMetric, ThresholdObjective, TrainParams, train,
        train_owned,
    };
}
