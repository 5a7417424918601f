//! Scans: projection, SQL filter, limit/offset pushdown, row ids and
//! addresses, late materialization, streaming output, and scalar indices
//! narrowing a filter to candidate rows (`indexed`).

mod indexed;
mod rows;
mod select;

use rows::{Kept, apply_mask, assemble, finish, live_mask};

use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::expr::CompiledExpr;
use crate::fragment::FragmentReader;
use crate::manifest::fragment_live_rows;
use crate::predicate::Predicate;
use crate::proto;
use crate::scan_tasks::{Task, TaskList, cut_span, spawned};
use crate::schema::{TableSchema, value_bytes};
use crate::search::IndexedRows;
use crate::write::BatchStream;
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::sync::Arc;

/// Name of the stable row id column.
pub const ROW_ID: &str = "_rowid";
/// Name of the row address column: fragment id << 32 | offset in the fragment.
pub const ROW_ADDRESS: &str = "_rowaddr";

/// When a filtered scan reads the non-filter columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Materialization {
    /// Decide per batch from the filter's selectivity.
    #[default]
    Auto,
    /// Read every column for every row, then filter.
    Early,
    /// Read the filter columns, then fetch the other columns of matching rows only.
    Late,
}

/// A scan being configured; run it with [`try_into_stream`](Self::try_into_stream).
#[derive(Debug, Clone)]
pub struct Scanner {
    dataset: Dataset,
    columns: Option<Vec<String>>,
    filter: Option<Predicate>,
    limit: Option<u64>,
    offset: u64,
    with_row_id: bool,
    with_row_address: bool,
    batch_size: usize,
    fragments: Option<Vec<u64>>,
    materialization: Materialization,
    parallelism: usize,
    string_views: bool,
    use_scalar_index: bool,
}

/// Scans of few rows are split into tasks no smaller than this, so that
/// small tables of wide rows (documents, vectors) still decode on every core.
const MIN_TASK_ROWS: u64 = 1024;

/// Scans of fewer batch-sized tasks than this many times the parallelism
/// split their rows into a whole number of rounds of tasks.
const BALANCED_ROUNDS: u64 = 8;

/// Decoded bytes a scan task aims for at most: a batch of 8,192 documents is
/// tens of MiB, allocated fresh from the OS (and page-faulted in) for every
/// batch, where batches of a few MiB reuse the allocator's memory. On a
/// documentation corpus (5.8 KB rows), 1,024-row batches scan in half the
/// time of 8,192-row ones.
const TASK_BYTES: usize = 8 << 20;

/// Tasks sized by [`TASK_BYTES`] keep at least this many rows.
const MIN_BYTE_TASK_ROWS: u64 = 64;

/// Below this fraction of matching rows (1 / N) a batch's remaining columns
/// may be fetched by position instead of read whole.
const LATE_MATERIALIZE_BELOW: usize = 20;

/// Blocks of at most this many rows are wide rows (2 KB and more): fetching
/// one by position decodes about what reading it in order does, so late
/// materialization pays whenever it leaves half the blocks untouched, however
/// many rows match (a clustered 7% of 6 KB documents: 55 → 6 ms).
const WIDE_BLOCK_ROWS: usize = 4;

/// Raw bytes of a chunk the file writer aims for (`PlanOptions::target_chunk_bytes`).
const CHUNK_BYTES: usize = 8 * 1024;

/// Most rows a chunk is assumed to hold.
const MAX_CHUNK_ROWS: usize = 1024;

/// Assumed bytes of one variable-width value.
const VARIABLE_VALUE_BYTES: usize = 256;

/// Rows in a chunk of the widest column of `schema`: about what fetching
/// one row by position decodes. Wide rows (embeddings, text) make small
/// chunks, so fetching a few rows skips most of the bytes; narrow ones
/// make chunks of ~1,000 rows that a spread-out fetch decodes whole.
fn chunk_rows(schema: &Schema) -> usize {
    let widest = schema
        .fields()
        .iter()
        .map(|f| value_bytes(f.data_type(), VARIABLE_VALUE_BYTES))
        .max()
        .unwrap_or(1);
    (CHUNK_BYTES / widest.max(1)).clamp(1, MAX_CHUNK_ROWS)
}

