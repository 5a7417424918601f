//! `__datafusion_table_provider__`: hands a dataset version to another
//! DataFusion build in the same process (datafusion-python 55) through
//! DataFusion's stable FFI table-provider interface.

use crate::dataset::PyDataset;
use crate::runtime::runtime;
use datafusion_ffi::proto::logical_extension_codec::FFI_LogicalExtensionCodec;
use datafusion_ffi::table_provider::FFI_TableProvider;
use pilum_datafusion::PilumTable;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use std::ffi::CStr;
use std::sync::Arc;

/// Capsule name datafusion-python expects for a table provider.
const PROVIDER_CAPSULE: &CStr = c"datafusion_table_provider";
/// Capsule name of a session's logical extension codec.
const CODEC_CAPSULE: &CStr = c"datafusion_logical_extension_codec";
/// The method a session (or codec holder) exposes to hand out its codec.
const CODEC_METHOD: &str = "__datafusion_logical_extension_codec__";

#[pymethods]
impl PyDataset {
    /// A `datafusion_table_provider` capsule over this dataset's current
    /// version. `session` is the caller's session context (or its codec
    /// capsule): filters pushed into the scan are decoded with its codec.
    /// Scans run on Pilum's own runtime; `INSERT INTO` through the
    /// capsule appends one version.
    fn __datafusion_table_provider__<'py>(
        &self,
        py: Python<'py>,
        session: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let codec = session_codec(session)?;
        let table = Arc::new(PilumTable::new(self.snapshot()));
        let handle = runtime()?.handle().clone();
        let provider = FFI_TableProvider::new_with_ffi_codec(table, true, Some(handle), codec);
        PyCapsule::new_with_value(py, provider, PROVIDER_CAPSULE)
    }
}

/// The caller's logical extension codec, from a session object exposing
/// `__datafusion_logical_extension_codec__` or from the capsule itself.
fn session_codec(session: Bound<'_, PyAny>) -> PyResult<FFI_LogicalExtensionCodec> {
    let capsule = if session.hasattr(CODEC_METHOD)? {
        session.call_method0(CODEC_METHOD)?
    } else {
        session
    };
    let capsule = capsule.cast_into::<PyCapsule>().map_err(|_| {
        PyTypeError::new_err(
            "__datafusion_table_provider__ expects a datafusion SessionContext \
             (datafusion-python >= 52) or a logical extension codec capsule",
        )
    })?;
    let pointer = capsule.pointer_checked(Some(CODEC_CAPSULE))?;
    // SAFETY: `pointer_checked` verified the capsule carries the name under
    // which DataFusion's FFI stores an `FFI_LogicalExtensionCodec`, and the
    // pointer is non-null. The capsule (held by `capsule`) keeps the value
    // alive while we clone it; the clone goes through the codec's own FFI
    // clone function and owns its state independently of the capsule.
    let codec = unsafe { pointer.cast::<FFI_LogicalExtensionCodec>().as_ref() };
    Ok(codec.clone())
}
