//! Core errors → the exception classes defined in `retention/errors.py` (one per error kind;
//! file errors are Python's own `FileNotFoundError` / `PermissionError` / `OSError`).

use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyPermissionError};
use pyo3::prelude::*;
use pyo3::types::PyType;
use retention_core::Error;

/// A core error as a Python exception carrying the core's message (and, where the error names
/// them, `column`, `row`, `value` or `name` attributes).
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let message = e.to_string();
    let class = match &e {
        Error::ColumnNotFound { .. } => "ColumnNotFoundError",
        Error::InvalidValue { .. } => "InvalidValueError",
        Error::InvalidData(_) => "InvalidDataError",
        Error::Malformed { .. } => "MalformedFileError",
        Error::SchemaMismatch(_) => "SchemaMismatchError",
        Error::InvalidParameter { .. } => "InvalidParameterError",
        Error::FeatureSpec { .. } => "FeatureSpecError",
        Error::CorruptArtifact { .. } => "CorruptModelError",
        Error::UnsupportedFormat { .. } => "UnsupportedFormatError",
        Error::Training { .. } => "TrainingError",
        Error::Registry(_) => "RegistryError",
        Error::Store { .. } => "StoreError",
        Error::Json(_) => "RetentionError",
        Error::Io { path, source } => {
            let args = (
                source.raw_os_error().unwrap_or(0),
                message.clone(),
                path.clone(),
            );
            return match source.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(args),
                std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(args),
                _ => PyOSError::new_err(args),
            };
        }
        // Polars errors and kinds added to the core later.
        _ => "DataFrameError",
    };
    match build(py, class, &message, &e) {
        Ok(err) => err,
        Err(err) => err,
    }
}

fn build(py: Python<'_>, class: &str, message: &str, e: &Error) -> PyResult<PyErr> {
    let errors = py.import("retention.errors")?;
    let ty = errors.getattr(class)?.cast_into::<PyType>()?;
    let instance = ty.call1((message,))?;
    match e {
        Error::ColumnNotFound { column, .. } => instance.setattr("column", column)?,
        Error::InvalidValue {
            column, row, value, ..
        } => {
            instance.setattr("column", column)?;
            instance.setattr("row", row)?;
            instance.setattr("value", value)?;
        }
        Error::InvalidParameter { name, .. } => instance.setattr("name", name)?,
        _ => {}
    }
    Ok(PyErr::from_value(instance))
}

/// `Result<T, Error>` → `PyResult<T>`.
pub trait IntoPyResult<T> {
    /// Maps the error with [`to_py`].
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for retention_core::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

/// An invalid argument of the Python API, as the core would report it.
pub fn param(py: Python<'_>, name: &str, reason: impl Into<String>) -> PyErr {
    to_py(py, Error::param(name, reason))
}
