//! The operations store: the model registry (immutable versions, champion/challenger aliases with
//! the A/B split, promotion events, validations), the prediction log, API keys and the audit log,
//! in one of two databases ([`Db`]): a SQLite file (WAL, foreign keys, a busy timeout; the
//! embedded default) or a PostgreSQL database shared by several processes (a pool of
//! connections). This module is the only one that knows SQL; [`sql`] holds the one statement
//! interface over both, so every operation is written once.
//!
//! Schema changes are numbered migrations, one list per backend with the same numbers: SQLite
//! records the number in `PRAGMA user_version`, PostgreSQL in the `retentionai_schema` table.
//! Opening a database applies the missing ones in one transaction (on PostgreSQL under an
//! advisory lock, so replicas starting together migrate once) and refuses a database newer than
//! this build.
//!
//! Customer data stays private: a SQLite database this module creates (and its `-wal` and
//! `-shm`, which SQLite creates with the database's mode) is owner-only (0600, new folders 0700);
//! deleted rows are overwritten (`secure_delete`), and a GDPR erasure checkpoints the write-ahead
//! log so no copy of the erased rows stays readable in the database's files. PostgreSQL gives no
//! such guarantee: the rows are deleted and the table vacuumed, but the server's write-ahead log,
//! its archive and snapshots still open keep them until recycled (see [`Store::gdpr_delete`]).
//! Customer ids are stored and looked up in one form, [`normalize_customer_id`], whatever path
//! they arrive by.

mod audit;
mod backup;
mod drift;
mod gdpr;
mod keys;
mod maintenance;
mod pg_backup;
mod predictions;
mod registry;
pub(crate) mod sql;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub use sql::DbError;
use sql::{PgManager, Session};
pub(crate) use sql::{args, db_error};

pub use audit::{AuditAction, AuditEntry};
pub use backup::{
    BackupFormat, BackupManifest, ManifestEntry, Rotation, SkippedVersion, restore, verify_backup,
};
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

/// The SQLite schema, one migration per version (`user_version` = number applied).
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

/// The PostgreSQL schema, numbered as [`MIGRATIONS`] (the same tables, in PostgreSQL's types:
/// `BIGINT` for every integer, `DOUBLE PRECISION`, `BYTEA`, `BOOLEAN` flags).
const PG_MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE models (
    version       BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    sha256        TEXT NOT NULL UNIQUE,
    artifact      BYTEA NOT NULL,
    algorithm     TEXT NOT NULL,
    metrics       TEXT NOT NULL,
    notes         TEXT NOT NULL DEFAULT '',
    registered_at TEXT NOT NULL,
    registered_by TEXT NOT NULL
);
CREATE FUNCTION retentionai_models_are_immutable() RETURNS trigger LANGUAGE plpgsql AS
$body$ BEGIN RAISE EXCEPTION 'model versions are immutable'; END $body$;
CREATE TRIGGER models_are_immutable BEFORE UPDATE ON models
FOR EACH ROW EXECUTE FUNCTION retentionai_models_are_immutable();

CREATE TABLE validations (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    version     BIGINT NOT NULL REFERENCES models(version),
    at          TEXT NOT NULL,
    data_sha256 TEXT,
    rows        BIGINT NOT NULL,
    roc_auc     DOUBLE PRECISION NOT NULL,
    accuracy    DOUBLE PRECISION NOT NULL,
    passed      BOOLEAN NOT NULL,
    report      TEXT NOT NULL
);

CREATE TABLE aliases (
    alias      TEXT PRIMARY KEY CHECK (alias IN ('champion', 'challenger')),
    version    BIGINT NOT NULL REFERENCES models(version),
    split      DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (split >= 0 AND split <= 1),
    updated_at TEXT NOT NULL
);

