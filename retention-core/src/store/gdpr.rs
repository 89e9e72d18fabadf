//! GDPR access and erasure requests, and the salted hash that stands for a customer in the
//! audit log.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::sql::DbError;
use super::{
    AuditAction, AuditEntry, Store, args, db_error, insert_audit, normalize_customer_id,
    now_millis, now_rfc3339, store_error,
};
use crate::error::{Error, Result, mention};

/// A month's GDPR report: the access and erasure requests handled, and whether the prediction
/// log keeps to the retention policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GdprAudit {
    /// The month (`YYYY-MM`).
    pub month: String,
    /// The requests, oldest first (their subjects are salted hashes, never ids).
    pub requests: Vec<AuditEntry>,
    /// Access requests among them.
    pub exports: usize,
    /// Erasure requests among them.
    pub deletions: usize,
    /// The retention policy: days a prediction may be kept.
    pub retention_days: u64,
    /// Predictions older than the policy allows, still in the log.
    pub predictions_past_retention: i64,
    /// Whether no prediction is older than the policy allows.
    pub retention_policy_ok: bool,
}

/// Checks that `month` is a month as the GDPR report takes it (`YYYY-MM`).
///
/// # Errors
/// [`Error::InvalidData`] naming the value and the form expected.
pub fn check_month(month: &str) -> Result<()> {
    let valid = month.len() == 7
        && chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_ok();
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidData(format!(
            "{} {month:?} is not a month: use YYYY-MM, e.g. 2026-11",
            mention("month")
        )))
    }
}

/// A customer id for a GDPR request: normalised, and refused when blank.
fn requested_id(customer_id: &str) -> Result<&str> {
    let id = normalize_customer_id(customer_id);
    if id.is_empty() {
        return Err(Error::param(
            "customer_id",
            "the customer id is blank; give the id as it appears in the scored data",
        ));
    }
    Ok(id)
}

impl Store {
    /// This database's secret salt for hashing customer ids in the audit log (created on first
    /// use, random, never exported).
    fn salt(&self) -> Result<String> {
        let existing: Option<String> = self.first(
            "SELECT value FROM settings WHERE key = 'gdpr_salt'",
            &[],
            |mut r| r.get(0),
        )?;
        if let Some(s) = existing {
            return Ok(s);
        }
        // std's RandomState is seeded from the operating system's random source.
        let mut seed = Vec::with_capacity(64);
        for i in 0u8..4 {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u8(i);
            seed.extend_from_slice(&h.finish().to_le_bytes());
        }
        seed.extend_from_slice(&now_millis().to_le_bytes());
        let salt = crate::sha256_hex(&seed);
        // Two processes creating it at once: the first one's salt is kept, and both read it.
        self.execute(
            "INSERT INTO settings (key, value) VALUES ('gdpr_salt', ?1) ON CONFLICT (key) DO NOTHING",
            args![&salt],
        )?;
        self.first(
            "SELECT value FROM settings WHERE key = 'gdpr_salt'",
            &[],
            |mut r| r.get(0),
        )?
        .ok_or_else(|| store_error(format!("{}: the GDPR salt could not be stored", self.db)))
    }

    /// The salted hash the audit log uses instead of a customer id (of the normalised id).
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn subject_hash(&self, customer_id: &str) -> Result<String> {
        let salt = self.salt()?;
        let id = normalize_customer_id(customer_id);
        Ok(crate::sha256_hex(format!("{salt}:{id}").as_bytes()))
    }

    /// Every row about a customer (GDPR access request), and an audit entry for the request. The
    /// id is normalised ([`normalize_customer_id`]) as it was when logged.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a blank id, [`Error::Store`] on a database error.
    pub fn gdpr_export(&self, customer_id: &str, actor: &str) -> Result<serde_json::Value> {
        let customer_id = requested_id(customer_id)?;
        let predictions = self.predictions_of(customer_id)?;
        let subject = self.subject_hash(customer_id)?;
        self.audit(
            actor,
            AuditAction::GdprExport,
            &subject,
            &serde_json::json!({"predictions": predictions.len()}),
        )?;
        Ok(serde_json::json!({
            "customer_id": customer_id,
            "exported_at": now_rfc3339(),
            "database": self.db.to_string(),
            "predictions": predictions,
        }))
    }

