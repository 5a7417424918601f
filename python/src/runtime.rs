//! Running async Pilum calls from Python: one shared Tokio runtime, the GIL
//! released while the call runs, Ctrl-C honoured, panics turned into errors.

use crate::errors::{PilumErr, internal_error};
use pyo3::prelude::*;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;
use tokio::runtime::Runtime;

/// How often a running call checks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// The runtime and the process that built it. A child made by `fork` (as
/// PyTorch's DataLoader and multiprocessing make workers) inherits the
/// parent's runtime without its threads, and a call on it would wait for
/// them forever; the child builds its own instead.
static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// The runtime of this process, built on first use (and again after a fork).
pub fn runtime() -> PyResult<&'static Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((owner, rt)) = *slot
        && owner == pid
    {
        return Ok(rt);
    }
    let built = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("pilum-worker")
        .build()
        .map_err(|e| internal_error(format!("cannot start the I/O runtime: {e}")))?;
    // Leaked on purpose: a runtime inherited across a fork cannot be shut
    // down (its threads are gone), so none is ever dropped.
    let rt: &'static Runtime = Box::leak(Box::new(built));
    *slot = Some((pid, rt));
    Ok(rt)
}

/// Runs `future` to completion with the GIL released. A pending Ctrl-C
/// (or any Python signal handler raising) cancels the call and raises; a
/// panic inside becomes `PilumInternalError` instead of crashing Python.
pub fn run<F, T, E>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = Result<T, E>> + Send,
    T: Send,
    E: Into<PilumErr> + Send,
{
    let rt = runtime()?;
    py.detach(|| {
        let guarded = std::panic::catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async {
                let mut future = std::pin::pin!(future);
                loop {
                    tokio::select! {
                        outcome = &mut future => return outcome.map_err(|e| e.into().into_py_err()),
                        _ = tokio::time::sleep(SIGNAL_POLL) => {
                            Python::attach(|py| py.check_signals())?;
                        }
                    }
                }
            })
        }));
        guarded.unwrap_or_else(|payload| Err(internal_error(panic_message(payload.as_ref()))))
    })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    format!("internal error (please report it): {text}")
}
