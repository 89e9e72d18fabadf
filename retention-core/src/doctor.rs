//! An installation's checkup (`retention doctor`): the operations database answers and is
//! intact and up to date, its folder is private and writable, the champion and the challenger
//! load and match their checksums, a fresh backup exists and verifies, and the disk has room.
//!
//! Each check is a [`Finding`]: `ok`, `warn` (works, but act soon) or `fail` (an operator must
//! act before trusting the service). Front ends add the checks only they can make (their
//! configuration, a running server).

use std::path::Path;

use serde::Serialize;

use crate::error::Error;
use crate::store::{Db, Store, verify_backup};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// What was checked (`database`, `champion`, `backups`…).
    pub check: String,
    pub status: Status,
    /// What was seen, and what to do when it is not ok.
    pub detail: String,
}

impl Finding {
    pub fn new(check: &str, status: Status, detail: impl Into<String>) -> Self {
        Finding {
            check: check.to_string(),
            status,
            detail: detail.into(),
        }
    }
}

/// When a check warns or fails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// The newest backup may be this old (hours): the one-hour recovery point of the runbook
    /// is met by hourly backups; a day plus slack is the alert's limit.
    pub backup_max_age_hours: f64,
    /// Free disk below this fails (MiB); `retention serve --min-free-disk`'s default.
    pub min_free_disk_mib: u64,
    /// Free disk below this warns (MiB).
    pub warn_free_disk_mib: u64,
}

impl Thresholds {
    pub const DEFAULT: Thresholds = Thresholds {
        backup_max_age_hours: 26.0,
        min_free_disk_mib: 100,
        warn_free_disk_mib: 1024,
    };
}

impl Default for Thresholds {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Every check of the database at `db` and what it holds. Never fails: a check that cannot
/// run is a failed finding.
pub fn examine(db: &Db, t: &Thresholds) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(file) = db.file() {
        findings.push(disk(file, t));
    }
    let store = match Store::open_existing(db) {
        Ok(s) => s,
        Err(e) => {
            findings.insert(0, Finding::new("database", Status::Fail, e.to_string()));
            return findings;
        }
    };
    findings.insert(
        0,
        Finding::new("database", Status::Ok, format!("{db} answers")),
    );
    findings.push(integrity(&store));
    // A PostgreSQL server's disk and access are its own to watch (its roles, its monitoring).
    if let Some(file) = db.file() {
        findings.push(permissions(&store, file));
    }
    match store.aliases() {
        Ok(aliases) => {
            findings.push(model(&store, "champion", aliases.champion));
            if aliases.challenger.is_some() {
                findings.push(model(&store, "challenger", aliases.challenger));
            }
        }
        Err(e) => findings.push(Finding::new("champion", Status::Fail, e.to_string())),
    }
    findings.push(backups(&store, t));
    findings
}

fn integrity(store: &Store) -> Finding {
    match store.check() {
        Ok(r) if r.ok() => Finding::new(
            "integrity",
            Status::Ok,
            format!(
                "integrity ok, no foreign-key violations, schema version {} (latest), {:.1} MiB",
                r.schema_version,
                r.size_bytes as f64 / (1 << 20) as f64
            ),
        ),
        Ok(r) => Finding::new(
            "integrity",
            Status::Fail,
            format!(
                "integrity: {}; {} foreign-key violations: restore the newest verified backup (`retention restore`)",
                if r.integrity_ok {
                    "ok".to_string()
                } else {
                    r.integrity_messages.join("; ")
                },
                r.foreign_key_violations
            ),
        ),
        Err(e) => Finding::new("integrity", Status::Fail, e.to_string()),
    }
}

fn permissions(store: &Store, db: &Path) -> Finding {
    if let Some(w) = store.permission_warning() {
        return Finding::new("permissions", Status::Warn, w);
    }
    // The folder must take new files: the write-ahead log, backups' temporary files.
    let mut f = writable("permissions", &crate::fsutil::parent_dir(db));
    if f.status == Status::Ok {
        f.detail = format!("database private to its owner; {}", f.detail);
    }
    f
}

