//! The search planner: which index segments answer a query, which
//! fragments are searched exactly, how filters apply, and the merge.

use super::ann::AnnParams;
use super::column::VectorShape;
use super::widen::{sample_reaches_top, window_and_sample};
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::expr::CompiledExpr;
use crate::index::IndexSegment;
use crate::predicate::Predicate;
use arrow_array::RecordBatch;
use pilum_index::{Metric, Neighbor, TopK, maxsim_candidates};
use roaring::{RoaringBitmap, RoaringTreemap};

/// A pre-filter whose passing indexed rows hold at most this many vector
/// values is answered by comparing them exactly (their vectors read by row
/// id): 10,000 rows of 128-d, 1,666 of 768-d. Past it, reading the rows
/// costs more than probing the index for them.
const PREFILTER_EXACT_VALUES: u64 = 1_280_000;

/// Index entries each query vector of a multivector query fetches, as a
/// multiple of `k × refine factor`: one row's bag puts several vectors
/// among a query vector's nearest, and the rows' MaxSim estimates need
/// entries near every query vector.
const MULTIVECTOR_OVERFETCH: usize = 16;

/// Rows of a multivector query re-ranked exactly (by their MaxSim
/// estimates), as a multiple of `k × refine factor`.
const MULTIVECTOR_RERANK: usize = 16;

/// Name of the distance column search results carry.
pub const DISTANCE: &str = "_distance";

/// A nearest-neighbor query over one vector column.
#[derive(Debug, Clone)]
pub struct VectorQuery {
    /// The vector column: a fixed-size list of f16, f32, f64, u8 or i8,
    /// or a list of such vectors per row (a multivector column).
    pub column: String,
    /// The query vector (as many values as the column's list size); for a
    /// multivector column, one or more query vectors one after another,
    /// ranked by MaxSim: `Σᵢ minⱼ distance(qᵢ, vⱼ)` over the row's vectors.
    pub query: Vec<f32>,
    /// Rows to return at most.
    pub k: usize,
    /// The distance to rank by; `None`: the index's metric, else L2.
    pub metric: Option<Metric>,
    /// Partitions to probe at least; `None`: the index's calibrated default.
    pub nprobes: Option<usize>,
    /// Candidates re-ranked exactly, as a multiple of `k`; `None`: the
    /// index's calibrated default; `Some(0)`: none (quantized distances),
    /// except on a prefix (matryoshka) or multivector index, whose
    /// candidates are always re-ranked (at least `k` of them).
    pub refine_factor: Option<usize>,
    /// Search through an index when one covers the column (else exactly).
    pub use_index: bool,
    /// Search only the fragments an index covers (pylance's `fast_search`).
    pub index_only: bool,
    /// IVF_HNSW_SQ: the graph search's width in each probed partition
    /// (at least the candidates wanted, k × refine factor); `None`: twice
    /// the candidates wanted, at least 40. Other kinds ignore it (they
    /// compare every member).
    pub ef: Option<usize>,
}

impl VectorQuery {
    /// The `k` rows nearest to `query` in `column`, with every default.
    pub fn new(column: impl Into<String>, query: Vec<f32>, k: usize) -> Self {
        Self {
            column: column.into(),
            query,
            k,
            metric: None,
            nprobes: None,
            refine_factor: None,
            use_index: true,
            index_only: false,
            ef: None,
        }
    }

    /// The same query ranked by `metric`.
    pub fn with_metric(mut self, metric: Metric) -> Self {
        self.metric = Some(metric);
        self
    }
}

