//! Full-text indices and search on `_Dataset`: building an inverted index
//! with pylance's analyzer arguments, and running a query tree given as
//! nested dicts (built by `pilum.query`).

use crate::dataset::PyDataset;
use crate::errors::invalid_argument;
use crate::layout::pylance_order;
use crate::maintain::progress_hook;
use crate::runtime::run;
use crate::vector::query_vector;
use pilum::{
    AnalyzerConfig, BaseTokenizer, FullTextQuery, FullTextSearch, Fusion, HybridSearch, Language, MatchQuery, Occur,
    Operator, Predicate, TextIndexParams, VectorQuery,
};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::types::{PyDict, PyList, PyString};
use pyo3_arrow::PyTable;

fn language(name: &str) -> PyResult<Language> {
    Language::parse(name).map_err(|e| invalid_argument(format!("language: {e}")))
}

fn operator(name: &str) -> PyResult<Operator> {
    match name.to_ascii_uppercase().as_str() {
        "OR" => Ok(Operator::Or),
        "AND" => Ok(Operator::And),
        other => Err(invalid_argument(format!("operator must be AND or OR, got {other:?}"))),
    }
}

/// An item of a query dict, converted.
fn item<'py, T: FromPyObjectOwned<'py>>(d: &Bound<'py, PyDict>, key: &Bound<'py, PyString>) -> PyResult<Option<T>> {
    match d.get_item(key)? {
        Some(v) if !v.is_none() => match v.extract::<T>() {
            Ok(value) => Ok(Some(value)),
            Err(_) => Err(invalid_argument(format!(
                "full-text query field {:?} has the wrong type: {}",
                key.to_string_lossy(),
                v.get_type().name().map_or_else(|_| "?".to_string(), |n| n.to_string())
            ))),
        },
        _ => Ok(None),
    }
}

fn required<'py, T: FromPyObjectOwned<'py>>(d: &Bound<'py, PyDict>, key: &Bound<'py, PyString>) -> PyResult<T> {
    item(d, key)?.ok_or_else(|| invalid_argument(format!("full-text query lacks {:?}", key.to_string_lossy())))
}

/// A query tree from its dict form (see `pilum/query.py`).
fn query_of(value: &Bound<'_, PyAny>) -> PyResult<FullTextQuery> {
    let d = value
        .cast::<PyDict>()
        .map_err(|_| invalid_argument("a full-text query must be a dict made by pilum.query"))?;
    let kind: String = required(d, intern!(d.py(), "kind"))?;
    Ok(match kind.as_str() {
        "match" => {
            let defaults = MatchQuery::new(
                required::<String>(d, intern!(d.py(), "query"))?,
                item(d, intern!(d.py(), "column"))?,
            );
            FullTextQuery::Match(MatchQuery {
                operator: operator(&item::<String>(d, intern!(d.py(), "operator"))?.unwrap_or_else(|| "OR".into()))?,
                boost: item(d, intern!(d.py(), "boost"))?.unwrap_or(1.0),
                // Explicit None means automatic; a missing key means exact.
                fuzziness: if d.contains(intern!(d.py(), "fuzziness"))? {
                    item(d, intern!(d.py(), "fuzziness"))?
                } else {
                    Some(0)
                },
                max_expansions: item(d, intern!(d.py(), "max_expansions"))?.unwrap_or(defaults.max_expansions),
                prefix_length: item(d, intern!(d.py(), "prefix_length"))?.unwrap_or(0),
                minimum_should_match: item(d, intern!(d.py(), "minimum_should_match"))?.unwrap_or(1),
                ..defaults
            })
        }
        "phrase" => FullTextQuery::Phrase {
            query: required(d, intern!(d.py(), "query"))?,
            column: item(d, intern!(d.py(), "column"))?,
            slop: item(d, intern!(d.py(), "slop"))?.unwrap_or(0),
        },
        "prefix" => FullTextQuery::Prefix {
            prefix: required(d, intern!(d.py(), "query"))?,
            column: item(d, intern!(d.py(), "column"))?,
            max_expansions: item(d, intern!(d.py(), "max_expansions"))?.unwrap_or(50),
        },
        "multi_match" => FullTextQuery::MultiMatch {
            query: required(d, intern!(d.py(), "query"))?,
            columns: required(d, intern!(d.py(), "columns"))?,
            boosts: item(d, intern!(d.py(), "boosts"))?,
            operator: operator(&item::<String>(d, intern!(d.py(), "operator"))?.unwrap_or_else(|| "OR".into()))?,
        },
        "boost" => FullTextQuery::Boost {
            positive: Box::new(query_of(&required::<Bound<'_, PyAny>>(
                d,
                intern!(d.py(), "positive"),
            )?)?),
            negative: Box::new(query_of(&required::<Bound<'_, PyAny>>(
                d,
                intern!(d.py(), "negative"),
            )?)?),
            negative_boost: item(d, intern!(d.py(), "negative_boost"))?.unwrap_or(0.5),
        },
        "boolean" => {
            let clauses: Bound<'_, PyList> = required(d, intern!(d.py(), "clauses"))?;
            let mut out = Vec::with_capacity(clauses.len());
            for clause in clauses.iter() {
                let (occur, query): (String, Bound<'_, PyAny>) = clause
                    .extract()
                    .map_err(|_| invalid_argument("a boolean clause is (occur, query)"))?;
                let occur = match occur.to_ascii_uppercase().as_str() {
                    "MUST" => Occur::Must,
                    "SHOULD" => Occur::Should,
                    "MUST_NOT" => Occur::MustNot,
                    other => {
                        return Err(invalid_argument(format!(
                            "occur must be MUST, SHOULD or MUST_NOT, got {other:?}"
                        )));
                    }
                };
                out.push((occur, query_of(&query)?));
            }
            FullTextQuery::Boolean(out)
        }
        other => return Err(invalid_argument(format!("unknown full-text query kind {other:?}"))),
    })
}

