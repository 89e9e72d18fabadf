//! File-system helpers: atomic writes, owner-only files and folders, syncing, content hashes,
//! and the check that an output never overwrites an input.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// The folder a file will be written into (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Bytes available to this user on the file system holding `dir` (`None` when it cannot be
/// measured).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stat` is a buffer of the right type that
    // statvfs fills in when it returns 0.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it initialised `stat`.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast)]
    Some(stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// A temporary file beside `path`, to be renamed onto it once complete.
///
/// # Errors
/// [`Error::Io`] when the folder does not exist or is not writable.
pub(crate) fn temp_beside(path: &Path) -> Result<NamedTempFile> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Outputs are ordinary files: rw for everyone the umask allows (tempfile's default is 0600,
    // which would hide scores and models from the rest of the team).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(&dir).map_err(|e| Error::io(dir, e))
}

/// Moves a completed temporary file onto `path` (atomic on one file system).
///
/// # Errors
/// [`Error::Io`] when the rename fails; the temporary file is removed.
pub(crate) fn persist(tmp: NamedTempFile, path: &Path) -> Result<()> {
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Writes a file atomically: `write` fills a temporary file beside `path`, which is renamed onto
/// `path` only if `write` succeeds. On any error nothing is left at `path` (an existing file there
/// is untouched) and the temporary file is removed.
///
/// # Errors
/// Whatever `write` returns, or [`Error::Io`] for the file operations.
pub fn atomic_write<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<&std::fs::File>) -> Result<()>,
{
    let tmp = temp_beside(path)?;
    {
        let mut out = BufWriter::new(tmp.as_file());
        write(&mut out)?;
        out.flush().map_err(|e| Error::io(path, e))?;
    }
    persist(tmp, path)
}

/// Writes a file atomically as [`atomic_write`] does, but readable by its owner only (0600 on
/// Unix, whatever the umask): for files holding customer data (e.g. a GDPR export).
///
/// # Errors
/// Whatever `write` returns, or [`Error::Io`] for the file operations.
pub fn atomic_write_private<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<&std::fs::File>) -> Result<()>,
{
    let tmp = private_temp_beside(path)?;
    {
        let mut out = BufWriter::new(tmp.as_file());
        write(&mut out)?;
        out.flush().map_err(|e| Error::io(path, e))?;
    }
    persist(tmp, path)?;
    sync_dir(&parent_dir(path))
}

/// A temporary file beside `path` readable by its owner only (0600), to be renamed onto it.
///
/// # Errors
/// [`Error::Io`] when the folder does not exist or is not writable.
pub(crate) fn private_temp_beside(path: &Path) -> Result<NamedTempFile> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    // tempfile creates files 0600 (owner-only) unless told otherwise.
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(dir, e))
}

/// Creates a folder and any missing parents; folders it creates are owner-only (0700 on Unix).
/// Existing folders are left as they are.
///
/// # Errors
/// [`Error::Io`] when a folder cannot be created.
pub(crate) fn create_private_dir_all(path: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path).map_err(|e| Error::io(path, e))
}

/// Creates a new, empty file readable by its owner only (0600 on Unix); fails if it exists.
///
/// # Errors
/// [`Error::Io`] when the file exists or cannot be created.
pub(crate) fn create_private_file(path: &Path) -> Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|e| Error::io(path, e))
}

