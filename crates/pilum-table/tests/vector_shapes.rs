//! Vector columns beyond one f32 vector per row: multivector columns
//! (a bag of vectors per row, ranked by MaxSim) with and without an index,
//! matryoshka prefix indices re-ranked on the whole vector, u8 and i8
//! columns, and vectors holding NaN under every metric. Brute force over
//! the generated values is the model every answer is checked against.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, ListBuilder, UInt8Builder};
use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use common::{distances_of, ids_of, recall, stream_of};
use pilum_index::Metric;
use pilum_table::*;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::sync::Arc;

const DIM: usize = 16;

fn memory(name: &str) -> DatasetLocation {
    DatasetLocation::in_store(Arc::new(object_store::memory::InMemory::new()), name)
}

/// `count` vectors around 30 seeded centres.
fn clustered(count: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut centres_rng = StdRng::seed_from_u64(5);
    let centres: Vec<Vec<f32>> = (0..30)
        .map(|_| (0..dim).map(|_| centres_rng.random_range(-1.0f32..1.0)).collect())
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let c = &centres[rng.random_range(0..30)];
            c.iter().map(|v| v + rng.random_range(-0.4f32..0.4)).collect()
        })
        .collect()
}

/// Bags of 1–6 vectors per row, as a late-interaction model gives a
/// passage: a passage touches 3 of 200 concepts, and each of its vectors
/// lies near one of them.
fn bags(rows: usize, seed: u64) -> Vec<Vec<Vec<f32>>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let concepts = concepts();
    (0..rows)
        .map(|_| {
            let touched: Vec<usize> = (0..3).map(|_| rng.random_range(0..concepts.len())).collect();
            (0..rng.random_range(1..=6))
                .map(|_| near(&concepts[touched[rng.random_range(0..3)]], &mut rng))
                .collect()
        })
        .collect()
}

fn concepts() -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(900);
    (0..200)
        .map(|_| (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect())
        .collect()
}

fn near(centre: &[f32], rng: &mut StdRng) -> Vec<f32> {
    centre.iter().map(|v| v + rng.random_range(-0.3f32..0.3)).collect()
}

/// A query bag of `n` vectors about two concepts.
fn query_bag(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let concepts = concepts();
    let about = [rng.random_range(0..200), rng.random_range(0..200)];
    (0..n).map(|i| near(&concepts[about[i % 2]], &mut rng)).collect()
}

fn multivector_batch(first: i64, bags: &[Vec<Vec<f32>>]) -> RecordBatch {
    let mut builder = ListBuilder::new(FixedSizeListBuilder::new(Float32Builder::new(), DIM as i32));
    for bag in bags {
        for vector in bag {
            builder.values().values().append_slice(vector);
            builder.values().append(true);
        }
        builder.append(true);
    }
    let mv: ArrayRef = Arc::new(builder.finish());
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("mv", mv.data_type().clone(), true),
    ]);
    let ids = Int64Array::from_iter_values(first..first + bags.len() as i64);
    RecordBatch::try_new(Arc::new(schema), vec![Arc::new(ids), mv]).unwrap()
}