/// Whether fetching the rows `mask` keeps by position (late materialization)
/// saves work over reading the whole range: only when the matches are rare
/// (or the rows wide, see [`WIDE_BLOCK_ROWS`]) *and* leave at least half of
/// the chunk-sized blocks (`block_rows`) untouched. Matches spread evenly
/// over narrow columns (1% of rows, one in every 1,000-row chunk) make the
/// fetch decode every chunk anyway, at a higher cost per row than a plain read.
fn late_pays(mask: &BooleanArray, count: usize, live: usize, block_rows: usize) -> bool {
    if count * LATE_MATERIALIZE_BELOW >= live && block_rows > WIDE_BLOCK_ROWS {
        return false;
    }
    let bits = mask.values();
    let block_rows = block_rows.max(1);
    let blocks = bits.len().div_ceil(block_rows);
    let touched = (0..blocks)
        .filter(|b| {
            let start = b * block_rows;
            bits.slice(start, block_rows.min(bits.len() - start)).count_set_bits() > 0
        })
        .count();
    touched * 2 <= blocks
}

/// Rows per task of a scan of `total` rows: the batch size, or less when
/// the rows hold fewer batches than the scan reads concurrently
/// (`parallelism`), so every core gets work (never below
/// [`MIN_TASK_ROWS`]); and no more than about [`TASK_BYTES`] of decoded
/// rows when `row_bytes` (decoded bytes per row) is known.
fn task_rows(total: u64, batch: u64, parallelism: u64, row_bytes: Option<f64>) -> u64 {
    let tasks = total.div_ceil(batch).max(parallelism);
    // A short scan's tasks come in whole rounds of `parallelism`: of five
    // batch-sized tasks on two cores, the last runs alone; eight smaller
    // ones keep both cores busy to the end.
    let rows = if tasks < BALANCED_ROUNDS * parallelism {
        total
            .div_ceil(tasks.next_multiple_of(parallelism))
            .clamp(MIN_TASK_ROWS.min(batch), batch)
    } else {
        batch
    };
    match row_bytes.filter(|b| *b >= 1.0) {
        Some(bytes) => rows.min(((TASK_BYTES as f64 / bytes) as u64).max(MIN_BYTE_TASK_ROWS)),
        None => rows,
    }
}

impl Scanner {
    pub(crate) fn new(dataset: Dataset) -> Self {
        let cores = pilum_file::cores();
        Self {
            dataset,
            columns: None,
            filter: None,
            limit: None,
            offset: 0,
            with_row_id: false,
            with_row_address: false,
            batch_size: 8192,
            fragments: None,
            materialization: Materialization::Auto,
            parallelism: 2 * cores,
            string_views: false,
            use_scalar_index: true,
        }
    }

