//! Hybrid search: a vector search and a full-text search, each
//! pre-filtered by the same predicate, fused into one ranking —
//! Reciprocal Rank Fusion by default, or a weighted sum of normalized
//! scores — then optionally re-ranked by a [`Reranker`] over the fused
//! candidates' columns, fetched by row id.

use super::plan::{DISTANCE, VectorQuery};
use super::text_query::FullTextQuery;
use super::text_search::SCORE;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::predicate::Predicate;
use crate::scanner::ROW_ID;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt64Type};
use arrow_array::{ArrayRef, Float32Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use std::collections::HashMap;
use std::sync::Arc;

/// The fused score column of hybrid results (higher is better).
pub const RELEVANCE: &str = "_relevance_score";
/// 1-based rank of a row in the vector results (null when absent).
pub const VECTOR_RANK: &str = "_vector_rank";
/// 1-based rank of a row in the full-text results (null when absent).
pub const TEXT_RANK: &str = "_text_rank";

/// How the two rankings become one.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Fusion {
    /// Reciprocal Rank Fusion: Σ 1 / (k + rank) over the lists holding the
    /// row (Cormack, Clarke and Büttcher, 2009); k = 60 by default.
    Rrf {
        /// The rank offset.
        k: f32,
    },
    /// `vector_weight · v + (1 − vector_weight) · t`, where v is the vector
    /// similarity min-max normalized over the candidates (1 nearest, 0
    /// farthest) and t the BM25 score divided by the best one (0 when a
    /// list lacks the row).
    Weighted {
        /// Weight of the vector side, 0 to 1.
        vector_weight: f32,
    },
}

impl Default for Fusion {
    fn default() -> Self {
        Self::Rrf { k: 60.0 }
    }
}

/// Re-scores fused candidates (a cross-encoder, a learned ranker, rules).
pub trait Reranker: Send + Sync {
    /// One new score per row of `candidates` (higher is better): the
    /// requested columns, `_rowid`, `_relevance_score`, `_distance`,
    /// `_score`, `_vector_rank` and `_text_rank`.
    fn rerank(&self, candidates: &RecordBatch) -> Result<Vec<f32>>;
}

/// A hybrid search.
#[derive(Clone)]
pub struct HybridSearch {
    /// The vector side (its `k` is ignored: see `candidates`).
    pub vector: VectorQuery,
    /// The text side.
    pub text: FullTextQuery,
    /// Rows returned at most.
    pub limit: usize,
    /// Rows each side contributes at most; default max(3 × limit, 30).
    pub candidates: Option<usize>,
    /// Rows must pass this predicate (applied before both searches).
    pub filter: Option<Predicate>,
    /// How rankings combine.
    pub fusion: Fusion,
    /// Columns returned (all when `None`), before the search columns.
    pub columns: Option<Vec<String>>,
    /// Re-scores the fused candidates (all of them, then the best `limit`
    /// are kept).
    pub reranker: Option<Arc<dyn Reranker>>,
}

impl std::fmt::Debug for HybridSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HybridSearch")
            .field("vector", &self.vector.column)
            .field("text", &self.text)
            .field("limit", &self.limit)
            .field("fusion", &self.fusion)
            .field("reranker", &self.reranker.is_some())
            .finish()
    }
}

impl HybridSearch {
    /// The best `limit` rows for `vector` and `text`, fused by RRF.
    pub fn new(vector: VectorQuery, text: FullTextQuery, limit: usize) -> Self {
        Self {
            vector,
            text,
            limit,
            candidates: None,
            filter: None,
            fusion: Fusion::default(),
            columns: None,
            reranker: None,
        }
    }
}

/// A fused candidate.
#[derive(Debug, Clone, Copy, Default)]
struct Candidate {
    vector: Option<(u32, f32)>,
    text: Option<(u32, f32)>,
    fused: f32,
}

fn fuse(vector: &[(u64, f32)], text: &[(u64, f32)], fusion: Fusion) -> Result<Vec<(u64, Candidate)>> {
    let mut by_row: HashMap<u64, Candidate> = HashMap::new();
    for (rank, &(row, distance)) in vector.iter().enumerate() {
        by_row.entry(row).or_default().vector = Some((rank as u32 + 1, distance));
    }
    for (rank, &(row, score)) in text.iter().enumerate() {
        by_row.entry(row).or_default().text = Some((rank as u32 + 1, score));
    }
    match fusion {
        Fusion::Rrf { k } => {
            if !(k.is_finite() && k >= 0.0) {
                return Err(TableError::InvalidArgument(format!(
                    "RRF k must be finite and >= 0, got {k}"
                )));
            }
            for c in by_row.values_mut() {
                c.fused = [c.vector, c.text]
                    .iter()
                    .flatten()
                    .map(|&(rank, _)| 1.0 / (k + rank as f32))
                    .sum();
            }
        }
        Fusion::Weighted { vector_weight } => {
            if !(0.0..=1.0).contains(&vector_weight) {
                return Err(TableError::InvalidArgument(format!(
                    "vector_weight must be in 0..=1, got {vector_weight}"
                )));
            }
            let (lo, hi) = vector
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &(_, d)| {
                    (lo.min(d), hi.max(d))
                });
            let best_text = text.iter().map(|t| t.1).fold(0.0f32, f32::max);
            for c in by_row.values_mut() {
                let v = c
                    .vector
                    .map_or(0.0, |(_, d)| if hi > lo { 1.0 - (d - lo) / (hi - lo) } else { 1.0 });
                let t = c
                    .text
                    .map_or(0.0, |(_, s)| if best_text > 0.0 { s / best_text } else { 0.0 });
                c.fused = vector_weight * v + (1.0 - vector_weight) * t;
            }
        }
    }
    let mut out: Vec<(u64, Candidate)> = by_row.into_iter().collect();
    out.sort_by(|a, b| b.1.fused.total_cmp(&a.1.fused).then(a.0.cmp(&b.0)));
    Ok(out)
}