/// Whether `dir` takes new files (a temporary one is created and removed), as check `check`.
pub fn writable(check: &str, dir: &Path) -> Finding {
    match tempfile::NamedTempFile::new_in(dir) {
        Ok(_) => Finding::new(check, Status::Ok, format!("{} writable", dir.display())),
        Err(e) => Finding::new(
            check,
            Status::Fail,
            format!("{} is not writable: {e}", dir.display()),
        ),
    }
}

fn model(store: &Store, alias: &str, version: Option<i64>) -> Finding {
    let Some(v) = version else {
        return Finding::new(
            alias,
            Status::Warn,
            format!(
                "no {alias}: the service answers 503 until a version is promoted ({})",
                crate::error::mention("model promote")
            ),
        );
    };
    match store.load_model(v) {
        Ok(m) => Finding::new(
            alias,
            Status::Ok,
            format!(
                "v{v} ({}) loads and matches its SHA-256",
                m.estimator.name()
            ),
        ),
        Err(e @ Error::CorruptArtifact { .. }) => Finding::new(
            alias,
            Status::Fail,
            format!(
                "v{v}: {e}; roll back ({}) or restore a backup",
                crate::error::mention("model rollback")
            ),
        ),
        Err(e) => Finding::new(alias, Status::Fail, format!("v{v} does not load: {e}")),
    }
}

fn backups(store: &Store, t: &Thresholds) -> Finding {
    let hint = crate::error::mention("backup");
    let last = match store.last_backup_at() {
        Ok(Some(at)) => at,
        Ok(None) => {
            return Finding::new(
                "backups",
                Status::Fail,
                format!(
                    "no backup was ever taken: run {hint} (hourly for a one-hour recovery point)"
                ),
            );
        }
        Err(e) => return Finding::new("backups", Status::Fail, e.to_string()),
    };
    let age_hours = (chrono::Utc::now() - last).num_seconds() as f64 / 3600.0;
    let folders = match store.backup_folders() {
        Ok(f) => f,
        Err(e) => return Finding::new("backups", Status::Fail, e.to_string()),
    };
    let Some((_, newest)) = folders.last() else {
        return Finding::new(
            "backups",
            Status::Fail,
            format!(
                "every recorded backup folder is gone (newest taken {age_hours:.1} h ago): run {hint}"
            ),
        );
    };
    if let Err(e) = verify_backup(newest) {
        return Finding::new("backups", Status::Fail, format!("newest backup: {e}"));
    }
    if age_hours > t.backup_max_age_hours {
        return Finding::new(
            "backups",
            Status::Fail,
            format!(
                "newest backup is {age_hours:.1} h old (limit {} h): run {hint}",
                t.backup_max_age_hours
            ),
        );
    }
    Finding::new(
        "backups",
        Status::Ok,
        format!(
            "{} kept; newest {} verified, {age_hours:.1} h old",
            folders.len(),
            newest.display()
        ),
    )
}

fn disk(db: &Path, t: &Thresholds) -> Finding {
    let dir = crate::fsutil::parent_dir(db);
    let Some(free) = crate::fsutil::free_bytes(&dir) else {
        return Finding::new(
            "disk",
            Status::Warn,
            format!("free space of {} cannot be measured", dir.display()),
        );
    };
    let mib = free >> 20;
    let detail = format!("{mib} MiB free in {}", dir.display());
    if mib < t.min_free_disk_mib {
        Finding::new(
            "disk",
            Status::Fail,
            format!("{detail} (below {} MiB)", t.min_free_disk_mib),
        )
    } else if mib < t.warn_free_disk_mib {
        Finding::new(
            "disk",
            Status::Warn,
            format!("{detail} (below {} MiB)", t.warn_free_disk_mib),
        )
    } else {
        Finding::new("disk", Status::Ok, detail)
    }
}
