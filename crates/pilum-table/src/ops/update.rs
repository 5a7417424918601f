//! `update({column: expression}, where)`: matching rows are rewritten into
//! new fragments that keep their row ids, and deleted where they were.

use super::delete::add_addresses;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::expr::CompiledExpr;
use crate::predicate::Predicate;
use crate::proto::Operation;
use crate::scanner::{ROW_ADDRESS, ROW_ID};
use crate::transaction::{Change, Transaction};
use crate::write::{WriteParams, write_fragments};
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{ArrayRef, RecordBatch};
use futures::StreamExt;
use roaring::RoaringBitmap;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

impl Dataset {
    /// Sets columns to SQL expressions (over the row's current values) for
    /// rows matching `predicate` (all rows when `None`). Returns the number
    /// of rows updated.
    pub async fn update(&mut self, values: &[(&str, &str)], predicate: Option<&str>) -> Result<u64> {
        self.update_matching(values, predicate.map(Predicate::from)).await
    }

    /// [`Dataset::update`] with the condition as a [`Predicate`] (SQL text
    /// or a DataFusion expression).
    pub async fn update_matching(&mut self, values: &[(&str, &str)], predicate: Option<Predicate>) -> Result<u64> {
        if values.is_empty() {
            return Err(TableError::InvalidArgument("update needs at least one column".into()));
        }
        let values: Vec<(String, String)> = values.iter().map(|(c, e)| (c.to_string(), e.to_string())).collect();
        self.with_retries(move |dataset| Box::pin(dataset.update_once(values.clone(), predicate.clone())))
            .await
    }

    async fn update_once(&mut self, values: Vec<(String, String)>, predicate: Option<Predicate>) -> Result<u64> {
        let schema = self.manifest.schema.clone();
        let mut setters = Vec::new();
        for (column, sql) in &values {
            let index = schema.index_of(column)?;
            setters.push((index, CompiledExpr::compile(sql, schema.arrow())?));
        }
        if let Some(predicate) = &predicate {
            predicate.compile(schema.arrow())?;
        }
        let mut scan = self.scan().with_row_id(true).with_row_address(true);
        if let Some(predicate) = &predicate {
            scan = scan.filter(predicate.clone());
        }
        let rows = scan.try_into_stream().await?;
        let seen = Arc::new(Mutex::new((Vec::<u64>::new(), BTreeMap::<u64, RoaringBitmap>::new())));
        let target = schema.arrow().clone();
        let updated = rows
            .map({
                let seen = seen.clone();
                move |batch| {
                    let batch = batch?;
                    let ids = batch
                        .column_by_name(ROW_ID)
                        .map(|c| c.as_primitive::<UInt64Type>().clone());
                    let addresses = batch
                        .column_by_name(ROW_ADDRESS)
                        .map(|c| c.as_primitive::<UInt64Type>().clone());
                    if let (Some(ids), Some(addresses)) = (ids, addresses) {
                        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                        seen.0.extend_from_slice(ids.values());
                        add_addresses(&mut seen.1, &addresses);
                    }
                    let mut columns: Vec<ArrayRef> =
                        (0..target.fields().len()).map(|i| batch.column(i).clone()).collect();
                    for (index, expr) in &setters {
                        let value = expr.evaluate(&batch)?;
                        // A value that does not fit the column is an error, never a silent null.
                        let field = target.field(*index);
                        let options = arrow_cast::CastOptions {
                            safe: false,
                            ..Default::default()
                        };
                        columns[*index] =
                            arrow_cast::cast_with_options(&value, field.data_type(), &options).map_err(|e| {
                                TableError::SchemaMismatch {
                                    reason: format!(
                                        "new value of {:?} does not fit {}: {e}",
                                        field.name(),
                                        field.data_type()
                                    ),
                                }
                            })?;
                    }
                    RecordBatch::try_new(target.clone(), columns)
                        .map_err(|e| TableError::SchemaMismatch { reason: e.to_string() })
                }
            })
            .boxed();
        let mut moved = write_fragments(&self.location, &schema, updated, &WriteParams::default()).await?;
        let (ids, deleted) = std::mem::take(&mut *seen.lock().unwrap_or_else(|p| p.into_inner()));
        if ids.is_empty() {
            return Ok(0);
        }
        super::assign_row_ids(&mut moved, &ids);
        let mut txn = Transaction::new(
            Operation::Update,
            Change::Rows {
                deleted,
                moved,
                inserted: Vec::new(),
            },
        );
        txn.predicate = predicate.map(|p| p.to_sql()).unwrap_or_default();
        self.commit(txn).await?;
        Ok(ids.len() as u64)
    }
}
