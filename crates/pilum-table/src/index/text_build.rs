//! Building an inverted index segment with bounded memory: one scan of the
//! column feeds a worker per core; each worker analyzes its documents into
//! its own accumulator and, past its share of the memory budget, writes a
//! sorted run to local disk. The runs are then merged term by term into
//! the postings file, so peak memory is the budget plus the document table
//! (12 bytes per document), whatever the corpus's size.

use super::text_files::{SpillDir, TextFiles, local, write_text_files};
use super::text_params::TextIndexParams;
use super::text_rows::{is_json_field, is_text_type, row_fields, row_texts, text_index_version};
use super::{IndexSegment, validate_name};
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::progress::Progress;
use crate::proto;
use crate::scanner::ROW_ID;
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, ArrayRef};
use futures::TryStreamExt;
use pilum_index::text::{Analyzer, InvertedAccumulator, MAX_DOC, RunReader};
use std::io::{BufReader, BufWriter, Cursor, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The least memory a worker's accumulator gets before it spills.
const MIN_WORKER_BUDGET: usize = 64 << 10;

/// Documents of one scan batch, for one worker.
struct Job {
    first_doc: u32,
    texts: ArrayRef,
    rows: Vec<u32>,
}

/// What a worker leaves: its runs and its documents' lengths.
struct WorkerOutput {
    runs: Vec<RunReader>,
    lengths: Vec<(u32, Vec<u32>)>,
}

/// Writes `acc`'s run to an unlinked file in `dir` and returns its reader.
fn spill_run(acc: &mut InvertedAccumulator, dir: &SpillDir) -> Result<RunReader> {
    let file = dir.file()?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    acc.write_run(&mut writer).map_err(|e| local(&dir.0, e))?;
    writer.flush().map_err(|e| local(&dir.0, e))?;
    let mut file = writer.into_inner().map_err(|e| local(&dir.0, e.into_error()))?;
    file.seek(SeekFrom::Start(0)).map_err(|e| local(&dir.0, e))?;
    Ok(RunReader::new(Box::new(BufReader::with_capacity(1 << 16, file))))
}

/// One worker: analyzes jobs until the channel closes, spilling a run
/// whenever its accumulator passes `budget` bytes.
fn work(
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    analyzer: Arc<Analyzer>,
    (positions, json): (bool, bool),
    budget: usize,
    dir: Arc<SpillDir>,
) -> Result<WorkerOutput> {
    let mut acc = InvertedAccumulator::new(positions);
    let mut out = WorkerOutput {
        runs: Vec::new(),
        lengths: Vec::new(),
    };
    loop {
        let job = {
            let mut receiver = jobs.lock().unwrap_or_else(|p| p.into_inner());
            receiver.blocking_recv()
        };
        let Some(job) = job else { break };
        let mut lengths = Vec::with_capacity(job.rows.len());
        for (i, &row) in job.rows.iter().enumerate() {
            let doc = job.first_doc + i as u32;
            let length = if json {
                let fields = row_fields(job.texts.as_ref(), row as usize, true);
                acc.add_fields(doc, fields.iter().map(|(q, t)| (q.as_str(), t.as_ref())), &analyzer)
            } else {
                acc.add_texts(doc, &row_texts(job.texts.as_ref(), row as usize), &analyzer)
            };
            lengths.push(length);
        }
        out.lengths.push((job.first_doc, lengths));
        if acc.memory() > budget {
            out.runs.push(spill_run(&mut acc, &dir)?);
        }
    }
    if !acc.is_empty() {
        let mut bytes = Vec::new();
        acc.write_run(&mut bytes).map_err(|e| local(&dir.0, e))?;
        out.runs.push(RunReader::new(Box::new(Cursor::new(bytes))));
    }
    Ok(out)
}

impl Dataset {
    /// Builds an inverted (full-text, BM25) index over the live rows of
    /// this version and commits it; fragments appended meanwhile stay
    /// uncovered and are searched exactly. Null values are skipped.
    pub async fn create_text_index(&mut self, params: &TextIndexParams, progress: &Progress) -> Result<()> {
        let (name, field_id) = self.text_build_target(params)?;
        let existing = self.replaced_segments(&name, params.replace)?;
        let fragments: Vec<u64> = self.all_fragments().await?.iter().map(|f| f.id).collect();
        let segment = self
            .build_text_segment(params, &name, field_id, fragments, progress)
            .await?;
        self.commit_new_index(name, segment, existing).await
    }

    /// The index name and field id a build of `params` writes, or why
    /// `params` cannot build on this version.
    pub(crate) fn text_build_target(&self, params: &TextIndexParams) -> Result<(String, i32)> {
        let name = params.resolved_name();
        validate_name(&name)?;
        let field_id = self.text_field(&params.column)?;
        Analyzer::new(params.analyzer.clone()).map_err(TableError::index)?;
        Ok((name, field_id))
    }

    /// The field id of a text column, or why it cannot hold an inverted index.
    pub(crate) fn text_field(&self, column: &str) -> Result<i32> {
        let field = self
            .schema()
            .field_with_name(column)
            .map_err(|_| TableError::ColumnNotFound {
                name: column.to_string(),
            })?;
        if !is_text_type(field.data_type()) {
            return Err(TableError::InvalidIndexParams {
                what: format!(
                    "an inverted index needs a string column, a list of strings or a struct with string fields; {column:?} is {}",
                    field.data_type()
                ),
            });
        }
        self.manifest.schema.field_id(column)
    }

    /// Builds (without committing) a segment over the live rows of
    /// `fragments`.
    pub(crate) async fn build_text_segment(
        &self,
        params: &TextIndexParams,
        name: &str,
        field_id: i32,
        fragments: Vec<u64>,
        progress: &Progress,
    ) -> Result<IndexSegment> {
        let analyzer = Arc::new(Analyzer::new(params.analyzer.clone()).map_err(TableError::index)?);
        let json = params
            .json
            .unwrap_or_else(|| self.schema().field_with_name(&params.column).is_ok_and(is_json_field));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let budget = (params.memory_limit / threads).max(MIN_WORKER_BUDGET);
        let dir = Arc::new(SpillDir::new()?);
        let (sender, receiver) = mpsc::channel::<Job>(threads * 2);
        let receiver = Arc::new(Mutex::new(receiver));
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (jobs, analyzer, dir) = (receiver.clone(), analyzer.clone(), dir.clone());
                let modes = (params.with_position, json);
                std::thread::spawn(move || work(jobs, analyzer, modes, budget, dir))
            })
            .collect();
        progress.report("analyzing", 0, 1);
        let fed = self.feed_text(&params.column, fragments.clone(), sender).await;
        let outputs = tokio::task::spawn_blocking(move || {
            workers
                .into_iter()
                .map(|w| {
                    w.join().unwrap_or_else(|_| {
                        Err(TableError::Internal {
                            what: "a text index build worker panicked".into(),
                        })
                    })
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| TableError::Internal { what: e.to_string() })?;
        let (row_ids, skipped) = fed?;
        let mut runs = Vec::new();
        let mut lengths = vec![0u32; row_ids.len()];
        for output in outputs {
            let output = output?;
            runs.extend(output.runs);
            for (first, part) in output.lengths {
                let start = first as usize;
                lengths[start..start + part.len()].copy_from_slice(&part);
            }
        }
        progress.report("analyzing", 1, 1);
        progress.report("writing", 0, 1);
        let uuid = crate::paths::random_id();
        let TextFiles { files, num_terms } =
            write_text_files(&self.location, &uuid, runs, params.with_position, row_ids, lengths, dir).await?;
        progress.report("writing", 1, 1);
        let mut details = super::text_params::details_of(params);
        details.num_docs = files.num_docs;
        details.total_terms = files.total_terms;
        details.num_terms = num_terms;
        details.skipped_rows = skipped;
        details.json = json;
        Ok(IndexSegment {
            message: proto::IndexSegment {
                uuid,
                name: name.to_string(),
                kind: proto::IndexKind::Inverted as i32,
                field_ids: vec![field_id],
                dataset_version: self.version(),
                fragment_bitmap: Vec::new(),
                index_version: text_index_version(json),
                created_at_micros: chrono::Utc::now().timestamp_micros(),
                num_entries: files.num_docs,
                base_id: 0,
                files: files.files,
                details: Some(proto::index_segment::Details::Text(details)),
            },
            fragments: fragments.iter().map(|&f| f as u32).collect(),
        })
    }

    /// Scans `column` of `fragments` and hands its non-null rows to the
    /// workers as numbered documents; returns their row ids (by document
    /// number) and the count of null rows.
    async fn feed_text(&self, column: &str, fragments: Vec<u64>, sender: mpsc::Sender<Job>) -> Result<(Vec<u64>, u64)> {
        let mut stream = self
            .scan()
            .project([column])
            .with_row_id(true)
            .with_fragments(fragments)
            .try_into_stream()
            .await?;
        let (mut row_ids, mut skipped) = (Vec::new(), 0u64);
        while let Some(batch) = stream.try_next().await? {
            let missing = |name: &str| TableError::Internal {
                what: format!("text index scan lacks column {name}"),
            };
            let texts = batch.column_by_name(column).ok_or_else(|| missing(column))?.clone();
            let ids = batch
                .column_by_name(ROW_ID)
                .ok_or_else(|| missing(ROW_ID))?
                .as_primitive::<UInt64Type>()
                .clone();
            let first_doc = u32::try_from(row_ids.len())
                .ok()
                .filter(|&d| d <= MAX_DOC)
                .ok_or_else(|| TableError::InvalidIndexParams {
                    what: "an inverted index segment holds at most 4,294,967,167 documents".into(),
                })?;
            let mut rows = Vec::with_capacity(texts.len());
            for row in 0..texts.len() {
                if texts.is_null(row) {
                    skipped += 1;
                } else {
                    rows.push(row as u32);
                    row_ids.push(ids.value(row));
                }
            }
            if rows.is_empty() {
                continue;
            }
            if sender.send(Job { first_doc, texts, rows }).await.is_err() {
                // A worker stopped early: its error is reported at join.
                break;
            }
        }
        Ok((row_ids, skipped))
    }
}
