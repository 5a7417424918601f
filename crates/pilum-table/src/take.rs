//! Random access by row offset (position among live rows) and by stable row id.

use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::fragment::FragmentReader;
use crate::manifest::fragment_live_rows;
use crate::opened_fragments::Readers;
use crate::proto;
use crate::rowids::RowIdIndex;
use crate::schema::TableSchema;
use arrow_array::RecordBatch;
use std::collections::BTreeMap;
use std::sync::Arc;

impl Dataset {
    /// Rows at live positions `offsets` (0 = first live row), in that order.
    pub async fn take(&self, offsets: &[u64], columns: Option<&[&str]>) -> Result<RecordBatch> {
        let projection = self.projection(columns)?;
        let mut readers = Readers::new();
        let located = self.locate_offsets(offsets, &mut readers).await?;
        gather(&readers, &projection, &located).await
    }

    /// Bounds the decoded copies of small scalar columns that takes gather
    /// from, shared by every version of this handle (default
    /// [`crate::DEFAULT_HOT_COLUMN_BYTES`], 64 MiB; 0 turns them off). A
    /// column of a data file is decoded whole on the fourth take that reads
    /// it, when it needs at most an eighth of the budget; the least recently
    /// used go first. A smaller budget drops entries at once.
    pub fn set_hot_column_bytes(&self, bytes: usize) {
        self.cache.hot.set_budget(bytes);
    }

    /// Bytes of decoded columns held now, and the budget.
    pub fn hot_column_bytes(&self) -> (usize, usize) {
        (self.cache.hot.bytes(), self.cache.hot.budget())
    }

    /// Rows with stable ids `ids`, in that order; a deleted or unknown id is an error.
    pub async fn take_rows(&self, ids: &[u64], columns: Option<&[&str]>) -> Result<RecordBatch> {
        let projection = self.projection(columns)?;
        let mut readers = Readers::new();
        let located = self.locate_row_ids(ids, &mut readers).await?;
        gather(&readers, &projection, &located).await
    }

    /// Maps live positions to `(fragment position, physical offset)`, opening
    /// the fragments involved into `readers`.
    pub(crate) async fn locate_offsets(&self, offsets: &[u64], readers: &mut Readers) -> Result<Vec<(usize, u64)>> {
        // Each fragment with the live position one past its last row; of a
        // paged list not yet read, only the pages holding a wanted position.
        let (fragments, ends) = self.fragments_at_offsets(offsets).await?;
        let mut located = Vec::with_capacity(offsets.len());
        for &offset in offsets {
            let position = ends.partition_point(|&end| end <= offset);
            let Some(fragment) = fragments.get(position) else {
                return Err(TableError::RowNotFound { row: offset });
            };
            let first = ends[position] - fragment_live_rows(fragment);
            located.push((position, offset - first));
        }
        // Live positions become physical offsets once deletions are known.
        self.open_fragments(readers, &fragments, located.iter().map(|&(position, _)| position))
            .await?;
        Ok(located
            .into_iter()
            .map(|(position, live)| (position, nth_live(readers[&position].deletions(), live)))
            .collect())
    }

    /// The fragments that may hold live positions `offsets`, with the live
    /// position one past each one's last row (increasing).
    async fn fragments_at_offsets(&self, offsets: &[u64]) -> Result<(Arc<Vec<proto::Fragment>>, Vec<u64>)> {
        let list = &self.manifest.fragments;
        let (fragments, starts): (Arc<Vec<proto::Fragment>>, Vec<(usize, u64)>) = match (list.loaded(), list.pages()) {
            (None, Some(pages)) => {
                let mut page_ends = Vec::with_capacity(pages.len());
                let mut total = 0u64;
                for page in pages.iter() {
                    total += page.physical_rows.saturating_sub(page.deleted_rows);
                    page_ends.push(total);
                }
                let wanted: std::collections::BTreeSet<usize> = offsets
                    .iter()
                    .map(|&offset| page_ends.partition_point(|&end| end <= offset))
                    .filter(|&page| page < pages.len())
                    .collect();
                let chosen: Vec<proto::FragmentPageRef> = wanted.iter().map(|&page| pages[page].clone()).collect();
                // Where each chosen page's fragments start: (index in the list, live position).
                let mut starts = Vec::with_capacity(chosen.len());
                let mut at = 0;
                for &page in &wanted {
                    starts.push((at, if page == 0 { 0 } else { page_ends[page - 1] }));
                    at += pages[page].fragment_count as usize;
                }
                let loaded = crate::fragment_pages::load_all(&self.location, &chosen).await?;
                (Arc::new(loaded), starts)
            }
            _ => (self.all_fragments().await?.clone(), vec![(0, 0)]),
        };
        let mut ends = Vec::with_capacity(fragments.len());
        let mut next_start = starts.iter().peekable();
        let mut total = 0u64;
        for (index, fragment) in fragments.iter().enumerate() {
            if let Some((_, start)) = next_start.next_if(|(at, _)| *at == index) {
                total = *start;
            }
            total += fragment_live_rows(fragment);
            ends.push(total);
        }
        Ok((fragments, ends))
    }

