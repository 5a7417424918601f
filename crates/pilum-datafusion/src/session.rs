//! [`Session`]: a DataFusion context set up for Pilum datasets.

use crate::error::Result;
use crate::factory::PilumTableFactory;
use crate::function::{PilumScanFunction, VersionSpec};
use crate::guard::install_dml_guard;
use crate::provider::PilumTable;
use crate::search::PilumSearchFunction;
use crate::text_search::{PilumHybridSearchFunction, PilumTextSearchFunction};
use crate::url::DatasetUrlTables;
use crate::versions::PilumVersionsFunction;
use arrow_array::RecordBatch;
use datafusion::catalog::DynamicFileCatalog;
use datafusion::dataframe::DataFrame;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use pilum_table::Dataset;
use std::collections::HashMap;
use std::sync::Arc;

/// A DataFusion [`SessionContext`] that knows Pilum datasets:
///
/// - tables registered by name ([`register`](Self::register), [`register_uri`](Self::register_uri));
/// - any dataset by path or URI as a table name: `SELECT * FROM 'data/captions'`;
/// - time travel with `pilum_scan('data/captions', 3)` (a version, a tag or a timestamp);
/// - the version history with `pilum_versions('data/captions')`;
/// - `CREATE EXTERNAL TABLE t STORED AS PILUM LOCATION 'data/captions'`;
/// - `INSERT INTO`, `DELETE`, `UPDATE` on dataset tables, one commit each.
///
/// Cloning is cheap and shares the context.
#[derive(Clone)]
pub struct Session {
    ctx: SessionContext,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.ctx.session_id())
            .finish()
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    /// A session over a default DataFusion context.
    pub fn new() -> Self {
        Self::with_context(SessionContext::new())
    }

    /// A session over `ctx`'s configuration, catalogs and functions.
    pub fn with_context(ctx: SessionContext) -> Self {
        Self::with_storage_options(ctx, HashMap::new())
    }

    /// Like [`with_context`](Self::with_context); datasets named by URI in
    /// queries are opened with these object-store options (e.g. `aws_region`).
    pub fn with_storage_options(ctx: SessionContext, storage_options: HashMap<String, String>) -> Self {
        let state = ctx.state();
        let catalogs = Arc::new(DynamicFileCatalog::new(
            state.catalog_list().clone(),
            Arc::new(DatasetUrlTables::new(storage_options.clone())),
        ));
        let factory = Arc::new(PilumTableFactory::new(storage_options.clone()));
        let state = SessionStateBuilder::new_from_existing(state)
            .with_catalog_list(catalogs)
            .with_table_factory("PILUM".into(), factory)
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_udtf(
            "pilum_versions",
            Arc::new(PilumVersionsFunction::new(storage_options.clone())),
        );
        ctx.register_udtf(
            "pilum_search",
            Arc::new(PilumSearchFunction::new(storage_options.clone())),
        );
        ctx.register_udtf(
            "pilum_text_search",
            Arc::new(PilumTextSearchFunction::new(storage_options.clone())),
        );
        ctx.register_udtf(
            "pilum_hybrid_search",
            Arc::new(PilumHybridSearchFunction::new(storage_options.clone())),
        );
        ctx.register_udtf("pilum_scan", Arc::new(PilumScanFunction::new(storage_options)));
        install_dml_guard(&ctx);
        Self { ctx }
    }

    /// The DataFusion context, for everything else DataFusion offers.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers `dataset` at its checked-out version as table `name`
    /// (replacing a table of that name).
    pub fn register(&self, name: &str, dataset: Dataset) -> Result<()> {
        let table = PilumTable::for_session(dataset, &self.ctx.copied_config());
        self.ctx.register_table(name, Arc::new(table))?;
        Ok(())
    }

    /// Opens the latest version of the dataset at `uri` and registers it as `name`.
    pub async fn register_uri(
        &self,
        name: &str,
        uri: &str,
        storage_options: &HashMap<String, String>,
    ) -> Result<Dataset> {
        self.register_uri_at(name, uri, &VersionSpec::Latest, storage_options)
            .await
    }

    /// Opens one version of the dataset at `uri` and registers it as `name`.
    /// A table at an older version reads that version; DML on it commits on
    /// top of the latest version.
    pub async fn register_uri_at(
        &self,
        name: &str,
        uri: &str,
        version: &VersionSpec,
        storage_options: &HashMap<String, String>,
    ) -> Result<Dataset> {
        let latest = Dataset::open_with_options(uri, storage_options).await?;
        let dataset = version.checkout(latest).await?;
        self.register(name, dataset.clone())?;
        Ok(dataset)
    }

    /// Removes table `name`; returns whether it existed.
    pub fn deregister(&self, name: &str) -> Result<bool> {
        Ok(self.ctx.deregister_table(name)?.is_some())
    }

    /// The dataset behind registered table `name`, at the version it reads now.
    pub async fn dataset(&self, name: &str) -> Result<Option<Dataset>> {
        let provider = match self.ctx.table_provider(name).await {
            Ok(provider) => provider,
            Err(_) => return Ok(None),
        };
        Ok(provider.downcast_ref::<PilumTable>().map(PilumTable::dataset))
    }

    /// Plans one SQL statement. Queries and DML run when the frame is
    /// collected (or streamed); DDL such as `CREATE VIEW` runs here.
    pub async fn sql(&self, query: &str) -> Result<DataFrame> {
        Ok(self.ctx.sql(query).await?)
    }

    /// Plans and runs one SQL statement, returning all result batches.
    pub async fn collect(&self, query: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.sql(query).await?.collect().await?)
    }
}
