//! The operations store: one SQLite database (WAL, foreign keys, a busy timeout) holding the model
//! registry (immutable versions, champion/challenger aliases with the A/B split, promotion events,
//! validations), the prediction log and the audit log. This module is the only one that knows SQL.
//!
//! Schema changes are numbered migrations recorded in `PRAGMA user_version`; opening a database
//! applies the missing ones in one transaction and refuses a database newer than this build.
//!
//! Customer data stays private: a database this module creates (and its `-wal` and `-shm`, which
//! SQLite creates with the database's mode) is owner-only (0600, new folders 0700); deleted rows
//! are overwritten (`secure_delete`), and a GDPR erasure checkpoints the write-ahead log so no
//! copy of the erased rows stays readable in the database's files. Customer ids are stored and
//! looked up in one form, [`normalize_customer_id`], whatever path they arrive by.

mod audit;
mod backup;
mod drift;
mod gdpr;
mod keys;
mod maintenance;
mod predictions;
mod registry;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub use audit::{AuditAction, AuditEntry};
pub use backup::{BackupManifest, ManifestEntry, Rotation, SkippedVersion, restore, verify_backup};
pub use drift::DriftRecord;
pub use gdpr::{GdprAudit, check_month};
pub use keys::{API_KEY_PREFIX, ApiKeyInfo, api_key_hash};
pub use maintenance::CheckReport;
pub use predictions::{LoggedPrediction, PredictionRow};
pub use registry::{
    Aliases, HoldoutScores, ModelVersion, Promotion, PromotionAction, StoredReport, Validation,
    VersionMetrics,
};

use crate::error::{Error, Result};
use audit::insert_audit;

/// The database used when none is named.
pub const DEFAULT_DB: &str = "data/retentionai.db";
/// The schema version this release writes (migrations applied on open).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a writer waits for another before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema, one migration per version (`user_version` = number applied).
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE models (
    version       INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256        TEXT NOT NULL UNIQUE,
    artifact      BLOB NOT NULL,
    algorithm     TEXT NOT NULL,
    metrics       TEXT NOT NULL,
    notes         TEXT NOT NULL DEFAULT '',
    registered_at TEXT NOT NULL,
    registered_by TEXT NOT NULL
);
CREATE TRIGGER models_are_immutable BEFORE UPDATE ON models
BEGIN SELECT RAISE(ABORT, 'model versions are immutable'); END;

CREATE TABLE validations (
    id          INTEGER PRIMARY KEY,
    version     INTEGER NOT NULL REFERENCES models(version),
    at          TEXT NOT NULL,
    data_sha256 TEXT,
    rows        INTEGER NOT NULL,
    roc_auc     REAL NOT NULL,
    accuracy    REAL NOT NULL,
    passed      INTEGER NOT NULL,
    report      TEXT NOT NULL
);

CREATE TABLE aliases (
    alias      TEXT PRIMARY KEY CHECK (alias IN ('champion', 'challenger')),
    version    INTEGER NOT NULL REFERENCES models(version),
    split      REAL NOT NULL DEFAULT 0 CHECK (split >= 0 AND split <= 1),
    updated_at TEXT NOT NULL
);

CREATE TABLE promotions (
    id           INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    from_version INTEGER REFERENCES models(version),
    to_version   INTEGER REFERENCES models(version),
    reason       TEXT NOT NULL DEFAULT '',
    gate         TEXT NOT NULL DEFAULT '{}',
    forced       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE predictions (
    id            INTEGER PRIMARY KEY,
    customer_id   TEXT NOT NULL,
    model_version INTEGER NOT NULL REFERENCES models(version),
    variant       TEXT NOT NULL,
    probability   REAL NOT NULL,
    tier          TEXT NOT NULL,
    batch_id      TEXT NOT NULL,
    row_index     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (batch_id, row_index)
);
CREATE INDEX predictions_by_time ON predictions(created_at);
CREATE INDEX predictions_by_customer ON predictions(customer_id);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_time ON audit_log(at);

CREATE TABLE backups (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    dir             TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
",
    r"
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys(name) WHERE revoked_at IS NULL;

CREATE TABLE drift_reports (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    reference  TEXT NOT NULL,
    current    TEXT NOT NULL,
    status     TEXT NOT NULL,
    share      REAL NOT NULL,
    drifting   INTEGER NOT NULL,
    features   INTEGER NOT NULL,
    report     TEXT NOT NULL
);
",
    // Customer ids logged before ids were normalised (e.g. over HTTP, untrimmed) take their
    // normalised form, so GDPR requests find them: the characters are Unicode White_Space, the
    // set `char::is_whitespace` and `normalize_customer_id` trim (checked by a test).
    r"
UPDATE predictions SET customer_id = trim(customer_id, char(
    9, 10, 11, 12, 13, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200,
    8201, 8202, 8232, 8233, 8239, 8287, 12288))
WHERE customer_id <> trim(customer_id, char(
    9, 10, 11, 12, 13, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200,
    8201, 8202, 8232, 8233, 8239, 8287, 12288));
",
];

/// The operations store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// (device, inode) of the database file when it was opened (Unix), for [`Store::file_replaced`].
    identity: Option<(u64, u64)>,
}