impl Dataset {
    /// The `query.k` live rows nearest to the query vector, nearest first.
    ///
    /// Fragments covered by an index on the column (with the query's
    /// metric) are searched through it; the others exactly; the two merge by
    /// distance. With `prefilter`, `filter` (SQL) selects the candidates
    /// first, so `k` rows come back whenever at least `k` match; without it
    /// the `k` nearest are found first and `filter` then drops some
    /// (pylance's default). The result has `columns` (all when `None`), then
    /// `_rowid` and `_distance` (f32, pylance's values: squared L2,
    /// `1 − cos`, `1 − dot`). Rows with null or non-finite vectors never
    /// match. Ties are broken by row id.
    pub async fn nearest(
        &self,
        query: &VectorQuery,
        filter: Option<&str>,
        prefilter: bool,
        columns: Option<&[&str]>,
    ) -> Result<RecordBatch> {
        let shape = self.check_vector_column(query)?;
        let post = match (filter, prefilter) {
            (Some(sql), false) => Some(CompiledExpr::compile_predicate(sql, self.schema())?),
            _ => None,
        };
        let pre = if prefilter { filter } else { None };
        let segments = if query.use_index {
            self.usable_segments(query)?
        } else {
            Vec::new()
        };
        let metric = query
            .metric
            .or_else(|| segments.first().and_then(|s| s.metric()))
            .unwrap_or(Metric::L2);
        if metric == Metric::Hamming {
            check_binary_query(query, shape)?;
        }
        if segments.is_empty() {
            if query.use_index && query.index_only {
                return Err(TableError::InvalidArgument(format!(
                    "fast_search needs an index on {:?} with metric {metric}",
                    query.column
                )));
            }
            let winners = self.exact_neighbors(query, metric, shape, None, pre).await?;
            return self.search_output(&winners, columns, post.as_ref()).await;
        }
        let covered = segments.iter().fold(RoaringBitmap::new(), |acc, s| acc | &s.fragments);
        let (covered_ids, uncovered_ids): (Vec<u64>, Vec<u64>) = self
            .all_fragments()
            .await?
            .iter()
            .map(|f| f.id)
            .partition(|id| covered.contains(*id as u32));
        let allow = match pre {
            Some(sql) if !covered_ids.is_empty() => Some(
                self.allowed_rows(&Predicate::Sql(sql.to_string()), Some(covered_ids))
                    .await?,
            ),
            _ => None,
        };
        let refine = refine_factor(query, shape, &segments);
        let params = AnnParams {
            want: query
                .k
                .saturating_mul(refine.max(1))
                .saturating_mul(if shape.multivector { MULTIVECTOR_OVERFETCH } else { 1 }),
            nprobes: query.nprobes,
            ef: query.ef,
            allow: allow.as_ref(),
        };
        let found = match &allow {
            // A selective filter leaves few rows: compare them exactly
            // instead of probing partitions for scattered matches.
            Some(allowed) if allowed.len().saturating_mul(shape.dim as u64) <= PREFILTER_EXACT_VALUES => {
                self.rank_rows(query, metric, shape, allowed.iter().collect()).await?
            }
            _ => {
                // Each query vector (several for a multivector query) finds
                // its candidates; their rows are re-ranked together.
                let mut valid = Vec::with_capacity(segments.len());
                for segment in &segments {
                    valid.push(self.valid_ids(segment).await?);
                }
                if shape.multivector {
                    let mut lists = Vec::new();
                    for vector in query.query.chunks_exact(shape.dim) {
                        lists.push(self.index_candidates(vector, &segments, &valid, &params).await?);
                    }
                    let keep = query.k.saturating_mul(refine).saturating_mul(MULTIVECTOR_RERANK);
                    let ids = maxsim_candidates(&lists, keep);
                    self.rank_rows(query, metric, shape, ids).await?
                } else if refine == 0 {
                    self.index_candidates(&query.query, &segments, &valid, &params).await?
                } else if let (Some(allowed), None) = (&allow, query.refine_factor) {
                    let passing = usize::try_from(allowed.len()).unwrap_or(usize::MAX);
                    self.filtered_window(query, metric, shape, &segments, &valid, params, passing)
                        .await?
                } else {
                    let window = self.index_candidates(&query.query, &segments, &valid, &params).await?;
                    self.rank_rows(query, metric, shape, window.iter().map(|n| n.id).collect())
                        .await?
                }
            }
        };
        let mut top = TopK::new(query.k);
        for n in found {
            top.push(n.distance, n.id);
        }
        if !query.index_only && !uncovered_ids.is_empty() {
            for n in self
                .exact_neighbors(query, metric, shape, Some(uncovered_ids), pre)
                .await?
            {
                top.push(n.distance, n.id);
            }
        }
        let winners: Vec<Neighbor> = top.into_sorted();
        self.search_output(&winners, columns, post.as_ref()).await
    }

    /// [`Dataset::nearest`] without any index: every live row is compared.
    pub async fn nearest_exact(
        &self,
        query: &VectorQuery,
        filter: Option<&str>,
        prefilter: bool,
        columns: Option<&[&str]>,
    ) -> Result<RecordBatch> {
        let query = VectorQuery {
            use_index: false,
            index_only: false,
            ..query.clone()
        };
        self.nearest(&query, filter, prefilter, columns).await
    }