/// Writes `bytes` to a new owner-only file and syncs it to disk.
///
/// # Errors
/// [`Error::Io`] when the file exists or cannot be written.
pub(crate) fn write_private_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = create_private_file(path)?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// Flushes a file's contents to disk.
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened or synced.
pub(crate) fn sync_file(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// Flushes a folder's entries (names created, renamed or removed in it) to disk. A no-op where
/// folders cannot be opened (not Unix).
///
/// # Errors
/// [`Error::Io`] when the folder cannot be opened or synced.
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The permission bits of a file when its group or others may access it (Unix), else `None`
/// (also when it does not exist).
pub(crate) fn shared_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Refuses to write `output` when it is one of `inputs`: the same path once canonicalised, or the
/// same file under another name (a hard link or a symbolic link: same device and inode). Every
/// command that reads files and writes one calls this before reading anything, so that
/// `score --data in.csv --out in.csv` fails instead of replacing its own input. `name` is the
/// output's parameter, by its core field name (`output`; each front end spells it its own way).
/// An output that does not exist yet is no input.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the parameter, the output and the input it would overwrite.
pub fn refuse_output_over_inputs(name: &str, output: &Path, inputs: &[&Path]) -> Result<()> {
    let Ok(out_meta) = std::fs::metadata(output) else {
        return Ok(());
    };
    let out_canonical = std::fs::canonicalize(output).ok();
    for input in inputs {
        let Ok(in_meta) = std::fs::metadata(input) else {
            continue;
        };
        let same_path =
            out_canonical.is_some() && out_canonical == std::fs::canonicalize(input).ok();
        if same_path || same_identity(&out_meta, &in_meta) {
            return Err(Error::param(
                name,
                format!(
                    "{} is the same file as the input {}; writing it would destroy the input: choose another output path",
                    output.display(),
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Whether two files' metadata describe the same file (device and inode on Unix).
#[cfg(unix)]
fn same_identity(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Whether two files' metadata describe the same file (canonical paths only, off Unix).
#[cfg(not(unix))]
fn same_identity(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false
}

/// Lower-case hex SHA-256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex SHA-256 of a file, read in blocks.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let err = atomic_write(&path, |w| {
            w.write_all(b"half").unwrap();
            Err(Error::InvalidData("boom".into()))
        });
        assert!(err.is_err());
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        atomic_write(&path, |w| {
            w.write_all(b"whole").map_err(|e| Error::io("x", e))
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "whole");
    }

    #[test]
    fn an_output_over_an_input_is_refused_by_path_and_identity() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "a\n1\n").unwrap();
        let other = dir.path().join("other.csv");
        std::fs::write(&other, "a\n1\n").unwrap();
        let fresh = dir.path().join("new.csv");
        let check = |out: &Path| refuse_output_over_inputs("output", out, &[&other, &input]);
        assert!(check(&fresh).is_ok());
        assert!(refuse_output_over_inputs("output", &other, &[&input]).is_ok());
        let e = check(&input).unwrap_err().to_string();
        assert!(
            e.contains("'output'") && e.contains("in.csv is the same file as the input"),
            "{e}"
        );
        // Another spelling of the same path.
        let dotted = dir.path().join(".").join("in.csv");
        assert!(check(&dotted).is_err());
        #[cfg(unix)]
        {
            let hard = dir.path().join("hard.csv");
            std::fs::hard_link(&input, &hard).unwrap();
            let e = check(&hard).unwrap_err().to_string();
            assert!(e.contains("hard.csv") && e.contains("in.csv"), "{e}");
            let soft = dir.path().join("soft.csv");
            std::os::unix::fs::symlink(&input, &soft).unwrap();
            assert!(check(&soft).is_err());
            // An input given through a link is the file it names.
            assert!(refuse_output_over_inputs("output", &input, &[&soft]).is_err());
        }
        assert_eq!(std::fs::read_to_string(&input).unwrap(), "a\n1\n");
    }

    #[cfg(unix)]
    #[test]
    fn outputs_get_the_usual_permissions_not_0600() {
        use std::os::unix::fs::PermissionsExt;
        let umask = std::process::Command::new("sh")
            .args(["-c", "umask"])
            .output()
            .ok()
            .and_then(|o| u32::from_str_radix(String::from_utf8_lossy(&o.stdout).trim(), 8).ok())
            .unwrap_or(0o022);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scores.csv");
        atomic_write(&path, |w| w.write_all(b"x").map_err(|e| Error::io("x", e))).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !umask, "{mode:o}");
    }
}