    /// Reads only these top-level columns, in this order.
    pub fn project<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.columns = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Keeps rows for which the predicate (SQL text or a DataFusion
    /// expression) is true.
    pub fn filter(mut self, predicate: impl Into<Predicate>) -> Self {
        self.filter = Some(predicate.into());
        self
    }

    /// Returns at most `limit` rows after skipping `offset` rows.
    pub fn limit(mut self, limit: Option<u64>, offset: Option<u64>) -> Self {
        self.limit = limit;
        self.offset = offset.unwrap_or(0);
        self
    }

    /// Adds the `_rowid` column.
    pub fn with_row_id(mut self, yes: bool) -> Self {
        self.with_row_id = yes;
        self
    }

    /// Adds the `_rowaddr` column.
    pub fn with_row_address(mut self, yes: bool) -> Self {
        self.with_row_address = yes;
        self
    }

    /// Rows per output batch at most.
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    /// Scans only these fragments, in this order.
    pub fn with_fragments(mut self, ids: impl IntoIterator<Item = u64>) -> Self {
        self.fragments = Some(ids.into_iter().collect());
        self
    }

    /// Chooses early or late materialization (default: per batch).
    pub fn materialization(mut self, style: Materialization) -> Self {
        self.materialization = style;
        self
    }

    /// Batches read concurrently.
    pub fn parallelism(mut self, batches: usize) -> Self {
        self.parallelism = batches.max(1);
        self
    }

    /// Returns top-level string and binary columns as `Utf8View` /
    /// `BinaryView` arrays over the decoded bytes (see [`view_type`](crate::view_type));
    /// filters then see the view types too.
    pub fn string_views(mut self, yes: bool) -> Self {
        self.string_views = yes;
        self
    }

    /// Whether scalar indices (BTREE, BITMAP, LABEL_LIST, NGRAM, ZONEMAP)
    /// narrow the filter's rows (default true; the result is the same).
    pub fn use_scalar_index(mut self, yes: bool) -> Self {
        self.use_scalar_index = yes;
        self
    }

    /// The table's columns as this scan returns them.
    fn table_schema(&self) -> TableSchema {
        let schema = &self.dataset.manifest.schema;
        if self.string_views {
            schema.with_view_types()
        } else {
            schema.clone()
        }
    }

    fn projection(&self) -> Result<TableSchema> {
        let schema = self.table_schema();
        match &self.columns {
            Some(columns) => schema.project(columns),
            None => Ok(schema),
        }
    }

    /// The schema of the batches the scan returns.
    pub fn output_schema(&self) -> Result<SchemaRef> {
        Ok(output_schema(
            &self.projection()?,
            self.with_row_id,
            self.with_row_address,
        ))
    }

    /// Runs the scan as a stream of batches.
    pub async fn try_into_stream(self) -> Result<BatchStream> {
        let mut plan = self.plan()?;
        let mut selected = self
            .selected_fragments(plan.filter.as_ref().map(|f| f.logical()), &plan.filter_schema)
            .await?;
        let row_bytes = self.size_from_sample(&mut plan, selected.first()).await?;
        if let (true, Some(filter)) = (self.use_scalar_index, &plan.filter) {
            plan.indexed = self.dataset.indexed_rows(filter.logical(), &selected).await?;
        }
        if let Some(indexed) = &plan.indexed {
            selected.retain(|f| indexed.get(&f.id).is_none_or(|c| !c.offsets.is_empty()));
        }
        let plan = Arc::new(plan);
        let step = self.task_rows(&selected, row_bytes);
        let mut tasks = self.tasks(selected);
        if let Some(indexed) = &plan.indexed {
            indexed::narrow_spans(&mut tasks.spans, indexed);
        }
        let mut skip = tasks.offset_left;
        let mut left = self.limit.unwrap_or(u64::MAX);
        let batch_size = self.batch_size;
        // Fragments are opened to be cut (their pages) a few at a time, in
        // order: on object stores, the first scan of many small fragments
        // would otherwise wait for one footer after another.
        let stream = stream::iter(tasks.spans)
            .map({
                let plan = plan.clone();
                let dataset = self.dataset.clone();
                move |span| {
                    let (plan, dataset) = (plan.clone(), dataset.clone());
                    let step = indexed::span_step(&plan, &span, step);
                    async move { cut_span(&dataset, &plan.projection, span, step).await }
                }
            })
            .buffered(self.parallelism)
            .map_ok(|tasks| stream::iter(tasks).map(Ok::<Task, TableError>))
            .try_flatten()
            .map({
                let plan = plan.clone();
                let dataset = self.dataset.clone();
                move |task| {
                    let (plan, dataset) = (plan.clone(), dataset.clone());
                    async move {
                        let task = task?;
                        let what = format!("scan task of fragment {}, rows {:?}", task.fragment.id, task.rows);
                        spawned(&what, run_task(dataset, plan, task)).await
                    }
                }
            })
            .buffered(self.parallelism)
            .map_ok(move |batch| crate::scan_tasks::split_batch(batch, batch_size))
            .try_flatten()
            .try_filter(|batch| futures::future::ready(batch.num_rows() > 0))
            .scan((), move |_, item| {
                let out = match item {
                    _ if left == 0 => None,
                    Err(e) => Some(Err(e)),
                    Ok(batch) => {
                        let rows = batch.num_rows() as u64;
                        let from = skip.min(rows);
                        skip -= from;
                        let count = (rows - from).min(left);
                        left -= count;
                        Some(Ok(batch.slice(from as usize, count as usize)))
                    }
                };
                futures::future::ready(out)
            })
            .try_filter(|batch| futures::future::ready(batch.num_rows() > 0));
        Ok(stream.boxed())
    }

    /// Runs the scan into one batch.
    pub async fn try_into_batch(self) -> Result<RecordBatch> {
        let schema = self.output_schema()?;
        let batches: Vec<RecordBatch> = self.try_into_stream().await?.try_collect().await?;
        Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
    }

    /// Counts matching rows (from metadata alone without a filter).
    pub async fn count_rows(self) -> Result<u64> {
        if self.filter.is_none() && self.fragments.is_none() {
            let live = self.dataset.manifest.live_rows().saturating_sub(self.offset);
            return Ok(self.limit.map_or(live, |l| l.min(live)));
        }
        let scan = Scanner {
            columns: Some(Vec::new()),
            with_row_id: false,
            with_row_address: false,
            ..self
        };
        let mut stream = scan.try_into_stream().await?;
        let mut total = 0;
        while let Some(batch) = stream.try_next().await? {
            total += batch.num_rows() as u64;
        }
        Ok(total)
    }

    fn plan(&self) -> Result<ScanPlan> {
        let projection = self.projection()?;
        let schema = &self.table_schema();
        let filter = match &self.filter {
            Some(predicate) => Some(predicate.compile(schema.arrow())?),
            None => None,
        };
        let filter_columns = filter.as_ref().map(|f| f.columns()).unwrap_or_default();
        let rest: Vec<String> = projection
            .arrow()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|name| !filter_columns.contains(name))
            .collect();
        let rest_schema = schema.project(&rest)?;
        Ok(ScanPlan {
            rest_chunk_rows: chunk_rows(rest_schema.arrow()),
            output: output_schema(&projection, self.with_row_id, self.with_row_address),
            filter_schema: schema.project(&filter_columns)?,
            rest_schema,
            projection,
            filter,
            with_row_id: self.with_row_id,
            with_row_address: self.with_row_address,
            materialization: self.materialization,
            indexed: None,
        })
    }

