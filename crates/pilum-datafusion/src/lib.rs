//! SQL over Pilum datasets through DataFusion.
//!
//! [`PilumTable`] is a [`TableProvider`](datafusion::catalog::TableProvider)
//! for one dataset version: projection, filter and limit pushdown, exact
//! row-count statistics from the manifest, and one partition per group of
//! fragments so scans run in parallel. Deleted rows never appear.
//! [`register_dataset`] adds a dataset to a `SessionContext` in one call.

mod exec;
mod provider;

pub use exec::PilumScanExec;
pub use provider::{PilumTable, register_dataset};
