//! Tables to try things on: the bundled Telco table and synthetic customers shaped like a
//! template (the same rows as `retention generate` writes for the same seed).

use pyo3::prelude::*;
use retention_core::generate::{Generator, Shift, telco_template};

use crate::convert::{frame, to_frame};
use crate::errors::IntoPyResult;

/// The Telco customer table built into the library (7,043 customers, 21 text columns), as
/// `read_table` reads `data/telco_customer_churn.csv`.
#[pyfunction]
pub fn telco(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let df = telco_template().py_err(py)?;
    to_frame(py, df)
}

/// `rows` synthetic customers like `like` (default: the Telco table), with optional shifts
/// (`"tenure=-6"`, `"Contract=Month-to-month:+0.15"`).
#[pyfunction]
#[pyo3(signature = (rows, *, seed = retention_core::generate::DEFAULT_SEED, shift = Vec::new(), like = None))]
pub fn generate(
    py: Python<'_>,
    rows: usize,
    seed: u64,
    shift: Vec<String>,
    like: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let shifts = shift
        .iter()
        .map(|s| Shift::parse(s))
        .collect::<retention_core::Result<Vec<_>>>()
        .py_err(py)?;
    let template = match like {
        Some(obj) => frame(py, obj)?,
        None => telco_template().py_err(py)?,
    };
    let df = py
        .detach(|| Generator::new(template, &shifts)?.frame(rows, seed))
        .py_err(py)?;
    to_frame(py, df)
}