#[pymethods]
impl PyDataset {
    /// Builds an inverted (full-text) index on `column` and commits it;
    /// with `fragments`, builds one segment over them without committing
    /// and returns it serialized (a distributed build).
    #[allow(clippy::too_many_arguments)] // the Python call's keyword arguments
    #[pyo3(signature = (column, name=None, replace=false, with_position=false, base_tokenizer="simple",
                        language="english", stem=true, remove_stop_words=true, lower_case=true,
                        ascii_folding=true, max_token_length=Some(40), min_ngram_length=3,
                        max_ngram_length=3, memory_limit=None, progress=None, fragments=None))]
    fn create_text_index<'py>(
        &self,
        py: Python<'py>,
        column: String,
        name: Option<String>,
        replace: bool,
        with_position: bool,
        base_tokenizer: &str,
        language: &str,
        stem: bool,
        remove_stop_words: bool,
        lower_case: bool,
        ascii_folding: bool,
        max_token_length: Option<usize>,
        min_ngram_length: usize,
        max_ngram_length: usize,
        memory_limit: Option<usize>,
        progress: Option<Py<PyAny>>,
        fragments: Option<Vec<u64>>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let base = match base_tokenizer.to_ascii_lowercase().as_str() {
            "simple" => BaseTokenizer::Simple,
            "whitespace" => BaseTokenizer::Whitespace,
            "raw" => BaseTokenizer::Raw,
            "ngram" => BaseTokenizer::NGram {
                min: min_ngram_length,
                max: max_ngram_length,
            },
            other => {
                return Err(invalid_argument(format!(
                    "base_tokenizer: unknown or unsupported tokenizer {other:?} (supported: simple, whitespace, raw, ngram)"
                )));
            }
        };
        let lang = self::language(language)?;
        let defaults = TextIndexParams::new(column);
        let params = TextIndexParams {
            name,
            replace,
            with_position,
            analyzer: AnalyzerConfig {
                base,
                lower_case,
                ascii_folding,
                max_token_length: max_token_length.unwrap_or(0),
                stop_words: remove_stop_words.then_some(lang),
                stem: stem.then_some(lang),
            },
            memory_limit: memory_limit.unwrap_or(defaults.memory_limit),
            ..defaults
        };
        let progress = progress_hook(progress);
        let built = self.mutate(py, move |mut dataset| async move {
            if let Some(fragments) = fragments {
                let segment = dataset.build_text_index_segment(&params, &fragments, &progress).await?;
                return Ok((dataset, Some(segment.to_bytes())));
            }
            dataset.create_text_index(&params, &progress).await?;
            Ok((dataset, None))
        })?;
        Ok(built.map(|bytes| PyBytes::new(py, &bytes)))
    }

    /// The best `limit` rows (all matches when None) of a full-text query
    /// (a dict tree from `pilum.query`): `columns` (all when None), then
    /// `_rowid` and `_score`. `filter` (SQL) applies before ranking with
    /// `prefilter`, else to the ranked rows. With `with_row_id` the order
    /// is pylance's: `_score` last, or `_score` then `_rowid`.
    #[allow(clippy::too_many_arguments)] // the Python call's keyword arguments
    #[pyo3(signature = (query, limit=None, filter=None, prefilter=false, columns=None, with_row_id=None))]
    fn full_text_search(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyAny>,
        limit: Option<usize>,
        filter: Option<String>,
        prefilter: bool,
        columns: Option<Vec<String>>,
        with_row_id: Option<bool>,
    ) -> PyResult<PyTable> {
        let search = FullTextSearch {
            query: query_of(query)?,
            limit,
            filter: filter.map(Predicate::Sql),
            prefilter,
            columns,
        };
        let dataset = self.snapshot();
        let batch = run(py, async move { dataset.full_text_search(&search).await })?;
        let batch = pylance_order(batch, with_row_id)?;
        let schema = batch.schema();
        PyTable::try_new(vec![batch], schema)
    }

    /// A hybrid search: the vector query (`query`, little-endian f32
    /// bytes, on `column`) and the full-text query (a dict tree), both
    /// pre-filtered by `filter` (SQL), fused by `fusion` ("rrf" with
    /// `rrf_k`, or "weighted" with `vector_weight`): the best `limit` rows
    /// with `columns`, `_rowid`, `_relevance_score`, `_distance`,
    /// `_score`, `_vector_rank` and `_text_rank`.
    #[allow(clippy::too_many_arguments)] // the Python call's keyword arguments
    #[pyo3(signature = (column, query, text_query, limit, candidates=None, filter=None, fusion="rrf",
                        rrf_k=60.0, vector_weight=0.5, columns=None, metric=None, nprobes=None,
                        refine_factor=None, ef=None))]
    fn hybrid_search(
        &self,
        py: Python<'_>,
        column: String,
        query: &[u8],
        text_query: &Bound<'_, PyAny>,
        limit: usize,
        candidates: Option<usize>,
        filter: Option<String>,
        fusion: &str,
        rrf_k: f32,
        vector_weight: f32,
        columns: Option<Vec<String>>,
        metric: Option<String>,
        nprobes: Option<usize>,
        refine_factor: Option<usize>,
        ef: Option<usize>,
    ) -> PyResult<PyTable> {
        let values = query_vector(query)?;
        let metric = metric.as_deref().map(crate::vector::metric).transpose()?;
        let fusion = match fusion.to_ascii_lowercase().as_str() {
            "rrf" => Fusion::Rrf { k: rrf_k },
            "weighted" | "linear" => Fusion::Weighted { vector_weight },
            other => {
                return Err(invalid_argument(format!(
                    "fusion must be \"rrf\" or \"weighted\", got {other:?}"
                )));
            }
        };
        let search = HybridSearch {
            candidates,
            filter: filter.map(Predicate::Sql),
            fusion,
            columns,
            ..HybridSearch::new(
                VectorQuery {
                    metric,
                    nprobes,
                    refine_factor,
                    ef,
                    ..VectorQuery::new(column, values, limit)
                },
                query_of(text_query)?,
                limit,
            )
        };
        let dataset = self.snapshot();
        let batch = run(py, async move { dataset.hybrid_search(&search).await })?;
        let schema = batch.schema();
        PyTable::try_new(vec![batch], schema)
    }

    /// The `k` rows of `row_ids` nearest to `query` (little-endian f32
    /// bytes) in `column`, compared exactly: `columns` (all when None),
    /// `_rowid`, `_distance`. A full-text pre-filter's matches are the rows.
    #[allow(clippy::too_many_arguments)] // the Python call's keyword arguments
    #[pyo3(signature = (column, query, k, row_ids, metric=None, columns=None))]
    fn nearest_among(
        &self,
        py: Python<'_>,
        column: String,
        query: &[u8],
        k: usize,
        row_ids: Vec<u64>,
        metric: Option<String>,
        columns: Option<Vec<String>>,
    ) -> PyResult<PyTable> {
        let values = query_vector(query)?;
        let metric = metric.as_deref().map(crate::vector::metric).transpose()?;
        let search = VectorQuery {
            metric,
            ..VectorQuery::new(column, values, k)
        };
        let dataset = self.snapshot();
        let batch = run(py, async move {
            let names: Option<Vec<&str>> = columns.as_ref().map(|c| c.iter().map(String::as_str).collect());
            dataset.nearest_among(&search, &row_ids, names.as_deref()).await
        })?;
        let schema = batch.schema();
        PyTable::try_new(vec![batch], schema)
    }
}
