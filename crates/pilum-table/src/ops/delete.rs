//! `delete(predicate)`: deletion vectors, no data rewritten.

use crate::dataset::Dataset;
use crate::error::Result;
use crate::predicate::Predicate;
use crate::proto::Operation;
use crate::scanner::ROW_ADDRESS;
use crate::transaction::{Change, Transaction};
use arrow_array::UInt64Array;
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use futures::TryStreamExt;
use roaring::RoaringBitmap;
use std::collections::BTreeMap;

impl Dataset {
    /// Deletes the rows matching a predicate (SQL text or a DataFusion
    /// expression) and returns how many were deleted. Concurrent commits
    /// are rebased; on a row-level conflict the delete re-runs against the
    /// latest version.
    pub async fn delete(&mut self, predicate: impl Into<Predicate>) -> Result<u64> {
        let predicate = predicate.into();
        predicate.compile(self.schema())?;
        self.with_retries(move |dataset| Box::pin(dataset.delete_once(predicate.clone())))
            .await
    }

    async fn delete_once(&mut self, predicate: Predicate) -> Result<u64> {
        let deleted = self.addresses_matching(&predicate).await?;
        let count: u64 = deleted.values().map(|b| b.len()).sum();
        if count == 0 {
            return Ok(0);
        }
        let mut txn = Transaction::new(
            Operation::Delete,
            Change::Rows {
                deleted,
                moved: Vec::new(),
                inserted: Vec::new(),
            },
        );
        txn.predicate = predicate.to_sql();
        self.commit(txn).await?;
        Ok(count)
    }

    /// Offsets of the rows matching `predicate`, per fragment id.
    pub(crate) async fn addresses_matching(&self, predicate: &Predicate) -> Result<BTreeMap<u64, RoaringBitmap>> {
        let mut stream = self
            .scan()
            .project(Vec::<String>::new())
            .filter(predicate.clone())
            .with_row_address(true)
            .try_into_stream()
            .await?;
        let mut deleted: BTreeMap<u64, RoaringBitmap> = BTreeMap::new();
        while let Some(batch) = stream.try_next().await? {
            if let Some(addresses) = batch.column_by_name(ROW_ADDRESS) {
                add_addresses(&mut deleted, addresses.as_primitive::<UInt64Type>());
            }
        }
        Ok(deleted)
    }
}

/// Adds row addresses (fragment << 32 | offset) to per-fragment bitmaps.
pub(crate) fn add_addresses(into: &mut BTreeMap<u64, RoaringBitmap>, addresses: &UInt64Array) {
    for address in addresses.values() {
        into.entry(address >> 32).or_default().insert(*address as u32);
    }
}
