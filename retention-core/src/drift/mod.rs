//! Drift monitoring: is this table of customers still like the one the model learned from?
//!
//! [`DriftReport::compute`] compares a *reference* table (the training data, or last month) with a
//! *current* one, column by column, and — given a model — compares the model's predictions on
//! both, estimates its ROC-AUC and accuracy on the current table without labels, and measures them
//! when the current table has labels.
//!
//! Per feature:
//! - numeric: PSI on the reference's quantile bins (plus a bin for missing and one for
//!   non-numeric cells when either side has them), the two-sample Kolmogorov-Smirnov statistic
//!   and p-value, and the Wasserstein distance divided by the reference's standard deviation;
//! - categorical: PSI over the reference's levels (levels the reference never had share one
//!   "unseen" bin; missing cells have their own), the chi-square test's p-value and the
//!   Jensen-Shannon distance;
//! - both: the missing rate on each side.
//!
//! A feature's status follows [`DriftThresholds`]: a change counts only when it is statistically
//! significant (p-value below `p_value`) **and** large enough to matter — `alert` at PSI ≥
//! `psi_alert`, `warn` at PSI ≥ `psi_warn` or distance ≥ `distance_warn`. The two conditions
//! guard each other: on small tables PSI is noisy and the test keeps chance from alerting; on
//! millions of rows every test is significant and the size thresholds keep trivia quiet.
//!
//! Columns are processed in parallel; each numeric column is sorted once per side and every
//! statistic is read from one merge of the two sorted samples; each categorical column is
//! counted once per side.
pub mod stats;
pub mod summary;

mod features;
mod files;
mod prediction;
mod report;

pub use features::{DriftBin, FeatureDrift};
pub use files::{BATCH_ROWS, BLOCK_BYTES, FileProgress, compute_files};
pub use prediction::{
    Performance, PredictionDrift, estimate_performance, estimate_performance_weighted,
};
pub use report::{DriftOptions, DriftPlan, DriftReport, DriftThresholds, Status, Verdict};
pub use summary::{ColumnSummary, LevelSummary, NumericSummary, PredictionSummary, TableSummary};

#[cfg(test)]
mod tests;
