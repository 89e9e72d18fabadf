//! Drift comparisons recorded for monitoring.

use serde::{Deserialize, Serialize};

use super::{Store, args, now_rfc3339};
use crate::drift::Status;
use crate::error::Result;

/// The latest recorded drift comparison (for monitoring).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftRecord {
    /// When it was recorded (RFC 3339, UTC).
    pub at: String,
    /// The reference table.
    pub reference: String,
    /// The current table.
    pub current: String,
    /// The verdict (a stored name this version does not know reads as `Alert`).
    pub status: Status,
    /// Share of compared features that drift.
    pub share: f64,
    /// Features that drift.
    pub drifting: i64,
    /// Features compared.
    pub features: i64,
}

impl Store {
    /// Records a drift comparison (its verdict and the whole report as JSON).
    ///
    /// # Errors
    /// [`Error::Store`] on a database error or a report that does not serialise.
    pub fn record_drift(
        &self,
        reference: &str,
        current: &str,
        report: &crate::drift::DriftReport,
    ) -> Result<()> {
        let v = &report.verdict;
        self.execute(
            "INSERT INTO drift_reports
             (at, reference, current, status, share, drifting, features, report)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            args![
                &now_rfc3339(),
                reference,
                current,
                v.status.as_str(),
                v.share,
                v.drifting as i64,
                v.features as i64,
                &report.to_json()?
            ],
        )?;
        Ok(())
    }

    /// The most recent drift comparison, if any was recorded.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn latest_drift(&self) -> Result<Option<DriftRecord>> {
        self.first(
            "SELECT at, reference, current, status, share, drifting, features
             FROM drift_reports ORDER BY id DESC LIMIT 1",
            &[],
            |mut r| {
                Ok(DriftRecord {
                    at: r.get(0)?,
                    reference: r.get(1)?,
                    current: r.get(2)?,
                    status: Status::from_stored(&r.get::<String>(3)?),
                    share: r.get(4)?,
                    drifting: r.get(5)?,
                    features: r.get(6)?,
                })
            },
        )
    }
}