CREATE TABLE promotions (
    id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    from_version BIGINT REFERENCES models(version),
    to_version   BIGINT REFERENCES models(version),
    reason       TEXT NOT NULL DEFAULT '',
    gate         TEXT NOT NULL DEFAULT '{}',
    forced       BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE predictions (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    customer_id   TEXT NOT NULL,
    model_version BIGINT NOT NULL REFERENCES models(version),
    variant       TEXT NOT NULL,
    probability   DOUBLE PRECISION NOT NULL,
    tier          TEXT NOT NULL,
    batch_id      TEXT NOT NULL,
    row_index     BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (batch_id, row_index)
);
CREATE INDEX predictions_by_time ON predictions(created_at);
CREATE INDEX predictions_by_customer ON predictions(customer_id);

CREATE TABLE audit_log (
    id      BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_time ON audit_log(at);

CREATE TABLE backups (
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
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
    id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys(name) WHERE revoked_at IS NULL;

CREATE TABLE drift_reports (
    id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at         TEXT NOT NULL,
    reference  TEXT NOT NULL,
    current    TEXT NOT NULL,
    status     TEXT NOT NULL,
    share      DOUBLE PRECISION NOT NULL,
    drifting   BIGINT NOT NULL,
    features   BIGINT NOT NULL,
    report     TEXT NOT NULL
);
",
    // SQLite's third migration normalised ids logged before ids were; every PostgreSQL store
    // logged them normalised from the start.
    "SELECT 1;",
];

/// The advisory lock PostgreSQL migrations run under (one key for RetentionAI's schema).
const PG_MIGRATION_LOCK: i64 = 0x5245_5445_4e54;

/// Where the operations store is: a SQLite file, or a PostgreSQL database named by a
/// `postgres://` (or `postgresql://`) URL. Shown (and debug-printed) with any password hidden.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Db {
    /// A SQLite database file.
    File(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl Db {
    /// Reads a `--db` value: a `postgres://` or `postgresql://` URL selects PostgreSQL; any other
    /// text that looks like a URL (`scheme://…`) is refused; the rest is a SQLite file path.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`db`) naming the unsupported scheme.
    pub fn parse(text: &str) -> Result<Db> {
        let scheme_end = text.find("://").filter(|&i| {
            i > 0
                && text[..i].starts_with(|c: char| c.is_ascii_alphabetic())
                && text[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        match scheme_end.map(|i| &text[..i]) {
            None => Ok(Db::File(PathBuf::from(text))),
            Some(s)
                if s.eq_ignore_ascii_case("postgres") || s.eq_ignore_ascii_case("postgresql") =>
            {
                PgManager::new(text).map_err(|why| {
                    Error::param(
                        "db",
                        format!("{}: {why}", crate::config::redact("db", text)),
                    )
                })?;
                Ok(Db::Postgres(text.to_string()))
            }
            Some(s) => Err(Error::param(
                "db",
                format!(
                    "{}: the scheme '{s}' is not supported; give a SQLite file path or a postgres:// URL",
                    crate::config::redact("db", text)
                ),
            )),
        }
    }

    /// The SQLite file, when this is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Db::File(p) => Some(p),
            Db::Postgres(_) => None,
        }
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// A path that names this database in messages about its contents (a SQLite file's own
    /// path; for PostgreSQL the URL without its password).
    pub fn display_path(&self) -> PathBuf {
        match self {
            Db::File(p) => p.clone(),
            Db::Postgres(_) => PathBuf::from(self.to_string()),
        }
    }
}

impl std::str::FromStr for Db {
    type Err = Error;
    fn from_str(s: &str) -> Result<Db> {
        Db::parse(s)
    }
}

impl From<&Path> for Db {
    /// A path is a SQLite file, or a URL when its text is one (as [`Db::parse`]; an unsupported
    /// scheme is then taken as a file name: parse first to refuse it).
    fn from(p: &Path) -> Db {
        p.to_str()
            .and_then(|s| Db::parse(s).ok())
            .unwrap_or_else(|| Db::File(p.to_path_buf()))
    }
}

impl From<&PathBuf> for Db {
    /// As `From<&Path>`.
    fn from(p: &PathBuf) -> Db {
        Db::from(p.as_path())
    }
}

impl From<PathBuf> for Db {
    /// As `From<&Path>`.
    fn from(p: PathBuf) -> Db {
        Db::from(p.as_path())
    }
}

impl From<&Db> for Db {
    fn from(db: &Db) -> Db {
        db.clone()
    }
}

impl std::fmt::Display for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Db::File(p) => p.display().fmt(f),
            Db::Postgres(url) => f.write_str(&crate::config::redact("db", url)),
        }
    }
}

impl serde::Serialize for Db {
    /// As shown: the path, or the URL without its password.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Db({self})")
    }
}

/// The connection(s) behind a store.
enum Backend {
    Sqlite(Connection),
    Postgres {
        pool: Box<r2d2::Pool<PgManager>>,
        config: Box<postgres::Config>,
    },
}

/// The operations store.
pub struct Store {
    db: Db,
    backend: Backend,
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
        f.debug_struct("Store").field("db", &self.db).finish()
    }
}

