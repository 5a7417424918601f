//! Shared data generation and Parquet helpers for the side-by-side benchmarks.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod tpch;

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder};
use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, LargeBinaryArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per generated batch.
pub const BATCH_ROWS: usize = 10_000;

/// Rows in the main table (`PILUM_BENCH_ROWS`, default 1,000,000).
pub fn table_rows() -> usize {
    std::env::var("PILUM_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Rows in the blob table (`PILUM_BENCH_BLOB_ROWS`, default 2,000 × ~100 KB).
pub fn blob_rows() -> usize {
    std::env::var("PILUM_BENCH_BLOB_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Where benchmark files live (`PILUM_BENCH_DIR`, default `target/bench-data`).
/// `count` pseudo-random row positions below `rows` (xorshift from `state`,
/// which advances, so successive calls draw new positions).
pub fn random_rows(state: &mut u64, count: usize, rows: u64) -> Vec<u64> {
    (0..count)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            *state % rows.max(1)
        })
        .collect()
}

pub fn data_dir() -> PathBuf {
    let dir = std::env::var("PILUM_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const WORDS: [&str; 32] = [
    "the",
    "model",
    "image",
    "of",
    "a",
    "dog",
    "running",
    "on",
    "beach",
    "sunset",
    "city",
    "street",
    "night",
    "red",
    "car",
    "parked",
    "near",
    "old",
    "building",
    "with",
    "people",
    "walking",
    "under",
    "rain",
    "bright",
    "lights",
    "mountain",
    "lake",
    "reflection",
    "forest",
    "trail",
    "snow",
];

/// The main table's schema: id, float, low-cardinality int, ~200-byte text, 128-d vector.
pub fn table_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("score", DataType::Float64, false),
        Field::new("category", DataType::Int32, false),
        Field::new("text", DataType::Utf8, false),
        Field::new(
            "vector",
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), 128),
            false,
        ),
    ]))
}

/// Batch `index` of the main table (deterministic).
pub fn table_batch(index: usize, rows: usize) -> RecordBatch {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (index as u64 + 1));
    let start = index * BATCH_ROWS;
    let id = Int64Array::from_iter_values((start..start + rows).map(|i| i as i64));
    let score = Float64Array::from_iter_values((0..rows).map(|_| rng.next() as f64 / u64::MAX as f64));
    let category = Int32Array::from_iter_values((0..rows).map(|_| (rng.next() % 100) as i32));
    let text = StringArray::from_iter_values((0..rows).map(|_| {
        let mut s = String::with_capacity(220);
        while s.len() < 200 {
            s.push_str(WORDS[(rng.next() % 32) as usize]);
            s.push(' ');
        }
        s
    }));
    let mut vector = FixedSizeListBuilder::new(Float32Builder::with_capacity(rows * 128), 128);
    for _ in 0..rows {
        for _ in 0..128 {
            vector
                .values()
                .append_value((rng.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5);
        }
        vector.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id),
        Arc::new(score),
        Arc::new(category),
        Arc::new(text),
        Arc::new(vector.finish()),
    ];
    RecordBatch::try_new(table_schema(), columns).unwrap()
}

/// All batches of the main table.
pub fn table_batches() -> Vec<RecordBatch> {
    let rows = table_rows();
    (0..rows.div_ceil(BATCH_ROWS))
        .map(|i| table_batch(i, BATCH_ROWS.min(rows - i * BATCH_ROWS)))
        .collect()
}

/// The blob table: id and a ~100 KB blob per row.
pub fn blob_schema() -> SchemaRef {
    let blob = Field::new("blob", DataType::LargeBinary, false)
        .with_metadata(HashMap::from([("pilum:blob".to_string(), "true".to_string())]));
    Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), blob]))
}

/// Batches of the blob table (100 rows each).
pub fn blob_batches() -> Vec<RecordBatch> {
    let mut rng = Rng(77);
    let rows = blob_rows();
    (0..rows.div_ceil(100))
        .map(|b| {
            let n = 100.min(rows - b * 100);
            let ids = Int64Array::from_iter_values((b * 100..b * 100 + n).map(|i| i as i64));
            let blobs = LargeBinaryArray::from_iter_values((0..n).map(|_| {
                let size = 90_000 + (rng.next() % 20_000) as usize;
                (0..size).map(|_| rng.next() as u8).collect::<Vec<u8>>()
            }));
            RecordBatch::try_new(blob_schema(), vec![Arc::new(ids), Arc::new(blobs)]).unwrap()
        })
        .collect()
}

/// Scans `columns` (all when `None`) of a Pilum file; returns rows read.
pub fn scan_pilum(rt: &tokio::runtime::Runtime, reader: &pilum::FileReader, columns: Option<Vec<String>>) -> usize {
    use futures::TryStreamExt;
    rt.block_on(async {
        let read = pilum::ReadOptions {
            columns,
            ..Default::default()
        };
        let stream = reader
            .scan(pilum::ScanOptions {
                read,
                ..Default::default()
            })
            .unwrap();
        stream
            .try_fold(0usize, |n, b| async move { Ok(n + b.num_rows()) })
            .await
            .unwrap()
    })
}

