//! `pilum_versions(uri)`: a dataset's version history as a table.

use crate::error::external;
use crate::function::{block_on, string_argument};
use arrow_array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::{MemTable, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result};
use pilum_table::Dataset;
use std::collections::HashMap;
use std::sync::Arc;

/// The table function `pilum_versions(uri)`: one row per retained version
/// with `version`, `timestamp` (UTC), `operation`, `num_rows` (live rows)
/// and `num_fragments`.
#[derive(Debug, Clone, Default)]
pub struct PilumVersionsFunction {
    storage_options: HashMap<String, String>,
}

impl PilumVersionsFunction {
    /// A function that opens datasets with these object-store options.
    pub fn new(storage_options: HashMap<String, String>) -> Self {
        Self { storage_options }
    }
}

impl TableFunctionImpl for PilumVersionsFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let [uri] = args.exprs() else {
            return Err(DataFusionError::Plan("pilum_versions takes a dataset URI".into()));
        };
        let uri = string_argument("pilum_versions", uri)?;
        let options = self.storage_options.clone();
        let versions = block_on(async move { Dataset::open_with_options(&uri, &options).await?.versions().await })?
            .map_err(external)?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("version", DataType::UInt64, false),
            Field::new(
                "timestamp",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("operation", DataType::Utf8, false),
            Field::new("num_rows", DataType::UInt64, false),
            Field::new("num_fragments", DataType::UInt64, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from_iter_values(versions.iter().map(|v| v.version))),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(versions.iter().map(|v| v.timestamp.timestamp_micros()))
                    .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from_iter_values(
                versions.iter().map(|v| v.operation.name()),
            )),
            Arc::new(UInt64Array::from_iter_values(versions.iter().map(|v| v.num_rows))),
            Arc::new(UInt64Array::from_iter_values(
                versions.iter().map(|v| v.num_fragments as u64),
            )),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}