/// The one form in which a customer id is stored in the prediction log and looked up (by GDPR
/// export and erasure, [`Store::predictions_of`]): without surrounding whitespace (Unicode
/// White_Space, as `str::trim`), as table cells are read. The CLI, the Python module and the HTTP
/// service all log through [`Store::log_predictions`], which applies it, so an id typed with or
/// without stray spaces names the same customer everywhere. Case and inner characters are kept:
/// `c-1` and `C-1` are different customers.
pub fn normalize_customer_id(id: &str) -> &str {
    id.trim()
}

/// (device, inode) of a file, if it exists (Unix only).
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// SQLite's error behind an [`Error::Store`]. Its text is the end of the store error's message;
/// it chains no further cause (SQLite's numeric code would repeat the message in other words),
/// and [`SqliteError::sqlite`] gives the error itself.
#[derive(Debug)]
pub struct SqliteError(rusqlite::Error);

impl SqliteError {
    /// The error rusqlite reported.
    pub fn sqlite(&self) -> &rusqlite::Error {
        &self.0
    }
}

impl std::fmt::Display for SqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SqliteError {}

/// The one mapping of a SQLite error to [`Error::Store`]: the database, then SQLite's message.
pub(crate) fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::Store {
        context: path.display().to_string(),
        source: Some(SqliteError(e)),
    }
}

/// An [`Error::Store`] that SQLite did not report (the message names the database itself).
pub(crate) fn store_error(context: impl Into<String>) -> Error {
    Error::Store {
        context: context.into(),
        source: None,
    }
}

