//! Vector indices end to end: recall against brute force with default
//! parameters, exactness with every partition probed, no stale or deleted
//! rows after append, delete, update, merge_insert and compaction (no
//! remap), filters, time travel, drop and cleanup, bad input and corrupt
//! index files, and a build racing an append.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use common::vectors::*;
use common::{distances_of, ids_of, recall, stream_of};
use pilum_index::Metric;
use pilum_table::*;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_parameters_reach_recall_for_every_kind_and_metric() {
    let mut ds = dataset().await;
    let queries = clustered(20, 77);
    for kind in [
        IndexType::IvfFlat,
        IndexType::IvfPq,
        IndexType::IvfSq,
        IndexType::IvfHnswSq,
    ] {
        for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
            ds.create_index(&params(kind, metric), &Progress::none()).await.unwrap();
            let stats = ds.index_statistics("emb_idx").await.unwrap();
            assert_eq!((stats.num_indexed_rows, stats.num_unindexed_rows), (ROWS as u64, 0));
            let mut total = 0.0;
            for q in queries.chunks_exact(DIM) {
                let query = VectorQuery::new("emb", q.to_vec(), 10);
                let indexed = ds.nearest(&query, None, false, Some(&["id"])).await.unwrap();
                let exact = ds
                    .nearest_exact(&query.clone().with_metric(metric), None, false, Some(&["id"]))
                    .await
                    .unwrap();
                total += recall(&ids_of(&indexed), &ids_of(&exact));
                let d = distances_of(&indexed);
                assert!(d.windows(2).all(|w| w[0] <= w[1]), "distances ascend");
            }
            let mean = total / 20.0;
            assert!(mean >= 0.9, "{kind:?} {metric}: recall@10 {mean} with {stats:?}");
        }
    }
}

