//! The model file: the checksummed JSON envelope, written and read with bounded sizes.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{ChurnModel, FORMAT_NAME, FORMAT_VERSION, MAX_MODEL_BYTES, cut};
use crate::error::{Error, Result, excerpt, mention};
use crate::fsutil::sha256_hex;

/// Reads a model file's bytes, at most [`MAX_MODEL_BYTES`].
///
/// # Errors
/// [`Error::Io`] when it cannot be read, [`Error::CorruptArtifact`] when it is larger than the
/// limit (refused from its metadata before reading, or when reading passes the limit).
pub fn read_model_file(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len > MAX_MODEL_BYTES {
        return Err(too_large(path, Some(len)));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_MODEL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        return Err(too_large(path, None));
    }
    Ok(bytes)
}

/// The error for a file larger than [`MAX_MODEL_BYTES`]: `len` is its size when known.
fn too_large(path: &Path, len: Option<u64>) -> Error {
    const MIB: u64 = 1024 * 1024;
    let size = match len {
        Some(len) => format!("{len} bytes ({} MiB)", len.div_ceil(MIB)),
        None => "more than that".into(),
    };
    Error::CorruptArtifact {
        path: path.to_path_buf(),
        reason: format!(
            "a model file may be at most {} MiB, and this one is {size}",
            MAX_MODEL_BYTES / MIB
        ),
    }
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'a str,
    format_version: u32,
    sha256: &'a str,
    model: &'a RawValue,
}

#[derive(Deserialize)]
struct EnvelopeIn<'a> {
    format: String,
    format_version: u32,
    sha256: String,
    #[serde(borrow)]
    model: &'a RawValue,
}

impl ChurnModel {
    /// Serialises the model into its file form.
    ///
    /// # Errors
    /// [`Error::Json`] if serialisation fails (non-finite numbers are written as null).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let body = serde_json::to_string(self)?;
        let raw = RawValue::from_string(body)?;
        let sha = sha256_hex(raw.get().as_bytes());
        let envelope = EnvelopeOut {
            format: FORMAT_NAME,
            format_version: FORMAT_VERSION,
            sha256: &sha,
            model: &raw,
        };
        Ok(serde_json::to_vec(&envelope)?)
    }

    /// Parses a model from its file form and checks its whole structure
    /// ([`ChurnModel::validate`]); `path` names it in errors.
    ///
    /// # Errors
    /// [`Error::CorruptArtifact`] when it is larger than [`MAX_MODEL_BYTES`], not a model, its
    /// checksum fails or its structure is unsound, [`Error::UnsupportedFormat`] when it was
    /// written by a newer format.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let corrupt = |reason: String| Error::CorruptArtifact {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() as u64 > MAX_MODEL_BYTES {
            return Err(too_large(path, Some(bytes.len() as u64)));
        }
        let envelope: EnvelopeIn<'_> = serde_json::from_slice(bytes).map_err(|e| {
            corrupt(format!(
                "not a RetentionAI model file ({})",
                cut(&e.to_string(), 200)
            ))
        })?;
        if envelope.format != FORMAT_NAME {
            return Err(corrupt(format!(
                "format is {:?}, expected {FORMAT_NAME:?}",
                excerpt(&envelope.format)
            )));
        }
        if envelope.format_version > FORMAT_VERSION {
            return Err(Error::UnsupportedFormat {
                path: path.to_path_buf(),
                found: envelope.format_version,
                supported: FORMAT_VERSION,
            });
        }
        let actual = sha256_hex(envelope.model.get().as_bytes());
        if actual != envelope.sha256 {
            return Err(corrupt(
                "checksum mismatch: the file was modified or damaged after it was written".into(),
            ));
        }
        let text = envelope.model.get();
        let model: ChurnModel = serde_json::from_str(text).map_err(|e| {
            // The first gradient boosting (the perpetual crate) stored a `booster`; a model file
            // holding one is sound but no longer readable.
            if text.contains("\"booster\":") {
                corrupt(format!(
                    "its gradient-boosting model was trained by an earlier RetentionAI whose \
                     booster format this version no longer reads; retrain it ({})",
                    mention("train --algorithm boosting")
                ))
            } else {
                corrupt(format!(
                    "model content does not parse ({})",
                    cut(&e.to_string(), 200)
                ))
            }
        })?;
        model.validate(path)?;
        Ok(model)
    }
}
