//! Core errors → the exception classes defined in `retention/errors.py` (one per error kind;
//! file errors are Python's own `FileNotFoundError` / `PermissionError` / `OSError`).
//!
//! Every core error crosses through one exhaustive conversion ([`PyRetentionError`] into
//! `PyErr`): a kind added to the core does not compile here until it is given its class. The
//! message is the core's, with parameters and operations in Python's words ([`PySpelling`]): a
//! field `cv` reads `cv=`, an operation `model promote` reads `Store.promote()`.

use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyPermissionError};
use pyo3::prelude::*;
use pyo3::types::PyType;
use retention_core::Error;
use retention_core::error::Spelling;

/// How the Python API writes the core's parameter and operation names in messages.
pub struct PySpelling;

impl Spelling for PySpelling {
    fn spell(&self, name: &str) -> Option<String> {
        // Single-word operations.
        match name {
            "backup" => return Some("Store.backup()".into()),
            "restore" | "doctor" => return Some(format!("`retention {name}`")),
            _ => {}
        }
        if name == "selection" {
            // The training option named as the CLI's flag.
            return Some("select_by=".into());
        }
        if !name.contains(' ') {
            // A core field is the keyword argument of the same name.
            return Some(format!("{name}="));
        }
        // An operation: the method that runs it, else (no Python equivalent) the command.
        let method = match name {
            "model register" => "Store.register()",
            "model list" => "Store.versions()",
            "model validate" => "Store.validate()",
            "model promote" => "Store.promote()",
            "model ab" => "Store.start_ab()",
            "model rollback" => "Store.rollback()",
            "db check" => "Store.check()",
            "db optimize" => "Store.optimize()",
            "db cleanup" => "Store.cleanup()",
            "backup verify" => "Store.verify_backup()",
            "gdpr export" => "Store.gdpr_export()",
            "gdpr delete" => "Store.gdpr_delete()",
            "gdpr audit" => "Store.audit()",
            other => return Some(format!("`retention {other}`")),
        };
        Some(method.to_string())
    }
}

/// A core error on its way to Python: `?` in a binding converts a core error into this and this
/// into the matching exception.
#[derive(Debug)]
pub struct PyRetentionError(pub Error);

impl From<Error> for PyRetentionError {
    fn from(e: Error) -> Self {
        PyRetentionError(e)
    }
}

/// Where a core error goes in Python: a class of `retention.errors`, or an `OSError` subclass.
enum Class {
    /// The class of `retention.errors` of this name.
    Named(&'static str),
    /// A file error: Python's own class for its kind.
    Os,
}

/// The exception class of each kind of core error, spelled out for every kind.
fn class_of(e: &Error) -> Class {
    match e {
        Error::ColumnNotFound { .. } => Class::Named("ColumnNotFoundError"),
        Error::InvalidValue { .. } => Class::Named("InvalidValueError"),
        Error::InvalidData(_) => Class::Named("InvalidDataError"),
        Error::Malformed { .. } => Class::Named("MalformedFileError"),
        Error::SchemaMismatch(_) => Class::Named("SchemaMismatchError"),
        Error::InvalidParameter { .. } => Class::Named("InvalidParameterError"),
        Error::FeatureSpec { .. } => Class::Named("FeatureSpecError"),
        Error::CorruptArtifact { .. } => Class::Named("CorruptModelError"),
        Error::UnsupportedFormat { .. } => Class::Named("UnsupportedFormatError"),
        Error::Training { .. } => Class::Named("TrainingError"),
        Error::Registry(_) => Class::Named("RegistryError"),
        Error::Store { .. } => Class::Named("StoreError"),
        Error::Config { .. } => Class::Named("ConfigError"),
        Error::Polars(_) => Class::Named("DataFrameError"),
        // A JSON error outside model files has no class of its own: the base class.
        Error::Json(_) => Class::Named("RetentionError"),
        Error::Io { .. } => Class::Os,
    }
}

impl From<PyRetentionError> for PyErr {
    fn from(PyRetentionError(e): PyRetentionError) -> Self {
        let message = e.render(&PySpelling);
        match class_of(&e) {
            Class::Os => os_error(&e, message),
            Class::Named(class) => {
                Python::attach(|py| build(py, class, &message, &e).unwrap_or_else(|err| err))
            }
        }
    }
}

/// A file error as Python's `FileNotFoundError`, `PermissionError` or `OSError`, with `errno`,
/// the message and the file name.
fn os_error(e: &Error, message: String) -> PyErr {
    let Error::Io { path, source } = e else {
        return PyOSError::new_err(message);
    };
    let args = (source.raw_os_error().unwrap_or(0), message, path.clone());
    match source.kind() {
        std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(args),
        std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(args),
        _ => PyOSError::new_err(args),
    }
}

/// An instance of `retention.errors.<class>` carrying `message` and, where the error names them,
/// `column`, `row`, `value` or `name` (the core's field name).
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
        Error::Config { key, .. } => instance.setattr("key", key)?,
        _ => {}
    }
    Ok(PyErr::from_value(instance))
}

/// A core error as a Python exception (see [`PyRetentionError`]).
pub fn to_py(_py: Python<'_>, e: Error) -> PyErr {
    PyRetentionError(e).into()
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

/// An invalid argument of the Python API, as the core would report it (`name` is the keyword).
pub fn param(py: Python<'_>, name: &str, reason: impl Into<String>) -> PyErr {
    to_py(py, Error::param(name, reason))
}
