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

mod backup;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

pub use backup::{BackupManifest, ManifestEntry, Rotation, SkippedVersion, restore, verify_backup};

use crate::error::{Error, Result};
use crate::model::ChurnModel;

/// The database used when none is named.
pub const DEFAULT_DB: &str = "data/retentionai.db";

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

/// Start of every API key, so that a leaked key is recognisable (e.g. by secret scanners).
pub const API_KEY_PREFIX: &str = "rai_";

/// An API key as listed (never the key itself: only its hash is stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    /// The name given at creation (unique among active keys).
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// Who created it.
    pub created_by: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// The latest recorded drift comparison (for monitoring).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftRecord {
    /// When it was recorded (RFC 3339, UTC).
    pub at: String,
    /// The reference table.
    pub reference: String,
    /// The current table.
    pub current: String,
    /// `ok`, `warn` or `alert`.
    pub status: String,
    /// Share of compared features that drift.
    pub share: f64,
    /// Features that drift.
    pub drifting: i64,
    /// Features compared.
    pub features: i64,
}

/// A registered model version (without its artifact).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Version number, from 1.
    pub version: i64,
    /// SHA-256 of the artifact bytes.
    pub sha256: String,
    /// The model's estimator name.
    pub algorithm: String,
    /// Headline metrics at registration (JSON, the model's own `metrics`).
    pub metrics: serde_json::Value,
    /// Free text given at registration.
    pub notes: String,
    /// When it was registered (RFC 3339, UTC).
    pub registered_at: String,
    /// Who registered it.
    pub registered_by: String,
}

/// Where the champion and challenger point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aliases {
    /// The champion's version.
    pub champion: Option<i64>,
    /// The challenger's version, while an A/B test runs.
    pub challenger: Option<i64>,
    /// Share of customers routed to the challenger.
    pub split: f64,
}

/// A stored validation of a version on a labelled holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// The version validated.
    pub version: i64,
    /// When.
    pub at: String,
    /// SHA-256 of the holdout file.
    pub data_sha256: Option<String>,
    /// Holdout rows.
    pub rows: i64,
    /// Measured ROC-AUC.
    pub roc_auc: f64,
    /// Measured accuracy.
    pub accuracy: f64,
    /// Whether every gate passed.
    pub passed: bool,
    /// The full gate report (JSON).
    pub report: serde_json::Value,
}

/// One change of the aliases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// `promote`, `rollback`, `ab_start` or `ab_stop`.
    pub action: String,
    /// The champion before (or the challenger for A/B events).
    pub from_version: Option<i64>,
    /// The champion after (or the challenger for A/B events).
    pub to_version: Option<i64>,
    /// Why.
    pub reason: String,
    /// Gate results (JSON).
    pub gate: serde_json::Value,
    /// Whether a failing gate was overridden.
    pub forced: bool,
}

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

/// The result of `check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// `PRAGMA integrity_check` said "ok".
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
    /// Database file size in bytes.
    pub size_bytes: u64,
}

impl CheckReport {
    /// Everything passed.
    pub fn ok(&self) -> bool {
        self.integrity_ok && self.foreign_key_violations == 0
    }
}

/// An audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what (for GDPR, a salted hash of the customer id, never the id).
    pub subject: String,
    /// Details (JSON).
    pub details: serde_json::Value,
}

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

/// A customer id for a GDPR request: normalised, and refused when blank.
fn requested_id(customer_id: &str) -> Result<&str> {
    let id = normalize_customer_id(customer_id);
    if id.is_empty() {
        return Err(Error::param(
            "--customer-id",
            "the customer id is blank; give the id as it appears in the scored data",
        ));
    }
    Ok(id)
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

fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::Store(format!("{}: {e}", path.display()))
}