    /// Exact distances of a pre-filtered query's re-ranking window, which
    /// starts at the calibrated width and doubles while a sample of the
    /// rows ranked just past it reaches the top k (see `widen`), at worst
    /// until it holds every one of the `passing` rows: then the answer is
    /// exact, at about twice the cost of comparing those rows directly.
    #[allow(clippy::too_many_arguments)]
    async fn filtered_window(
        &self,
        query: &VectorQuery,
        metric: Metric,
        shape: VectorShape,
        segments: &[&IndexSegment],
        valid: &[std::sync::Arc<RoaringTreemap>],
        mut params: AnnParams<'_>,
        passing: usize,
    ) -> Result<Vec<Neighbor>> {
        let limit = passing.max(params.want);
        loop {
            let window = params.want;
            params.want = window.saturating_mul(2);
            let candidates = self.index_candidates(&query.query, segments, valid, &params).await?;
            let (mut ids, sample) = window_and_sample(&candidates, window);
            ids.extend(&sample);
            let exact = self.rank_rows(query, metric, shape, ids).await?;
            if window >= limit || !sample_reaches_top(&exact, &sample, query.k) {
                return Ok(exact);
            }
            params.want = window.saturating_mul(2);
        }
    }

    /// The `params.want` best index entries for one query vector over
    /// every segment, by estimated distance.
    async fn index_candidates(
        &self,
        vector: &[f32],
        segments: &[&IndexSegment],
        valid: &[std::sync::Arc<RoaringTreemap>],
        params: &AnnParams<'_>,
    ) -> Result<Vec<Neighbor>> {
        let mut top = TopK::new(params.want);
        for (segment, valid) in segments.iter().zip(valid) {
            for n in self.search_segment(vector, segment, valid, params).await? {
                top.push(n.distance, n.id);
            }
        }
        Ok(top.into_sorted())
    }

    /// The readable segments of the first index on the query's column whose
    /// metric fits the query.
    fn usable_segments(&self, query: &VectorQuery) -> Result<Vec<&IndexSegment>> {
        let field_id = self.manifest.schema.field_id(&query.column)?;
        let fits = |s: &&IndexSegment| {
            s.is_readable()
                && s.message.field_ids == [field_id]
                && s.metric().is_some_and(|m| query.metric.is_none_or(|q| q == m))
        };
        let Some(name) = self.manifest.indices.iter().find(fits).map(|s| s.name().to_string()) else {
            return Ok(Vec::new());
        };
        Ok(self
            .manifest
            .indices
            .iter()
            .filter(|s| s.name() == name)
            .filter(fits)
            .collect())
    }
}

/// Candidates re-ranked exactly, as a multiple of `k` (0: none): the
/// query's choice, else the largest calibrated default of a quantized
/// segment; at least 1 where the index's distances are not the query's
/// (a prefix index, a multivector column).
fn refine_factor(query: &VectorQuery, shape: VectorShape, segments: &[&IndexSegment]) -> usize {
    let quantized = segments.iter().any(|s| {
        matches!(
            s.message.kind(),
            crate::proto::IndexKind::IvfPq | crate::proto::IndexKind::IvfSq | crate::proto::IndexKind::IvfHnswSq
        )
    });
    let approximate = shape.multivector || segments.iter().any(|s| s.is_prefix());
    let chosen = match query.refine_factor {
        Some(r) => r,
        None if quantized || approximate => segments
            .iter()
            .filter_map(|s| s.vector())
            .map(|d| d.default_refine_factor as usize)
            .max()
            .unwrap_or(1),
        None => 0,
    };
    if approximate { chosen.max(1) } else { chosen }
}

/// Hamming distance compares bytes: the column must hold u8 codes and the
/// query bytes (whole numbers 0–255).
fn check_binary_query(query: &VectorQuery, shape: VectorShape) -> Result<()> {
    if !shape.bytes {
        return Err(TableError::InvalidArgument(format!(
            "metric hamming needs a u8 vector column (binary codes); {:?} is not one",
            query.column
        )));
    }
    if query
        .query
        .iter()
        .any(|v| v.fract() != 0.0 || !(0.0..=255.0).contains(v))
    {
        return Err(TableError::InvalidArgument(
            "a hamming query holds bytes: whole numbers from 0 to 255".into(),
        ));
    }
    Ok(())
}
