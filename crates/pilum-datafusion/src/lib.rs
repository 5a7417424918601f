//! SQL over Pilum datasets through DataFusion.
//!
//! - [`PilumTable`] is a [`TableProvider`](datafusion::catalog::TableProvider)
//!   for a dataset: projection, filter and limit pushdown (a filter is
//!   reported `Exact` only when the scan applies it itself, and stays with
//!   DataFusion otherwise), row-count statistics, and one partition per
//!   group of fragments so scans run in parallel. Deleted rows never appear.
//!   `INSERT INTO`, `INSERT OVERWRITE`, `DELETE`, `UPDATE` and `TRUNCATE`
//!   each commit one new version.
//! - [`register_dataset`] adds a dataset to a `SessionContext` in one call.
//! - [`Session`] opens datasets by path, resolves table names that are
//!   dataset URIs, and provides the `pilum_scan(uri [, version | tag |
//!   timestamp])` table function for time travel ([`PilumScanFunction`]),
//!   `pilum_versions(uri)` for the version history, and `CREATE EXTERNAL
//!   TABLE ... STORED AS PILUM LOCATION '<uri>'` ([`PilumTableFactory`]).
#![forbid(unsafe_code)]

mod dml;
mod error;
mod exec;
mod factory;
mod filters;
mod function;
mod guard;
mod provider;
mod search;
mod session;
mod statistics;
mod text_search;
mod url;
mod versions;
mod views;

pub use error::{Result, SqlError};
pub use exec::PilumScanExec;
pub use factory::PilumTableFactory;
pub use function::{PilumScanFunction, VersionSpec};
pub use guard::{DmlGuard, install_dml_guard};
pub use provider::{PilumTable, register_dataset};
pub use search::PilumSearchFunction;
pub use session::Session;
pub use text_search::{PilumHybridSearchFunction, PilumTextSearchFunction};
pub use url::DatasetUrlTables;
pub use versions::PilumVersionsFunction;

/// The DataFusion version this crate is built against, re-exported.
pub use datafusion;
