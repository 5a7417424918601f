//! `CREATE EXTERNAL TABLE ... STORED AS PILUM LOCATION '<uri>'`.
//!
//! Opens the dataset at the location; when there is none and the statement
//! lists columns, creates an empty dataset with those columns (version 1).
//! Listed columns must match an existing dataset's.

use crate::error::external;
use crate::provider::PilumTable;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::CreateExternalTable;
use pilum_table::{Dataset, DatasetLocation, TableError, WriteMode, WriteParams};
use std::collections::HashMap;
use std::sync::Arc;

/// The `PILUM` table format for `CREATE EXTERNAL TABLE`.
#[derive(Debug, Clone, Default)]
pub struct PilumTableFactory {
    storage_options: HashMap<String, String>,
}

impl PilumTableFactory {
    /// A factory that opens datasets with these object-store options (the
    /// statement's `OPTIONS` are added to them).
    pub fn new(storage_options: HashMap<String, String>) -> Self {
        Self { storage_options }
    }
}

#[async_trait]
impl TableProviderFactory for PilumTableFactory {
    async fn create(&self, state: &dyn Session, cmd: &CreateExternalTable) -> Result<Arc<dyn TableProvider>> {
        let [uri] = cmd.locations.as_slice() else {
            return Err(DataFusionError::Plan("a Pilum table has exactly one LOCATION".into()));
        };
        let mut options = self.storage_options.clone();
        options.extend(cmd.options.iter().map(|(k, v)| (k.clone(), v.clone())));
        let columns = stored_schema(cmd.schema.as_arrow());
        match Dataset::open_with_options(uri, &options).await {
            Ok(dataset) => {
                if !columns.fields().is_empty() && !same_columns(&columns, dataset.schema()) {
                    return Err(DataFusionError::Plan(format!(
                        "the columns listed for {} differ from the dataset's: {:?}",
                        cmd.name,
                        dataset.schema().fields().iter().map(|f| f.name()).collect::<Vec<_>>()
                    )));
                }
                Ok(Arc::new(PilumTable::for_session(dataset, state.config())))
            }
            Err(TableError::DatasetNotFound { .. }) if !columns.fields().is_empty() => {
                let location = pilum_io::parse_uri_with_options(uri, &options).map_err(|e| external(e.into()))?;
                let location = DatasetLocation::from_store_location(location, uri);
                let empty = Box::pin(futures::stream::empty());
                let dataset = Dataset::write(location, columns, empty, WriteMode::Create, &WriteParams::default())
                    .await
                    .map_err(external)?;
                Ok(Arc::new(PilumTable::for_session(dataset, state.config())))
            }
            Err(TableError::DatasetNotFound { .. }) => Err(DataFusionError::Plan(format!(
                "no dataset at {uri}; list the columns to create an empty one"
            ))),
            Err(other) => Err(external(other)),
        }
    }
}

/// `schema` with view types replaced by the classic types datasets store.
fn stored_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let data_type = match f.data_type() {
                DataType::Utf8View => DataType::Utf8,
                DataType::BinaryView => DataType::Binary,
                other => other.clone(),
            };
            Field::new(f.name(), data_type, f.is_nullable())
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn same_columns(listed: &Schema, stored: &Schema) -> bool {
    listed.fields().len() == stored.fields().len()
        && listed
            .fields()
            .iter()
            .zip(stored.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type())
}
