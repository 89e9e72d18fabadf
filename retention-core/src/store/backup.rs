//! Backups: SQLite's online backup API (a consistent snapshot while writers go on) or, for a
//! PostgreSQL store, `pg_dump` checked by a scratch restore ([`super::pg_backup`]); the model
//! artifacts as files, and a manifest of SHA-256 sums; verification; restore that verifies first
//! (a SQLite file keeps the replaced database aside; PostgreSQL restores in one transaction).
//!
//! A backup folder and its files are owner-only (0700 / 0600) and synced to disk before the
//! folder is renamed into place. Rotation removes only folders a backup made (named
//! `retentionai-<UTC time>`, holding a valid manifest and nothing it does not list), never the
//! one just made. A manifest is untrusted input when read: bounded in size and counts, every path
//! relative and inside the folder, no symbolic links.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use super::sql::DbError;
use super::{AuditAction, Db, Store, args, db_error, now_rfc3339, pg_backup, store_error};
use crate::error::{Error, Result};
use crate::fsutil;

/// The database file's name inside a backup.
const DB_FILE: &str = "retentionai.db";
/// The manifest's name inside a backup.
const MANIFEST: &str = "manifest.json";
/// Backup folders are named `retentionai-<UTC time>`, the time as [`STAMP`].
const PREFIX: &str = "retentionai-";
/// A new owner-only folder under `root` where the backup `name` is written before it is renamed
/// into place (hidden: `.<name>.<random>`).
fn staging_dir(root: &Path, name: &str) -> Result<tempfile::TempDir> {
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir_in(root).map_err(|e| Error::io(root, e))
}

/// Copies every model version of the snapshot into `models_dir` (under the backup folder
/// `dir`) as a file; a version whose stored bytes are corrupt is skipped and listed.
pub(super) fn copy_models(
    snapshot: &Store,
    dir: &Path,
    models_dir: &Path,
) -> Result<(Vec<ManifestEntry>, Vec<SkippedVersion>)> {
    fsutil::create_private_dir_all(models_dir)?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for v in snapshot.versions()? {
        match snapshot.artifact(v.version) {
            Ok(bytes) => {
                let file = format!("models/v{}.model.json", v.version);
                fsutil::write_private_file(&dir.join(&file), &bytes)?;
                files.push(entry(&file, &bytes));
            }
            // One corrupt version must not cost the backup of everything else.
            Err(Error::CorruptArtifact { reason, .. }) => skipped.push(SkippedVersion {
                version: v.version,
                reason,
            }),
            Err(e) => return Err(e),
        }
    }
    Ok((files, skipped))
}

/// The time in a backup folder's name.
const STAMP: &str = "%Y%m%dT%H%M%S%.3fZ";
/// Largest manifest read (a manifest lists one file per model version: ~150 bytes each).
const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// Most files a manifest may list.
const MAX_MANIFEST_FILES: usize = 100_000;
/// Most table row counts a manifest may list.
const MAX_MANIFEST_TABLES: usize = 1_000;
/// Longest path a manifest may list, in bytes, and its most components.
const MAX_PATH_BYTES: usize = 1_024;
const MAX_PATH_DEPTH: usize = 8;
/// Longest prefix of an untrusted value quoted in a message.
const QUOTE: usize = 60;

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

/// A model version a backup could not copy (its stored bytes no longer match their SHA-256).
/// The database snapshot still holds the row as it is; the rest of the backup is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedVersion {
    /// The version.
    pub version: i64,
    /// Why it was skipped.
    pub reason: String,
}

/// What a backup's rotation did (filled in by [`Store::backup`]; not part of the manifest file).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rotation {
    /// Older backup folders removed.
    pub removed: Vec<PathBuf>,
    /// Folders named like a backup that rotation left alone, and why (not made by a backup,
    /// or could not be removed).
    pub left: Vec<(PathBuf, String)>,
}

/// What kind of database a backup holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupFormat {
    /// A SQLite database file (`retentionai.db`); manifests without a format are this.
    #[default]
    Sqlite,
    /// A `pg_dump` custom-format archive (`retentionai.dump`).
    Postgres,
}