/// Full-probe IVF_FLAT must equal exact search over the live rows: ids and
/// distances. Checked after every kind of change.
async fn assert_full_probe_is_exact(ds: &Dataset, what: &str) {
    let stats = ds.index_statistics("emb_idx").await.unwrap();
    for q in clustered(5, 1000 + ds.version()).chunks_exact(DIM) {
        let query = VectorQuery {
            nprobes: Some(stats.num_partitions as usize),
            ..VectorQuery::new("emb", q.to_vec(), 15)
        };
        let indexed = ds.nearest(&query, None, false, Some(&["id"])).await.unwrap();
        let exact = ds.nearest_exact(&query, None, false, Some(&["id"])).await.unwrap();
        assert_eq!(ids_of(&indexed), ids_of(&exact), "{what}");
        for (a, b) in distances_of(&indexed).iter().zip(distances_of(&exact)) {
            assert!((a - b).abs() < 1e-4, "{what}: {a} vs {b}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_never_bring_back_stale_or_deleted_rows_and_need_no_remap() {
    let mut ds = dataset().await;
    ds.create_index(&params(IndexType::IvfFlat, Metric::L2), &Progress::none())
        .await
        .unwrap();
    let uuid = ds.index_segments()[0].uuid().to_string();
    assert_full_probe_is_exact(&ds, "fresh").await;

    // Append: new rows are uncovered and found by exact search.
    let extra = clustered(500, 3);
    ds.append(
        stream_of(vec![batch(ROWS..ROWS + 500, &extra)]),
        &WriteParams::default(),
    )
    .await
    .unwrap();
    assert_eq!(ds.index_statistics("emb_idx").await.unwrap().num_unindexed_rows, 500);
    let query = VectorQuery::new("emb", extra[..DIM].to_vec(), 1);
    assert_eq!(
        ids_of(&ds.nearest(&query, None, false, Some(&["id"])).await.unwrap()),
        [ROWS]
    );
    assert_full_probe_is_exact(&ds, "append").await;

    // Delete: gone rows never return.
    ds.delete("id % 3 = 0").await.unwrap();
    assert_full_probe_is_exact(&ds, "delete").await;

    // Update: moved rows leave coverage; the index's copies are stale.
    ds.update(&[("id", "id + 100000")], Some("id % 3 = 1 AND id < 4000"))
        .await
        .unwrap();
    assert_full_probe_is_exact(&ds, "update").await;

    // merge_insert: new vectors for existing ids, and new rows.
    let fresh = clustered(300, 4);
    let source = batch(1000..1300, &fresh);
    let (merged, _) = ds
        .merge_insert(["id"])
        .when_matched_update_all(None)
        .when_not_matched_insert_all()
        .execute(stream_of(vec![source]))
        .await
        .unwrap();
    ds = merged;
    assert_full_probe_is_exact(&ds, "merge_insert").await;
    let query = VectorQuery::new("emb", fresh[5 * DIM..6 * DIM].to_vec(), 1);
    let found = ds.nearest(&query, None, false, Some(&["id"])).await.unwrap();
    assert_eq!(ids_of(&found), [1005], "the new vector is found, not the stale one");

    // Compaction: rows keep their ids; the same segment still answers.
    ds.compact_files(&CompactionOptions::default()).await.unwrap();
    assert_eq!(ds.index_segments()[0].uuid(), uuid, "no rebuild");
    assert_full_probe_is_exact(&ds, "compaction").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_of_covered_fragments_keeps_them_covered() {
    let mut ds = dataset().await;
    ds.create_index(&params(IndexType::IvfPq, Metric::L2), &Progress::none())
        .await
        .unwrap();
    // Uncovered fragments next to covered ones are compacted separately,
    // so the covered rows stay covered.
    for start in [ROWS, ROWS + 100] {
        ds.append(
            stream_of(vec![batch(start..start + 100, &clustered(100, start as u64))]),
            &WriteParams::default(),
        )
        .await
        .unwrap();
    }
    ds.compact_files(&CompactionOptions::default()).await.unwrap();
    let stats = ds.index_statistics("emb_idx").await.unwrap();
    assert_eq!(
        (stats.num_indexed_rows, stats.num_unindexed_rows),
        (ROWS as u64, 200),
        "{stats:?}"
    );
    assert_eq!(ds.fragments().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefilter_returns_k_matching_rows_at_one_percent_selectivity() {
    let mut ds = dataset().await;
    for kind in [
        IndexType::IvfFlat,
        IndexType::IvfPq,
        IndexType::IvfSq,
        IndexType::IvfHnswSq,
    ] {
        ds.create_index(&params(kind, Metric::L2), &Progress::none())
            .await
            .unwrap();
        let q = clustered(1, 9);
        let query = VectorQuery::new("emb", q.clone(), 10);
        let filter = Some("id % 100 = 7");
        let result = ds.nearest(&query, filter, true, Some(&["id"])).await.unwrap();
        let ids = ids_of(&result);
        assert_eq!(ids.len(), 10, "{kind:?}");
        assert!(ids.iter().all(|id| id % 100 == 7), "{kind:?}: {ids:?}");
        let exact = ds.nearest_exact(&query, filter, true, Some(&["id"])).await.unwrap();
        assert!(recall(&ids, &ids_of(&exact)) >= 0.8, "{kind:?}");
        // Post-filter: the 10 nearest, then the filter; at most 10 remain.
        let post = ds
            .nearest(&query, Some("id % 2 = 0"), false, Some(&["id"]))
            .await
            .unwrap();
        assert!(post.num_rows() <= 10 && ids_of(&post).iter().all(|id| id % 2 == 0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_drop_and_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let uri = dir.path().to_str().unwrap().to_string();
    let mut ds = dataset_at(common::local_location(dir.path())).await;
    let before = ds.version();
    ds.create_index(&params(IndexType::IvfPq, Metric::Cosine), &Progress::none())
        .await
        .unwrap();
    let indexed = ds.version();
    assert_eq!(ds.manifest().operation(), Operation::CreateIndex);
    assert!(
        ds.checkout_version(before)
            .await
            .unwrap()
            .describe_indices()
            .await
            .unwrap()
            .is_empty()
    );
    let description = &ds.describe_indices().await.unwrap()[0];
    assert_eq!(
        (
            description.name.as_str(),
            description.index_type.as_str(),
            description.field_names.clone()
        ),
        ("emb_idx", "IVF_PQ", vec!["emb".to_string()])
    );
    // Cleanup keeps the files the latest version needs.
    ds.cleanup_old_versions(std::time::Duration::ZERO).await.unwrap();
    let reopened = Dataset::open(&uri).await.unwrap();
    let query = VectorQuery::new("emb", clustered(1, 5), 5);
    assert_eq!(reopened.nearest(&query, None, false, None).await.unwrap().num_rows(), 5);

    ds.drop_index("emb_idx").await.unwrap();
    assert!(ds.describe_indices().await.unwrap().is_empty());
    assert!(matches!(
        ds.drop_index("emb_idx").await,
        Err(TableError::IndexNotFound { .. })
    ));
    // The indexed version still searches through its index.
    let old = ds.checkout_version(indexed).await.unwrap();
    assert_eq!(old.nearest(&query, None, false, None).await.unwrap().num_rows(), 5);
    // Once no retained version lists the index, cleanup removes its files.
    let index_files = || std::fs::read_dir(dir.path().join("_indices")).map_or(0, |d| d.count());
    assert_eq!(index_files(), 1);
    let stats = ds.cleanup_old_versions(std::time::Duration::ZERO).await.unwrap();
    assert!(stats.files_removed >= 3, "{stats:?}");
    let remaining: usize = std::fs::read_dir(dir.path().join("_indices"))
        .map(|d| d.map(|e| std::fs::read_dir(e.unwrap().path()).unwrap().count()).sum())
        .unwrap_or(0);
    assert_eq!(remaining, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_typed_errors_and_change_nothing() {
    let mut ds = dataset().await;
    let version = ds.version();
    let bad = [
        VectorIndexParams::new("id", IndexType::IvfFlat),
        VectorIndexParams::new("missing", IndexType::IvfFlat),
        VectorIndexParams {
            num_partitions: Some(0),
            ..VectorIndexParams::new("emb", IndexType::IvfFlat)
        },
        VectorIndexParams {
            num_sub_vectors: Some(DIM + 1),
            ..VectorIndexParams::new("emb", IndexType::IvfPq)
        },
        VectorIndexParams {
            num_sub_vectors: Some(4),
            ..VectorIndexParams::new("emb", IndexType::IvfFlat)
        },
        VectorIndexParams {
            name: Some("a/b".into()),
            ..VectorIndexParams::new("emb", IndexType::IvfFlat)
        },
    ];
    for params in bad {
        let err = ds.create_index(&params, &Progress::none()).await.unwrap_err();
        assert!(
            matches!(
                err,
                TableError::InvalidIndexParams { .. }
                    | TableError::ColumnNotFound { .. }
                    | TableError::InvalidArgument(_)
            ),
            "{params:?}: {err:?}"
        );
    }
    assert!(IndexType::parse("HNSW_BANANA").is_err());
    assert_eq!(ds.version(), version);
    ds.create_index(&VectorIndexParams::new("emb", IndexType::IvfFlat), &Progress::none())
        .await
        .unwrap();
    let again = ds
        .create_index(&VectorIndexParams::new("emb", IndexType::IvfFlat), &Progress::none())
        .await;
    assert!(matches!(again, Err(TableError::IndexAlreadyExists { .. })), "{again:?}");
    // A small table cannot train 256 PQ codes.
    let small = DatasetLocation::in_store(Arc::new(object_store::memory::InMemory::new()), "small");
    let rows = batch(0..100, &clustered(100, 6));
    let mut small = Dataset::write(
        small,
        rows.schema(),
        stream_of(vec![rows]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    let err = small
        .create_index(&VectorIndexParams::new("emb", IndexType::IvfPq), &Progress::none())
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::InvalidIndexParams { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_index_files_are_reported_and_exact_search_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let uri = dir.path().to_str().unwrap().to_string();
    let mut ds = dataset_at(common::local_location(dir.path())).await;
    ds.create_index(&params(IndexType::IvfPq, Metric::L2), &Progress::none())
        .await
        .unwrap();
    let storage = ds.index_segments()[0]
        .files()
        .into_iter()
        .find(|f| f.role == "storage")
        .unwrap()
        .path;
    // Flip bytes in the middle of the codes.
    let file = dir.path().join(&storage);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 3;
    for b in &mut bytes[middle..middle + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&file, bytes).unwrap();
    let ds = Dataset::open(&uri).await.unwrap();
    let query = VectorQuery {
        nprobes: Some(1000),
        ..VectorQuery::new("emb", clustered(1, 8), 5)
    };
    let err = ds.nearest(&query, None, false, None).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, TableError::Corrupt { .. } | TableError::File(_)),
        "{err:?}"
    );
    assert!(text.contains("storage.pilum") || text.contains(&storage), "{text}");
    let exact = VectorQuery {
        use_index: false,
        ..query.clone()
    };
    assert_eq!(ds.nearest(&exact, None, false, None).await.unwrap().num_rows(), 5);
    // A missing model file is reported by path too.
    std::fs::remove_file(
        dir.path().join(
            ds.index_segments()[0]
                .files()
                .into_iter()
                .find(|f| f.role == "ivf")
                .unwrap()
                .path,
        ),
    )
    .unwrap();
    // As a new process would: this one's metadata cache still holds the
    // file's reader (files are immutable; only damage in place goes unseen).
    clear_metadata_cache();
    let ds = Dataset::open(&uri).await.unwrap();
    let err = ds.nearest(&query, None, false, None).await.unwrap_err();
    assert!(err.to_string().contains("ivf.pilum"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_racing_an_append_lands_with_the_new_rows_uncovered() {
    let ds = dataset().await;
    let mut builder = ds.clone();
    let mut writer = ds.clone();
    let extra = clustered(200, 12);
    writer
        .append(
            stream_of(vec![batch(ROWS..ROWS + 200, &extra)]),
            &WriteParams::default(),
        )
        .await
        .unwrap();
    builder
        .create_index(&params(IndexType::IvfFlat, Metric::L2), &Progress::none())
        .await
        .unwrap();
    let latest = builder.checkout_latest().await.unwrap();
    assert_eq!(latest.count_rows(None).await.unwrap(), ROWS as u64 + 200);
    let stats = latest.index_statistics("emb_idx").await.unwrap();
    assert_eq!((stats.num_indexed_rows, stats.num_unindexed_rows), (ROWS as u64, 200));
    assert_full_probe_is_exact(&latest, "after race").await;
    // Two builds of one name: the second loses cleanly.
    let mut second = ds.clone();
    let err = second
        .create_index(&VectorIndexParams::new("emb", IndexType::IvfFlat), &Progress::none())
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::IndexAlreadyExists { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimize_indexes_new_fragments_and_merges_segments_without_stale_entries() {
    let mut ds = dataset().await;
    for kind in [
        IndexType::IvfFlat,
        IndexType::IvfPq,
        IndexType::IvfSq,
        IndexType::IvfHnswSq,
    ] {
        ds.create_index(&params(kind, Metric::L2), &Progress::none())
            .await
            .unwrap();
        let first = ds.index_segments()[0].clone();
        let extra = clustered(600, 21);
        let start = ROWS
            + match kind {
                IndexType::IvfFlat => 0,
                IndexType::IvfPq => 1000,
                IndexType::IvfSq => 2000,
                _ => 3000,
            };
        ds.append(
            stream_of(vec![batch(start..start + 600, &extra)]),
            &WriteParams::default(),
        )
        .await
        .unwrap();
        // Nothing to merge, nothing uncovered: no new version.
        let delta = OptimizeIndexOptions {
            num_indices_to_merge: 0,
            ..Default::default()
        };
        ds.optimize_indices(&delta).await.unwrap();
        let segments = ds.index_segments().to_vec();
        assert_eq!(segments.len(), 2, "{kind:?}");
        assert_eq!(segments[0], first, "the first segment is untouched");
        assert_eq!(segments[1].num_entries(), 600);
        assert_eq!(ds.index_statistics("emb_idx").await.unwrap().num_unindexed_rows, 0);
        let version = ds.version();
        ds.optimize_indices(&delta).await.unwrap();
        assert_eq!(ds.version(), version, "nothing to do commits nothing");
        if kind == IndexType::IvfFlat {
            assert_full_probe_is_exact(&ds, "delta segment").await;
        }
        // Delete and update, then fold both segments into one: the folded
        // segment holds only live entries.
        ds.delete("id % 5 = 0").await.unwrap();
        ds.update(&[("id", "id + 500000")], Some("id % 5 = 1 AND id < 2000"))
            .await
            .unwrap();
        let merge = OptimizeIndexOptions {
            num_indices_to_merge: 2,
            ..Default::default()
        };
        ds.optimize_indices(&merge).await.unwrap();
        let segments = ds.index_segments();
        assert_eq!(segments.len(), 1, "{kind:?}");
        assert_eq!(segments[0].num_entries(), ds.count_rows(None).await.unwrap());
        assert_eq!(ds.index_statistics("emb_idx").await.unwrap().num_unindexed_rows, 0);
        if kind == IndexType::IvfFlat {
            assert_full_probe_is_exact(&ds, "merged").await;
        }
        let query = VectorQuery::new("emb", extra[..DIM].to_vec(), 1);
        let found = ids_of(&ds.nearest(&query, None, false, Some(&["id"])).await.unwrap());
        assert!(found == [start] || start % 5 == 0, "{found:?}");
        // Retrain replaces every segment with a fresh build.
        let before = ds.index_segments()[0].uuid().to_string();
        ds.optimize_indices(&OptimizeIndexOptions {
            retrain: true,
            ..Default::default()
        })
        .await
        .unwrap();
        assert_ne!(ds.index_segments()[0].uuid(), before);
        assert!(matches!(
            ds.optimize_indices(&OptimizeIndexOptions {
                index_names: Some(vec!["nope".into()]),
                ..Default::default()
            })
            .await,
            Err(TableError::IndexNotFound { .. })
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_queries_answers_each_like_a_single_query() {
    let mut ds = dataset().await;
    ds.create_index(&params(IndexType::IvfPq, Metric::L2), &Progress::none())
        .await
        .unwrap();
    let queries: Vec<Vec<f32>> = clustered(3, 41).chunks_exact(DIM).map(<[f32]>::to_vec).collect();
    let template = VectorQuery::new("emb", Vec::new(), 5);
    let batch = ds
        .nearest_batch(&queries, &template, None, false, Some(&["id"]))
        .await
        .unwrap();
    assert_eq!(batch.schema().field(0).name(), QUERY_INDEX);
    let index = batch
        .column(0)
        .as_primitive::<arrow_array::types::Int32Type>()
        .values()
        .to_vec();
    assert_eq!(index, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    let ids = ids_of(&batch);
    for (i, q) in queries.iter().enumerate() {
        let single = ds
            .nearest(&VectorQuery::new("emb", q.clone(), 5), None, false, Some(&["id"]))
            .await
            .unwrap();
        assert_eq!(ids[5 * i..5 * i + 5], ids_of(&single)[..]);
    }
    assert!(ds.nearest_batch(&[], &template, None, false, None).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_index_changes_conflict_cleanly() {
    let mut ds = dataset().await;
    ds.create_index(&params(IndexType::IvfFlat, Metric::L2), &Progress::none())
        .await
        .unwrap();
    ds.append(
        stream_of(vec![batch(ROWS..ROWS + 300, &clustered(300, 50))]),
        &WriteParams::default(),
    )
    .await
    .unwrap();
    // Two optimizes of the same uncovered rows: one lands, one conflicts.
    let delta = OptimizeIndexOptions {
        num_indices_to_merge: 0,
        ..Default::default()
    };
    let (mut first, mut second) = (ds.clone(), ds.clone());
    first.optimize_indices(&delta).await.unwrap();
    let err = second.optimize_indices(&delta).await.unwrap_err();
    assert!(matches!(err, TableError::CommitConflict { .. }), "{err:?}");
    let latest = ds.checkout_latest().await.unwrap();
    assert_eq!(latest.index_segments().len(), 2);
    // A build racing a commit that rewrote columns conflicts (its vectors may be stale).
    let mut builder = latest.clone();
    let mut writer = latest.clone();
    writer
        .add_columns(NewColumns::Sql(vec![("twice".into(), "id * 2".into())]))
        .await
        .unwrap();
    let err = builder
        .create_index(
            &VectorIndexParams {
                name: Some("other".into()),
                ..VectorIndexParams::new("emb", IndexType::IvfFlat)
            },
            &Progress::none(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::CommitConflict { .. }), "{err:?}");
    let latest = ds.checkout_latest().await.unwrap();
    assert_eq!(
        latest.describe_indices().await.unwrap().len(),
        1,
        "nothing of the losing build was committed"
    );
}

/// A memory limit far below the column forces the streamed build: a
/// reservoir sample, then partitions spilled to disk in many runs. Its
/// index must answer like the in-memory build's: full-probe IVF_FLAT equals
/// exact search, and defaults reach the recall target for every kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_larger_than_its_memory_limit_streams_and_answers_the_same() {
    let mut ds = dataset().await;
    let queries = clustered(20, 78);
    for kind in [IndexType::IvfFlat, IndexType::IvfPq, IndexType::IvfSq] {
        let streamed = VectorIndexParams {
            // The column is 8,000 × 16 × 4 = 512 KB; spill runs of 16 KB.
            memory_limit: 64 << 10,
            ..params(kind, Metric::Cosine)
        };
        let reports = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = reports.clone();
        let progress = Progress::new(move |u| seen.lock().unwrap().push(u.stage.to_string()));
        ds.create_index(&streamed, &progress).await.unwrap();
        let stages = reports.lock().unwrap().clone();
        assert!(
            stages.contains(&"sampling".to_string()) && stages.contains(&"encoding".to_string()),
            "{stages:?}"
        );
        let stats = ds.index_statistics("emb_idx").await.unwrap();
        assert_eq!((stats.num_indexed_rows, stats.num_unindexed_rows), (ROWS as u64, 0));
        let mut total = 0.0;
        for q in queries.chunks_exact(DIM) {
            let query = VectorQuery::new("emb", q.to_vec(), 10);
            let indexed = ds.nearest(&query, None, false, Some(&["id"])).await.unwrap();
            let exact = ds
                .nearest_exact(&query.clone().with_metric(Metric::Cosine), None, false, Some(&["id"]))
                .await
                .unwrap();
            total += recall(&ids_of(&indexed), &ids_of(&exact));
        }
        assert!(
            total / 20.0 >= 0.9,
            "{kind:?}: streamed recall@10 {} with {stats:?}",
            total / 20.0
        );
        if kind == IndexType::IvfFlat {
            let all = VectorQuery {
                nprobes: Some(stats.num_partitions as usize),
                ..VectorQuery::new("emb", queries[..DIM].to_vec(), 25).with_metric(Metric::Cosine)
            };
            let indexed = ds.nearest(&all, None, false, Some(&["id"])).await.unwrap();
            let exact = ds.nearest_exact(&all, None, false, Some(&["id"])).await.unwrap();
            assert_eq!(ids_of(&indexed), ids_of(&exact));
            assert_eq!(distances_of(&indexed), distances_of(&exact));
        }
    }
}

/// Wide vectors: a pre-filter passing 1,500 rows of 1,024 values (more
/// than the exact-comparison budget of 1.28M values) goes through the
/// index, probing until enough candidates pass, and still returns k rows
/// that all match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_prefilter_probes_the_index_and_returns_k_matching_rows() {
    let recall = wide_prefilter_recall(
        20,
        VectorIndexParams {
            num_partitions: Some(24),
            ..VectorIndexParams::new("emb", IndexType::IvfSq)
        },
    )
    .await;
    assert!(recall >= 0.9, "wide prefilter recall@10 {recall}");
}

/// A product-quantized index under a pre-filter too wide to compare
/// exactly: the search takes the widening path (the calibrated window plus
/// a sample of the rows ranked past it, doubling while a sampled row makes
/// the top k) and answers k passing rows at recall ≥ 0.9. The widening's
/// effect shows at scale (200k × 768-d at 1%: recall 0.90 → 1.00, in
/// benches/RESULTS.md); `search::widen`'s unit tests pin its rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_product_quantized_search_returns_k_passing_rows() {
    let recall = wide_prefilter_recall(
        40,
        VectorIndexParams {
            num_partitions: Some(40),
            num_sub_vectors: Some(128),
            ..VectorIndexParams::new("emb", IndexType::IvfPq)
        },
    )
    .await;
    assert!(recall >= 0.9, "filtered IVF_PQ recall@10 {recall}");
}

/// Mean recall@10 of five pre-filtered queries (a quarter of 6,000 rows of
/// 1,024 values, around `clusters` centres, pass) through an index built
/// with `params`; every answer
/// has 10 rows, all passing.
async fn wide_prefilter_recall(clusters: usize, params: VectorIndexParams) -> f32 {
    const WIDE: usize = 1024;
    let mut rng = StdRng::seed_from_u64(44);
    let centres: Vec<f32> = (0..clusters * WIDE).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let point = |rng: &mut StdRng| -> Vec<f32> {
        let c = rng.random_range(0..clusters);
        (0..WIDE)
            .map(|d| centres[c * WIDE + d] + rng.random_range(-0.3f32..0.3))
            .collect()
    };
    let values: Vec<f32> = (0..6000).flat_map(|_| point(&mut rng)).collect();
    let batch = common::vector_batch(0..6000, values, WIDE);
    let mut ds = Dataset::write(
        DatasetLocation::in_store(Arc::new(object_store::memory::InMemory::new()), "wide"),
        batch.schema(),
        stream_of(vec![batch]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    ds.create_index(&params, &Progress::none()).await.unwrap();
    let filter = Some("id % 4 = 1");
    let mut total = 0.0;
    for _ in 0..5 {
        let query = VectorQuery::new("emb", point(&mut rng), 10);
        let got = ds.nearest(&query, filter, true, Some(&["id"])).await.unwrap();
        let ids = ids_of(&got);
        assert_eq!(ids.len(), 10);
        assert!(ids.iter().all(|id| id % 4 == 1), "{ids:?}");
        let exact = ds.nearest_exact(&query, filter, true, Some(&["id"])).await.unwrap();
        total += recall(&ids, &ids_of(&exact));
    }
    total / 5.0
}