    /// The rows of each selected fragment to read, skipping whole fragments
    /// (or leading rows) covered by the offset when no filter needs to see
    /// them, and stopping once the limit is covered.
    fn tasks(&self, selected: Vec<Arc<proto::Fragment>>) -> TaskList {
        let pushdown = self.filter.is_none();
        let mut offset_left = self.offset;
        let wanted = self.limit.map(|l| l.saturating_add(self.offset));
        let mut covered = 0u64;
        let mut spans = Vec::new();
        for fragment in selected {
            if pushdown && wanted.is_some_and(|w| covered >= w) {
                break;
            }
            let live = fragment_live_rows(&fragment);
            let mut start = 0;
            if pushdown && offset_left > 0 {
                if offset_left >= live {
                    offset_left -= live;
                    continue;
                }
                if fragment.deletion.is_none() {
                    start = offset_left;
                    offset_left = 0;
                }
            }
            covered += live - start;
            if start < fragment.physical_rows {
                let rows = start..fragment.physical_rows;
                spans.push(Task { fragment, rows });
            }
        }
        TaskList { spans, offset_left }
    }

    /// Rows per task for the selected fragments; see [`task_rows`].
    fn task_rows(&self, fragments: &[Arc<proto::Fragment>], row_bytes: Option<f64>) -> u64 {
        let total: u64 = fragments.iter().map(|f| f.physical_rows).sum();
        let rows = task_rows(total, self.batch_size as u64, self.parallelism as u64, row_bytes);
        if self.dataset.location.read_options.remote {
            crate::scan_tasks::remote_task_rows(rows, row_bytes)
        } else {
            rows
        }
    }

    /// The first selected fragment, opened when it has rows: the sample
    /// whose recorded sizes stand for the scan's.
    async fn sample_fragment(&self, first: Option<&Arc<proto::Fragment>>) -> Result<Option<FragmentReader>> {
        let Some(first) = first.filter(|f| f.physical_rows > 0) else {
            return Ok(None);
        };
        let reader = FragmentReader::open(&self.dataset.location, &self.dataset.cache, first.clone()).await?;
        Ok(Some(reader))
    }

