//! Backups: SQLite's online backup API (a consistent snapshot while writers go on), the model
//! artifacts as files, and a manifest of SHA-256 sums; verification; restore that verifies first
//! and keeps the replaced database aside.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use super::{Store, db_error, now_rfc3339};
use crate::error::{Error, Result};

/// The database file's name inside a backup.
const DB_FILE: &str = "retentionai.db";
/// The manifest's name inside a backup.
const MANIFEST: &str = "manifest.json";
/// Backup folders are named `retentionai-<UTC time>`.
const PREFIX: &str = "retentionai-";

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Path relative to the backup folder.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the contents.
    pub sha256: String,
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// When the snapshot was taken (RFC 3339, UTC).
    pub created_at: String,
    /// The database it was taken from.
    pub source: String,
    /// Schema version of the snapshot.
    pub schema_version: i64,
    /// Rows per table in the snapshot.
    pub rows: Vec<(String, i64)>,
    /// Every file with its checksum.
    pub files: Vec<ManifestEntry>,
    /// The folder (filled in when read or written; not part of the file).
    #[serde(skip)]
    pub dir: PathBuf,
}

fn entry(dir: &Path, file: &str) -> Result<ManifestEntry> {
    let path = dir.join(file);
    let bytes = std::fs::metadata(&path)
        .map_err(|e| Error::io(&path, e))?
        .len();
    Ok(ManifestEntry {
        file: file.to_string(),
        bytes,
        sha256: crate::sha256_file(&path)?,
    })
}