impl Dataset {
    /// Runs a hybrid search: both searches pre-filtered, fused, optionally
    /// re-ranked; the best `limit` rows with `columns`, `_rowid`,
    /// `_relevance_score`, `_distance` and `_score` (null where a side did
    /// not return the row), `_vector_rank` and `_text_rank`.
    pub async fn hybrid_search(&self, search: &HybridSearch) -> Result<RecordBatch> {
        let window = search
            .candidates
            .unwrap_or_else(|| search.limit.saturating_mul(3).max(30));
        if window == 0 || search.limit == 0 {
            return Err(TableError::InvalidArgument(
                "a hybrid search needs limit and candidates of at least 1".into(),
            ));
        }
        let allowed = match &search.filter {
            Some(p) => Some(self.allowed_rows(p, None).await?),
            None => None,
        };
        let sql = search.filter.as_ref().map(Predicate::to_sql);
        let vector_query = VectorQuery {
            k: window,
            ..search.vector.clone()
        };
        let nearest = self.nearest(&vector_query, sql.as_deref(), true, Some(&[])).await?;
        let ids = nearest
            .column_by_name(ROW_ID)
            .ok_or_else(|| TableError::Internal {
                what: "vector results lack _rowid".into(),
            })?
            .as_primitive::<UInt64Type>();
        let distances = nearest
            .column_by_name(DISTANCE)
            .ok_or_else(|| TableError::Internal {
                what: "vector results lack _distance".into(),
            })?
            .as_primitive::<Float32Type>();
        let vector: Vec<(u64, f32)> = ids
            .values()
            .iter()
            .copied()
            .zip(distances.values().iter().copied())
            .collect();
        let text = self.full_text_row_ids(&search.text, window, allowed.as_ref()).await?;
        let mut fused = fuse(&vector, &text, search.fusion)?;
        if search.reranker.is_none() {
            fused.truncate(search.limit);
        }
        let batch = self.hybrid_output(&fused, search.columns.as_deref()).await?;
        let Some(reranker) = &search.reranker else {
            return Ok(batch);
        };
        let scores = reranker.rerank(&batch)?;
        if scores.len() != batch.num_rows() {
            return Err(TableError::InvalidArgument(format!(
                "the reranker returned {} scores for {} candidates",
                scores.len(),
                batch.num_rows()
            )));
        }
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        order.truncate(search.limit);
        let take = UInt32Array::from_iter_values(order.iter().map(|&i| i as u32));
        let mut columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| arrow_select::take::take(c.as_ref(), &take, None))
            .collect::<std::result::Result<_, _>>()?;
        let position = batch.schema().index_of(RELEVANCE)?;
        columns[position] = Arc::new(Float32Array::from_iter_values(order.iter().map(|&i| scores[i])));
        Ok(RecordBatch::try_new(batch.schema(), columns)?)
    }

    async fn hybrid_output(&self, fused: &[(u64, Candidate)], columns: Option<&[String]>) -> Result<RecordBatch> {
        let ids: Vec<u64> = fused.iter().map(|f| f.0).collect();
        let relevance: Vec<f32> = fused.iter().map(|f| f.1.fused).collect();
        let names: Option<Vec<&str>> = columns.map(|c| c.iter().map(String::as_str).collect());
        let batch = self
            .ranked_output(&ids, &relevance, RELEVANCE, names.as_deref(), None)
            .await?;
        let mut fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
        fields.push(Field::new(DISTANCE, DataType::Float32, true));
        arrays.push(Arc::new(Float32Array::from_iter(
            fused.iter().map(|f| f.1.vector.map(|v| v.1)),
        )));
        fields.push(Field::new(SCORE, DataType::Float32, true));
        arrays.push(Arc::new(Float32Array::from_iter(
            fused.iter().map(|f| f.1.text.map(|t| t.1)),
        )));
        fields.push(Field::new(VECTOR_RANK, DataType::UInt32, true));
        arrays.push(Arc::new(UInt32Array::from_iter(
            fused.iter().map(|f| f.1.vector.map(|v| v.0)),
        )));
        fields.push(Field::new(TEXT_RANK, DataType::UInt32, true));
        arrays.push(Arc::new(UInt32Array::from_iter(
            fused.iter().map(|f| f.1.text.map(|t| t.0)),
        )));
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rrf_and_weighted_fusion_rank_as_defined() {
        let vector = [(1u64, 0.1f32), (2, 0.2), (3, 0.9)];
        let text = [(3u64, 5.0f32), (4, 4.0), (1, 1.0)];
        let rrf = fuse(&vector, &text, Fusion::default()).unwrap();
        // Row 1: 1/61 + 1/63; row 3: 1/63 + 1/61 (a tie, lower id first); row 2: 1/62; row 4: 1/62.
        let order: Vec<u64> = rrf.iter().map(|r| r.0).collect();
        assert_eq!(order, [1, 3, 2, 4]);
        assert!((rrf[0].1.fused - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-6);
        let weighted = fuse(&vector, &text, Fusion::Weighted { vector_weight: 1.0 }).unwrap();
        assert_eq!(weighted[0].0, 1);
        assert!((weighted[0].1.fused - 1.0).abs() < 1e-6);
        let text_only = fuse(&vector, &text, Fusion::Weighted { vector_weight: 0.0 }).unwrap();
        assert_eq!(text_only[0].0, 3);
        assert!(fuse(&vector, &text, Fusion::Weighted { vector_weight: 1.5 }).is_err());
        assert!(fuse(&vector, &text, Fusion::Rrf { k: f32::NAN }).is_err());
    }
}
