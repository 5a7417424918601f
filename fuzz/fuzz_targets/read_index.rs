//! Feeds arbitrary bytes to the vector index readers. Small datasets with
//! one index each (IVF_FLAT, IVF_PQ 8-bit and 4-bit, IVF_SQ, IVF_HNSW_SQ)
//! are built once in memory; each input picks a dataset and one of its
//! index files, damages it (replaced by the input, bytes flipped, or cut),
//! and searches through the index. An answer, or a typed error naming an
//! index file, is fine; a panic or an internal error is a bug.
#![no_main]

use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use libfuzzer_sys::fuzz_target;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, memory::InMemory, path::Path};
use pilum_table::{
    BatchStream, Dataset, DatasetLocation, IndexType, Progress, TableError, VectorIndexParams, VectorQuery,
    WriteMode, WriteParams,
};
use std::sync::{Arc, OnceLock};

const DIM: usize = 8;
const ROWS: usize = 600;

/// A dataset's files: path and bytes.
type Files = Vec<(Path, bytes::Bytes)>;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn rows() -> RecordBatch {
    let values: Vec<f32> = (0..ROWS * DIM)
        .map(|i| (((i / DIM) % 7) as f32) + ((i * 31 % 97) as f32) / 97.0)
        .collect();
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let emb = FixedSizeListArray::new(item.clone(), DIM as i32, Arc::new(Float32Array::from(values)), None);
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("emb", DataType::FixedSizeList(item, DIM as i32), true),
    ]);
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..ROWS as i64));
    RecordBatch::try_new(Arc::new(schema), vec![ids, Arc::new(emb)]).unwrap_or_else(|e| panic!("batch: {e}"))
}

/// The files of one indexed dataset per kind, built on first use.
fn templates() -> &'static Vec<Files> {
    static TEMPLATES: OnceLock<Vec<Files>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let kinds = [
            (IndexType::IvfFlat, 8),
            (IndexType::IvfPq, 8),
            (IndexType::IvfPq, 4),
            (IndexType::IvfSq, 8),
            (IndexType::IvfHnswSq, 8),
        ];
        runtime().block_on(async {
            let mut out = Vec::new();
            for (kind, num_bits) in kinds {
                let store = Arc::new(InMemory::new());
                let location = DatasetLocation::in_store(store.clone(), "ds");
                let batch = rows();
                let stream: BatchStream = Box::pin(futures::stream::iter(vec![Ok(batch.clone())]));
                let mut ds = Dataset::write(location, batch.schema(), stream, WriteMode::Create, &WriteParams::default())
                    .await
                    .unwrap_or_else(|e| panic!("write: {e}"));
                let params = VectorIndexParams {
                    num_partitions: Some(3),
                    num_sub_vectors: (kind == IndexType::IvfPq).then_some(3),
                    num_bits,
                    ..VectorIndexParams::new("emb", kind)
                };
                ds.create_index(&params, &Progress::none())
                    .await
                    .unwrap_or_else(|e| panic!("index: {e}"));
                let mut files = Files::new();
                for meta in list_all(&store).await {
                    let bytes = store.get(&meta).await.unwrap_or_else(|e| panic!("get: {e}"));
                    files.push((meta, bytes.bytes().await.unwrap_or_else(|e| panic!("bytes: {e}"))));
                }
                out.push(files);
            }
            out
        })
    })
}

/// Every object of an in-memory store.
async fn list_all(store: &InMemory) -> Vec<Path> {
    use futures::TryStreamExt;
    store
        .list(None)
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("list: {e}"))
}

fuzz_target!(|data: &[u8]| {
    let [pick, file_pick, mode, rest @ ..] = data else { return };
    let templates = templates();
    let files = &templates[*pick as usize % templates.len()];
    let index_files: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].0.as_ref().contains("_indices/"))
        .collect();
    let Some(&target) = index_files.get(*file_pick as usize % index_files.len().max(1)) else { return };
    let original = &files[target].1;
    let damaged: Vec<u8> = match mode % 3 {
        0 => rest.to_vec(),
        1 => {
            let mut bytes = original.to_vec();
            for pair in rest.chunks_exact(3) {
                let at = u16::from_le_bytes([pair[0], pair[1]]) as usize;
                if let Some(b) = bytes.get_mut(at % original.len().max(1)) {
                    *b ^= pair[2];
                }
            }
            bytes
        }
        _ => {
            let keep = rest.first().map_or(0, |&b| b as usize * original.len() / 256);
            original[..keep].to_vec()
        }
    };
    runtime().block_on(async {
        let store = Arc::new(InMemory::new());
        for (i, (path, bytes)) in files.iter().enumerate() {
            let payload = if i == target {
                PutPayload::from(bytes::Bytes::from(damaged.clone()))
            } else {
                PutPayload::from(bytes.clone())
            };
            if store.put(path, payload).await.is_err() {
                return;
            }
        }
        let ds = match Dataset::open_location(DatasetLocation::in_store(store, "ds")).await {
            Ok(ds) => ds,
            Err(e) => return check(&e),
        };
        for probe in [0usize, 17, 301] {
            let q: Vec<f32> = (0..DIM).map(|d| ((probe + d) % 7) as f32 + 0.5).collect();
            let query = VectorQuery {
                nprobes: Some(3),
                ..VectorQuery::new("emb", q, 5)
            };
            if let Err(e) = ds.nearest(&query, None, false, Some(&["id"])).await {
                return check(&e);
            }
        }
    });
});

/// Fails the run on an error that is not a verdict on the damaged bytes.
fn check(error: &TableError) {
    if let TableError::Internal { .. } = error {
        panic!("internal error on a damaged index file: {error}");
    }
}