    async fn size_from_sample(&self, plan: &mut ScanPlan, first: Option<&Arc<proto::Fragment>>) -> Result<Option<f64>> {
        let Some(sample) = self.sample_fragment(first).await? else {
            return Ok(None);
        };
        if plan.filter.is_none() {
            return sample.value_bytes_per_row(&plan.rest_schema);
        }
        if let Some(widest) = sample.widest_value_bytes(&plan.rest_schema)?.filter(|b| *b >= 1.0) {
            let measured = ((CHUNK_BYTES as f64 / widest) as usize).clamp(1, MAX_CHUNK_ROWS);
            plan.rest_chunk_rows = plan.rest_chunk_rows.min(measured);
        }
        Ok(None)
    }
}

struct ScanPlan {
    projection: TableSchema,
    filter: Option<CompiledExpr>,
    filter_schema: TableSchema,
    rest_schema: TableSchema,
    /// Rows in a chunk of the widest non-filter column (see [`late_pays`]).
    rest_chunk_rows: usize,
    output: SchemaRef,
    with_row_id: bool,
    with_row_address: bool,
    materialization: Materialization,
    /// Candidate rows from scalar indices, by fragment.
    indexed: Option<IndexedRows>,
}

fn output_schema(projection: &TableSchema, with_row_id: bool, with_row_address: bool) -> SchemaRef {
    let mut fields: Vec<Field> = projection.arrow().fields().iter().map(|f| f.as_ref().clone()).collect();
    if with_row_id {
        fields.push(Field::new(ROW_ID, DataType::UInt64, false));
    }
    if with_row_address {
        fields.push(Field::new(ROW_ADDRESS, DataType::UInt64, false));
    }
    Arc::new(Schema::new_with_metadata(fields, projection.arrow().metadata().clone()))
}

