//! Request counts under the object-storage read policy: a take of many
//! random rows and a full scan cost a few large requests, not one per row.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use common::stream_of;
use futures::TryStreamExt;
use object_store::memory::InMemory;
use pilum_io::{CountingStore, ReadOptions};
use pilum_table::*;
use std::sync::Arc;

const ROWS: i64 = 50_000;
const DIM: i32 = 256;

/// Extra integer columns (`c1` = id * 1, ...): each a separate column whose
/// pages a scan must fetch.
const EXTRA: i64 = 6;

/// `id`, a 256-d f32 vector (1 KiB a row) whose every value is the id, and
/// [`EXTRA`] integer columns.
fn wide_batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let values: Vec<f32> = ids.clone().flat_map(|i| [i as f32; DIM as usize]).collect();
    let vec = FixedSizeListArray::try_new(item.clone(), DIM, Arc::new(Float32Array::from(values)), None).unwrap();
    let mut fields = vec![
        Field::new("id", DataType::Int64, false),
        Field::new("vec", DataType::FixedSizeList(item, DIM), true),
    ];
    let mut columns = vec![
        Arc::new(Int64Array::from_iter_values(ids.clone())) as ArrayRef,
        Arc::new(vec),
    ];
    for k in 1..=EXTRA {
        fields.push(Field::new(format!("c{k}"), DataType::Int64, false));
        columns.push(Arc::new(Int64Array::from_iter_values(ids.clone().map(|i| i * k))));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

async fn dataset(options: ReadOptions) -> (Arc<CountingStore>, Dataset) {
    let store = Arc::new(CountingStore::new(Arc::new(InMemory::new())));
    let location = DatasetLocation::in_store(store.clone(), "ds").with_read_options(options);
    let batches = (0..ROWS).step_by(10_000).map(|s| wide_batch(s..s + 10_000)).collect();
    let schema = wide_batch(0..1).schema();
    let ds = Dataset::write(
        location,
        schema,
        stream_of(batches),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    (store, ds)
}

/// 1,000 rows spread evenly (50 rows, 50 KiB of vectors, apart).
fn spread() -> Vec<u64> {
    (0..1000u64).map(|i| i * 50 + 7).collect()
}

async fn take_requests(options: ReadOptions) -> u64 {
    let (store, ds) = dataset(options).await;
    store.reset();
    let got = ds.take(&spread(), Some(&["id", "vec", "c2"])).await.unwrap();
    let ids: &Int64Array = got.column(0).as_any().downcast_ref().unwrap();
    let want: Vec<i64> = spread().iter().map(|&r| r as i64).collect();
    assert_eq!(ids.values().to_vec(), want);
    let vecs: &FixedSizeListArray = got.column(1).as_any().downcast_ref().unwrap();
    for (row, id) in want.iter().enumerate() {
        let v = vecs.value(row);
        let v: &Float32Array = v.as_any().downcast_ref().unwrap();
        assert!(v.values().iter().all(|&x| x == *id as f32), "row {row}");
    }
    store.counts().reads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_policy_coalesces_a_sparse_take() {
    let local = take_requests(ReadOptions::local()).await;
    let remote = take_requests(ReadOptions::object_store()).await;
    eprintln!("take: local {local}, remote {remote}");
    // Locally every vector row is its own request; over a network the
    // 50 MiB of vectors arrive in 8 MiB requests.
    assert!(local >= 1000, "local policy: {local} requests");
    assert!(remote <= 30, "object-store policy: {remote} requests");
}

async fn scan_requests(options: ReadOptions) -> pilum_io::IoCounts {
    let (store, ds) = dataset(options).await;
    store.reset();
    let batches: Vec<RecordBatch> = ds
        .scan()
        .batch_size(4096)
        .try_into_stream()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        batches.iter().all(|b| b.num_rows() <= 4096),
        "batches keep the batch size"
    );
    let got = arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap();
    assert_eq!(got.num_rows(), ROWS as usize);
    let ids: Vec<i64> = (0..got.num_rows())
        .map(|r| {
            let c3: &Int64Array = got.column_by_name("c3").unwrap().as_any().downcast_ref().unwrap();
            c3.value(r) / 3
        })
        .collect();
    assert_eq!(ids, (0..ROWS).collect::<Vec<_>>());
    store.counts()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_policy_scans_columns_in_shared_requests() {
    let local = scan_requests(ReadOptions::local()).await;
    let remote = scan_requests(ReadOptions::object_store()).await;
    eprintln!("scan: local {local:?}, remote {remote:?}");
    // Locally each scan task reads each of the 8 columns with its own
    // request; over a network a task's columns share requests.
    assert!(local.reads >= 40, "local policy: {local:?}");
    assert!(
        remote.reads * 2 <= local.reads,
        "object-store policy: {remote:?}, local: {local:?}"
    );
    assert!(
        remote.bytes_read / remote.reads.max(1) >= 2 << 20,
        "remote requests average at least 2 MiB: {remote:?}"
    );
}
