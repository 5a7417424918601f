//! Vector index kinds beyond the basics: IVF_PQ with 4-bit codes,
//! IVF_HNSW_SQ, and the byte-bounded cache of loaded partitions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::vectors::*;
use common::{ids_of, recall, stream_of};
use pilum_table::*;

/// 4-bit PQ codes: recall-first defaults for every metric, the index
/// format version that names them, answers that survive a reopen (the
/// codes are interleaved for the SIMD scan on load) and optimize's delta,
/// merge and retrain keeping the codes 4-bit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_bit_pq_reaches_recall_and_survives_reopen_and_optimize() {
    let dir = tempfile::tempdir().unwrap();
    let mut ds = dataset_at(common::local_location(dir.path())).await;
    let queries = clustered(20, 78);
    // L2 last: the optimize checks below look a row up by its own vector.
    for metric in [Metric::Dot, Metric::Cosine, Metric::L2] {
        let four = VectorIndexParams {
            num_bits: 4,
            ..params(IndexType::IvfPq, metric)
        };
        ds.create_index(&four, &Progress::none()).await.unwrap();
        let segment = &ds.index_segments()[0];
        let details = segment.vector_info().unwrap();
        assert_eq!((details.num_bits, details.num_sub_vectors), (4, 2 * DIM as u32 / 4));
        assert_eq!(segment.index_version(), 3);
        let reopened = Dataset::open_location(common::local_location(dir.path()))
            .await
            .unwrap();
        let mut total = 0.0;
        for q in queries.chunks_exact(DIM) {
            let query = VectorQuery::new("emb", q.to_vec(), 10);
            let indexed = ds.nearest(&query, None, false, Some(&["id"])).await.unwrap();
            let again = reopened.nearest(&query, None, false, Some(&["id"])).await.unwrap();
            assert_eq!(
                ids_of(&indexed),
                ids_of(&again),
                "{metric}: a reopened index answers alike"
            );
            let exact = ds
                .nearest_exact(&query.clone().with_metric(metric), None, false, Some(&["id"]))
                .await
                .unwrap();
            total += recall(&ids_of(&indexed), &ids_of(&exact));
        }
        let mean = total / 20.0;
        assert!(mean >= 0.9, "4-bit {metric}: recall@10 {mean}");
    }
    let extra = clustered(600, 22);
    ds.append(
        stream_of(vec![batch(ROWS..ROWS + 600, &extra)]),
        &WriteParams::default(),
    )
    .await
    .unwrap();
    let delta = OptimizeIndexOptions {
        num_indices_to_merge: 0,
        ..Default::default()
    };
    ds.optimize_indices(&delta).await.unwrap();
    ds.delete("id % 7 = 0").await.unwrap();
    let merge = OptimizeIndexOptions {
        num_indices_to_merge: 2,
        ..Default::default()
    };
    ds.optimize_indices(&merge).await.unwrap();
    let segments = ds.index_segments();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].num_entries(), ds.count_rows(None).await.unwrap());
    assert_eq!(segments[0].vector_info().unwrap().num_bits, 4);
    // Row ROWS + 2 survives the delete (ROWS + 1 is a multiple of 7).
    let query = VectorQuery::new("emb", extra[2 * DIM..3 * DIM].to_vec(), 1);
    assert_eq!(
        ids_of(&ds.nearest(&query, None, false, Some(&["id"])).await.unwrap()),
        [ROWS + 2]
    );
    ds.optimize_indices(&OptimizeIndexOptions {
        retrain: true,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        ds.index_segments()[0].vector_info().unwrap().num_bits,
        4,
        "retrain keeps 4-bit codes"
    );
    let bad = VectorIndexParams {
        num_bits: 4,
        ..params(IndexType::IvfSq, Metric::L2)
    };
    assert!(matches!(
        ds.create_index(&bad, &Progress::none()).await,
        Err(TableError::InvalidIndexParams { .. })
    ));
}

