//! Estimating the share of rows a predicate keeps, for query planners, by
//! evaluating it on a few evenly spread blocks of rows.

use crate::dataset::Dataset;
use crate::error::Result;
use crate::predicate::Predicate;
use std::ops::Range;

/// Rows in one sampled block (a block costs about one chunk read per filter column).
const BLOCK_ROWS: u64 = 1024;

impl Dataset {
    /// The estimated share (0–1) of rows `predicate` keeps, from `blocks`
    /// blocks of 1,024 physical rows (deleted rows included), one centred in
    /// each of `blocks` equal strata of the table,
    /// or from every row when the table is no larger than that. `None` when
    /// the dataset is empty. Clustered data can skew the estimate.
    pub async fn estimate_selectivity(&self, predicate: impl Into<Predicate>, blocks: usize) -> Result<Option<f64>> {
        let schema = &self.manifest.schema;
        let filter = predicate.into().compile(schema.arrow())?;
        let projection = schema.project(&filter.columns())?;
        let mut readers = crate::opened_fragments::Readers::new();
        let (mut rows, mut kept) = (0u64, 0u64);
        let fragments = self.all_fragments().await?.clone();
        for (position, block) in Self::sample_blocks(&fragments, blocks) {
            self.open_fragment(&mut readers, &fragments, position).await?;
            let batch = readers[&position].read_range(&projection, block.clone()).await?;
            kept += filter.mask(&batch)?.true_count() as u64;
            rows += block.end - block.start;
        }
        Ok((rows > 0).then(|| kept as f64 / rows as f64))
    }

    /// `(fragment position, physical rows)` of the blocks to sample.
    fn sample_blocks(fragments: &[crate::proto::Fragment], blocks: usize) -> Vec<(usize, Range<u64>)> {
        let total: u64 = fragments.iter().map(|f| f.physical_rows).sum();
        if blocks == 0 {
            return Vec::new();
        }
        if total <= blocks as u64 * BLOCK_ROWS {
            return (0..fragments.len())
                .filter(|&i| fragments[i].physical_rows > 0)
                .map(|i| (i, 0..fragments[i].physical_rows))
                .collect();
        }
        let mut sampled = Vec::with_capacity(blocks);
        let (mut position, mut fragment_start) = (0usize, 0u64);
        for k in 0..blocks as u64 {
            // Block k is centred in the k-th of `blocks` equal strata.
            let centre = (2 * k + 1) * (total / (2 * blocks as u64));
            let at = centre.saturating_sub(BLOCK_ROWS / 2);
            while position < fragments.len() && fragment_start + fragments[position].physical_rows <= at {
                fragment_start += fragments[position].physical_rows;
                position += 1;
            }
            let Some(fragment) = fragments.get(position) else {
                break;
            };
            let start = at - fragment_start;
            sampled.push((position, start..(start + BLOCK_ROWS).min(fragment.physical_rows)));
        }
        sampled
    }
}
