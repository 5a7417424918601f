//! Distributed vector index builds: a model trained on some fragments,
//! segments for the other fragments built by separate dataset handles
//! (standing for workers, segments passed as bytes), one commit of all of
//! them; full-probe search equal to exact search, appends committed
//! meanwhile searched exactly, and every bad commit refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::vectors::*;
use common::{distances_of, ids_of, stream_of};
use pilum_index::Metric;
use pilum_table::*;
use std::sync::Arc;

fn train_params(fragments: Vec<u64>) -> VectorIndexParams {
    VectorIndexParams {
        num_partitions: Some(8),
        fragments: Some(fragments),
        ..params(IndexType::IvfFlat, Metric::L2)
    }
}

async fn fragment_ids(ds: &Dataset) -> Vec<u64> {
    ds.fragments().await.unwrap().iter().map(|f| f.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_once_build_per_group_commit_once() {
    let dir = tempfile::tempdir().unwrap();
    let uri = dir.path().to_str().unwrap().to_string();
    let ds = dataset_at(common::local_location(dir.path())).await;
    let read_version = ds.version();
    let ids = fragment_ids(&ds).await;
    assert_eq!(ids.len(), 4);
    // The driver trains on the first fragment; that segment covers it.
    let trained = ds
        .build_vector_segment(&train_params(vec![ids[0]]), &Progress::none())
        .await
        .unwrap();
    assert_eq!(trained.fragment_ids(), vec![ids[0]]);
    let shipped = trained.to_bytes();
    // Two workers, each with its own handle on the version read.
    let mut parts = vec![trained];
    for group in [&ids[1..3], &ids[3..]] {
        let worker = Dataset::open(&uri)
            .await
            .unwrap()
            .checkout_version(read_version)
            .await
            .unwrap();
        let model = IndexSegment::from_bytes(&shipped).unwrap();
        let segment = worker.build_index_segment(&model, group, 1 << 30).await.unwrap();
        parts.push(IndexSegment::from_bytes(&segment.to_bytes()).unwrap());
    }
    // Nothing is visible before the commit.
    assert!(
        Dataset::open(&uri)
            .await
            .unwrap()
            .describe_indices()
            .await
            .unwrap()
            .is_empty()
    );
    // Another writer appends meanwhile: the commit rebases over it.
    let mut other = Dataset::open(&uri).await.unwrap();
    let extra = clustered(500, 99);
    other
        .append(
            stream_of(vec![batch(ROWS..ROWS + 500, &extra)]),
            &WriteParams::default(),
        )
        .await
        .unwrap();
    let mut ds = Dataset::open(&uri).await.unwrap();
    ds.commit_index_segments(parts, false).await.unwrap();
    assert_eq!(ds.manifest().operation(), Operation::CreateIndex);
    let description = &ds.describe_indices().await.unwrap()[0];
    assert_eq!((description.name.as_str(), description.segments.len()), ("emb_idx", 3));
    let stats = ds.index_statistics("emb_idx").await.unwrap();
    assert_eq!((stats.num_indexed_rows, stats.num_unindexed_rows), (ROWS as u64, 500));
    // Every partition probed: the indexed search is the exact one.
    for q in clustered(5, 31).chunks_exact(DIM) {
        let query = VectorQuery {
            nprobes: Some(8),
            ..VectorQuery::new("emb", q.to_vec(), 20)
        };
        let indexed = ds.nearest(&query, None, false, Some(&["id"])).await.unwrap();
        let exact = ds.nearest_exact(&query, None, false, Some(&["id"])).await.unwrap();
        assert_eq!(ids_of(&indexed), ids_of(&exact));
        assert_eq!(distances_of(&indexed), distances_of(&exact));
    }
    // optimize_indices folds the appended fragment in with the same model.
    ds.optimize_indices(&OptimizeIndexOptions {
        num_indices_to_merge: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let stats = ds.index_statistics("emb_idx").await.unwrap();
    assert_eq!(
        (stats.num_indexed_rows, stats.num_unindexed_rows),
        (ROWS as u64 + 500, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_commits_are_refused_and_commit_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let uri = dir.path().to_str().unwrap().to_string();
    let mut ds = dataset_at(common::local_location(dir.path())).await;
    let version = ds.version();
    let ids = fragment_ids(&ds).await;
    let trained = ds
        .build_vector_segment(&train_params(vec![ids[0]]), &Progress::none())
        .await
        .unwrap();
    let overlapping = ds.build_index_segment(&trained, &ids[0..2], 1 << 30).await.unwrap();
    let invalid = |r: Result<()>| matches!(r, Err(TableError::InvalidArgument(_)));
    assert!(invalid(
        ds.commit_index_segments(vec![trained.clone(), overlapping], false)
            .await
    ));
    assert!(invalid(
        ds.commit_index_segments(vec![trained.clone(), trained.clone()], false)
            .await
    ));
    assert!(invalid(ds.commit_index_segments(Vec::new(), false).await));
    // A segment of another model (or another index) does not join.
    let other_model = ds
        .build_vector_segment(
            &VectorIndexParams {
                num_partitions: Some(4),
                ..train_params(vec![ids[1]])
            },
            &Progress::none(),
        )
        .await
        .unwrap();
    assert!(invalid(
        ds.commit_index_segments(vec![trained.clone(), other_model], false)
            .await
    ));
    let renamed = ds
        .build_vector_segment(
            &VectorIndexParams {
                name: Some("other".into()),
                ..train_params(vec![ids[1]])
            },
            &Progress::none(),
        )
        .await
        .unwrap();
    assert!(invalid(
        ds.commit_index_segments(vec![trained.clone(), renamed], false).await
    ));
    // Fragments that are not in the version.
    assert!(invalid(
        ds.build_index_segment(&trained, &[999], 1 << 30).await.map(|_| ())
    ));
    assert!(invalid(
        ds.build_vector_segment(&train_params(vec![]), &Progress::none())
            .await
            .map(|_| ())
    ));
    // Damaged bytes are corruption.
    let mut bytes = trained.to_bytes();
    let last = bytes.len() - 6;
    bytes[last] ^= 0x55;
    assert!(matches!(
        IndexSegment::from_bytes(&bytes),
        Err(TableError::Corrupt { .. })
    ));
    assert_eq!(ds.version(), version, "nothing was committed");
    // An existing index of the name needs replace.
    ds.commit_index_segments(vec![trained.clone()], false).await.unwrap();
    assert!(matches!(
        ds.commit_index_segments(vec![trained.clone()], false).await,
        Err(TableError::IndexAlreadyExists { .. })
    ));
    // Uncommitted segments survive a plain cleanup (they may be in flight),
    // are removed by one that deletes unverified files, and afterwards
    // cannot be committed.
    let orphan = ds.build_index_segment(&trained, &ids[1..2], 1 << 30).await.unwrap();
    ds.cleanup_old_versions(std::time::Duration::ZERO).await.unwrap();
    let kept = std::fs::read_dir(dir.path().join("_indices").join(orphan.uuid())).map_or(0, |d| d.count());
    assert!(kept > 0, "a plain cleanup keeps an uncommitted segment's files");
    let unverified = CleanupOptions {
        older_than: std::time::Duration::ZERO,
        delete_unverified: true,
    };
    ds.cleanup_with_options(&unverified, &Progress::none()).await.unwrap();
    let orphan_files = std::fs::read_dir(dir.path().join("_indices").join(orphan.uuid())).map_or(0, |d| d.count());
    assert_eq!(orphan_files, 0, "cleanup removes an uncommitted segment's files");
    let mut reopened = Dataset::open(&uri).await.unwrap();
    assert!(invalid(reopened.commit_index_segments(vec![orphan], true).await));
}

/// 800 rows of words from a 40-word vocabulary, in fragments of 200.
async fn text_dataset(location: DatasetLocation) -> Dataset {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use rand::{Rng, SeedableRng, rngs::StdRng};
    let mut rng = StdRng::seed_from_u64(5);
    let words: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
    let text: Vec<String> = (0..800)
        .map(|_| {
            let n = rng.random_range(3..12);
            (0..n)
                .map(|_| words[rng.random_range(0..40usize).min(rng.random_range(0..40usize))].clone())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let batch = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from_iter_values(0..800)) as ArrayRef),
        (
            "value",
            Arc::new(Int64Array::from_iter_values((0..800).map(|i| (i * 37) % 101))) as ArrayRef,
        ),
        ("text", Arc::new(StringArray::from(text)) as ArrayRef),
    ])
    .unwrap();
    let params = WriteParams {
        max_rows_per_file: 200,
        ..Default::default()
    };
    Dataset::write(
        location,
        batch.schema(),
        stream_of(vec![batch]),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap()
}

async fn filtered_ids(ds: &Dataset, filter: &str, use_index: bool) -> Vec<i64> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    let batch = ds
        .scan()
        .project(["id"])
        .filter(filter)
        .use_scalar_index(use_index)
        .try_into_batch()
        .await
        .unwrap();
    let mut ids = batch.column(0).as_primitive::<Int64Type>().values().to_vec();
    ids.sort_unstable();
    ids
}

async fn text_hits(ds: &Dataset, query: &str) -> Vec<(i64, f32)> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Int64Type};
    let result = ds
        .full_text_search(&FullTextSearch {
            limit: Some(50),
            columns: Some(vec!["id".into()]),
            ..FullTextSearch::new(FullTextQuery::text(query))
        })
        .await
        .unwrap();
    let ids = result.column_by_name("id").unwrap().as_primitive::<Int64Type>();
    let scores = result.column_by_name("_score").unwrap().as_primitive::<Float32Type>();
    ids.values()
        .iter()
        .copied()
        .zip(scores.values().iter().copied())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_scalar_indices_build_per_fragment_group_and_commit_once() {
    let mem = || DatasetLocation::in_store(Arc::new(object_store::memory::InMemory::new()), "t");
    let mut whole = text_dataset(mem()).await;
    whole
        .create_text_index(&TextIndexParams::new("text"), &Progress::none())
        .await
        .unwrap();
    let mut ds = text_dataset(mem()).await;
    let ids = fragment_ids(&ds).await;
    let text = TextIndexParams::new("text");
    let btree = ScalarIndexParams::new("value", ScalarIndexType::BTree);
    let mut text_parts = Vec::new();
    let mut scalar_parts = Vec::new();
    for group in ids.chunks(2) {
        let part = ds
            .build_text_index_segment(&text, group, &Progress::none())
            .await
            .unwrap();
        text_parts.push(IndexSegment::from_bytes(&part.to_bytes()).unwrap());
        scalar_parts.push(
            ds.build_scalar_index_segment(&btree, group, &Progress::none())
                .await
                .unwrap(),
        );
    }
    // A segment built with another analyzer does not join.
    let mut stemmed = TextIndexParams::new("text");
    stemmed.with_position = true;
    let odd = ds
        .build_text_index_segment(&stemmed, &ids[..1], &Progress::none())
        .await
        .unwrap();
    assert!(matches!(
        ds.commit_index_segments(vec![odd, text_parts[1].clone()], false).await,
        Err(TableError::InvalidArgument(_))
    ));
    ds.commit_index_segments(text_parts, false).await.unwrap();
    ds.commit_index_segments(scalar_parts, false).await.unwrap();
    assert_eq!(
        ds.describe_indices()
            .await
            .unwrap()
            .iter()
            .map(|d| d.segments.len())
            .collect::<Vec<_>>(),
        [2, 2]
    );
    // BM25 statistics summed over the segments: the scores of one index over everything.
    for query in ["w0", "w3 w17", "w25 w1 w39"] {
        let (got, want) = (text_hits(&ds, query).await, text_hits(&whole, query).await);
        assert_eq!(got.len(), want.len(), "{query}");
        for ((gi, gs), (wi, ws)) in got.iter().zip(&want) {
            assert!(
                (gs - ws).abs() <= 1e-4 * ws.abs().max(1.0),
                "{query}: {gi} {gs} vs {wi} {ws}"
            );
        }
        let rank = |v: &[(i64, f32)]| v.iter().map(|(i, _)| *i).collect::<std::collections::BTreeSet<_>>();
        assert_eq!(rank(&got), rank(&want), "{query}");
    }
    // The BTREE segments answer filters as an unindexed scan does.
    for filter in ["value = 17", "value BETWEEN 10 AND 20", "value IN (3, 99)"] {
        let indexed = filtered_ids(&ds, filter, true).await;
        assert!(!indexed.is_empty(), "{filter}");
        assert_eq!(indexed, filtered_ids(&ds, filter, false).await, "{filter}");
    }
}
