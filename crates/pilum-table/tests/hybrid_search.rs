//! Hybrid search end to end: the fused ranking equals RRF (and weighted
//! fusion) computed from the two searches run separately, the filter
//! applies to both sides, and a reranker re-orders the fused candidates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type, UInt32Type};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use common::{Backend, TestLocation, stream_of};
use pilum_table::*;
use std::collections::HashMap;
use std::sync::Arc;

const DIM: usize = 8;
const ROWS: i64 = 400;
const WORDS: [&str; 6] = ["harbor", "signal", "meadow", "copper", "glacier", "summit"];

fn batch() -> RecordBatch {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..ROWS));
    let text: ArrayRef = Arc::new(StringArray::from_iter_values((0..ROWS).map(|i| {
        let a = WORDS[(i % 6) as usize];
        let b = WORDS[((i / 6) % 6) as usize];
        format!("{a} {b} {a} notes {i}")
    })));
    let values: Vec<f32> = (0..ROWS as usize * DIM)
        .map(|j| ((j as f32 * 0.37).sin() + (j / DIM) as f32 * 0.01).fract())
        .collect();
    let vectors = common::vector_batch(0..ROWS, values, DIM);
    RecordBatch::try_from_iter(vec![("id", ids), ("text", text), ("emb", vectors.column(1).clone())]).unwrap()
}

async fn dataset(guard: &TestLocation) -> Dataset {
    let b = batch();
    let mut ds = Dataset::write(
        guard.location.clone(),
        b.schema(),
        stream_of(vec![b]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    ds.create_text_index(&TextIndexParams::new("text"), &Progress::none())
        .await
        .unwrap();
    ds
}

fn query_vector() -> Vec<f32> {
    (0..DIM).map(|j| ((j as f32) * 0.11).cos().fract()).collect()
}

fn ids(batch: &RecordBatch) -> Vec<i64> {
    batch
        .column_by_name("id")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rrf_fuses_the_two_prefiltered_rankings() {
    let guard = TestLocation::new(Backend::Memory);
    let ds = dataset(&guard).await;
    let filter = "id % 3 <> 0";
    let text = FullTextQuery::text("harbor glacier");
    let window = 30;
    // The two sides, run separately with the same pre-filter.
    let vector_side = ds
        .nearest(
            &VectorQuery::new("emb", query_vector(), window),
            Some(filter),
            true,
            Some(&["id"]),
        )
        .await
        .unwrap();
    let text_side = ds
        .full_text_search(&FullTextSearch {
            limit: Some(window),
            filter: Some(Predicate::Sql(filter.into())),
            prefilter: true,
            columns: Some(vec!["id".into()]),
            ..FullTextSearch::new(text.clone())
        })
        .await
        .unwrap();
    let mut expected: HashMap<i64, f32> = HashMap::new();
    for side in [ids(&vector_side), ids(&text_side)] {
        for (rank, id) in side.into_iter().enumerate() {
            *expected.entry(id).or_default() += 1.0 / (60.0 + rank as f32 + 1.0);
        }
    }
    let mut want: Vec<(i64, f32)> = expected.into_iter().collect();
    want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    want.truncate(10);
    let search = HybridSearch {
        candidates: Some(window),
        filter: Some(Predicate::Sql(filter.into())),
        columns: Some(vec!["id".into()]),
        ..HybridSearch::new(VectorQuery::new("emb", query_vector(), 10), text.clone(), 10)
    };
    let got = ds.hybrid_search(&search).await.unwrap();
    let relevance = got.column_by_name(RELEVANCE).unwrap().as_primitive::<Float32Type>();
    assert_eq!(ids(&got), want.iter().map(|w| w.0).collect::<Vec<_>>());
    for (g, w) in relevance.values().iter().zip(&want) {
        assert!((g - w.1).abs() < 1e-6);
    }
    assert!(ids(&got).iter().all(|i| i % 3 != 0), "the filter applies to both sides");
    // Ranks are reported for the side(s) that returned each row.
    let vector_ranks = got.column_by_name(VECTOR_RANK).unwrap().as_primitive::<UInt32Type>();
    let text_ranks = got.column_by_name(TEXT_RANK).unwrap().as_primitive::<UInt32Type>();
    assert!((0..got.num_rows()).all(|r| vector_ranks.is_valid(r) || text_ranks.is_valid(r)));
    // Weighted fusion with all weight on the text side is the text ranking.
    let weighted = HybridSearch {
        fusion: Fusion::Weighted { vector_weight: 0.0 },
        ..search.clone()
    };
    let got = ds.hybrid_search(&weighted).await.unwrap();
    assert_eq!(ids(&got)[..5], ids(&text_side)[..5]);
}

/// Ranks rows by descending id.
struct ByIdDescending;

impl Reranker for ByIdDescending {
    fn rerank(&self, candidates: &RecordBatch) -> Result<Vec<f32>> {
        Ok(ids(candidates).into_iter().map(|i| i as f32).collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reranker_reorders_the_fused_candidates() {
    let guard = TestLocation::new(Backend::Memory);
    let ds = dataset(&guard).await;
    let search = HybridSearch {
        candidates: Some(20),
        columns: Some(vec!["id".into(), "text".into()]),
        reranker: Some(Arc::new(ByIdDescending)),
        ..HybridSearch::new(
            VectorQuery::new("emb", query_vector(), 5),
            FullTextQuery::text("summit"),
            5,
        )
    };
    let got = ds.hybrid_search(&search).await.unwrap();
    let got_ids = ids(&got);
    assert_eq!(got_ids.len(), 5);
    assert!(got_ids.windows(2).all(|w| w[0] > w[1]), "{got_ids:?}");
    let all = ds
        .hybrid_search(&HybridSearch {
            reranker: None,
            limit: 40,
            ..search.clone()
        })
        .await
        .unwrap();
    let mut every = ids(&all);
    every.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(got_ids, every[..5], "the reranker saw every fused candidate");
    let relevance = got.column_by_name(RELEVANCE).unwrap().as_primitive::<Float32Type>();
    assert_eq!(relevance.value(0), got_ids[0] as f32);
    let zero = HybridSearch { limit: 0, ..search };
    assert!(ds.hybrid_search(&zero).await.is_err());
}