/// An [`Error::Store`] that the database did not report (the message names the database itself).
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
    /// Opens the store at `db`, applying missing migrations. A SQLite file is created if needed
    /// (with its folder, owner-only) and set to WAL mode, foreign keys and a busy timeout; a
    /// PostgreSQL database must exist (its tables are created).
    ///
    /// # Errors
    /// [`Error::Store`] when the database cannot be opened or reached, is not a RetentionAI
    /// store, or was written by a newer version.
    pub fn open(db: impl Into<Db>) -> Result<Self> {
        let db = &db.into();
        match db {
            Db::File(path) => Store::open_file(path),
            Db::Postgres(url) => {
                let store = Store::connect_postgres(db, url)?;
                store.migrate()?;
                Ok(store)
            }
        }
    }

    fn open_file(path: &Path) -> Result<Self> {
        // A path that reads as a URL this build refuses (another scheme, a PostgreSQL URL that
        // does not parse) is refused, not created as a file named like it.
        if let Some(text) = path.to_str() {
            Db::parse(text)?;
        }
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
        let db = Db::File(path.to_path_buf());
        let conn = Connection::open(path).map_err(|e| db_error(&db, DbError::Sqlite(e)))?;
        let store = Store {
            db,
            backend: Backend::Sqlite(conn),
            identity: file_identity(path),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// A pool of connections to `url`; the first is opened here, so an unreachable server or a
    /// refused login is reported at once.
    fn connect_postgres(db: &Db, url: &str) -> Result<Self> {
        let manager = PgManager::new(url).map_err(|why| store_error(format!("{db}: {why}")))?;
        Store::from_manager(db, manager)
    }

    /// A store over a pool of `manager`'s connections, named `db` in messages.
    pub(crate) fn from_manager(db: &Db, manager: PgManager) -> Result<Self> {
        let first = r2d2::ManageConnection::connect(&manager).map_err(|e| db_error(db, e))?;
        drop(first);
        let config = Box::new(manager.config().clone());
        let pool = r2d2::Pool::builder()
            .max_size(sql::PG_POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(sql::PG_CONNECT_TIMEOUT)
            .error_handler(Box::new(sql::Quiet))
            .build_unchecked(manager);
        Ok(Store {
            db: db.clone(),
            backend: Backend::Postgres {
                pool: Box::new(pool),
                config,
            },
            identity: None,
        })
    }

    /// Opens an existing store only (maintenance and restore must not create one).
    ///
    /// # Errors
    /// [`Error::Io`] when the SQLite file does not exist, [`Error::Store`] when the PostgreSQL
    /// database holds no store yet; otherwise as [`Store::open`].
    pub fn open_existing(db: impl Into<Db>) -> Result<Self> {
        let db = &db.into();
        match db {
            Db::File(path) => {
                if !path.is_file() {
                    return Err(Error::io(
                        path,
                        std::io::Error::new(std::io::ErrorKind::NotFound, "no such database"),
                    ));
                }
                Store::open_file(path)
            }
            Db::Postgres(url) => {
                let store = Store::connect_postgres(db, url)?;
                if store.schema_version()? == 0 {
                    return Err(store_error(format!(
                        "{db} holds no RetentionAI store yet (no schema); a command that writes (e.g. `model register`) creates one"
                    )));
                }
                store.migrate()?;
                Ok(store)
            }
        }
    }

    /// Where the store is.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The SQLite file, when the store is one.
    pub fn file(&self) -> Option<&Path> {
        self.db.file()
    }

    /// Whether the file at this store's path is no longer the one it opened: it was replaced
    /// (e.g. by `retention restore`, which renames a new database into place) or removed. A
    /// long-running process (the HTTP server) calls this on each reload and reopens when it is
    /// true; until then its connection keeps reading and writing the old file. Cheap: one
    /// `stat` of the path, compared by (device, inode) with the file at open. Always `false`
    /// for PostgreSQL and where file identities are not available (not Unix).
    pub fn file_replaced(&self) -> bool {
        match (self.identity, self.db.file()) {
            (Some(at_open), Some(path)) => file_identity(path) != Some(at_open),
            _ => false,
        }
    }

    /// A warning when the SQLite file may be read by other users (group or other permission
    /// bits set, as files created under the usual umask by earlier versions are): it holds
    /// customer ids, API-key hashes and the GDPR salt. The store does not change the mode
    /// itself (a shared group may be deliberate); the caller shows the warning.
    pub fn permission_warning(&self) -> Option<String> {
        let path = self.db.file()?;
        let mode = crate::fsutil::shared_mode(path)?;
        Some(format!(
            "{} is readable by other users (mode {mode:03o}) and holds customer ids, API-key hashes and the GDPR salt: `chmod 600` it (and its -wal and -shm)",
            path.display()
        ))
    }

    fn err(&self, e: DbError) -> Error {
        db_error(&self.db, e)
    }

    /// Runs `f` on one connection (PostgreSQL: one of the pool's).
    fn with<T>(&self, f: impl FnOnce(&mut Session<'_>) -> Result<T>) -> Result<T> {
        match &self.backend {
            Backend::Sqlite(conn) => f(&mut Session::Sqlite(conn)),
            Backend::Postgres { pool, .. } => {
                let mut conn = pool
                    .get()
                    .map_err(|e| self.err(DbError::Pool(e.to_string())))?;
                f(&mut Session::Pg(&mut conn))
            }
        }
    }

    /// Runs `f` on one connection inside a transaction: committed when it returns `Ok`.
    fn transaction<T>(&self, f: impl FnOnce(&mut Session<'_>) -> Result<T>) -> Result<T> {
        self.with(|s| sql::in_transaction(&self.db, s, f))
    }

    /// Every row of a query, mapped.
    fn all<T>(
        &self,
        sql: &'static str,
        params: &[sql::Param<'_>],
        mut map: impl FnMut(sql::Row) -> std::result::Result<T, DbError>,
    ) -> Result<Vec<T>> {
        self.with(|s| {
            s.query(sql, params)
                .and_then(|rows| rows.into_iter().map(&mut map).collect())
                .map_err(|e| self.err(e))
        })
    }

    /// The first row of a query, mapped, if there is one.
    fn first<T>(
        &self,
        sql: &'static str,
        params: &[sql::Param<'_>],
        map: impl FnOnce(sql::Row) -> std::result::Result<T, DbError>,
    ) -> Result<Option<T>> {
        self.with(|s| {
            s.query_opt(sql, params)
                .and_then(|row| row.map(map).transpose())
                .map_err(|e| self.err(e))
        })
    }

    /// A query's single integer (`count(*)` and the like).
    fn count(&self, sql: &'static str, params: &[sql::Param<'_>]) -> Result<i64> {
        self.with(|s| {
            s.query_one(sql, params)
                .and_then(|mut r| r.get(0))
                .map_err(|e| self.err(e))
        })
    }

    /// Runs one statement; returns the rows it changed.
    fn execute(&self, sql: &'static str, params: &[sql::Param<'_>]) -> Result<usize> {
        self.with(|s| s.execute(sql, params).map_err(|e| self.err(e)))
    }

    fn configure(&self) -> Result<()> {
        let Backend::Sqlite(conn) = &self.backend else {
            return Ok(());
        };
        let e = |e| db_error(&self.db, DbError::Sqlite(e));
        conn.busy_timeout(BUSY_TIMEOUT).map_err(e)?;
        // Not a database at all shows up here, on the first read.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(e)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(store_error(format!(
                "{}: could not switch to WAL mode (journal_mode is {mode})",
                self.db
            )));
        }
        conn
            // WAL + NORMAL: a commit survives a crash of the process (not always of the OS);
            // 64 MiB of page cache keeps the log's indexes in memory during bulk inserts.
            // secure_delete: deleted rows are overwritten with zeros, not left in free space.
            .execute_batch(
                "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;
                 PRAGMA secure_delete = ON;",
            )
            .map_err(e)
    }

    fn migrate(&self) -> Result<()> {
        let latest = SCHEMA_VERSION;
        let newer = |version: i64| {
            store_error(format!(
                "{} has schema version {version}, newer than this build's {latest}: upgrade RetentionAI",
                self.db
            ))
        };
        let version = self.schema_version()?;
        if version > latest {
            return Err(newer(version));
        }
        if version == latest {
            return Ok(());
        }
        let e = |e| db_error(&self.db, e);
        self.transaction(|s| {
            let postgres = s.is_postgres();
            let version = if postgres {
                // Replicas starting together: one migrates, the others wait and then see it done.
                s.execute("SELECT pg_advisory_xact_lock(?1)", args![PG_MIGRATION_LOCK])
                    .map_err(e)?;
                s.batch(
                    "CREATE TABLE IF NOT EXISTS retentionai_schema (
                         version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
                )
                .map_err(e)?;
                s.query_one("SELECT coalesce(max(version), 0) FROM retentionai_schema", &[])
                    .and_then(|mut r| r.get::<i64>(0))
                    .map_err(e)?
            } else {
                version
            };
            if version > latest {
                return Err(newer(version));
            }
            if version == 0 {
                let tables: i64 = s
                    .query_one(
                        if postgres {
                            "SELECT count(*) FROM information_schema.tables
                             WHERE table_schema = current_schema() AND table_name <> 'retentionai_schema'"
                        } else {
                            "SELECT count(*) FROM sqlite_master"
                        },
                        &[],
                    )
                    .and_then(|mut r| r.get(0))
                    .map_err(e)?;
                if tables > 0 {
                    return Err(store_error(format!(
                        "{} is a {} database but not a RetentionAI store (it has tables and no schema version)",
                        self.db,
                        if postgres { "PostgreSQL" } else { "SQLite" }
                    )));
                }
            }
            let list = if postgres { PG_MIGRATIONS } else { MIGRATIONS };
            for (i, sql) in list.iter().enumerate().skip(version as usize) {
                s.batch(sql).map_err(e)?;
                let number = (i + 1) as i64;
                if postgres {
                    s.execute(
                        "INSERT INTO retentionai_schema (version, applied_at) VALUES (?1, ?2)",
                        args![number, &now_rfc3339()],
                    )
                    .map_err(e)?;
                } else {
                    s.batch(&format!("PRAGMA user_version = {number}"))
                        .map_err(e)?;
                }
            }
            Ok(())
        })
    }

    /// Schema version of the open database (0 for one without RetentionAI's schema).
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn schema_version(&self) -> Result<i64> {
        match &self.backend {
            Backend::Sqlite(_) => self.count("PRAGMA user_version", &[]),
            Backend::Postgres { .. } => {
                let exists = self.count(
                    "SELECT count(*) FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_name = 'retentionai_schema'",
                    &[],
                )?;
                if exists == 0 {
                    return Ok(0);
                }
                self.count(
                    "SELECT coalesce(max(version), 0) FROM retentionai_schema",
                    &[],
                )
            }
        }
    }

    /// Answers a trivial query: the database is reachable and readable.
    ///
    /// # Errors
    /// [`Error::Store`] when it is not.
    pub fn ping(&self) -> Result<()> {
        self.count("SELECT count(*) FROM aliases", &[]).map(|_| ())
    }

    /// The SQLite connection (backups use SQLite's online backup API on it).
    pub(crate) fn sqlite(&self) -> Option<&Connection> {
        match &self.backend {
            Backend::Sqlite(conn) => Some(conn),
            Backend::Postgres { .. } => None,
        }
    }

    /// The PostgreSQL connection settings (backups hand them to `pg_dump` and `pg_restore`).
    pub(crate) fn postgres_config(&self) -> Option<&postgres::Config> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres { config, .. } => Some(config),
        }
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
            let store = Store::open(Db::File(path.clone())).unwrap();
            let conn = store.sqlite().unwrap();
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
        let store = Store::open(Db::File(path)).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert_eq!(store.predictions_of("C-1").unwrap().len(), 2);
        assert_eq!(store.predictions_of("C-2").unwrap().len(), 1);
        assert_eq!(store.predictions_of("C 3").unwrap().len(), 1);
    }
}