    /// Erases every row about a customer in one transaction (GDPR erasure); the audit log keeps
    /// only the salted hash of the id. The id is normalised ([`normalize_customer_id`]) as it was
    /// when logged. No readable copy stays in a SQLite database's files: deleted content is zeroed
    /// (`secure_delete`), the query planner's sampled index keys (`sqlite_stat4`, written by
    /// `db optimize`) of the prediction log are dropped, and the write-ahead log is checkpointed
    /// and truncated. Backups taken earlier still hold the rows. Returns the rows deleted; running
    /// it again is harmless (it deletes nothing and purges the log again). On PostgreSQL the
    /// prediction log is vacuumed after the deletion; the server's write-ahead log (and its
    /// archive, if one is kept) hold the rows until they are recycled.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a blank id; [`Error::Store`] on a database error (nothing
    /// is deleted then), or when another connection kept the write-ahead log from being
    /// truncated within the busy timeout (the rows are erased, but copies stay in `<db>-wal`
    /// until the next checkpoint: the message says to run the erasure again).
    pub fn gdpr_delete(&mut self, customer_id: &str, actor: &str) -> Result<usize> {
        let customer_id = requested_id(customer_id)?;
        let subject = self.subject_hash(customer_id)?;
        let e = |e: DbError| db_error(&self.db, e);
        let removed = self.transaction(|s| {
            let removed = s
                .execute(
                    "DELETE FROM predictions WHERE customer_id = ?1",
                    args![customer_id],
                )
                .map_err(e)?;
            if !s.is_postgres() {
                // ANALYZE (db optimize) samples index keys, customer ids among them, into
                // sqlite_stat4.
                let stat4: i64 = s
                    .query_one(
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat4'",
                        &[],
                    )
                    .and_then(|mut r| r.get(0))
                    .map_err(e)?;
                if stat4 > 0 {
                    s.execute("DELETE FROM sqlite_stat4 WHERE tbl = 'predictions'", &[])
                        .map_err(e)?;
                }
            }
            insert_audit(
                s,
                actor,
                AuditAction::GdprDelete,
                &subject,
                &serde_json::json!({"predictions": removed}),
            )
            .map_err(e)?;
            Ok(removed)
        })?;
        let Some(path) = self.db.file() else {
            // PostgreSQL: VACUUM frees the deleted row versions for reuse at once (instead of at
            // the next autovacuum); PostgreSQL's write-ahead log and archives keep them until
            // they are recycled, as backups do.
            self.with(|s| s.batch("VACUUM predictions").map_err(e))?;
            return Ok(removed);
        };
        // The WAL still holds the pages as they were before the erasure: copy the erased pages
        // into the database and truncate the log.
        let busy: i64 = self.count("PRAGMA wal_checkpoint(TRUNCATE)", &[])?;
        if busy != 0 {
            return Err(store_error(format!(
                "{}: erased {removed} rows about the customer, but another connection kept the write-ahead log busy, so copies of them stay in {}-wal until the next checkpoint; run the erasure again when the database is quieter",
                path.display(),
                path.display()
            )));
        }
        Ok(removed)
    }

    /// Backup folders recorded in this database that still exist, oldest first, with when each
    /// was taken: what still holds rows erased since (see [`Store::gdpr_delete`]).
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn backup_folders(&self) -> Result<Vec<(String, PathBuf)>> {
        let rows: Vec<(String, String)> =
            self.all("SELECT at, dir FROM backups ORDER BY id", &[], |mut r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        Ok(rows
            .into_iter()
            .map(|(at, dir)| (at, PathBuf::from(dir)))
            .filter(|(_, dir)| dir.is_dir())
            .collect())
    }

    /// The GDPR report of `month` (`YYYY-MM`): its access and erasure requests from the audit
    /// log, and the predictions older than `retention_days`.
    ///
    /// # Errors
    /// [`Error::InvalidData`] for a value that is not a month, [`Error::Store`] on a database
    /// error.
    pub fn gdpr_audit(&self, month: &str, retention_days: u64) -> Result<GdprAudit> {
        check_month(month)?;
        let requests: Vec<AuditEntry> = self
            .audit_entries(month)?
            .into_iter()
            .filter(|e| e.kind().is_some_and(AuditAction::is_gdpr))
            .collect();
        let count =
            |action: AuditAction| requests.iter().filter(|e| e.kind() == Some(action)).count();
        let overdue = self.predictions_older_than(retention_days)?;
        Ok(GdprAudit {
            month: month.to_string(),
            exports: count(AuditAction::GdprExport),
            deletions: count(AuditAction::GdprDelete),
            requests,
            retention_days,
            predictions_past_retention: overdue,
            retention_policy_ok: overdue == 0,
        })
    }
}