/// Who is acting, for the audit log: `RETENTION_ACTOR`, else the login name, else `unknown`.
pub fn default_actor() -> String {
    std::env::var("RETENTION_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
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
            return Err(Error::Store(format!(
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
            return Err(Error::Store(format!(
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
                return Err(Error::Store(format!(
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

    // ---- registry -------------------------------------------------------------------------

    /// Registers a model artifact (the exact bytes of a model file) as a new immutable version.
    /// Registering the same bytes twice returns the existing version.
    ///
    /// # Errors
    /// [`Error::CorruptArtifact`] when the bytes are not a valid model; [`Error::Store`] otherwise.
    pub fn register(&mut self, artifact: &[u8], notes: &str, actor: &str) -> Result<ModelVersion> {
        let model = ChurnModel::from_bytes(artifact, Path::new("<artifact>"))?;
        let sha = crate::sha256_hex(artifact);
        if let Some(v) = self.version_by_sha(&sha)? {
            return Ok(v);
        }
        let metrics = serde_json::json!({
            "cv_roc_auc": model.metrics.cv.as_ref().and_then(|c| c.get("roc_auc")).map(|m| m.mean),
            "training_roc_auc": model.metrics.training.roc_auc,
            "holdout": model.metrics.holdout.as_ref().map(|m| serde_json::json!({"roc_auc": m.roc_auc, "accuracy": m.accuracy})),
            "threshold": model.threshold,
        });
        let at = now_rfc3339();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| db_error(&self.path, e))?;
        tx.execute(
            "INSERT INTO models (sha256, artifact, algorithm, metrics, notes, registered_at, registered_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                sha,
                artifact,
                model.estimator.name(),
                metrics.to_string(),
                notes,
                at,
                actor
            ],
        )
        .map_err(|e| db_error(&self.path, e))?;
        let version = tx.last_insert_rowid();
        insert_audit(
            &tx,
            actor,
            "model_register",
            &format!("v{version}"),
            &serde_json::json!({ "sha256": sha }),
        )
        .map_err(|e| db_error(&self.path, e))?;
        tx.commit().map_err(|e| db_error(&self.path, e))?;
        self.version_info(version)
    }

    fn version_by_sha(&self, sha: &str) -> Result<Option<ModelVersion>> {
        let version: Option<i64> = self
            .conn
            .query_row("SELECT version FROM models WHERE sha256 = ?1", [sha], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        version.map(|v| self.version_info(v)).transpose()
    }

    /// One version's registry entry.
    ///
    /// # Errors
    /// [`Error::Store`] naming the version when it does not exist.
    pub fn version_info(&self, version: i64) -> Result<ModelVersion> {
        self.conn
            .query_row(
                "SELECT version, sha256, algorithm, metrics, notes, registered_at, registered_by
                 FROM models WHERE version = ?1",
                [version],
                row_to_version,
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or_else(|| self.unknown_version(version))
    }

    fn unknown_version(&self, version: i64) -> Error {
        let known = self
            .versions()
            .map(|v| {
                v.iter()
                    .map(|m| m.version.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        Error::Store(format!(
            "model version {version} is not registered in {} (registered: {})",
            self.path.display(),
            if known.is_empty() { "none" } else { &known }
        ))
    }

    /// Every registered version, oldest first.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn versions(&self) -> Result<Vec<ModelVersion>> {
        self.all(
            "SELECT version, sha256, algorithm, metrics, notes, registered_at, registered_by
             FROM models ORDER BY version",
            [],
            row_to_version,
        )
    }

    /// A version's artifact bytes, checked against its SHA-256.
    ///
    /// # Errors
    /// [`Error::Store`] for an unknown version, [`Error::CorruptArtifact`] when the stored bytes
    /// no longer match their checksum.
    pub fn artifact(&self, version: i64) -> Result<Vec<u8>> {
        let (bytes, sha): (Vec<u8>, String) = self
            .conn
            .query_row(
                "SELECT artifact, sha256 FROM models WHERE version = ?1",
                [version],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or_else(|| self.unknown_version(version))?;
        if crate::sha256_hex(&bytes) != sha {
            return Err(Error::CorruptArtifact {
                path: self.path.clone(),
                reason: format!(
                    "model version {version}'s stored bytes do not match their SHA-256"
                ),
            });
        }
        Ok(bytes)
    }

    /// Loads a version's model.
    ///
    /// # Errors
    /// As [`Store::artifact`] and [`ChurnModel::from_bytes`].
    pub fn load_model(&self, version: i64) -> Result<ChurnModel> {
        let bytes = self.artifact(version)?;
        ChurnModel::from_bytes(&bytes, &self.path.join(format!("v{version}")))
    }

    /// The current aliases.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn aliases(&self) -> Result<Aliases> {
        let mut out = Aliases::default();
        let rows = self.all("SELECT alias, version, split FROM aliases", [], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, f64>(2)?,
            ))
        })?;
        for (alias, version, split) in rows {
            match alias.as_str() {
                "champion" => out.champion = Some(version),
                _ => {
                    out.challenger = Some(version);
                    out.split = split;
                }
            }
        }
        Ok(out)
    }

    /// Records a validation.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error or an unknown version.
    pub fn record_validation(&mut self, v: &Validation, actor: &str) -> Result<()> {
        self.version_info(v.version)?;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| db_error(&self.path, e))?;
        tx.execute(
            "INSERT INTO validations (version, at, data_sha256, rows, roc_auc, accuracy, passed, report)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                v.version,
                v.at,
                v.data_sha256,
                v.rows,
                v.roc_auc,
                v.accuracy,
                v.passed,
                v.report.to_string()
            ],
        )
        .map_err(|e| db_error(&self.path, e))?;
        insert_audit(
            &tx,
            actor,
            "model_validate",
            &format!("v{}", v.version),
            &serde_json::json!({"passed": v.passed, "roc_auc": v.roc_auc, "accuracy": v.accuracy}),
        )
        .map_err(|e| db_error(&self.path, e))?;
        tx.commit().map_err(|e| db_error(&self.path, e))
    }

    /// The newest validation of a version.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn latest_validation(&self, version: i64) -> Result<Option<Validation>> {
        self.conn
            .query_row(
                "SELECT version, at, data_sha256, rows, roc_auc, accuracy, passed, report
                 FROM validations WHERE version = ?1 ORDER BY id DESC LIMIT 1",
                [version],
                |r| {
                    Ok(Validation {
                        version: r.get(0)?,
                        at: r.get(1)?,
                        data_sha256: r.get(2)?,
                        rows: r.get(3)?,
                        roc_auc: r.get(4)?,
                        accuracy: r.get(5)?,
                        passed: r.get(6)?,
                        report: parse_json(&r.get::<_, String>(7)?),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Applies an alias change and records it as a promotion event, in one transaction.
    /// `champion`: the new champion (`None` leaves it); `challenger`: `Some(Some(v), split)` starts
    /// or changes an A/B test, `Some(None)` stops it.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error or an unknown version.
    pub fn change_aliases(
        &mut self,
        champion: Option<i64>,
        challenger: Option<(Option<i64>, f64)>,
        event: &Promotion,
    ) -> Result<()> {
        for v in champion
            .iter()
            .chain(challenger.iter().filter_map(|(v, _)| v.as_ref()))
        {
            self.version_info(*v)?;
        }
        let at = now_rfc3339();
        let path = self.path.clone();
        let e = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        if let Some(v) = champion {
            tx.execute(
                "INSERT INTO aliases (alias, version, split, updated_at) VALUES ('champion', ?1, 0, ?2)
                 ON CONFLICT(alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
                params![v, at],
            )
            .map_err(e)?;
        }
        match challenger {
            Some((Some(v), split)) => {
                tx.execute(
                    "INSERT INTO aliases (alias, version, split, updated_at) VALUES ('challenger', ?1, ?2, ?3)
                     ON CONFLICT(alias) DO UPDATE SET version = excluded.version, split = excluded.split,
                     updated_at = excluded.updated_at",
                    params![v, split, at],
                )
                .map_err(e)?;
            }
            Some((None, _)) => {
                tx.execute("DELETE FROM aliases WHERE alias = 'challenger'", [])
                    .map_err(e)?;
            }
            None => {}
        }
        tx.execute(
            "INSERT INTO promotions (at, actor, action, from_version, to_version, reason, gate, forced)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                at,
                event.actor,
                event.action,
                event.from_version,
                event.to_version,
                event.reason,
                event.gate.to_string(),
                event.forced
            ],
        )
        .map_err(e)?;
        insert_audit(
            &tx,
            &event.actor,
            &format!("model_{}", event.action),
            &event.to_version.map(|v| format!("v{v}")).unwrap_or_default(),
            &serde_json::json!({"from": event.from_version, "reason": event.reason, "forced": event.forced}),
        )
        .map_err(e)?;
        tx.commit().map_err(e)
    }

    /// Promotion events, oldest first.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn promotions(&self) -> Result<Vec<Promotion>> {
        self.all(
            "SELECT at, actor, action, from_version, to_version, reason, gate, forced
             FROM promotions ORDER BY id",
            [],
            |r| {
                Ok(Promotion {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    from_version: r.get(3)?,
                    to_version: r.get(4)?,
                    reason: r.get(5)?,
                    gate: parse_json(&r.get::<_, String>(6)?),
                    forced: r.get(7)?,
                })
            },
        )
    }

    // ---- prediction log -------------------------------------------------------------------

    /// Logs one batch of scored rows in one transaction. A row already logged under the same
    /// `batch_id` and row index is skipped, so re-running a batch does not duplicate it. Customer
    /// ids are stored normalised ([`normalize_customer_id`]). Returns the rows inserted.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error (nothing of the batch is written then).
    pub fn log_predictions(&mut self, batch_id: &str, rows: &[PredictionRow<'_>]) -> Result<usize> {
        let at = now_millis();
        let path = self.path.clone();
        let e = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        let mut inserted = 0usize;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO predictions
                     (customer_id, model_version, variant, probability, tier, batch_id, row_index, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(e)?;
            for r in rows {
                inserted += stmt
                    .execute(params![
                        normalize_customer_id(r.customer_id),
                        r.model_version,
                        r.variant,
                        r.probability,
                        r.tier,
                        batch_id,
                        r.row_index,
                        at
                    ])
                    .map_err(e)?;
            }
        }
        tx.commit().map_err(e)?;
        Ok(inserted)
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
            [normalize_customer_id(customer_id)],
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
            [version],
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
            [batch_id],
            |r| r.get(0),
        )
    }

    /// Number of logged predictions.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn prediction_count(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT count(*) FROM predictions", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    // ---- maintenance ----------------------------------------------------------------------

    /// Integrity and foreign-key checks, row counts, last backup age.
    ///
    /// # Errors
    /// [`Error::Store`] when the checks cannot run.
    pub fn check(&self) -> Result<CheckReport> {
        let messages: Vec<String> = self.all("PRAGMA integrity_check", [], |r| r.get(0))?;
        let integrity_ok = messages.len() == 1 && messages[0] == "ok";
        let violations = self.all("PRAGMA foreign_key_check", [], |_| Ok(()))?.len();
        let mut rows = Vec::new();
        for table in [
            "models",
            "validations",
            "aliases",
            "promotions",
            "predictions",
            "audit_log",
            "backups",
        ] {
            let n: i64 = self
                .conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            rows.push((table.to_string(), n));
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
            size_bytes: std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0),
        })
    }

    /// Refreshes the query planner's statistics, checkpoints the WAL and reclaims free pages.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn optimize(&mut self, actor: &str) -> Result<(u64, u64)> {
        let before = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        self.conn
            .execute_batch("PRAGMA optimize; ANALYZE; PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
            .map_err(|e| self.err(e))?;
        let after = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        self.audit(
            actor,
            "db_optimize",
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
            let n = self
                .conn
                .execute(
                    "DELETE FROM predictions WHERE id IN
                     (SELECT id FROM predictions WHERE created_at < ?1 LIMIT ?2)",
                    params![cutoff, batch.max(1) as i64],
                )
                .map_err(|e| self.err(e))?;
            removed += n;
            progress(removed);
            if n == 0 {
                break;
            }
        }
        self.audit(
            actor,
            "db_cleanup",
            "predictions",
            &serde_json::json!({"removed": removed, "older_than_days": older_than.as_secs_f64() / 86_400.0}),
        )?;
        Ok(removed)
    }

    // ---- audit and GDPR -------------------------------------------------------------------

    /// Appends an audit entry.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        details: &serde_json::Value,
    ) -> Result<()> {
        insert_audit(&self.conn, actor, action, subject, details).map_err(|e| self.err(e))
    }

    /// Audit entries whose time starts with `prefix` (e.g. `2026-11`), oldest first.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn audit_entries(&self, prefix: &str) -> Result<Vec<AuditEntry>> {
        self.all(
            "SELECT at, actor, action, subject, details FROM audit_log
             WHERE at LIKE ?1 || '%' ORDER BY id",
            [prefix],
            |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    subject: r.get(3)?,
                    details: parse_json(&r.get::<_, String>(4)?),
                })
            },
        )
    }

    /// This database's secret salt for hashing customer ids in the audit log (created on first
    /// use, random, never exported).
    fn salt(&self) -> Result<String> {
        let existing: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = 'gdpr_salt'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
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
        self.conn
            .execute(
                "INSERT OR IGNORE INTO settings (key, value) VALUES ('gdpr_salt', ?1)",
                [&salt],
            )
            .map_err(|e| self.err(e))?;
        self.conn
            .query_row(
                "SELECT value FROM settings WHERE key = 'gdpr_salt'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
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
            "gdpr_export",
            &subject,
            &serde_json::json!({"predictions": predictions.len()}),
        )?;
        Ok(serde_json::json!({
            "customer_id": customer_id,
            "exported_at": now_rfc3339(),
            "database": self.path.display().to_string(),
            "predictions": predictions,
        }))
    }

    /// Erases every row about a customer in one transaction (GDPR erasure); the audit log keeps
    /// only the salted hash of the id. The id is normalised ([`normalize_customer_id`]) as it was
    /// when logged. No readable copy stays in the database's files: deleted content is zeroed
    /// (`secure_delete`), the query planner's sampled index keys (`sqlite_stat4`, written by
    /// `db optimize`) of the prediction log are dropped, and the write-ahead log is checkpointed
    /// and truncated. Backups taken earlier still hold the rows. Returns the rows deleted; running
    /// it again is harmless (it deletes nothing and purges the log again).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a blank id; [`Error::Store`] on a database error (nothing
    /// is deleted then), or when another connection kept the write-ahead log from being
    /// truncated within the busy timeout (the rows are erased, but copies stay in `<db>-wal`
    /// until the next checkpoint: the message says to run the erasure again).
    pub fn gdpr_delete(&mut self, customer_id: &str, actor: &str) -> Result<usize> {
        let customer_id = requested_id(customer_id)?;
        let subject = self.subject_hash(customer_id)?;
        let path = self.path.clone();
        let e = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        let removed = tx
            .execute(
                "DELETE FROM predictions WHERE customer_id = ?1",
                [customer_id],
            )
            .map_err(e)?;
        // ANALYZE (db optimize) samples index keys, customer ids among them, into sqlite_stat4.
        let stat4: i64 = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat4'",
                [],
                |r| r.get(0),
            )
            .map_err(e)?;
        if stat4 > 0 {
            tx.execute("DELETE FROM sqlite_stat4 WHERE tbl = 'predictions'", [])
                .map_err(e)?;
        }
        insert_audit(
            &tx,
            actor,
            "gdpr_delete",
            &subject,
            &serde_json::json!({"predictions": removed}),
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        // The WAL still holds the pages as they were before the erasure: copy the erased pages
        // into the database and truncate the log.
        let (busy, _, _): (i64, i64, i64) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| self.err(e))?;
        if busy != 0 {
            return Err(Error::Store(format!(
                "{}: erased {removed} rows about the customer, but another connection kept the write-ahead log busy, so copies of them stay in {}-wal until the next checkpoint; run the erasure again when the database is quieter",
                self.path.display(),
                self.path.display()
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
            self.all("SELECT at, dir FROM backups ORDER BY id", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        Ok(rows
            .into_iter()
            .map(|(at, dir)| (at, PathBuf::from(dir)))
            .filter(|(_, dir)| dir.is_dir())
            .collect())
    }

    /// Predictions older than `days` still in the log (the retention policy's backlog).
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn predictions_older_than(&self, days: u64) -> Result<i64> {
        let cutoff = now_millis() - (days as i64) * 86_400_000;
        self.conn
            .query_row(
                "SELECT count(*) FROM predictions WHERE created_at < ?1",
                [cutoff],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    // ---- API keys ----------------------------------------------------------------------------

    /// Creates an API key named `name` and returns it with its listing. The key is shown only
    /// here: the store keeps its SHA-256 (a key is 256 random bits, so a plain hash cannot be
    /// reversed by guessing).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a blank name or one an active key already has,
    /// [`Error::Store`] on a database error or when the system's random source fails.
    pub fn create_api_key(&mut self, name: &str, actor: &str) -> Result<(ApiKeyInfo, String)> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(Error::param(
                "--name",
                "give a name of 1 to 100 printable characters",
            ));
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| Error::Store(format!("the system's random source failed: {e}")))?;
        let key = format!(
            "{API_KEY_PREFIX}{}",
            secret
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let info = ApiKeyInfo {
            name: name.to_string(),
            prefix: key[..API_KEY_PREFIX.len() + 8].to_string(),
            created_at: now_rfc3339(),
            created_by: actor.to_string(),
            revoked_at: None,
        };
        let path = self.path.clone();
        let e = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        let taken: i64 = tx
            .query_row(
                "SELECT count(*) FROM api_keys WHERE name = ?1 AND revoked_at IS NULL",
                [name],
                |r| r.get(0),
            )
            .map_err(e)?;
        if taken > 0 {
            return Err(Error::param(
                "--name",
                format!(
                    "an active key is already named '{name}'; revoke it first or pick another name"
                ),
            ));
        }
        tx.execute(
            "INSERT INTO api_keys (name, prefix, key_sha256, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                info.name,
                info.prefix,
                api_key_hash(&key),
                info.created_at,
                info.created_by
            ],
        )
        .map_err(e)?;
        insert_audit(
            &tx,
            actor,
            "auth.create_key",
            name,
            &serde_json::json!({ "prefix": info.prefix }),
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok((info, key))
    }

    /// Revokes the active key named `name`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when no active key has that name, [`Error::Store`] on a
    /// database error.
    pub fn revoke_api_key(&mut self, name: &str, actor: &str) -> Result<ApiKeyInfo> {
        let path = self.path.clone();
        let e = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        let at = now_rfc3339();
        let changed = tx
            .execute(
                "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                params![name, at],
            )
            .map_err(e)?;
        if changed == 0 {
            return Err(Error::param(
                "--name",
                format!("no active API key is named '{name}' (see `retention auth list`)"),
            ));
        }
        insert_audit(&tx, actor, "auth.revoke_key", name, &serde_json::json!({})).map_err(e)?;
        let info = tx
            .query_row(
                "SELECT name, prefix, created_at, created_by, revoked_at FROM api_keys
                 WHERE name = ?1 AND revoked_at = ?2",
                params![name, at],
                row_to_api_key,
            )
            .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(info)
    }

    /// Every API key ever created, oldest first.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn api_keys(&self) -> Result<Vec<ApiKeyInfo>> {
        self.all(
            "SELECT name, prefix, created_at, created_by, revoked_at FROM api_keys ORDER BY id",
            [],
            row_to_api_key,
        )
    }

    /// SHA-256 (hex) and name of every active key: what a server checks requests against.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn active_api_key_hashes(&self) -> Result<Vec<(String, String)>> {
        self.all(
            "SELECT key_sha256, name FROM api_keys WHERE revoked_at IS NULL ORDER BY id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    // ---- drift reports ---------------------------------------------------------------------

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
        self.conn
            .execute(
                "INSERT INTO drift_reports
                 (at, reference, current, status, share, drifting, features, report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    now_rfc3339(),
                    reference,
                    current,
                    v.status.as_str(),
                    v.share,
                    v.drifting as i64,
                    v.features as i64,
                    report.to_json()?
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The most recent drift comparison, if any was recorded.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn latest_drift(&self) -> Result<Option<DriftRecord>> {
        self.conn
            .query_row(
                "SELECT at, reference, current, status, share, drifting, features
                 FROM drift_reports ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(DriftRecord {
                        at: r.get(0)?,
                        reference: r.get(1)?,
                        current: r.get(2)?,
                        status: r.get(3)?,
                        share: r.get(4)?,
                        drifting: r.get(5)?,
                        features: r.get(6)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// When the newest recorded backup was taken, if any was.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn last_backup_at(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        let last: Option<String> = self
            .conn
            .query_row("SELECT max(at) FROM backups", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(last
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)))
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

fn insert_audit(
    conn: &Connection,
    actor: &str,
    action: &str,
    subject: &str,
    details: &serde_json::Value,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, subject, details) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![now_rfc3339(), actor, action, subject, details.to_string()],
    )?;
    Ok(())
}

/// SHA-256 (hex) of an API key, as stored and as looked up.
pub fn api_key_hash(key: &str) -> String {
    crate::sha256_hex(key.as_bytes())
}

fn row_to_api_key(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyInfo> {
    Ok(ApiKeyInfo {
        name: r.get(0)?,
        prefix: r.get(1)?,
        created_at: r.get(2)?,
        created_by: r.get(3)?,
        revoked_at: r.get(4)?,
    })
}

fn row_to_version(r: &rusqlite::Row<'_>) -> rusqlite::Result<ModelVersion> {
    Ok(ModelVersion {
        version: r.get(0)?,
        sha256: r.get(1)?,
        algorithm: r.get(2)?,
        metrics: parse_json(&r.get::<_, String>(3)?),
        notes: r.get(4)?,
        registered_at: r.get(5)?,
        registered_by: r.get(6)?,
    })
}

fn row_to_prediction(r: &rusqlite::Row<'_>) -> rusqlite::Result<LoggedPrediction> {
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

fn parse_json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
