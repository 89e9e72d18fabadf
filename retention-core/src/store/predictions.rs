//! The prediction log.

use serde::{Deserialize, Serialize};

use super::sql::{DbError, Row};
use super::{Store, args, db_error, normalize_customer_id, now_millis};
use crate::error::Result;

/// One scored row for the prediction log.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow<'a> {
    /// Customer id.
    pub customer_id: &'a str,
    /// Model version that scored it.
    pub model_version: i64,
    /// `champion`, `challenger` or `direct`.
    pub variant: &'a str,
    /// Churn probability.
    pub probability: f64,
    /// Risk tier name.
    pub tier: &'a str,
    /// Position of the row in its batch (with the batch id, the row's identity).
    pub row_index: i64,
}

/// A logged prediction, as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedPrediction {
    /// Customer id.
    pub customer_id: String,
    /// Model version.
    pub model_version: i64,
    /// Variant.
    pub variant: String,
    /// Churn probability.
    pub probability: f64,
    /// Risk tier.
    pub tier: String,
    /// Batch or request id.
    pub batch_id: String,
    /// When (Unix milliseconds).
    pub created_at: i64,
}

impl Store {
    /// Logs one batch of scored rows in one transaction. A row already logged under the same
    /// `batch_id` and row index is skipped, so re-running a batch does not duplicate it. Customer
    /// ids are stored normalised ([`normalize_customer_id`]). Returns the rows inserted.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error (nothing of the batch is written then).
    pub fn log_predictions(&mut self, batch_id: &str, rows: &[PredictionRow<'_>]) -> Result<usize> {
        let at = now_millis();
        let db = self.db.clone();
        let e = |e: DbError| db_error(&db, e);
        self.transaction(|s| {
            let mut inserted = 0usize;
            for r in rows {
                inserted += s
                    .execute(
                        "INSERT INTO predictions
                         (customer_id, model_version, variant, probability, tier, batch_id, row_index, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (batch_id, row_index) DO NOTHING",
                        args![
                            normalize_customer_id(r.customer_id),
                            r.model_version,
                            r.variant,
                            r.probability,
                            r.tier,
                            batch_id,
                            r.row_index,
                            at
                        ],
                    )
                    .map_err(e)?;
            }
            Ok(inserted)
        })
    }

    /// Logs a scored frame as [`crate::model::ChurnModel::score_frame`] or a
    /// [`crate::lifecycle::Router`] produce it (id first; `model_version` and `variant` when
    /// routed, else `version` and `direct`); `first_row` numbers the rows within the batch.
    /// Returns the rows inserted (rows already logged under `batch_id` are skipped).
    ///
    /// # Errors
    /// [`Error::Store`] on a database error, [`Error::Polars`] for a frame without the scored
    /// columns.
    pub fn log_scored(
        &mut self,
        batch_id: &str,
        version: i64,
        first_row: usize,
        scored: &polars::prelude::DataFrame,
    ) -> Result<usize> {
        use crate::lifecycle::{MODEL_VERSION, VARIANT};
        use crate::scoring::{PROBABILITY, RISK_TIER};
        use polars::prelude::DataType;
        let Some(first) = scored.columns().first() else {
            return Ok(0);
        };
        let ids = first.cast(&DataType::String)?;
        let ids = ids.str()?;
        let p = scored.column(PROBABILITY)?.f64()?;
        let tiers = scored.column(RISK_TIER)?.str()?;
        let versions = scored
            .column(MODEL_VERSION)
            .ok()
            .and_then(|c| c.i64().ok().cloned());
        let variants = scored
            .column(VARIANT)
            .ok()
            .and_then(|c| c.str().ok().cloned());
        let rows: Vec<PredictionRow<'_>> = (0..scored.height())
            .map(|i| PredictionRow {
                customer_id: ids.get(i).unwrap_or_default(),
                model_version: versions.as_ref().and_then(|v| v.get(i)).unwrap_or(version),
                variant: variants.as_ref().and_then(|v| v.get(i)).unwrap_or("direct"),
                probability: p.get(i).unwrap_or(f64::NAN),
                tier: tiers.get(i).unwrap_or_default(),
                row_index: (first_row + i) as i64,
            })
            .collect();
        self.log_predictions(batch_id, &rows)
    }

    /// Logged predictions of one customer (the id normalised as it was logged), oldest first.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn predictions_of(&self, customer_id: &str) -> Result<Vec<LoggedPrediction>> {
        self.all(
            "SELECT customer_id, model_version, variant, probability, tier, batch_id, created_at
             FROM predictions WHERE customer_id = ?1 ORDER BY id",
            args![normalize_customer_id(customer_id)],
            row_to_prediction,
        )
    }

    /// Every logged prediction made by one model version, oldest first.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn predictions_by_version(&self, version: i64) -> Result<Vec<LoggedPrediction>> {
        self.all(
            "SELECT customer_id, model_version, variant, probability, tier, batch_id, created_at
             FROM predictions WHERE model_version = ?1 ORDER BY id",
            args![version],
            row_to_prediction,
        )
    }

    /// Row indexes logged under a batch id.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn predictions_in_batch(&self, batch_id: &str) -> Result<Vec<i64>> {
        self.all(
            "SELECT row_index FROM predictions WHERE batch_id = ?1",
            args![batch_id],
            |mut r| r.get(0),
        )
    }

    /// Number of logged predictions.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn prediction_count(&self) -> Result<i64> {
        self.count("SELECT count(*) FROM predictions", &[])
    }

    /// Predictions older than `days` still in the log (the retention policy's backlog).
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn predictions_older_than(&self, days: u64) -> Result<i64> {
        let cutoff = now_millis() - (days as i64) * 86_400_000;
        self.count(
            "SELECT count(*) FROM predictions WHERE created_at < ?1",
            args![cutoff],
        )
    }
}

fn row_to_prediction(mut r: Row) -> std::result::Result<LoggedPrediction, DbError> {
    Ok(LoggedPrediction {
        customer_id: r.get(0)?,
        model_version: r.get(1)?,
        variant: r.get(2)?,
        probability: r.get(3)?,
        tier: r.get(4)?,
        batch_id: r.get(5)?,
        created_at: r.get(6)?,
    })
}
