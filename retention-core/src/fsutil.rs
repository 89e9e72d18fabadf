//! File-system helpers: atomic writes and content hashes.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// The folder a file will be written into (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
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
