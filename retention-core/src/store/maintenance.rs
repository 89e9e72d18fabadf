//! Maintenance: checks, optimisation and the retention clean-up.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{AuditAction, Store, args, now_millis};
use crate::error::Result;

/// The result of `check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// SQLite's `PRAGMA integrity_check` said "ok" (always true on PostgreSQL, which checks
    /// pages as it reads them).
    pub integrity_ok: bool,
    /// Its messages when not.
    pub integrity_messages: Vec<String>,
    /// Rows violating a foreign key (`PRAGMA foreign_key_check`).
    pub foreign_key_violations: usize,
    /// Rows per table.
    pub rows: Vec<(String, i64)>,
    /// Age of the newest backup in hours, if any was taken.
    pub last_backup_age_hours: Option<f64>,
    /// Schema version.
    pub schema_version: i64,
    /// Database size in bytes (the SQLite file; `pg_database_size` on PostgreSQL).
    pub size_bytes: u64,
}

impl CheckReport {
    /// Everything passed.
    pub fn ok(&self) -> bool {
        self.integrity_ok && self.foreign_key_violations == 0
    }
}

impl Store {
    /// Integrity and foreign-key checks, row counts, last backup age.
    ///
    /// # Errors
    /// [`Error::Store`] when the checks cannot run.
    pub fn check(&self) -> Result<CheckReport> {
        let (messages, violations) = if self.db.is_postgres() {
            // Constraints are enforced as rows are written; there is no file to check.
            (vec!["ok".to_string()], 0)
        } else {
            (
                self.all("PRAGMA integrity_check", &[], |mut r| r.get(0))?,
                self.all("PRAGMA foreign_key_check", &[], |_| Ok(()))?.len(),
            )
        };
        let integrity_ok = messages.len() == 1 && messages[0] == "ok";
        let mut rows = Vec::new();
        for (table, sql) in [
            ("models", "SELECT count(*) FROM models"),
            ("validations", "SELECT count(*) FROM validations"),
            ("aliases", "SELECT count(*) FROM aliases"),
            ("promotions", "SELECT count(*) FROM promotions"),
            ("predictions", "SELECT count(*) FROM predictions"),
            ("audit_log", "SELECT count(*) FROM audit_log"),
            ("backups", "SELECT count(*) FROM backups"),
        ] {
            rows.push((table.to_string(), self.count(sql, &[])?));
        }
        let last_backup_age_hours = self
            .last_backup_at()?
            .map(|t| (chrono::Utc::now() - t).num_seconds() as f64 / 3600.0);
        Ok(CheckReport {
            integrity_ok,
            integrity_messages: if integrity_ok { Vec::new() } else { messages },
            foreign_key_violations: violations,
            rows,
            last_backup_age_hours,
            schema_version: self.schema_version()?,
            size_bytes: self.size_bytes()?,
        })
    }

    /// Refreshes the query planner's statistics, checkpoints the WAL and reclaims free pages.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn optimize(&mut self, actor: &str) -> Result<(u64, u64)> {
        let before = self.size_bytes()?;
        self.with(|s| {
            s.batch(if s.is_postgres() {
                "VACUUM ANALYZE"
            } else {
                "PRAGMA optimize; ANALYZE; PRAGMA wal_checkpoint(TRUNCATE); VACUUM;"
            })
            .map_err(|e| self.err(e))
        })?;
        let after = self.size_bytes()?;
        self.audit(
            actor,
            AuditAction::DbOptimize,
            "",
            &serde_json::json!({"before": before, "after": after}),
        )?;
        Ok((before, after))
    }

    /// Deletes predictions older than `older_than`, `batch` rows per transaction so writers are
    /// never blocked for long; `progress` is told the running total. Returns the rows removed.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error (batches already committed stay removed).
    pub fn cleanup(
        &mut self,
        older_than: Duration,
        batch: usize,
        actor: &str,
        progress: &dyn Fn(usize),
    ) -> Result<usize> {
        let cutoff = now_millis() - older_than.as_millis() as i64;
        let mut removed = 0usize;
        loop {
            let n = self.execute(
                "DELETE FROM predictions WHERE id IN
                 (SELECT id FROM predictions WHERE created_at < ?1 LIMIT ?2)",
                args![cutoff, batch.max(1) as i64],
            )?;
            removed += n;
            progress(removed);
            if n == 0 {
                break;
            }
        }
        self.audit(
            actor,
            AuditAction::DbCleanup,
            "predictions",
            &serde_json::json!({"removed": removed, "older_than_days": older_than.as_secs_f64() / 86_400.0}),
        )?;
        Ok(removed)
    }

    /// When the newest recorded backup was taken, if any was.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn last_backup_at(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        let last: Option<String> = self
            .first("SELECT max(at) FROM backups", &[], |mut r| r.get(0))?
            .flatten();
        Ok(last
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)))
    }

    /// The database's size in bytes: the SQLite file's, or PostgreSQL's `pg_database_size`.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn size_bytes(&self) -> Result<u64> {
        match self.db.file() {
            Some(path) => Ok(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)),
            None => self
                .count("SELECT pg_database_size(current_database())", &[])
                .map(|n| n.max(0) as u64),
        }
    }
}
