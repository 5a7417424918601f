//! Progress reports from long operations (compaction, cleanup), for
//! progress bars in front ends.

use std::fmt;
use std::sync::Arc;

/// One step of a long operation: `done` of `total` units of `stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressUpdate {
    /// What is being counted, e.g. `"fragment groups"` or `"versions"`.
    pub stage: &'static str,
    /// Units finished so far.
    pub done: u64,
    /// Units in all (known up front).
    pub total: u64,
}

/// A callback receiving [`ProgressUpdate`]s; the default reports nowhere.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<dyn Fn(ProgressUpdate) + Send + Sync>>);

impl Progress {
    /// Reports to `callback`, which must be cheap: it runs on the operation's task.
    pub fn new(callback: impl Fn(ProgressUpdate) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(callback)))
    }

    /// Reports nowhere.
    pub fn none() -> Self {
        Self(None)
    }

    pub(crate) fn report(&self, stage: &'static str, done: u64, total: u64) {
        if let Some(callback) = &self.0 {
            callback(ProgressUpdate { stage, done, total });
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Progress").field(&self.0.is_some()).finish()
    }
}
