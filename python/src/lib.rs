//! The native module `pilum._native` behind the `pilum` Python package.
//!
//! The Python package (`python/python/pilum`) holds the public,
//! pylance-compatible API; this module does the work: every call runs on a
//! shared Tokio runtime with the GIL released, honours Ctrl-C, turns panics
//! into `pilum.errors.PilumInternalError`, and exchanges Arrow data through
//! the Arrow C data interface without copying.

mod blob;
mod branches;
mod dataset;
mod distributed;
mod errors;
mod evolve;
mod ffi;
mod layout;
mod maintain;
mod runtime;
mod scalar;
mod scan;
mod sql;
mod stream;
mod text;
mod vector;

use pyo3::prelude::*;

/// Empties the process-wide metadata cache (open file readers and decoded
/// manifests shared by every dataset object).
#[pyfunction]
fn clear_metadata_cache() {
    pilum::clear_metadata_cache();
}

/// Bytes the process-wide metadata cache holds.
#[pyfunction]
fn metadata_cache_bytes() -> u64 {
    pilum::metadata_cache_bytes()
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<dataset::PyDataset>()?;
    module.add_class::<blob::PyBlobFile>()?;
    module.add_class::<sql::PySession>()?;
    module.add_function(wrap_pyfunction!(distributed::write_pending, module)?)?;
    module.add_function(wrap_pyfunction!(distributed::commit_pending, module)?)?;
    module.add_function(wrap_pyfunction!(distributed::pending_info, module)?)?;
    module.add_function(wrap_pyfunction!(distributed::pending_schema, module)?)?;
    module.add_function(wrap_pyfunction!(distributed::write_pending_columns, module)?)?;
    module.add_function(wrap_pyfunction!(distributed::commit_pending_columns, module)?)?;
    module.add_function(wrap_pyfunction!(distributed::build_index_segment, module)?)?;
    module.add_function(wrap_pyfunction!(distributed::commit_index_segments, module)?)?;
    module.add_function(wrap_pyfunction!(distributed::index_segment_info, module)?)?;
    module.add_function(wrap_pyfunction!(clear_metadata_cache, module)?)?;
    module.add_function(wrap_pyfunction!(metadata_cache_bytes, module)?)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