/// Parquet writer settings compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParquetFlavor {
    /// arrow-rs defaults (`WriterProperties::default()`: dictionary on, no compression).
    Default,
    /// The defaults plus Snappy compression.
    Snappy,
    /// The defaults plus zstd compression at level [`ZSTD_LEVEL`].
    Zstd,
    /// Small pages (1,000 rows) and the page index, for selective reads (uncompressed).
    Tuned,
}

/// The zstd level of [`ParquetFlavor::Zstd`] (zstd's own default level).
pub const ZSTD_LEVEL: i32 = 3;

impl ParquetFlavor {
    /// Every flavor with its benchmark id, in report order.
    pub const ALL: [(ParquetFlavor, &'static str); 4] = [
        (ParquetFlavor::Default, "parquet_default"),
        (ParquetFlavor::Snappy, "parquet_snappy"),
        (ParquetFlavor::Zstd, "parquet_zstd3"),
        (ParquetFlavor::Tuned, "parquet_tuned"),
    ];

    /// The benchmark id of this flavor (criterion function name, size row).
    pub fn id(self) -> &'static str {
        Self::ALL.iter().find(|(f, _)| *f == self).map(|(_, id)| *id).unwrap()
    }

    /// Writer properties of this flavor.
    pub fn properties(self) -> WriterProperties {
        match self {
            ParquetFlavor::Default => WriterProperties::builder().build(),
            ParquetFlavor::Snappy => WriterProperties::builder().set_compression(Compression::SNAPPY).build(),
            ParquetFlavor::Zstd => WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL).unwrap()))
                .build(),
            ParquetFlavor::Tuned => WriterProperties::builder()
                .set_data_page_row_count_limit(1_000)
                .set_write_batch_size(1_000)
                .set_data_page_size_limit(64 * 1024)
                .build(),
        }
    }

    /// Reader options of this flavor.
    pub fn reader_options(self) -> ArrowReaderOptions {
        match self {
            ParquetFlavor::Default | ParquetFlavor::Snappy | ParquetFlavor::Zstd => ArrowReaderOptions::new(),
            ParquetFlavor::Tuned => {
                ArrowReaderOptions::new().with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required)
            }
        }
    }
}

/// Writes `batches` to a Parquet file; returns its size.
pub fn write_parquet(path: &Path, schema: SchemaRef, batches: &[RecordBatch], flavor: ParquetFlavor) -> u64 {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, schema, Some(flavor.properties())).unwrap();
    for b in batches {
        writer.write(b).unwrap();
    }
    writer.close().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// A Parquet file opened once, metadata cached, like a query engine would.
pub struct ParquetTable {
    path: PathBuf,
    metadata: ArrowReaderMetadata,
}

impl ParquetTable {
    /// Opens `path` and loads its metadata (and page index for the tuned flavor).
    pub fn open(path: &Path, flavor: ParquetFlavor) -> Self {
        let file = std::fs::File::open(path).unwrap();
        let metadata = ArrowReaderMetadata::load(&file, flavor.reader_options()).unwrap();
        Self {
            path: path.to_path_buf(),
            metadata,
        }
    }

    fn builder(&self) -> ParquetRecordBatchReaderBuilder<std::fs::File> {
        let file = std::fs::File::open(&self.path).unwrap();
        ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone())
    }

    /// Full or projected scan; returns rows read.
    pub fn scan(&self, columns: Option<&[usize]>) -> usize {
        let mut builder = self.builder().with_batch_size(8192);
        if let Some(cols) = columns {
            let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), cols.iter().copied());
            builder = builder.with_projection(mask);
        }
        builder.build().unwrap().map(|b| b.unwrap().num_rows()).sum()
    }

    /// Reads the rows at sorted `rows` with a row selection per row group.
    pub fn take(&self, rows: &[u64]) -> usize {
        let groups = self.metadata.metadata().row_groups();
        let mut total = 0;
        let mut first = 0u64;
        let mut at = 0usize;
        for (g, group) in groups.iter().enumerate() {
            let n = group.num_rows() as u64;
            let mut selectors = Vec::new();
            let mut cursor = first;
            while at < rows.len() && rows[at] < first + n {
                let r = rows[at];
                if r > cursor {
                    selectors.push(RowSelector::skip((r - cursor) as usize));
                }
                selectors.push(RowSelector::select(1));
                cursor = r + 1;
                at += 1;
            }
            if !selectors.is_empty() {
                let reader = self
                    .builder()
                    .with_row_groups(vec![g])
                    .with_row_selection(RowSelection::from(selectors))
                    .build()
                    .unwrap();
                total += reader.map(|b| b.unwrap().num_rows()).sum::<usize>();
            }
            first += n;
        }
        total
    }
}