/// IVF_HNSW_SQ: few, large partitions (one below 131,072 rows) searched
/// through their graphs; the graph parameters are recorded, `ef` widens
/// the search (recall never drops as it grows), and graph parameters on
/// another kind are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hnsw_partitions_search_through_their_graphs() {
    let mut ds = dataset().await;
    let graph = VectorIndexParams {
        m: Some(12),
        ef_construction: Some(80),
        ..params(IndexType::IvfHnswSq, Metric::L2)
    };
    ds.create_index(&graph, &Progress::none()).await.unwrap();
    let segment = &ds.index_segments()[0];
    let details = segment.vector_info().unwrap();
    assert_eq!(segment.kind_name(), "IVF_HNSW_SQ");
    assert_eq!(
        (details.num_partitions, details.hnsw_m, details.hnsw_ef_construction),
        (1, 12, 80)
    );
    assert_eq!(segment.index_version(), 3);
    let queries = clustered(20, 91);
    let mut recalls = Vec::new();
    for ef in [10, 40, 200] {
        let mut total = 0.0;
        for q in queries.chunks_exact(DIM) {
            let query = VectorQuery {
                ef: Some(ef),
                refine_factor: Some(1),
                ..VectorQuery::new("emb", q.to_vec(), 10)
            };
            let indexed = ds.nearest(&query, None, false, Some(&["id"])).await.unwrap();
            let exact = ds.nearest_exact(&query, None, false, Some(&["id"])).await.unwrap();
            total += recall(&ids_of(&indexed), &ids_of(&exact));
        }
        recalls.push(total / 20.0);
    }
    assert!(recalls.windows(2).all(|w| w[0] <= w[1] + 0.02), "{recalls:?}");
    assert!(recalls[2] >= 0.95, "{recalls:?}");
    for bad in [
        VectorIndexParams {
            m: Some(8),
            ..params(IndexType::IvfSq, Metric::L2)
        },
        VectorIndexParams {
            m: Some(1),
            ..params(IndexType::IvfHnswSq, Metric::L2)
        },
    ] {
        assert!(
            matches!(
                ds.create_index(&bad, &Progress::none()).await,
                Err(TableError::InvalidIndexParams { .. })
            ),
            "{bad:?}"
        );
    }
}

/// A byte budget for loaded partitions: answers stay the same while the
/// cache holds at most the budget (partitions are read again when probed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_index_cache_answers_the_same_within_its_budget() {
    let mut ds = dataset().await;
    ds.create_index(&params(IndexType::IvfSq, Metric::L2), &Progress::none())
        .await
        .unwrap();
    let queries = clustered(10, 55);
    let mut want = Vec::new();
    for q in queries.chunks_exact(DIM) {
        let query = VectorQuery::new("emb", q.to_vec(), 10);
        want.push(ids_of(&ds.nearest(&query, None, false, Some(&["id"])).await.unwrap()));
    }
    let (used, budget) = ds.index_cache_bytes();
    assert!(
        used > 30_000 && budget == DEFAULT_INDEX_CACHE_BYTES,
        "{used} of {budget}"
    );
    ds.set_index_cache_bytes(30_000);
    assert!(ds.index_cache_bytes().0 <= 30_000);
    for (q, want) in queries.chunks_exact(DIM).zip(&want) {
        let query = VectorQuery::new("emb", q.to_vec(), 10);
        assert_eq!(
            &ids_of(&ds.nearest(&query, None, false, Some(&["id"])).await.unwrap()),
            want
        );
        let (used, _) = ds.index_cache_bytes();
        assert!(used <= 30_000, "{used}");
    }
    ds.set_index_cache_bytes(0);
    assert_eq!(ds.index_cache_bytes().0, 0);
    let query = VectorQuery::new("emb", queries[..DIM].to_vec(), 10);
    assert_eq!(
        ids_of(&ds.nearest(&query, None, false, Some(&["id"])).await.unwrap()),
        want[0]
    );
}

