//! Vector search and vector indices on `_Dataset`: `nearest`, building,
//! optimizing, dropping and describing indices.

use crate::dataset::PyDataset;
use crate::errors::invalid_argument;
use crate::maintain::progress_hook;
use crate::runtime::run;
use pilum::{IndexType, Metric, OptimizeIndexOptions, VectorIndexParams, VectorQuery};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::types::PyDict;
use pyo3_arrow::PyTable;

pub(crate) fn metric(name: &str) -> PyResult<Metric> {
    Metric::parse(name).map_err(|e| invalid_argument(e.to_string()))
}

/// A query vector passed as little-endian f32 bytes.
pub(crate) fn query_vector(bytes: &[u8]) -> PyResult<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(invalid_argument("the query vector must be little-endian f32 bytes"));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

#[pymethods]
impl PyDataset {
    /// The `k` rows nearest to `query` (little-endian f32 bytes) in vector
    /// column `column`, through
    /// an index on the column when one fits (`use_index`) and exactly
    /// otherwise; `filter` (SQL) selects candidates first with `prefilter`,
    /// else drops rows from the `k` nearest. Columns `columns` (all when
    /// None), then `_rowid` and `_distance`; with `with_row_id`, pylance's
    /// order (`_distance` last, or `_distance` then `_rowid`).
    #[allow(clippy::too_many_arguments)] // the Python call's keyword arguments
    #[pyo3(signature = (column, query, k, metric=None, filter=None, prefilter=false, columns=None,
                        nprobes=None, refine_factor=None, use_index=true, fast_search=false, batch=None, ef=None,
                        with_row_id=None))]
    fn nearest(
        &self,
        py: Python<'_>,
        column: String,
        query: &[u8],
        k: usize,
        metric: Option<String>,
        filter: Option<String>,
        prefilter: bool,
        columns: Option<Vec<String>>,
        nprobes: Option<usize>,
        refine_factor: Option<usize>,
        use_index: bool,
        fast_search: bool,
        batch: Option<usize>,
        ef: Option<usize>,
        with_row_id: Option<bool>,
    ) -> PyResult<PyTable> {
        let metric = metric.as_deref().map(self::metric).transpose()?;
        let query = query_vector(query)?;
        let query = VectorQuery {
            metric,
            nprobes,
            refine_factor,
            use_index,
            index_only: fast_search,
            ef,
            ..VectorQuery::new(column, query, k)
        };
        // `batch`: the bytes hold that many query vectors, row after row.
        let queries: Option<Vec<Vec<f32>>> = match batch {
            None => None,
            Some(0) => return Err(invalid_argument("a batch search needs at least one query vector")),
            Some(n) if !query.query.is_empty() && query.query.len().is_multiple_of(n) => Some(
                query
                    .query
                    .chunks_exact(query.query.len() / n)
                    .map(<[f32]>::to_vec)
                    .collect(),
            ),
            Some(n) => {
                return Err(invalid_argument(format!(
                    "{} values do not split into {n} queries",
                    query.query.len()
                )));
            }
        };
        let dataset = self.snapshot();
        let batch = run(py, async move {
            let names: Option<Vec<&str>> = columns.as_ref().map(|c| c.iter().map(String::as_str).collect());
            match queries {
                Some(queries) => {
                    dataset
                        .nearest_batch(&queries, &query, filter.as_deref(), prefilter, names.as_deref())
                        .await
                }
                None => {
                    dataset
                        .nearest(&query, filter.as_deref(), prefilter, names.as_deref())
                        .await
                }
            }
        })?;
        let batch = crate::layout::pylance_order(batch, with_row_id)?;
        let schema = batch.schema();
        PyTable::try_new(vec![batch], schema)
    }

    /// Builds a vector index on `column` and commits it; with `fragments`,
    /// builds one segment over those fragments (training on them) without
    /// committing and returns it serialized (a distributed build's first step).
    #[allow(clippy::too_many_arguments)] // the Python call's keyword arguments
    #[pyo3(signature = (column, index_type, name=None, metric="l2", replace=false, num_partitions=None,
                        num_sub_vectors=None, max_iters=None, sample_rate=None, seed=None, progress=None,
                        dimensions=None, memory_limit=None, num_bits=None, m=None, ef_construction=None,
                        fragments=None))]
    fn create_index<'py>(
        &self,
        py: Python<'py>,
        column: String,
        index_type: &str,
        name: Option<String>,
        metric: &str,
        replace: bool,
        num_partitions: Option<usize>,
        num_sub_vectors: Option<usize>,
        max_iters: Option<usize>,
        sample_rate: Option<usize>,
        seed: Option<u64>,
        progress: Option<Py<PyAny>>,
        dimensions: Option<usize>,
        memory_limit: Option<usize>,
        num_bits: Option<u8>,
        m: Option<usize>,
        ef_construction: Option<usize>,
        fragments: Option<Vec<u64>>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let index_type = IndexType::parse(index_type).map_err(crate::errors::PilumErr::from)?;
        let defaults = VectorIndexParams::new(column, index_type);
        let params = VectorIndexParams {
            name,
            metric: self::metric(metric)?,
            replace,
            num_partitions,
            num_sub_vectors,
            max_iters: max_iters.unwrap_or(defaults.max_iters),
            sample_rate: sample_rate.unwrap_or(defaults.sample_rate),
            seed: seed.unwrap_or(defaults.seed),
            dimensions,
            memory_limit: memory_limit.unwrap_or(defaults.memory_limit),
            num_bits: num_bits.unwrap_or(defaults.num_bits),
            m,
            ef_construction,
            fragments,
            ..defaults
        };
        let progress = progress_hook(progress);
        let built = self.mutate(py, move |mut dataset| async move {
            if params.fragments.is_some() {
                let segment = dataset.build_vector_segment(&params, &progress).await?;
                return Ok((dataset, Some(segment.to_bytes())));
            }
            dataset.create_index(&params, &progress).await?;
            Ok((dataset, None))
        })?;
        Ok(built.map(|bytes| PyBytes::new(py, &bytes)))
    }

    /// Drops index `name`.
    fn drop_index(&self, py: Python<'_>, name: String) -> PyResult<()> {
        self.mutate(py, move |mut dataset| async move {
            dataset.drop_index(&name).await?;
            Ok((dataset, ()))
        })
    }

    /// Indexes uncovered fragments and merges segments (see the Rust docs).
    #[pyo3(signature = (num_indices_to_merge=1, index_names=None, retrain=false))]
    fn optimize_indices(
        &self,
        py: Python<'_>,
        num_indices_to_merge: usize,
        index_names: Option<Vec<String>>,
        retrain: bool,
    ) -> PyResult<()> {
        let options = OptimizeIndexOptions {
            num_indices_to_merge,
            index_names,
            retrain,
            ..OptimizeIndexOptions::default()
        };
        self.mutate(py, move |mut dataset| async move {
            dataset.optimize_indices(&options).await?;
            Ok((dataset, ()))
        })
    }

    /// Bounds the memory of loaded index partitions (bytes, shared by the
    /// handle's versions).
    fn set_index_cache_bytes(&self, bytes: usize) {
        self.snapshot().set_index_cache_bytes(bytes);
    }

    /// Bytes of loaded index partitions held now, and the budget.
    fn index_cache_bytes(&self) -> (usize, usize) {
        self.snapshot().index_cache_bytes()
    }

    /// Every index segment of this version as a dict.
    fn index_segments<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let dataset = self.snapshot();
        let schema = dataset.manifest().schema.clone();
        let mut out = Vec::new();
        for segment in dataset.index_segments() {
            let d = PyDict::new(py);
            d.set_item("name", segment.name())?;
            d.set_item("type", segment.kind_name())?;
            d.set_item("uuid", segment.uuid())?;
            let field_ids = segment.field_ids();
            let names: Vec<String> = field_ids.iter().filter_map(|id| schema.field_name(*id)).collect();
            d.set_item("fields", names)?;
            d.set_item("field_ids", field_ids.to_vec())?;
            d.set_item("version", segment.dataset_version())?;
            d.set_item("fragment_ids", segment.fragments.iter().collect::<Vec<u32>>())?;
            d.set_item("num_entries", segment.num_entries())?;
            d.set_item("created_at_micros", segment.created_at_micros())?;
            d.set_item("index_version", segment.index_version())?;
            let files = segment.files();
            d.set_item("size_bytes", files.iter().map(|f| f.size).sum::<u64>())?;
            d.set_item("files", files.into_iter().map(|f| f.path).collect::<Vec<_>>())?;
            if let Some(v) = segment.vector_info() {
                d.set_item("metric", v.metric.map_or("unknown", |m| m.name()))?;
                d.set_item("dimension", v.dimension)?;
                d.set_item("num_partitions", v.num_partitions)?;
                d.set_item("num_sub_vectors", v.num_sub_vectors)?;
                d.set_item("num_bits", v.num_bits)?;
                if v.hnsw_m != 0 {
                    d.set_item("m", v.hnsw_m)?;
                    d.set_item("ef_construction", v.hnsw_ef_construction)?;
                }
                d.set_item("default_nprobes", v.default_nprobes)?;
                d.set_item("default_refine_factor", v.default_refine_factor)?;
                d.set_item("skipped_rows", v.skipped_rows)?;
            }
            if let Some(t) = segment.text_info() {
                d.set_item("base_tokenizer", t.base_tokenizer)?;
                d.set_item("language", t.stem_language.clone().or(t.stop_words_language.clone()))?;
                d.set_item("stem", t.stem_language.is_some())?;
                d.set_item("remove_stop_words", t.stop_words_language.is_some())?;
                d.set_item("lower_case", t.lower_case)?;
                d.set_item("ascii_folding", t.ascii_folding)?;
                d.set_item("max_token_length", t.max_token_length)?;
                d.set_item("with_position", t.with_position)?;
                d.set_item("num_docs", t.num_docs)?;
                d.set_item("num_terms", t.num_terms)?;
                d.set_item("total_terms", t.total_terms)?;
                d.set_item("skipped_rows", t.skipped_rows)?;
                d.set_item("json", t.json)?;
            }
            out.push(d);
        }
        Ok(out)
    }

    /// Coverage statistics of index `name`.
    fn index_statistics<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
        let dataset = self.snapshot();
        let stats = run(py, async move { dataset.index_statistics(name).await })?;
        let d = PyDict::new(py);
        d.set_item("index_type", stats.index_type)?;
        d.set_item("num_indices", stats.num_indices)?;
        d.set_item("num_indexed_rows", stats.num_indexed_rows)?;
        d.set_item("num_unindexed_rows", stats.num_unindexed_rows)?;
        d.set_item("num_indexed_fragments", stats.num_indexed_fragments)?;
        d.set_item("num_unindexed_fragments", stats.num_unindexed_fragments)?;
        d.set_item("metric_type", stats.metric)?;
        d.set_item("num_partitions", stats.num_partitions)?;
        d.set_item("default_nprobes", stats.default_nprobes)?;
        d.set_item("default_refine_factor", stats.default_refine_factor)?;
        Ok(d)
    }
}