/// Who is acting, for the audit log: `RETENTIONAI_ACTOR` (or the deprecated `RETENTION_ACTOR`),
/// else the login name, else `unknown`.
pub fn default_actor() -> String {
    crate::config::env_var("actor")
        .map(|(v, _)| v)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Current time, RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Current time in Unix milliseconds.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Store {
    /// Opens (creating if needed, with its folder) the database at `path`, applies missing
    /// migrations, and sets WAL mode, foreign keys and a busy timeout.
    ///
    /// # Errors
    /// [`Error::Store`] when the file cannot be opened, is not a RetentionAI database, or was
    /// written by a newer version.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::fsutil::create_private_dir_all(dir)?;
        }
        // A new database is created owner-only before SQLite opens it (SQLite would create it
        // 0644 less the umask); SQLite gives its -wal and -shm the database's mode.
        if path.as_os_str() != ":memory:" {
            match crate::fsutil::create_private_file(path) {
                Ok(_) => {}
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        let conn = Connection::open(path).map_err(|e| db_error(path, e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            identity: file_identity(path),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database only (maintenance and restore must not create one).
    ///
    /// # Errors
    /// [`Error::Io`] when the file does not exist; otherwise as [`Store::open`].
    pub fn open_existing(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such database"),
            ));
        }
        Store::open(path)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file at this store's path is no longer the one it opened: it was replaced
    /// (e.g. by `retention restore`, which renames a new database into place) or removed. A
    /// long-running process (the HTTP server) calls this on each reload and reopens when it is
    /// true; until then its connection keeps reading and writing the old file. Cheap: one
    /// `stat` of the path, compared by (device, inode) with the file at open. Always `false`
    /// where file identities are not available (not Unix).
    pub fn file_replaced(&self) -> bool {
        match self.identity {
            Some(at_open) => file_identity(&self.path) != Some(at_open),
            None => false,
        }
    }

    /// A warning when the database file may be read by other users (group or other permission
    /// bits set, as files created under the usual umask by earlier versions are): it holds
    /// customer ids, API-key hashes and the GDPR salt. The store does not change the mode
    /// itself (a shared group may be deliberate); the caller shows the warning.
    pub fn permission_warning(&self) -> Option<String> {
        let mode = crate::fsutil::shared_mode(&self.path)?;
        Some(format!(
            "{} is readable by other users (mode {mode:03o}) and holds customer ids, API-key hashes and the GDPR salt: `chmod 600` it (and its -wal and -shm)",
            self.path.display()
        ))
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
    }

    /// Every row of a query, mapped.
    fn all<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params, map)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<T>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    fn configure(&mut self) -> Result<()> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.err(e))?;
        // Not a database at all shows up here, on the first read.
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(store_error(format!(
                "{}: could not switch to WAL mode (journal_mode is {mode})",
                self.path.display()
            )));
        }
        self.conn
            // WAL + NORMAL: a commit survives a crash of the process (not always of the OS);
            // 64 MiB of page cache keeps the log's indexes in memory during bulk inserts.
            // secure_delete: deleted rows are overwritten with zeros, not left in free space.
            .execute_batch(
                "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;
                 PRAGMA secure_delete = ON;",
            )
            .map_err(|e| self.err(e))
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let latest = MIGRATIONS.len() as i64;
        if version > latest {
            return Err(store_error(format!(
                "{} has schema version {version}, newer than this build's {latest}: upgrade RetentionAI",
                self.path.display()
            )));
        }
        if version == latest {
            return Ok(());
        }
        if version == 0 {
            let tables: i64 = self
                .conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            if tables > 0 {
                return Err(store_error(format!(
                    "{} is a SQLite database but not a RetentionAI store (it has tables and no schema version)",
                    self.path.display()
                )));
            }
        }
        let tx = self
            .conn
            .transaction()
            .map_err(|e| db_error(&self.path, e))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(|e| db_error(&self.path, e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| db_error(&self.path, e))?;
        }
        tx.commit().map_err(|e| db_error(&self.path, e))
    }

    /// Schema version of the open database.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Answers a trivial query: the database is reachable and readable.
    ///
    /// # Errors
    /// [`Error::Store`] when it is not.
    pub fn ping(&self) -> Result<()> {
        self.conn
            .query_row("SELECT count(*) FROM aliases", [], |r| r.get::<_, i64>(0))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// A stored JSON column; text that is not JSON as a JSON string.
fn parse_json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;

    /// The characters the id migration trims, as listed in its SQL.
    fn migration_whitespace() -> Vec<char> {
        let sql = MIGRATIONS[2];
        let start = sql.find("char(").map(|i| i + 5).unwrap_or(0);
        let end = start + sql[start..].find(')').unwrap_or(0);
        sql[start..end]
            .split(',')
            .filter_map(|n| n.trim().parse::<u32>().ok())
            .filter_map(char::from_u32)
            .collect()
    }

    #[test]
    fn the_id_migration_trims_what_normalize_customer_id_trims() {
        let listed = migration_whitespace();
        let all: Vec<char> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        assert_eq!(listed, all);
        for c in &all {
            assert_eq!(normalize_customer_id(&format!("{c}C-1{c}")), "C-1");
        }
        assert_eq!(normalize_customer_id("c 1"), "c 1");
    }

    #[test]
    fn ids_logged_untrimmed_before_the_migration_are_normalised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let store = Store::open(&path).unwrap();
            let conn = store.connection();
            conn.execute(
                "INSERT INTO models (sha256, artifact, algorithm, metrics, registered_at, registered_by)
                 VALUES ('x', x'00', 'logistic', '{}', 'now', 'test')",
                [],
            )
            .unwrap();
            for (i, id) in ["  C-1\t", "C-1", "\u{a0}C-2\u{3000}", "C 3"]
                .iter()
                .enumerate()
            {
                conn.execute(
                    "INSERT INTO predictions (customer_id, model_version, variant, probability, tier, batch_id, row_index, created_at)
                     VALUES (?1, 1, 'direct', 0.5, 'Low', 'old', ?2, 0)",
                    params![id, i as i64],
                )
                .unwrap();
            }
            conn.pragma_update(None, "user_version", 2).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert_eq!(store.predictions_of("C-1").unwrap().len(), 2);
        assert_eq!(store.predictions_of("C-2").unwrap().len(), 1);
        assert_eq!(store.predictions_of("C 3").unwrap().len(), 1);
    }
}
