//! Tables named by dataset path: `SELECT * FROM 'data/captions'`.

use crate::error::external;
use crate::provider::PilumTable;
use async_trait::async_trait;
use datafusion::catalog::{TableProvider, UrlTableFactory};
use datafusion::common::Result;
use pilum_io::IoError;
use pilum_table::{Dataset, TableError};
use std::collections::HashMap;
use std::sync::Arc;

/// Opens the latest version of the dataset a table name points to, for
/// names that are not registered tables. Names that are no dataset resolve
/// to nothing, so DataFusion reports an unknown table.
#[derive(Debug, Clone, Default)]
pub struct DatasetUrlTables {
    storage_options: HashMap<String, String>,
}

impl DatasetUrlTables {
    /// A factory that opens datasets with these object-store options.
    pub fn new(storage_options: HashMap<String, String>) -> Self {
        Self { storage_options }
    }
}

#[async_trait]
impl UrlTableFactory for DatasetUrlTables {
    async fn try_new(&self, url: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match Dataset::open_with_options(url, &self.storage_options).await {
            Ok(dataset) => Ok(Some(Arc::new(PilumTable::new(dataset)))),
            Err(
                TableError::DatasetNotFound { .. }
                | TableError::Io(IoError::NotFound { .. } | IoError::InvalidUri { .. }),
            ) => Ok(None),
            Err(other) => Err(external(other)),
        }
    }
}