async fn run_task(dataset: Dataset, plan: Arc<ScanPlan>, task: Task) -> Result<RecordBatch> {
    let reader = FragmentReader::open(&dataset.location, &dataset.cache, task.fragment.clone()).await?;
    if let Some(candidates) = plan.indexed.as_ref().and_then(|i| i.get(&task.fragment.id)) {
        return indexed::run_candidates(&reader, &plan, &task, candidates).await;
    }
    let live = live_mask(reader.deletions(), &task.rows);
    let Some(filter) = &plan.filter else {
        let batch = reader.read_range(&plan.projection, task.rows.clone()).await?;
        let (batch, kept) = apply_mask(batch, live.as_ref(), &task.rows)?;
        return finish(&plan, &task, batch, &kept);
    };
    let filter_batch = reader.read_range(&plan.filter_schema, task.rows.clone()).await?;
    let (filter_batch, live_rows) = apply_mask(filter_batch, live.as_ref(), &task.rows)?;
    let matches = filter.mask(&filter_batch)?;
    // Null means "no match".
    let matches = match matches.nulls() {
        Some(_) => arrow_select::filter::prep_null_mask_filter(&matches),
        None => matches,
    };
    let count = matches.true_count();
    if count == 0 {
        return Ok(RecordBatch::new_empty(plan.output.clone()));
    }
    let (live_count, deletions) = (live_rows.len(), matches!(live_rows, Kept::Some(_)));
    let kept = Kept::Masked(Box::new(live_rows), matches.clone());
    let filter_batch = arrow_select::filter::filter_record_batch(&filter_batch, &matches)?;
    let rest = if plan.rest_schema.arrow().fields().is_empty() {
        None
    } else {
        let late = match plan.materialization {
            Materialization::Late => true,
            Materialization::Early => false,
            Materialization::Auto => late_pays(&matches, count, live_count, plan.rest_chunk_rows),
        };
        Some(if late {
            reader.take(&plan.rest_schema, &kept.offsets()).await?
        } else {
            let all = reader.read_range(&plan.rest_schema, task.rows.clone()).await?;
            let keep = if deletions {
                let mut keep = vec![false; all.num_rows()];
                for offset in kept.offsets() {
                    keep[(offset - task.rows.start) as usize] = true;
                }
                BooleanArray::from(keep)
            } else {
                // Without deletions the filter's rows are the range's rows.
                matches
            };
            arrow_select::filter::filter_record_batch(&all, &keep)?
        })
    };
    let batch = assemble(&plan, &filter_batch, rest.as_ref(), count)?;
    finish(&plan, &task, batch, &kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use roaring::RoaringBitmap;

    #[test]
    fn short_scans_split_into_whole_rounds_of_tasks() {
        // Five batches' worth on parallelism 4: eight tasks, not five.
        assert_eq!(task_rows(36_834, 8192, 4, None), 4605);
        // Fewer rows than a batch per reader: one round, at least 1,024 rows each.
        assert_eq!(task_rows(7_762, 8192, 4, None), 1941);
        assert_eq!(task_rows(2_000, 8192, 4, None), 1024);
        // Long scans keep whole batches.
        assert_eq!(task_rows(10_000_000, 8192, 4, None), 8192);
        // Wide rows are capped by bytes, tiny batch sizes by the batch.
        assert_eq!(task_rows(10_000_000, 8192, 4, Some(65_536.0)), 128);
        assert_eq!(task_rows(36_834, 100, 4, None), 100);
        for total in 1..20_000u64 {
            let rows = task_rows(total, 8192, 4, None);
            let tasks = total.div_ceil(rows);
            assert!((1..=8192).contains(&rows));
            assert!(
                rows < 1024 || total < 4 * 1024 || tasks % 4 == 0 || tasks >= 32,
                "{total}: {rows}"
            );
        }
    }

    #[test]
    fn live_mask_skips_ranges_without_deletions() {
        let deletions: RoaringBitmap = [3u32, 10].into_iter().collect();
        assert!(live_mask(&deletions, &(4..10)).is_none());
        let mask = live_mask(&deletions, &(2..5)).unwrap();
        assert_eq!(mask, BooleanArray::from(vec![true, false, true]));
        let _ = mask.len();
    }

    #[test]
    fn late_materialization_only_for_rare_clustered_matches() {
        let block = MAX_CHUNK_ROWS;
        let rows = 8 * block;
        let mask = |keep: &dyn Fn(usize) -> bool| BooleanArray::from((0..rows).map(keep).collect::<Vec<_>>());
        // 1% of rows, one every 100: every block touched.
        let spread = mask(&|i| i % 100 == 0);
        assert!(!late_pays(&spread, spread.true_count(), rows, block));
        // ...unless the chunks are a few wide rows each (embeddings).
        assert!(late_pays(&spread, spread.true_count(), rows, 4));
        // The same count in the first two blocks: six of eight untouched.
        let clustered = mask(&|i| i < 2 * block && i % 25 == 0);
        assert!(late_pays(&clustered, clustered.true_count(), rows, block));
        // Clustered but common: read whole.
        let common = mask(&|i| i < 2 * block);
        assert!(!late_pays(&common, common.true_count(), rows, block));
        // ...unless rows are wide: a quarter of the blocks is a quarter of the bytes.
        assert!(late_pays(&common, common.true_count(), rows, 1));
        // Wide rows matching in more than half the blocks: read whole.
        let most = mask(&|i| i % 3 != 0);
        assert!(!late_pays(&most, most.true_count(), rows, 1));
    }

    #[test]
    fn chunk_rows_follow_the_widest_column() {
        let field = |dt: DataType| Field::new("c", dt, true);
        let vector = DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), 768);
        let narrow = Schema::new(vec![field(DataType::Int64), field(DataType::Decimal128(15, 2))]);
        assert_eq!(chunk_rows(&narrow), 512);
        assert_eq!(chunk_rows(&Schema::new(vec![field(DataType::Int64), field(vector)])), 2);
        assert_eq!(chunk_rows(&Schema::new(vec![field(DataType::Utf8)])), 32);
        assert_eq!(chunk_rows(&Schema::empty()), MAX_CHUNK_ROWS);
    }
}