impl BackupFormat {
    /// The database's file inside the backup folder.
    pub fn db_file(self) -> &'static str {
        match self {
            BackupFormat::Sqlite => DB_FILE,
            BackupFormat::Postgres => pg_backup::DUMP_FILE,
        }
    }
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// The kind of database.
    #[serde(default)]
    pub format: BackupFormat,
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
    /// Model versions whose artifact file is missing because their stored bytes are corrupt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedVersion>,
    /// The folder (filled in when read or written; not part of the file).
    #[serde(skip)]
    pub dir: PathBuf,
    /// What rotation did after this backup (filled in by [`Store::backup`]; not part of the
    /// file).
    #[serde(skip)]
    pub rotation: Rotation,
}

/// At most [`QUOTE`] characters of an untrusted value, for a message.
fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(QUOTE).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    format!("{out:?}")
}

fn entry(file: &str, bytes: &[u8]) -> ManifestEntry {
    ManifestEntry {
        file: file.to_string(),
        bytes: bytes.len() as u64,
        sha256: crate::sha256_hex(bytes),
    }
}

impl Store {
    /// Takes a backup into a new folder under `root` and keeps the newest `keep` backups there:
    /// older folders made by a backup are removed, never the one just made nor anything else in
    /// `root` (see [`BackupManifest::rotation`]). The folder appears only when complete and synced
    /// to disk; it and its files are owner-only. A model version whose stored bytes are corrupt
    /// is listed in [`BackupManifest::skipped`] and the rest is backed up.
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::Store`] when writing fails or the snapshot fails its integrity
    /// check (no partial backup is left).
    pub fn backup(&mut self, root: &Path, keep: usize, actor: &str) -> Result<BackupManifest> {
        fsutil::create_private_dir_all(root)?;
        let stamp = chrono::Utc::now().format(STAMP).to_string();
        let name = format!("{PREFIX}{stamp}");
        let final_dir = root.join(&name);
        if std::fs::symlink_metadata(&final_dir).is_ok() {
            return Err(store_error(format!(
                "{} already exists: take the backup again",
                final_dir.display()
            )));
        }
        let staging = staging_dir(root, &name)?;
        let dir = staging.path();
        let (format, snapshot) = match self.sqlite() {
            Some(conn) => (BackupFormat::Sqlite, sqlite_snapshot(conn, dir)?),
            None => (BackupFormat::Postgres, postgres_snapshot(self, dir)?),
        };
        let mut manifest = BackupManifest {
            format,
            created_at: now_rfc3339(),
            source: self.db.to_string(),
            schema_version: snapshot.schema_version,
            rows: snapshot.rows,
            files: snapshot.files,
            skipped: snapshot.skipped,
            dir: final_dir,
            rotation: Rotation::default(),
        };
        let json = serde_json::to_vec_pretty(&manifest)?;
        fsutil::write_private_file(&dir.join(MANIFEST), &json)?;
        fsutil::sync_dir(&dir.join("models"))?;
        fsutil::sync_dir(dir)?;
        std::fs::rename(dir, &manifest.dir).map_err(|e| Error::io(&manifest.dir, e))?;
        // Renamed: nothing is left at the staging path to clean up.
        let _ = staging.keep();
        fsutil::sync_dir(root)?;
        self.execute(
            "INSERT INTO backups (at, dir, manifest_sha256) VALUES (?1, ?2, ?3)",
            args![
                &manifest.created_at,
                &manifest.dir.display().to_string(),
                &crate::sha256_hex(&json)
            ],
        )?;
        self.audit(
            actor,
            AuditAction::Backup,
            &manifest.dir.display().to_string(),
            &serde_json::json!({
                "files": manifest.files.len(),
                "skipped_versions": manifest.skipped.iter().map(|s| s.version).collect::<Vec<_>>(),
            }),
        )?;
        manifest.rotation = rotate(root, keep.max(1), &manifest.dir);
        Ok(manifest)
    }
}

/// A database snapshot written into a backup folder, with what it holds.
struct Snapshot {
    schema_version: i64,
    rows: Vec<(String, i64)>,
    /// The database file first, then the model files.
    files: Vec<ManifestEntry>,
    skipped: Vec<SkippedVersion>,
}

/// SQLite: one step of the online backup API copies every page under one read transaction, a
/// consistent snapshot of what was committed when the backup began, while other connections keep
/// writing to the WAL. The copy is integrity-checked and made one self-contained file.
fn sqlite_snapshot(conn: &Connection, dir: &Path) -> Result<Snapshot> {
    let db_path = dir.join(DB_FILE);
    let target = Db::File(db_path.clone());
    let e = |e| db_error(&target, DbError::Sqlite(e));
    fsutil::create_private_file(&db_path)?;
    {
        let mut dst = Connection::open(&db_path).map_err(e)?;
        let backup = rusqlite::backup::Backup::new(conn, &mut dst).map_err(e)?;
        backup.step(-1).map_err(e)?;
    }
    let snapshot = Store::open(&target)?;
    let check = snapshot.check()?;
    if !check.ok() {
        return Err(store_error(format!(
            "the backup snapshot failed its integrity check: {:?}",
            check.integrity_messages
        )));
    }
    snapshot
        .sqlite()
        .ok_or_else(|| store_error("the backup snapshot is not a SQLite database"))?
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;")
        .map_err(e)?;
    let (mut files, skipped) = copy_models(&snapshot, dir, &dir.join("models"))?;
    drop(snapshot);
    fsutil::sync_file(&db_path)?;
    let db_bytes = std::fs::metadata(&db_path)
        .map_err(|e| Error::io(&db_path, e))?
        .len();
    files.insert(
        0,
        ManifestEntry {
            file: DB_FILE.to_string(),
            bytes: db_bytes,
            sha256: crate::sha256_file(&db_path)?,
        },
    );
    Ok(Snapshot {
        schema_version: check.schema_version,
        rows: check.rows,
        files,
        skipped,
    })
}

/// PostgreSQL: `pg_dump` (one consistent snapshot of the database while replicas keep
/// writing), checked by restoring it into a scratch database and reading it back.
fn postgres_snapshot(store: &Store, dir: &Path) -> Result<Snapshot> {
    let dump = dir.join(pg_backup::DUMP_FILE);
    let checked = pg_backup::dump_and_check(store, dir, &dump)?;
    fsutil::sync_file(&dump)?;
    let (mut files, skipped) = checked.models;
    let bytes = std::fs::metadata(&dump)
        .map_err(|e| Error::io(&dump, e))?
        .len();
    files.insert(
        0,
        ManifestEntry {
            file: pg_backup::DUMP_FILE.to_string(),
            bytes,
            sha256: crate::sha256_file(&dump)?,
        },
    );
    Ok(Snapshot {
        schema_version: checked.schema_version,
        rows: checked.rows,
        files,
        skipped,
    })
}

/// The time in a backup folder's name, when the name is exactly `retentionai-<time>` as a backup
/// writes it.
fn backup_stamp(name: &str) -> Option<chrono::NaiveDateTime> {
    let stamp = name.strip_prefix(PREFIX)?;
    let time = chrono::NaiveDateTime::parse_from_str(stamp, STAMP).ok()?;
    (time.format(STAMP).to_string() == stamp).then_some(time)
}

/// Removes all but the newest `keep` backup folders under `root`; `newest` (the backup just made)
/// is always kept and counts as one. Only folders a backup made are touched: named like one,
/// holding a manifest that reads as a backup's, and nothing the manifest does not list. Failures
/// are reported, not raised: the backup itself is complete.
fn rotate(root: &Path, keep: usize, newest: &Path) -> Rotation {
    let mut rotation = Rotation::default();
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) => {
            rotation
                .left
                .push((root.to_path_buf(), format!("cannot list the folder: {e}")));
            return rotation;
        }
    };
    let mut ours = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if Some(name.as_os_str()) == newest.file_name() {
            continue;
        }
        let Some(stamp) = name.to_str().and_then(backup_stamp) else {
            continue;
        };
        let path = entry.path();
        match made_by_backup(&path) {
            Ok(manifest) => ours.push((stamp, path, manifest)),
            Err(reason) => rotation.left.push((path, reason)),
        }
    }
    ours.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let excess = ours.len().saturating_sub(keep.saturating_sub(1));
    for (_, path, manifest) in ours.into_iter().take(excess) {
        match remove_backup(&path, &manifest) {
            Ok(()) => rotation.removed.push(path),
            Err(e) => rotation
                .left
                .push((path, format!("could not be removed: {e}"))),
        }
    }
    let _ = fsutil::sync_dir(root);
    rotation
}

/// The manifest of a folder a backup made, or why the folder is not one: not a plain folder, no
/// valid manifest, or anything in it the manifest does not list.
fn made_by_backup(dir: &Path) -> std::result::Result<BackupManifest, String> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        return Err("not a folder".into());
    }
    let manifest = read_manifest(dir).map_err(|e| e.to_string())?;
    let files: HashSet<PathBuf> = manifest
        .files
        .iter()
        .map(|f| PathBuf::from(&f.file))
        .chain([PathBuf::from(MANIFEST)])
        .collect();
    let dirs: HashSet<PathBuf> = files
        .iter()
        .flat_map(|f| f.ancestors().skip(1).map(Path::to_path_buf))
        .filter(|d| !d.as_os_str().is_empty())
        .collect();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let entries = std::fs::read_dir(dir.join(&rel)).map_err(|e| e.to_string())?;
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let path = rel.join(entry.file_name());
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            if kind.is_dir() && dirs.contains(&path) {
                pending.push(path);
            } else if !(kind.is_file() && files.contains(&path)) {
                return Err(format!(
                    "it holds {}, which the backup did not make; remove the folder yourself if it is no longer needed",
                    quote(&path.to_string_lossy())
                ));
            }
        }
    }
    Ok(manifest)
}

/// Removes exactly what a backup made: its listed files, the manifest last (so an interrupted
/// removal is still recognised as a backup next time), then its now empty folders.
fn remove_backup(dir: &Path, manifest: &BackupManifest) -> std::io::Result<()> {
    let ignore_missing = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    let mut folders: Vec<PathBuf> = Vec::new();
    for f in &manifest.files {
        let rel = Path::new(&f.file);
        ignore_missing(std::fs::remove_file(dir.join(rel)))?;
        folders.extend(
            rel.ancestors()
                .skip(1)
                .filter(|d| !d.as_os_str().is_empty())
                .map(Path::to_path_buf),
        );
    }
    ignore_missing(std::fs::remove_file(dir.join(MANIFEST)))?;
    // Deepest first; `remove_dir` refuses a folder that is not empty.
    folders.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    folders.dedup();
    for d in folders {
        ignore_missing(std::fs::remove_dir(dir.join(d)))?;
    }
    std::fs::remove_dir(dir)
}

/// A manifest path as a relative path of plain names inside the backup folder, or why not.
fn inside_path(file: &str) -> std::result::Result<PathBuf, &'static str> {
    if file.is_empty() || file.len() > MAX_PATH_BYTES {
        return Err("is empty or too long");
    }
    if file.contains('\\') || file.chars().any(char::is_control) {
        return Err("holds a backslash or a control character");
    }
    let path = Path::new(file);
    let mut depth = 0;
    for c in path.components() {
        match c {
            Component::Normal(_) => depth += 1,
            _ => return Err("leaves the backup folder (absolute, or with '..')"),
        }
    }
    if depth == 0 || depth > MAX_PATH_DEPTH {
        return Err("is nested too deeply");
    }
    Ok(path.to_path_buf())
}

/// `dir/rel` when every step of it is a plain folder and it ends at a regular file (no symbolic
/// link anywhere inside the backup), else why not.
fn regular_file_inside(dir: &Path, rel: &Path) -> std::result::Result<PathBuf, String> {
    let mut path = dir.to_path_buf();
    let steps = rel.components().count();
    for (i, c) in rel.components().enumerate() {
        path.push(c);
        let meta =
            std::fs::symlink_metadata(&path).map_err(|_| "missing from the backup".to_string())?;
        if meta.file_type().is_symlink() {
            return Err("is a symbolic link; a backup holds only regular files".into());
        }
        let last = i + 1 == steps;
        if last && !meta.is_file() {
            return Err("is not a regular file".into());
        }
        if !last && !meta.is_dir() {
            return Err("is not inside a folder".into());
        }
    }
    Ok(path)
}

/// Reads and checks a backup's manifest as untrusted input: a regular file of bounded size that
/// parses, bounded counts, every path relative and inside the folder, SHA-256 sums well formed,
/// no file listed twice, the database listed.
fn read_manifest(dir: &Path) -> Result<BackupManifest> {
    use std::io::Read as _;
    let bad = |reason: String| {
        store_error(format!(
            "backup {}: {MANIFEST} is not a valid backup manifest: {reason}",
            dir.display()
        ))
    };
    let manifest_path = dir.join(MANIFEST);
    let meta =
        std::fs::symlink_metadata(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    if !meta.is_file() {
        return Err(bad(
            "it is not a regular file (a symbolic link or a folder)".into(),
        ));
    }
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(bad(format!(
            "it is {} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may have",
            meta.len()
        )));
    }
    let mut text = Vec::new();
    std::fs::File::open(&manifest_path)
        .and_then(|f| f.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut text))
        .map_err(|e| Error::io(&manifest_path, e))?;
    if text.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(bad(format!(
            "it has more than the {MAX_MANIFEST_BYTES} bytes a manifest may have"
        )));
    }
    let mut manifest: BackupManifest =
        serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    if manifest.files.len() > MAX_MANIFEST_FILES {
        return Err(bad(format!(
            "it lists {} files, more than {MAX_MANIFEST_FILES}",
            manifest.files.len()
        )));
    }
    if manifest.rows.len() > MAX_MANIFEST_TABLES {
        return Err(bad(format!(
            "it lists {} tables, more than {MAX_MANIFEST_TABLES}",
            manifest.rows.len()
        )));
    }
    let mut seen = HashSet::new();
    for f in &manifest.files {
        let path =
            inside_path(&f.file).map_err(|why| bad(format!("file {} {why}", quote(&f.file))))?;
        if path == Path::new(MANIFEST) || !seen.insert(path) {
            return Err(bad(format!("file {} is listed twice", quote(&f.file))));
        }
        let hex = f.sha256.len() == 64
            && f.sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Err(bad(format!(
                "file {}: sha256 {} is not 64 lower-case hex digits",
                quote(&f.file),
                quote(&f.sha256)
            )));
        }
    }
    let db_file = manifest.format.db_file();
    if !manifest.files.iter().any(|f| f.file == db_file) {
        return Err(bad(format!("it does not list {db_file}")));
    }
    manifest.dir = dir.to_path_buf();
    Ok(manifest)
}

/// Checks a backup folder: its manifest is valid (see the module notes), every file it lists is a
/// regular file inside the folder with its size and SHA-256, and the database passes SQLite's
/// integrity check.
///
/// # Errors
/// [`Error::Store`] naming the manifest's problem, or the first file that is missing, altered or
/// outside the folder, or the failed integrity check; [`Error::Io`] when the folder or manifest
/// cannot be read.
pub fn verify_backup(dir: &Path) -> Result<BackupManifest> {
    let manifest = read_manifest(dir)?;
    for f in &manifest.files {
        let bad = |reason: String| {
            store_error(format!(
                "backup {} is damaged: {}: {reason}",
                dir.display(),
                f.file
            ))
        };
        // `read_manifest` checked the path is relative and plain.
        let path = regular_file_inside(dir, Path::new(&f.file)).map_err(bad)?;
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
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
    if manifest.format == BackupFormat::Postgres {
        pg_backup::check_archive(&dir.join(pg_backup::DUMP_FILE)).map_err(|e| {
            store_error(format!(
                "backup {} is damaged: {}: {e}",
                dir.display(),
                pg_backup::DUMP_FILE
            ))
        })?;
        return Ok(manifest);
    }
    let db_path = dir.join(DB_FILE);
    integrity_check(&db_path).map_err(|result| {
        store_error(format!(
            "backup {} is damaged: {DB_FILE} fails its integrity check: {result}",
            dir.display()
        ))
    })?;
    Ok(manifest)
}

/// Why a database file failed [`integrity_check`]: the check's first message, or SQLite's error
/// when the check could not run. Shown inside the message of the caller's [`Error::Store`].
enum Integrity {
    Failed(String),
    Unreadable(rusqlite::Error),
}

impl std::fmt::Display for Integrity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Integrity::Failed(message) => f.write_str(message),
            Integrity::Unreadable(e) => e.fmt(f),
        }
    }
}

/// SQLite's integrity check of a database file opened read-only.
fn integrity_check(db_path: &Path) -> std::result::Result<(), Integrity> {
    let conn = Connection::open_with_flags(db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(Integrity::Unreadable)?;
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(Integrity::Unreadable)?;
    if result == "ok" {
        Ok(())
    } else {
        Err(Integrity::Failed(result))
    }
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = OsString::from(path.as_os_str());
    s.push(suffix);
    PathBuf::from(s)
}

/// Keeps the database at `target` (with its WAL and shared-memory files) under a new name
/// `<target>.replaced-<UTC time>`, leaving `target` itself in place until the restored copy is
/// renamed onto it: the path never goes missing, so nothing can create an empty database there
/// meanwhile. Returns the new name and the side files moved.
fn set_aside(target: &Path) -> Result<(PathBuf, Vec<(PathBuf, PathBuf)>)> {
    // Fold the WAL into the database first, so the set-aside copy is one complete file when no
    // other process has it open.
    if let Ok(conn) = Connection::open_with_flags(target, OpenFlags::SQLITE_OPEN_READ_WRITE) {
        let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
        let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let base = with_suffix(target, &format!(".replaced-{stamp}"));
    let mut aside = base.clone();
    let mut n = 1;
    while std::fs::symlink_metadata(&aside).is_ok() {
        n += 1;
        aside = with_suffix(&base, &format!("-{n}"));
    }
    // A second name for the same file: `target` stays valid until the rename replaces it.
    if std::fs::hard_link(target, &aside).is_err() {
        std::fs::copy(target, &aside).map_err(|e| Error::io(&aside, e))?;
    }
    // The WAL and shared memory go with the old file: a process still writing to it (a server
    // that has not reopened yet) keeps a consistent pair, and the restored database starts
    // without them.
    let mut moved = Vec::new();
    for suffix in ["-wal", "-shm"] {
        let side = with_suffix(target, suffix);
        if std::fs::symlink_metadata(&side).is_ok() {
            let to = with_suffix(&aside, suffix);
            std::fs::rename(&side, &to).map_err(|e| Error::io(&side, e))?;
            moved.push((side, to));
        }
    }
    Ok((aside, moved))
}

/// Restores the database at `target` from a backup folder: verifies the backup, copies its
/// database to an owner-only (0600) temporary file beside `target`, checks the copy against the
/// manifest's SHA-256 and SQLite's integrity check, syncs it to disk, keeps the current database
/// (if any) as `<target>.replaced-<UTC time>` (with its WAL), and renames the copy onto `target`
/// in one atomic step. Returns where the replaced database went (if there was one).
///
/// A process that has the database open (e.g. `retention serve`) keeps reading and writing the
/// replaced file, now under its new name, until it reopens: [`Store::file_replaced`] tells it.
///
/// A PostgreSQL `target` takes a PostgreSQL backup (its dump) with `pg_restore` in one
/// transaction: every table of the store is replaced, or nothing is; replicas keep their
/// connections and read the restored tables at their next reload. Nothing is kept aside (take a
/// backup first to keep the current contents).
///
/// # Errors
/// Whatever [`verify_backup`] refuses, a backup of the other kind of database than `target`, a
/// copy that does not match the backup (nothing is touched then); [`Error::Io`] on file errors.
pub fn restore(from: &Path, target: impl Into<Db>) -> Result<Option<PathBuf>> {
    let target = &target.into();
    let manifest = verify_backup(from)?;
    let target = match (manifest.format, target) {
        (BackupFormat::Sqlite, Db::File(path)) => path,
        (BackupFormat::Postgres, Db::Postgres(_)) => {
            if manifest.schema_version > super::SCHEMA_VERSION {
                return Err(store_error(format!(
                    "backup {} has schema version {}, newer than this build's {}: restore it with the release that took it; {target} is untouched",
                    from.display(),
                    manifest.schema_version,
                    super::SCHEMA_VERSION
                )));
            }
            // Restored from a private copy checked against the manifest, so the file cannot
            // change between the check and the restore.
            let expected = manifest
                .files
                .iter()
                .find(|f| f.file == pg_backup::DUMP_FILE)
                .map(|f| f.sha256.clone())
                .unwrap_or_default();
            let staging = tempfile::Builder::new()
                .prefix(".retentionai-restore.")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            let copy = staging.path().join(pg_backup::DUMP_FILE);
            {
                let source = from.join(pg_backup::DUMP_FILE);
                let mut src = std::fs::File::open(&source).map_err(|e| Error::io(&source, e))?;
                let mut dst = fsutil::create_private_file(&copy)?;
                std::io::copy(&mut src, &mut dst).map_err(|e| Error::io(&copy, e))?;
            }
            if crate::sha256_file(&copy)? != expected {
                return Err(store_error(format!(
                    "backup {}: {} changed while it was being restored (its SHA-256 no longer matches the manifest); {target} is untouched",
                    from.display(),
                    pg_backup::DUMP_FILE
                )));
            }
            pg_backup::restore(&copy, target)?;
            let restored = Store::open(target)?;
            restored.audit(
                "restore",
                AuditAction::Restore,
                &from.display().to_string(),
                &serde_json::json!({"replaced": null}),
            )?;
            return Ok(None);
        }
        (format, _) => {
            return Err(store_error(format!(
                "backup {} holds a {} store and {target} is a {}: restore a backup of the same kind",
                from.display(),
                match format {
                    BackupFormat::Sqlite => "SQLite",
                    BackupFormat::Postgres => "PostgreSQL",
                },
                if target.is_postgres() {
                    "PostgreSQL database"
                } else {
                    "SQLite file"
                }
            )));
        }
    };
    let expected = manifest
        .files
        .iter()
        .find(|f| f.file == DB_FILE)
        .cloned()
        .ok_or_else(|| store_error(format!("backup {}: no {DB_FILE}", from.display())))?;
    let dir = fsutil::parent_dir(target);
    fsutil::create_private_dir_all(&dir)?;
    let staged = fsutil::private_temp_beside(target)?;
    let source = from.join(DB_FILE);
    {
        // Not `fs::copy`: it would give the copy the backup file's permissions.
        let mut src = std::fs::File::open(&source).map_err(|e| Error::io(&source, e))?;
        let mut dst = staged.as_file();
        std::io::copy(&mut src, &mut dst).map_err(|e| Error::io(staged.path(), e))?;
        staged
            .as_file()
            .sync_all()
            .map_err(|e| Error::io(staged.path(), e))?;
    }
    let copied = crate::sha256_file(staged.path())?;
    if copied != expected.sha256 {
        return Err(store_error(format!(
            "backup {}: {DB_FILE} changed while it was being restored (its SHA-256 no longer matches the manifest); {} is untouched",
            from.display(),
            target.display()
        )));
    }
    integrity_check(staged.path()).map_err(|result| {
        store_error(format!(
            "the copy of {} fails its integrity check ({result}); {} is untouched",
            source.display(),
            target.display()
        ))
    })?;
    let aside = match std::fs::symlink_metadata(target) {
        Ok(_) => Some(set_aside(target)?),
        Err(_) => None,
    };
    if let Err(e) = staged.persist(target) {
        // Put the WAL back with the database it belongs to.
        for (side, to) in aside.iter().flat_map(|(_, moved)| moved) {
            let _ = std::fs::rename(to, side);
        }
        return Err(Error::io(target, e.error));
    }
    fsutil::sync_dir(&dir)?;
    let aside = aside.map(|(path, _)| path);
    let restored = Store::open(Db::File(target.to_path_buf()))?;
    restored.audit(
        "restore",
        AuditAction::Restore,
        &from.display().to_string(),
        &serde_json::json!({"replaced": aside.as_ref().map(|p| p.display().to_string())}),
    )?;
    Ok(aside)
}

#[cfg(test)]
#[path = "backup_tests.rs"]
mod tests;