/// Binary codes of 32 bytes, a few bits away from one of 40 random codes.
fn binary_codes(rows: usize, seed: u64) -> Vec<Vec<u8>> {
    use rand::{Rng, SeedableRng};
    let mut centres_rng = rand::rngs::StdRng::seed_from_u64(90);
    let centres: Vec<Vec<u8>> = (0..40)
        .map(|_| (0..32).map(|_| centres_rng.random()).collect())
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..rows)
        .map(|_| {
            let mut code = centres[rng.random_range(0..40)].clone();
            for _ in 0..rng.random_range(0..24) {
                let bit = rng.random_range(0..256);
                code[bit / 8] ^= 1 << (bit % 8);
            }
            code
        })
        .collect()
}

/// IVF_FLAT over u8 binary codes with the hamming metric: partitions are
/// trained in Hamming space, results carry the exact number of differing
/// bits, the default search reaches recall@10 ≥ 0.9 against exact search,
/// the segment is index format version 4, and a reopen, an append
/// (searched exactly, merged), optimize's delta segment, a merge, a
/// retrain and a streamed (bounded-memory) build keep answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hamming_ivf_flat_indexes_binary_codes() {
    let dir = tempfile::tempdir().unwrap();
    let codes = binary_codes(6000, 3);
    let location = common::local_location(dir.path());
    let first = common::binary_batch(0..6000, &codes, 32);
    let mut ds = Dataset::write(
        location,
        first.schema(),
        stream_of(vec![first]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    let index = VectorIndexParams {
        metric: Metric::Hamming,
        num_partitions: Some(40),
        ..VectorIndexParams::new("bits", IndexType::IvfFlat)
    };
    ds.create_index(&index, &Progress::none()).await.unwrap();
    let segment = &ds.index_segments()[0];
    assert_eq!(segment.index_version(), 5);
    assert_eq!(segment.metric(), Some(Metric::Hamming));
    // Index version 5 stores each 32-byte code as 32 bytes (version 4 kept
    // 128 bytes of f32 values): a row costs its id and its code.
    let storage = segment.files().into_iter().find(|f| f.role == "storage").unwrap();
    assert!(
        storage.size < 6000 * (8 + 32 * 2),
        "storage holds {} bytes for 6000 codes of 32 bytes",
        storage.size
    );
    let probes = segment.vector_info().unwrap().default_nprobes;
    assert!((1..40).contains(&probes), "calibrated probes {probes} of 40 partitions");
    let queries = binary_codes(30, 77);
    check_hamming(&ds, &queries, "built").await;
    let reopened = Dataset::open_location(common::local_location(dir.path()))
        .await
        .unwrap();
    check_hamming(&reopened, &queries, "reopened").await;
    let more = binary_codes(500, 12);
    ds.append(
        stream_of(vec![common::binary_batch(6000..6500, &more, 32)]),
        &WriteParams::default(),
    )
    .await
    .unwrap();
    check_hamming(&ds, &queries, "appended").await;
    let delta = OptimizeIndexOptions {
        num_indices_to_merge: 0,
        ..Default::default()
    };
    ds.optimize_indices(&delta).await.unwrap();
    assert_eq!(ds.index_segments().len(), 2, "the appended rows are a delta segment");
    check_hamming(&ds, &queries, "delta").await;
    let merge = OptimizeIndexOptions {
        num_indices_to_merge: 2,
        ..Default::default()
    };
    ds.optimize_indices(&merge).await.unwrap();
    assert_eq!(ds.index_segments().len(), 1, "merged");
    check_hamming(&ds, &queries, "merged").await;
    let retrain = OptimizeIndexOptions {
        retrain: true,
        ..Default::default()
    };
    ds.optimize_indices(&retrain).await.unwrap();
    assert_eq!(ds.index_segments()[0].metric(), Some(Metric::Hamming));
    check_hamming(&ds, &queries, "retrained").await;
    // A budget far below the column streams the build (sample, spill).
    let streamed = VectorIndexParams {
        replace: true,
        memory_limit: 64 * 1024,
        ..index
    };
    ds.create_index(&streamed, &Progress::none()).await.unwrap();
    check_hamming(&ds, &queries, "streamed").await;
    // A row finds itself at distance 0, through the index or exactly.
    let own: Vec<f32> = more[7].iter().map(|&b| b as f32).collect();
    let query = VectorQuery::new("bits", own, 1).with_metric(Metric::Hamming);
    let got = ds.nearest(&query, None, false, Some(&["id"])).await.unwrap();
    assert_eq!(common::distances_of(&got), vec![0.0]);
}

/// Every query returns 10 rows with exact bit counts, at recall@10 ≥ 0.9
/// against exact search.
async fn check_hamming(ds: &Dataset, queries: &[Vec<u8>], label: &str) {
    let mut total = 0.0;
    for q in queries {
        let vector: Vec<f32> = q.iter().map(|&b| b as f32).collect();
        let query = VectorQuery::new("bits", vector, 10).with_metric(Metric::Hamming);
        let got = ds.nearest(&query, None, false, Some(&["id"])).await.unwrap();
        let exact = ds.nearest_exact(&query, None, false, Some(&["id"])).await.unwrap();
        assert_eq!(ids_of(&got).len(), 10, "{label}");
        // Distances are exact bit counts: equal to the exact search's
        // wherever the same row comes back.
        for (id, d) in ids_of(&got).iter().zip(common::distances_of(&got)) {
            if let Some(at) = ids_of(&exact).iter().position(|e| e == id) {
                assert_eq!(common::distances_of(&exact)[at], d, "{label}");
            }
        }
        total += recall(&ids_of(&got), &ids_of(&exact));
    }
    let mean = total / queries.len() as f32;
    assert!(mean >= 0.9, "{label}: hamming recall@10 {mean}");
}

/// `optimize_indices` under a memory limit far below the new rows spills
/// them (encoded batch by batch) and writes the segment partition by
/// partition; the result answers exactly as an update with the default
/// limit does, for a delta segment, a merge and an IVF_HNSW_SQ merge (whose
/// graphs are rebuilt partition by partition).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimize_under_a_small_memory_limit_answers_alike() {
    for kind in [IndexType::IvfPq, IndexType::IvfHnswSq] {
        let mut answers = Vec::new();
        for memory_limit in [1usize << 30, 16 * 1024] {
            let mut ds = dataset().await;
            ds.create_index(&params(kind, Metric::L2), &Progress::none())
                .await
                .unwrap();
            let extra = clustered(3000, 23);
            ds.append(
                stream_of(vec![batch(ROWS..ROWS + 3000, &extra)]),
                &WriteParams::default(),
            )
            .await
            .unwrap();
            let delta = OptimizeIndexOptions {
                num_indices_to_merge: 0,
                memory_limit,
                ..Default::default()
            };
            ds.optimize_indices(&delta).await.unwrap();
            assert_eq!(ds.index_segments().len(), 2);
            ds.delete("id % 5 = 0").await.unwrap();
            let merge = OptimizeIndexOptions {
                num_indices_to_merge: 2,
                memory_limit,
                ..Default::default()
            };
            ds.optimize_indices(&merge).await.unwrap();
            assert_eq!(ds.index_segments().len(), 1);
            assert_eq!(ds.index_segments()[0].num_entries(), ds.count_rows(None).await.unwrap());
            let mut lines = Vec::new();
            for q in clustered(10, 61).chunks_exact(DIM) {
                let query = VectorQuery::new("emb", q.to_vec(), 10);
                lines.push(common::id_line(&ds, &query).await);
            }
            answers.push(lines);
        }
        assert_eq!(answers[0], answers[1], "{kind:?}");
    }
}
