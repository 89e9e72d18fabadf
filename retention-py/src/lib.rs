//! `retention._retention`: the Python module's native half. Every behaviour is the core's
//! (`retention-core`); this crate converts arguments and results, maps errors to the exception
//! classes of `retention.errors`, and releases the GIL around every fit, score, drift and
//! database call. The Python half (`python/retention`) converts pandas frames and re-exports.

mod convert;
mod datasets;
mod drift;
mod errors;
mod model;
mod store;

use pyo3::prelude::*;

#[pymodule]
fn _retention(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<model::ChurnModel>()?;
    m.add_class::<drift::DriftReport>()?;
    m.add_class::<store::Store>()?;
    m.add_function(wrap_pyfunction!(model::train, m)?)?;
    m.add_function(wrap_pyfunction!(model::defaults, m)?)?;
    m.add_function(wrap_pyfunction!(drift::drift, m)?)?;
    m.add_function(wrap_pyfunction!(drift::drift_plan, m)?)?;
    m.add_function(wrap_pyfunction!(drift::drift_summary, m)?)?;
    m.add_function(wrap_pyfunction!(drift::drift_merge, m)?)?;
    m.add_function(wrap_pyfunction!(drift::drift_from_summaries, m)?)?;
    m.add_function(wrap_pyfunction!(convert::read_table, m)?)?;
    m.add_function(wrap_pyfunction!(convert::settings, m)?)?;
    m.add_function(wrap_pyfunction!(datasets::telco, m)?)?;
    m.add_function(wrap_pyfunction!(datasets::generate, m)?)?;
    Ok(())
}