async fn write(location: DatasetLocation, batches: Vec<RecordBatch>) -> Dataset {
    let params = WriteParams {
        max_rows_per_file: 1000,
        ..Default::default()
    };
    Dataset::write(
        location,
        batches[0].schema(),
        stream_of(batches),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap()
}

/// The model: MaxSim distances of every row, nearest `k` (ties by id).
fn maxsim_truth(bags: &[Vec<Vec<f32>>], query: &[Vec<f32>], metric: Metric, k: usize) -> Vec<(i64, f32)> {
    let mut scored: Vec<(i64, f32)> = bags
        .iter()
        .enumerate()
        .map(|(id, bag)| {
            let d = query
                .iter()
                .map(|q| bag.iter().map(|v| metric.distance(q, v)).fold(f32::INFINITY, f32::min))
                .sum();
            (id as i64, d)
        })
        .collect();
    scored.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multivector_exact_search_is_maxsim_for_every_metric() {
    let rows = bags(600, 3);
    let ds = write(memory("mv"), vec![multivector_batch(0, &rows)]).await;
    for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
        for (n, seed) in [(1, 10), (3, 11), (8, 12)] {
            let query = clustered(n, DIM, seed);
            let flat: Vec<f32> = query.concat();
            let q = VectorQuery::new("mv", flat, 10).with_metric(metric);
            let got = ds.nearest_exact(&q, None, false, Some(&["id"])).await.unwrap();
            let truth = maxsim_truth(&rows, &query, metric, 10);
            assert_eq!(
                ids_of(&got),
                truth.iter().map(|t| t.0).collect::<Vec<_>>(),
                "{metric} {n}"
            );
            for (d, (_, t)) in distances_of(&got).iter().zip(&truth) {
                assert!((d - t).abs() <= 1e-3 * t.abs().max(1.0), "{metric}: {d} vs {t}");
            }
        }
    }
    // A query whose length is not a multiple of the vector size is refused.
    let bad = VectorQuery::new("mv", vec![0.5; DIM + 3], 10);
    assert!(matches!(
        ds.nearest(&bad, None, false, None).await,
        Err(TableError::InvalidArgument(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multivector_index_finds_the_maxsim_neighbors_and_never_stale_rows() {
    let rows = bags(3000, 4);
    let batches: Vec<RecordBatch> = rows
        .chunks(1000)
        .enumerate()
        .map(|(i, c)| multivector_batch(i as i64 * 1000, c))
        .collect();
    let mut ds = write(memory("mvi"), batches).await;
    for kind in [IndexType::IvfFlat, IndexType::IvfPq, IndexType::IvfSq] {
        let params = VectorIndexParams {
            metric: Metric::Cosine,
            replace: true,
            num_partitions: Some(16),
            // IVF_SQ streams: a row's vectors spill and gather with its id.
            memory_limit: if kind == IndexType::IvfSq { 64 << 10 } else { 1 << 30 },
            ..VectorIndexParams::new("mv", kind)
        };
        ds.create_index(&params, &Progress::none()).await.unwrap();
        let stats = ds.index_statistics("mv_idx").await.unwrap();
        assert_eq!(
            stats.num_indexed_rows, 3000,
            "{kind:?}: rows, not vectors, count as indexed"
        );
        let described = ds.describe_indices().await.unwrap();
        assert!(described.iter().any(|d| d.name == "mv_idx"));
        let mut total = 0.0;
        for seed in 0..10 {
            let query = query_bag(4, 100 + seed);
            let q = VectorQuery::new("mv", query.concat(), 10);
            let got = ds.nearest(&q, None, false, Some(&["id"])).await.unwrap();
            let truth: Vec<i64> = maxsim_truth(&rows, &query, Metric::Cosine, 10)
                .iter()
                .map(|t| t.0)
                .collect();
            total += recall(&ids_of(&got), &truth);
            // Re-ranked exactly: every distance is the row's true MaxSim.
            for (id, d) in ids_of(&got).iter().zip(distances_of(&got)) {
                let exact = maxsim_truth(&rows[*id as usize..*id as usize + 1], &query, Metric::Cosine, 1)[0].1;
                assert!((d - exact).abs() < 1e-3, "{kind:?}: {d} vs {exact}");
            }
        }
        assert!(total / 10.0 >= 0.9, "{kind:?}: MaxSim recall@10 {}", total / 10.0);
    }
    // Deleted rows never come back; appended rows are found exactly.
    let query = query_bag(3, 500);
    let q = VectorQuery::new("mv", query.concat(), 5);
    let before = ids_of(&ds.nearest(&q, None, false, Some(&["id"])).await.unwrap());
    ds.delete(&format!("id = {}", before[0])).await.unwrap();
    let after = ids_of(&ds.nearest(&q, None, false, Some(&["id"])).await.unwrap());
    assert!(!after.contains(&before[0]));
    let twin = vec![query.clone()];
    ds.append(stream_of(vec![multivector_batch(9000, &twin)]), &WriteParams::default())
        .await
        .unwrap();
    let found = ds.nearest(&q, None, false, Some(&["id"])).await.unwrap();
    assert_eq!(ids_of(&found)[0], 9000, "an appended exact match ranks first");
    assert!(distances_of(&found)[0].abs() < 1e-4);
}

/// A column whose first 8 dimensions carry most of the signal, as
/// matryoshka embeddings do.
fn matryoshka_rows(count: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    clustered(count, DIM, seed)
        .into_iter()
        .flat_map(|mut v| {
            for x in &mut v[8..] {
                *x = *x * 0.3 + rng.random_range(-0.05f32..0.05);
            }
            v
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_index_reranks_on_the_whole_vector() {
    let values = matryoshka_rows(4000, 8);
    let batches: Vec<RecordBatch> = (0..4)
        .map(|i| {
            common::vector_batch(
                i * 1000..(i + 1) * 1000,
                values[i as usize * 1000 * DIM..(i as usize + 1) * 1000 * DIM].to_vec(),
                DIM,
            )
        })
        .collect();
    let mut ds = write(memory("mrl"), batches).await;
    for kind in [IndexType::IvfFlat, IndexType::IvfPq] {
        let params = VectorIndexParams {
            replace: true,
            dimensions: Some(8),
            num_partitions: Some(16),
            num_sub_vectors: (kind == IndexType::IvfPq).then_some(4),
            // IVF_PQ streams (the column is 256 KB): the prefix and the
            // whole-vector calibration survive the bounded-memory build.
            memory_limit: if kind == IndexType::IvfPq { 32 << 10 } else { 1 << 30 },
            ..VectorIndexParams::new("emb", kind)
        };
        ds.create_index(&params, &Progress::none()).await.unwrap();
        let mut total = 0.0;
        for q in matryoshka_rows(20, 99).chunks_exact(DIM) {
            // Even with refine_factor 0, distances are the whole vector's.
            let query = VectorQuery {
                refine_factor: Some(0),
                ..VectorQuery::new("emb", q.to_vec(), 10)
            };
            let got = ds.nearest(&query, None, false, Some(&["id"])).await.unwrap();
            let exact = ds
                .nearest_exact(&VectorQuery::new("emb", q.to_vec(), 10), None, false, Some(&["id"]))
                .await
                .unwrap();
            let (got_ids, got_d) = (ids_of(&got), distances_of(&got));
            for (id, d) in got_ids.iter().zip(&got_d) {
                let v = &values[*id as usize * DIM..(*id as usize + 1) * DIM];
                assert!((d - Metric::L2.distance(q, v)).abs() < 1e-4);
            }
            let defaults = ds
                .nearest(&VectorQuery::new("emb", q.to_vec(), 10), None, false, Some(&["id"]))
                .await
                .unwrap();
            total += recall(&ids_of(&defaults), &ids_of(&exact));
        }
        assert!(total / 20.0 >= 0.9, "{kind:?}: prefix recall@10 {}", total / 20.0);
    }
    let bad = VectorIndexParams {
        dimensions: Some(DIM + 1),
        ..VectorIndexParams::new("emb", IndexType::IvfFlat)
    };
    assert!(matches!(
        ds.create_index(&bad, &Progress::none()).await,
        Err(TableError::InvalidIndexParams { .. })
    ));
    // The prefix survives an optimize (the delta segment indexes 8 values).
    let more = matryoshka_rows(500, 31);
    ds.append(
        stream_of(vec![common::vector_batch(5000..5500, more, DIM)]),
        &WriteParams::default(),
    )
    .await
    .unwrap();
    ds.optimize_indices(&OptimizeIndexOptions::default()).await.unwrap();
    assert_eq!(ds.index_statistics("emb_idx").await.unwrap().num_unindexed_rows, 0);
    let q = &values[..DIM];
    let got = ds
        .nearest(&VectorQuery::new("emb", q.to_vec(), 1), None, false, Some(&["id"]))
        .await
        .unwrap();
    assert_eq!(ids_of(&got), vec![0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn u8_vectors_are_searched_and_indexed_as_numbers() {
    let mut rng = StdRng::seed_from_u64(12);
    let rows: Vec<Vec<u8>> = (0..2000).map(|_| (0..DIM).map(|_| rng.random()).collect()).collect();
    let mut builder = FixedSizeListBuilder::new(UInt8Builder::new(), DIM as i32);
    for row in &rows {
        builder.values().append_slice(row);
        builder.append(true);
    }
    let emb: ArrayRef = Arc::new(builder.finish());
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("emb", emb.data_type().clone(), true),
    ]);
    let ids = Int64Array::from_iter_values(0..2000);
    let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(ids), emb]).unwrap();
    let mut ds = write(memory("u8"), vec![batch]).await;
    let as_f32 = |v: &[u8]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let query = as_f32(&rows[17]);
    let got = ds
        .nearest(&VectorQuery::new("emb", query.clone(), 5), None, false, Some(&["id"]))
        .await
        .unwrap();
    assert_eq!(ids_of(&got)[0], 17);
    let mut truth: Vec<(f32, i64)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (Metric::L2.distance(&query, &as_f32(r)), i as i64))
        .collect();
    truth.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    assert_eq!(ids_of(&got), truth[..5].iter().map(|t| t.1).collect::<Vec<_>>());
    ds.create_index(&VectorIndexParams::new("emb", IndexType::IvfSq), &Progress::none())
        .await
        .unwrap();
    let indexed = ds
        .nearest(&VectorQuery::new("emb", query, 5), None, false, Some(&["id"]))
        .await
        .unwrap();
    assert_eq!(ids_of(&indexed)[0], 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vectors_holding_nan_never_match_under_any_metric() {
    let mut values: Vec<f32> = clustered(50, DIM, 40).concat();
    values[3 * DIM + 2] = f32::NAN;
    let ds = write(memory("nan"), vec![common::vector_batch(0..50, values.clone(), DIM)]).await;
    for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
        let q = VectorQuery::new("emb", values[..DIM].to_vec(), 50).with_metric(metric);
        let got = ids_of(&ds.nearest(&q, None, false, Some(&["id"])).await.unwrap());
        assert_eq!(got.len(), 49, "{metric}");
        assert!(!got.contains(&3), "{metric}: the NaN row matched");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hamming_ranks_binary_codes_by_differing_bits() {
    let mut rng = StdRng::seed_from_u64(21);
    let codes: Vec<Vec<u8>> = (0..1500).map(|_| (0..8).map(|_| rng.random()).collect()).collect();
    let batch = common::binary_batch(0..1500, &codes, 8);
    let mut ds = write(memory("bits"), vec![batch]).await;
    let query: Vec<f32> = codes[9].iter().map(|&b| b as f32).collect();
    let q = VectorQuery::new("bits", query.clone(), 20).with_metric(Metric::Hamming);
    let got = ds.nearest(&q, None, false, Some(&["id"])).await.unwrap();
    let mut truth: Vec<(u32, i64)> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                c.iter().zip(&codes[9]).map(|(a, b)| (a ^ b).count_ones()).sum(),
                i as i64,
            )
        })
        .collect();
    truth.sort();
    assert_eq!(ids_of(&got), truth[..20].iter().map(|t| t.1).collect::<Vec<_>>());
    assert_eq!(
        distances_of(&got),
        truth[..20].iter().map(|t| t.0 as f32).collect::<Vec<_>>()
    );
    // Not bytes: refused, naming the problem.
    let fraction = VectorQuery::new("bits", vec![0.5; 8], 5).with_metric(Metric::Hamming);
    assert!(matches!(
        ds.nearest(&fraction, None, false, None).await,
        Err(TableError::InvalidArgument(_))
    ));
    let floats = common::vector_batch(0..10, vec![1.0; 10 * DIM], DIM);
    let float_ds = write(memory("floats"), vec![floats]).await;
    let on_floats = VectorQuery::new("emb", vec![1.0; DIM], 5).with_metric(Metric::Hamming);
    assert!(matches!(
        float_ds.nearest(&on_floats, None, false, None).await,
        Err(TableError::InvalidArgument(_))
    ));
    // Hamming indexes binary codes with IVF_FLAT only, and only u8 columns.
    for kind in [IndexType::IvfPq, IndexType::IvfSq, IndexType::IvfHnswSq] {
        let index = VectorIndexParams {
            metric: Metric::Hamming,
            ..VectorIndexParams::new("bits", kind)
        };
        assert!(matches!(
            ds.create_index(&index, &Progress::none()).await,
            Err(TableError::InvalidIndexParams { .. })
        ));
    }
    let mut float_ds = float_ds;
    let on_floats = VectorIndexParams {
        metric: Metric::Hamming,
        ..VectorIndexParams::new("emb", IndexType::IvfFlat)
    };
    assert!(matches!(
        float_ds.create_index(&on_floats, &Progress::none()).await,
        Err(TableError::InvalidIndexParams { .. })
    ));
}