    /// Maps stable row ids to `(fragment position, physical offset)` of their
    /// live copy, opening the fragments involved into `readers`. Of a list
    /// kept in pages and not yet read, only the pages whose row-id range
    /// holds a wanted id are read (positions then count within them).
    pub(crate) async fn locate_row_ids(&self, ids: &[u64], readers: &mut Readers) -> Result<Vec<(usize, u64)>> {
        let partial;
        let (fragments, index) = match self.manifest.fragments.loaded() {
            Some(all) => (all.clone(), self.row_id_index().await?),
            None => {
                let holding = Arc::new(self.manifest.fragments.holding_row_ids(&self.location, ids).await?);
                partial = RowIdIndex::build(&holding);
                (holding, &partial)
            }
        };
        // Open every candidate fragment at once (an id has one candidate
        // unless updates moved its row).
        self.open_fragments(
            readers,
            &fragments,
            ids.iter()
                .flat_map(|&id| index.candidates(id).map(|(position, _)| position)),
        )
        .await?;
        let mut located = Vec::with_capacity(ids.len());
        for &id in ids {
            let mut live = None;
            for (position, offset) in index.candidates(id) {
                self.open_fragment(readers, &fragments, position).await?;
                if !readers[&position].deletions().contains(offset as u32) {
                    live = Some((position, offset));
                    break;
                }
            }
            located.push(live.ok_or(TableError::RowNotFound { row: id })?);
        }
        Ok(located)
    }

    /// Opens the fragments at `positions` not yet in `readers`, several at
    /// once (on object storage each open is a request); fragments this
    /// version opened before are not opened again.
    pub(crate) async fn open_fragments(
        &self,
        readers: &mut Readers,
        fragments: &[proto::Fragment],
        positions: impl Iterator<Item = usize>,
    ) -> Result<()> {
        use futures::{StreamExt, TryStreamExt};
        let mut missing = std::collections::BTreeSet::new();
        for position in positions {
            if readers.contains_key(&position) {
                continue;
            }
            match self.opened.get(fragment_at(fragments, position)?.id) {
                Some(reader) => {
                    readers.insert(position, reader);
                }
                None => {
                    missing.insert(position);
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let opened: Vec<(usize, Arc<FragmentReader>)> = futures::stream::iter(missing)
            .map(|position| async move { Ok::<_, TableError>((position, self.open_kept(fragments, position).await?)) })
            .buffer_unordered(OPENS_IN_FLIGHT)
            .try_collect()
            .await?;
        readers.extend(opened);
        Ok(())
    }

    /// Opens the fragment at `position` into `readers` unless it is there.
    pub(crate) async fn open_fragment(
        &self,
        readers: &mut Readers,
        fragments: &[proto::Fragment],
        position: usize,
    ) -> Result<()> {
        if let std::collections::btree_map::Entry::Vacant(entry) = readers.entry(position) {
            entry.insert(self.open_kept(fragments, position).await?);
        }
        Ok(())
    }

    /// The reader of the fragment at `position`: the one this version
    /// opened before, or a new one, kept.
    async fn open_kept(&self, fragments: &[proto::Fragment], position: usize) -> Result<Arc<FragmentReader>> {
        let fragment = fragment_at(fragments, position)?;
        if let Some(reader) = self.opened.get(fragment.id) {
            return Ok(reader);
        }
        let reader = Arc::new(FragmentReader::open(&self.location, &self.cache, Arc::new(fragment.clone())).await?);
        self.opened.keep(fragment.id, reader.clone());
        Ok(reader)
    }

    fn projection(&self, columns: Option<&[&str]>) -> Result<TableSchema> {
        match columns {
            Some(columns) => self.manifest.schema.project(columns),
            None => Ok(self.manifest.schema.clone()),
        }
    }
}

/// The fragment at `position` of `fragments`.
fn fragment_at(fragments: &[proto::Fragment], position: usize) -> Result<&proto::Fragment> {
    fragments.get(position).ok_or_else(|| TableError::Internal {
        what: format!("fragment position {position} is past the {} fragments", fragments.len()),
    })
}

/// Fragments a take opens at once.
const OPENS_IN_FLIGHT: usize = 16;

/// The physical offset of the `n`-th non-deleted row.
fn nth_live(deletions: &roaring::RoaringBitmap, n: u64) -> u64 {
    if deletions.is_empty() {
        return n;
    }
    // Smallest p with p + 1 - deleted(≤ p) > n, by binary search.
    let (mut low, mut high) = (n, n + deletions.len());
    while low < high {
        let mid = low + (high - low) / 2;
        let live_through = mid + 1 - deletions.rank(mid as u32);
        if live_through > n {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    low
}

/// Reads `(fragment position, physical offset)` rows in order, one take per fragment.
async fn gather(readers: &Readers, projection: &TableSchema, rows: &[(usize, u64)]) -> Result<RecordBatch> {
    let mut per_fragment: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    let mut slots = Vec::with_capacity(rows.len());
    for &(position, offset) in rows {
        let list = per_fragment.entry(position).or_default();
        slots.push((position, list.len()));
        list.push(offset);
    }
    let reads = per_fragment
        .iter()
        .map(|(position, offsets)| readers[position].take(projection, offsets));
    let mut batches = futures::future::try_join_all(reads).await?;
    if batches.len() == 1 {
        // One fragment read its rows in the order asked: nothing to interleave.
        return Ok(batches.swap_remove(0));
    }
    let order: Vec<usize> = per_fragment.keys().copied().collect();
    let indices: Vec<(usize, usize)> = slots
        .into_iter()
        .map(|(position, row)| (order.binary_search(&position).unwrap_or_default(), row))
        .collect();
    if batches.is_empty() {
        return Ok(RecordBatch::new_empty(projection.arrow().clone()));
    }
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    Ok(arrow_select::interleave::interleave_record_batch(&refs, &indices)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_live_skips_deleted_rows() {
        let deletions: roaring::RoaringBitmap = [0u32, 2, 3].into_iter().collect();
        let live: Vec<u64> = (0..4).map(|n| nth_live(&deletions, n)).collect();
        assert_eq!(live, vec![1, 4, 5, 6]);
    }
}