impl Store {
    /// Takes a backup into a new folder under `root` and keeps the newest `keep` backups there
    /// (older `retentionai-*` folders are removed). The folder appears only when complete.
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::Store`] when writing fails (no partial backup is left).
    pub fn backup(&mut self, root: &Path, keep: usize, actor: &str) -> Result<BackupManifest> {
        std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
        let name = format!("{PREFIX}{stamp}");
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .tempdir_in(root)
            .map_err(|e| Error::io(root, e))?;
        let dir = staging.path();
        // One step copies every page under one read transaction: a consistent snapshot of what
        // was committed when the backup began, while other connections keep writing to the WAL.
        let db_path = dir.join(DB_FILE);
        {
            let mut dst = Connection::open(&db_path).map_err(|e| db_error(&db_path, e))?;
            let backup = rusqlite::backup::Backup::new(self.connection(), &mut dst)
                .map_err(|e| db_error(&db_path, e))?;
            backup.step(-1).map_err(|e| db_error(&db_path, e))?;
        }
        let snapshot = Store::open(&db_path)?;
        let check = snapshot.check()?;
        if !check.ok() {
            return Err(Error::Store(format!(
                "the backup snapshot failed its integrity check: {:?}",
                check.integrity_messages
            )));
        }
        snapshot
            .connection()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;")
            .map_err(|e| db_error(&db_path, e))?;
        let models_dir = dir.join("models");
        std::fs::create_dir_all(&models_dir).map_err(|e| Error::io(&models_dir, e))?;
        let mut files = vec![entry(dir, DB_FILE)?];
        for v in snapshot.versions()? {
            let bytes = snapshot.artifact(v.version)?;
            let file = format!("models/v{}.model.json", v.version);
            let path = dir.join(&file);
            std::fs::write(&path, &bytes).map_err(|e| Error::io(&path, e))?;
            files.push(entry(dir, &file)?);
        }
        drop(snapshot);
        let manifest = BackupManifest {
            created_at: now_rfc3339(),
            source: self.path().display().to_string(),
            schema_version: check.schema_version,
            rows: check.rows,
            files,
            dir: root.join(&name),
        };
        let manifest_path = dir.join(MANIFEST);
        let json = serde_json::to_vec_pretty(&manifest)?;
        std::fs::write(&manifest_path, &json).map_err(|e| Error::io(&manifest_path, e))?;
        let staged = staging.keep();
        std::fs::rename(&staged, &manifest.dir).map_err(|e| Error::io(&manifest.dir, e))?;
        self.connection()
            .execute(
                "INSERT INTO backups (at, dir, manifest_sha256) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    manifest.created_at,
                    manifest.dir.display().to_string(),
                    crate::sha256_hex(&json)
                ],
            )
            .map_err(|e| db_error(self.path(), e))?;
        self.audit(
            actor,
            "backup",
            &manifest.dir.display().to_string(),
            &serde_json::json!({"files": manifest.files.len()}),
        )?;
        rotate(root, keep.max(1))?;
        Ok(manifest)
    }
}

/// Removes all but the newest `keep` backup folders under `root`.
fn rotate(root: &Path, keep: usize) -> Result<()> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| Error::io(root, e))?
        .filter_map(|d| d.ok().map(|d| d.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(PREFIX))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    for old in &backups[..excess] {
        std::fs::remove_dir_all(old).map_err(|e| Error::io(old, e))?;
    }
    Ok(())
}

/// Checks a backup folder: every file in the manifest is present with its size and SHA-256, and
/// the database passes SQLite's integrity check.
///
/// # Errors
/// [`Error::Store`] naming the first file that is missing or altered, or the failed integrity
/// check; [`Error::Io`] when the folder or manifest cannot be read.
pub fn verify_backup(dir: &Path) -> Result<BackupManifest> {
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    let mut manifest: BackupManifest = serde_json::from_slice(&text).map_err(|e| {
        Error::Store(format!(
            "backup {}: manifest.json is not a backup manifest: {e}",
            dir.display()
        ))
    })?;
    manifest.dir = dir.to_path_buf();
    if !manifest.files.iter().any(|f| f.file == DB_FILE) {
        return Err(Error::Store(format!(
            "backup {}: the manifest does not list {DB_FILE}",
            dir.display()
        )));
    }
    for f in &manifest.files {
        let path = dir.join(&f.file);
        let bad = |reason: String| {
            Error::Store(format!(
                "backup {} is damaged: {}: {reason}",
                dir.display(),
                f.file
            ))
        };
        let meta = std::fs::metadata(&path).map_err(|_| bad("missing from the backup".into()))?;
        if meta.len() != f.bytes {
            return Err(bad(format!(
                "{} bytes, the manifest says {}",
                meta.len(),
                f.bytes
            )));
        }
        let sha = crate::sha256_file(&path)?;
        if sha != f.sha256 {
            return Err(bad(
                "SHA-256 differs from the manifest: the file was altered".into(),
            ));
        }
    }
    let db_path = dir.join(DB_FILE);
    let conn = Connection::open_with_flags(&db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| db_error(&db_path, e))?;
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| db_error(&db_path, e))?;
    if result != "ok" {
        return Err(Error::Store(format!(
            "backup {} is damaged: {DB_FILE} fails its integrity check: {result}",
            dir.display()
        )));
    }
    Ok(manifest)
}

/// Restores the database at `target` from a backup folder: verifies the backup first, copies its
/// database beside `target`, moves the current database (with its WAL) aside to
/// `<target>.replaced-<time>`, and renames the copy into place. Returns where the replaced
/// database went (if there was one). Stop writers (e.g. `retention serve`) before restoring.
///
/// # Errors
/// Whatever [`verify_backup`] refuses (nothing is touched then); [`Error::Io`] on file errors.
pub fn restore(from: &Path, target: &Path) -> Result<Option<PathBuf>> {
    verify_backup(from)?;
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let staged = crate::fsutil::temp_beside(target)?;
    let source = from.join(DB_FILE);
    std::fs::copy(&source, staged.path()).map_err(|e| Error::io(&source, e))?;
    let aside = if target.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = PathBuf::from(format!("{}.replaced-{stamp}", target.display()));
        // Fold the WAL into the database first so the set-aside copy is one complete file.
        if let Ok(conn) = Connection::open(target) {
            let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        }
        std::fs::rename(target, &aside).map_err(|e| Error::io(target, e))?;
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", target.display()));
            if side.exists() {
                let moved = PathBuf::from(format!("{}{suffix}", aside.display()));
                std::fs::rename(&side, &moved).map_err(|e| Error::io(&side, e))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    staged
        .persist(target)
        .map_err(|e| Error::io(target, e.error))?;
    let restored = Store::open(target)?;
    restored.audit(
        "restore",
        "restore",
        &from.display().to_string(),
        &serde_json::json!({"replaced": aside.as_ref().map(|p| p.display().to_string())}),
    )?;
    Ok(aside)
}
