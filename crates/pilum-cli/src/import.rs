//! `pilum import`: Parquet, CSV or JSON Lines into a dataset, streaming.

use crate::args::{Format, ImportArgs, Mode};
use crate::error::{CliError, Result};
use crate::inspect::done;
use crate::output::Style;
use crate::progress;
use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};
use indicatif::ProgressBar;
use pilum::{BatchStream, Dataset, DatasetLocation, TableError, WriteMode, WriteParams};
use serde_json::json;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

const BATCH_ROWS: usize = 8192;
/// CSV rows read to infer column types.
const CSV_INFER_ROWS: usize = 100_000;

type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

/// Runs `pilum import`.
pub async fn run(args: ImportArgs, style: Style, options: &HashMap<String, String>) -> Result<()> {
    let format = match args.format {
        Some(format) => format,
        None => format_of(&args.source)?,
    };
    let bar = progress::bar(style);
    let (schema, batches) = open_source(&args, format, &bar)?;
    let rows = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let stream = stream_batches(batches, rows.clone());
    let location = pilum::parse_uri_with_options(&args.uri, options).map_err(TableError::from)?;
    let location = DatasetLocation::from_store_location(location, &args.uri);
    let mode = match args.mode {
        Mode::Create => WriteMode::Create,
        Mode::Append => WriteMode::Append,
        Mode::Overwrite => WriteMode::Overwrite,
    };
    let mut params = WriteParams::default();
    if let Some(rows) = args.max_rows_per_file {
        params.max_rows_per_file = rows.max(1);
    }
    let dataset = Dataset::write(location, schema, stream, mode, &params).await;
    bar.finish_and_clear();
    let dataset = dataset?;
    let rows = rows.load(std::sync::atomic::Ordering::Relaxed);
    done(
        style,
        json!({"uri": dataset.uri(), "rows": rows, "version": dataset.version()}),
        &format!(
            "imported {rows} rows into {} (version {})",
            dataset.uri(),
            dataset.version()
        ),
    )
}

fn format_of(path: &Path) -> Result<Format> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_lowercase();
    match extension.as_str() {
        "parquet" | "pq" => Ok(Format::Parquet),
        "csv" | "tsv" => Ok(Format::Csv),
        "jsonl" | "ndjson" | "json" => Ok(Format::Jsonl),
        _ => Err(CliError::Usage(format!(
            "cannot tell the format of {}; pass --format parquet|csv|jsonl",
            path.display()
        ))),
    }
}

fn open_file(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| CliError::file(path, e))
}

/// The source's schema and a reader of its batches; the reader advances `bar`.
fn open_source(args: &ImportArgs, format: Format, bar: &ProgressBar) -> Result<(SchemaRef, Batches)> {
    let path = args.source.as_path();
    let size = open_file(path)?.metadata().map_err(|e| CliError::file(path, e))?.len();
    match format {
        Format::Parquet => {
            let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open_file(path)?)?;
            bar.set_length(builder.metadata().file_metadata().num_rows().max(0) as u64);
            let schema = builder.schema().clone();
            let bar = bar.clone();
            let reader = builder.with_batch_size(BATCH_ROWS).build()?.inspect(move |batch| {
                if let Ok(batch) = batch {
                    bar.inc(batch.num_rows() as u64);
                }
            });
            Ok((schema, Box::new(reader)))
        }
        Format::Csv => {
            let delimiter = u8::try_from(args.delimiter)
                .map_err(|_| CliError::Usage("the CSV delimiter must be one ASCII character".into()))?;
            let csv = arrow_csv::reader::Format::default()
                .with_header(!args.no_header)
                .with_delimiter(delimiter);
            let (schema, _) = csv.infer_schema(BufReader::new(open_file(path)?), Some(CSV_INFER_ROWS))?;
            let schema = Arc::new(schema);
            bar.set_length(size);
            let reader = arrow_csv::ReaderBuilder::new(schema.clone())
                .with_format(csv)
                .with_batch_size(BATCH_ROWS)
                .build(Counting::new(open_file(path)?, bar.clone()))?;
            Ok((schema, Box::new(reader)))
        }
        Format::Jsonl => {
            // Inferred over the whole file: the reader drops fields the schema lacks.
            let (schema, _) =
                arrow_json::reader::infer_json_schema_from_seekable(BufReader::new(open_file(path)?), None)?;
            let schema = Arc::new(schema);
            bar.set_length(size);
            let reader = arrow_json::ReaderBuilder::new(schema.clone())
                .with_batch_size(BATCH_ROWS)
                .build(BufReader::new(Counting::new(open_file(path)?, bar.clone())))?;
            Ok((schema, Box::new(reader)))
        }
    }
}

/// Reads `batches` on a blocking thread and streams them, counting rows.
fn stream_batches(batches: Batches, rows: Arc<std::sync::atomic::AtomicU64>) -> BatchStream {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<RecordBatch, TableError>>(4);
    tokio::task::spawn_blocking(move || {
        for batch in batches {
            let batch = batch.map_err(TableError::from);
            if let Ok(batch) = &batch {
                rows.fetch_add(batch.num_rows() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            if sender.blocking_send(batch).is_err() {
                break;
            }
        }
    });
    Box::pin(futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    }))
}

/// A reader that advances a progress bar by the bytes it reads.
struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R> Counting<R> {
    fn new(inner: R, bar: ProgressBar) -> Self {
        Self { inner, bar }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
