//! Dataset scans: parallel tasks, batches cut by decoded bytes, filters,
//! limits and row ids; run against the in-memory store and the local filesystem.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use pilum_table::*;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_tables_scan_in_parallel_tasks() {
    let t = TestLocation::new(Backend::Memory);
    let ds = create(&t.location, vec![batch(0..5000)], &WriteParams::default()).await;
    let batches: Vec<RecordBatch> = futures::TryStreamExt::try_collect(
        ds.scan()
            .project(["id"])
            .parallelism(4)
            .try_into_stream()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let sizes: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(sizes, vec![1250; 4]);
    let small_batches = ds
        .scan()
        .project(["id"])
        .parallelism(8)
        .batch_size(500)
        .try_into_stream()
        .await
        .unwrap();
    let sizes: Vec<usize> = futures::TryStreamExt::try_collect::<Vec<RecordBatch>>(small_batches)
        .await
        .unwrap()
        .iter()
        .map(RecordBatch::num_rows)
        .collect();
    assert_eq!(sizes, vec![500; 10], "a batch size below the floor is kept");
    assert_eq!(ids(&ds).await, (0..5000).collect::<Vec<_>>());
}

/// Tasks of wide rows (documents) hold about 8 MiB of decoded values, not a
/// full batch: 8 KB rows come back about 1,000 to a batch, complete and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_of_wide_rows_cut_batches_by_decoded_bytes() {
    let t = TestLocation::new(Backend::Memory);
    let rows = 3000usize;
    let text: arrow_array::StringArray = (0..rows).map(|i| Some(format!("{i:08}").repeat(1000))).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from_iter_values(0..rows as i64)), Arc::new(text)],
    )
    .unwrap();
    let schema = batch.schema();
    let ds = Dataset::write(
        t.location.clone(),
        schema,
        stream_of(vec![batch]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    let batches: Vec<RecordBatch> =
        futures::TryStreamExt::try_collect(ds.scan().parallelism(2).try_into_stream().await.unwrap())
            .await
            .unwrap();
    let sizes: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
    // 8,000 text bytes + a 4-byte offset + an 8-byte id per row: 8 MiB / 8,012 B = 1,047 rows.
    assert_eq!(sizes, vec![1047, 1047, 906], "8 KB rows: 8 MiB tasks");
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ids, (0..rows as i64).collect::<Vec<_>>());
    let narrow: Vec<RecordBatch> = futures::TryStreamExt::try_collect(
        ds.scan()
            .project(["id"])
            .parallelism(2)
            .try_into_stream()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(narrow.len(), 2, "narrow projections keep row-count tasks");
}

#[tokio::test]
async fn scanner_filters_limits_and_row_ids() {
    for_each_backend(|t| async move {
        let ds = create(&t.location, vec![batch(0..1000)], &small_files()).await;
        let even = ds
            .scan()
            .filter("id % 2 = 0 AND text LIKE 'row 1%'")
            .project(["id", "value"])
            .try_into_batch()
            .await
            .unwrap();
        let expected: Vec<i64> = (0..1000)
            .filter(|i| i % 2 == 0 && i.to_string().starts_with('1'))
            .collect();
        assert_eq!(column_i64(&even, "id"), expected);
        assert_eq!(
            column_i64(&even, "value"),
            expected.iter().map(|i| i * 10).collect::<Vec<_>>()
        );
        for style in [Materialization::Early, Materialization::Late, Materialization::Auto] {
            let rows = ds
                .scan()
                .filter("id >= 990")
                .materialization(style)
                .try_into_batch()
                .await
                .unwrap();
            assert_eq!(
                column_i64(&rows, "value"),
                (990..1000).map(|i| i * 10).collect::<Vec<_>>()
            );
            assert_eq!(
                rows.column_by_name("text").unwrap().as_string::<i32>().value(0),
                "row 990"
            );
        }
        let page = ds
            .scan()
            .project(["id"])
            .limit(Some(15), Some(195))
            .batch_size(7)
            .try_into_batch()
            .await
            .unwrap();
        assert_eq!(column_i64(&page, "id"), (195..210).collect::<Vec<_>>());
        let filtered_page = ds
            .scan()
            .filter("id % 3 = 0")
            .limit(Some(4), Some(2))
            .try_into_batch()
            .await
            .unwrap();
        assert_eq!(column_i64(&filtered_page, "id"), vec![6, 9, 12, 15]);
        let with_ids = ds
            .scan()
            .project(["id"])
            .with_row_id(true)
            .with_row_address(true)
            .try_into_batch()
            .await
            .unwrap();
        assert_eq!(column_u64(&with_ids, ROW_ID), (0..1000).collect::<Vec<u64>>());
        let addresses = column_u64(&with_ids, ROW_ADDRESS);
        assert_eq!(addresses[100], (2u64 << 32), "row 100 opens the second fragment");
        assert_eq!(ds.count_rows(Some("id < 10")).await.unwrap(), 10);
        let some = ds
            .scan()
            .with_fragments([ds.fragments().await.unwrap()[1].id])
            .project(["id"])
            .try_into_batch()
            .await
            .unwrap();
        assert_eq!(column_i64(&some, "id"), (100..200).collect::<Vec<_>>());
        let taken = ds.take(&[999, 0, 500], Some(&["id", "text"])).await.unwrap();
        assert_eq!(column_i64(&taken, "id"), vec![999, 0, 500]);
        let by_id = ds.take_rows(&[5, 750], None).await.unwrap();
        assert_eq!(column_i64(&by_id, "id"), vec![5, 750]);
    })
    .await;
}

/// A vector column of many flat pages: tasks are cut where its pages start,
/// and every scan shape still returns each row once, in order, with its values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_of_vectors_cut_at_page_starts_return_every_row() {
    use arrow_array::types::Float32Type;
    use arrow_array::{FixedSizeListArray, Float32Array};
    let t = TestLocation::new(Backend::Memory);
    let (rows, dim) = (12_000usize, 256usize);
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let values = Float32Array::from_iter_values((0..rows * dim).map(|i| (i / dim) as f32 + (i % dim) as f32 / 1000.0));
    let vectors = FixedSizeListArray::new(item.clone(), dim as i32, Arc::new(values), None);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("vec", DataType::FixedSizeList(item, dim as i32), true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..rows as i64)),
            Arc::new(vectors),
        ],
    )
    .unwrap();
    // Three fragments, so spans start mid-file after an offset and end early under a limit.
    let params = WriteParams {
        max_rows_per_file: 5_000,
        ..WriteParams::default()
    };
    let ds = Dataset::write(
        t.location.clone(),
        schema,
        stream_of(vec![batch]),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap();
    let check = |batches: Vec<RecordBatch>, expected: Vec<i64>, batch_size: usize| {
        let mut seen = Vec::new();
        for b in &batches {
            assert!(
                b.num_rows() <= batch_size,
                "{} rows in a batch of at most {batch_size}",
                b.num_rows()
            );
            let ids = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
            let vecs = b.column_by_name("vec").unwrap().as_fixed_size_list();
            for i in 0..b.num_rows() {
                let id = ids.value(i);
                let v = vecs.value(i);
                let v = v.as_primitive::<Float32Type>();
                assert_eq!(
                    (v.value(0), v.value(dim - 1)),
                    (id as f32, id as f32 + (dim - 1) as f32 / 1000.0)
                );
                seen.push(id);
            }
        }
        assert_eq!(seen, expected);
    };
    for batch_size in [8192, 3000, 700] {
        let stream = ds.scan().batch_size(batch_size).try_into_stream().await.unwrap();
        let batches = futures::TryStreamExt::try_collect(stream).await.unwrap();
        check(batches, (0..rows as i64).collect(), batch_size);
        let stream = ds
            .scan()
            .batch_size(batch_size)
            .limit(Some(6_100), Some(4_321))
            .try_into_stream()
            .await
            .unwrap();
        let batches = futures::TryStreamExt::try_collect(stream).await.unwrap();
        check(batches, (4_321..10_421).collect(), batch_size);
        let stream = ds
            .scan()
            .batch_size(batch_size)
            .filter("id % 5 = 1")
            .try_into_stream()
            .await
            .unwrap();
        let batches = futures::TryStreamExt::try_collect(stream).await.unwrap();
        check(batches, (0..rows as i64).filter(|i| i % 5 == 1).collect(), batch_size);
    }
    let fragment = ds.fragments().await.unwrap()[1].id;
    let stream = ds.scan().with_fragments([fragment]).try_into_stream().await.unwrap();
    let batches = futures::TryStreamExt::try_collect(stream).await.unwrap();
    check(batches, (5_000..10_000).collect(), 8192);
}
