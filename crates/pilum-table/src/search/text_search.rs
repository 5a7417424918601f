//! Full-text search over a dataset version: a query tree evaluated leaf by
//! leaf through the columns' inverted indices (see `text_leaf.rs`),
//! combined by the boolean, boost and multi-column rules, then the best
//! rows fetched by row id with `_score`.

use super::text_leaf::{Hit, Leaf, top};
use super::text_query::{FullTextQuery, MatchQuery, Occur};
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::predicate::Predicate;
use crate::scanner::ROW_ID;
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use roaring::RoaringTreemap;
use std::collections::{HashMap, HashSet};

/// The name of the score column of full-text results.
pub const SCORE: &str = "_score";

/// A full-text search: the query, how many rows, a filter and the columns.
#[derive(Debug, Clone)]
pub struct FullTextSearch {
    /// What to search for.
    pub query: FullTextQuery,
    /// Rows returned at most (all matches when `None`).
    pub limit: Option<usize>,
    /// Rows must pass this predicate.
    pub filter: Option<Predicate>,
    /// Apply `filter` before ranking (the best `limit` passing rows), or,
    /// when false, to the best `limit` rows (fewer may remain).
    pub prefilter: bool,
    /// Columns returned (all when `None`), before `_rowid` and `_score`.
    pub columns: Option<Vec<String>>,
}

impl FullTextSearch {
    /// A search for `query` returning every column.
    pub fn new(query: FullTextQuery) -> Self {
        Self {
            query,
            limit: None,
            filter: None,
            prefilter: false,
            columns: None,
        }
    }
}

fn invalid(what: impl Into<String>) -> TableError {
    TableError::InvalidArgument(what.into())
}

fn check_match(m: &MatchQuery) -> Result<()> {
    if !(m.boost.is_finite() && m.boost >= 0.0) {
        return Err(invalid(format!("boost must be finite and >= 0, got {}", m.boost)));
    }
    if m.fuzziness.is_some_and(|f| f > 2) {
        return Err(invalid(format!(
            "fuzziness must be 0, 1, 2 or automatic (None), got {:?}",
            m.fuzziness
        )));
    }
    if m.max_expansions == 0 {
        return Err(invalid("max_expansions must be at least 1"));
    }
    Ok(())
}

/// Adds `hits` into `scores` (per row).
fn accumulate(scores: &mut HashMap<u64, f32>, hits: Vec<Hit>) {
    for h in hits {
        *scores.entry(h.row).or_default() += h.score;
    }
}

fn into_hits(scores: HashMap<u64, f32>, k: usize) -> Vec<Hit> {
    top(scores.into_iter().map(|(row, score)| Hit { row, score }).collect(), k)
}

impl Dataset {
    /// Runs a full-text search: the `limit` best rows by BM25 score, with
    /// their `columns`, `_rowid` and `_score`. Every column searched needs an
    /// inverted index; fragments its segments do not cover are searched
    /// exactly with the same corpus statistics.
    pub async fn full_text_search(&self, search: &FullTextSearch) -> Result<RecordBatch> {
        let k = search.limit.unwrap_or(usize::MAX);
        let (allowed, post) = match (&search.filter, search.prefilter) {
            (Some(p), true) => (Some(self.allowed_rows(p, None).await?), None),
            (Some(p), false) => (None, Some(p.compile(self.schema())?)),
            (None, _) => (None, None),
        };
        let hits = self.full_text_hits(&search.query, k, allowed.as_ref()).await?;
        let ids: Vec<u64> = hits.iter().map(|h| h.row).collect();
        let scores: Vec<f32> = hits.iter().map(|h| h.score).collect();
        let names: Option<Vec<&str>> = search.columns.as_ref().map(|c| c.iter().map(String::as_str).collect());
        self.ranked_output(&ids, &scores, SCORE, names.as_deref(), post.as_ref())
            .await
    }

    /// The `k` best rows of `query` (that `allowed`, when given, holds),
    /// with their scores, best first.
    pub async fn full_text_row_ids(
        &self,
        query: &FullTextQuery,
        k: usize,
        allowed: Option<&RoaringTreemap>,
    ) -> Result<Vec<(u64, f32)>> {
        Ok(self
            .full_text_hits(query, k, allowed)
            .await?
            .into_iter()
            .map(|h| (h.row, h.score))
            .collect())
    }

    /// Row ids of the live rows of `fragments` (all when `None`) passing
    /// `predicate`.
    pub(crate) async fn allowed_rows(
        &self,
        predicate: &Predicate,
        fragments: Option<Vec<u64>>,
    ) -> Result<RoaringTreemap> {
        let mut scan = self
            .scan()
            .project(Vec::<String>::new())
            .filter(predicate.clone())
            .with_row_id(true);
        if let Some(ids) = fragments {
            scan = scan.with_fragments(ids);
        }
        let mut stream = scan.try_into_stream().await?;
        let mut allowed = RoaringTreemap::new();
        while let Some(batch) = stream.try_next().await? {
            let ids = batch.column_by_name(ROW_ID).ok_or_else(|| TableError::Internal {
                what: "filter scan lacks _rowid".into(),
            })?;
            allowed.extend(ids.as_primitive::<UInt64Type>().values().iter().copied());
        }
        Ok(allowed)
    }

    /// The column a single-column query searches: the given one, or the
    /// only column with an inverted index.
    fn only_text_column(&self, column: &Option<String>, what: &str) -> Result<String> {
        if let Some(c) = column {
            return Ok(c.clone());
        }
        let columns = self.text_columns();
        match columns.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(invalid(
                "full-text search needs a column with an inverted index; none has one",
            )),
            _ => Err(invalid(format!(
                "a {what} query needs a column when several are indexed ({})",
                columns.join(", ")
            ))),
        }
    }

    fn full_text_hits<'a>(
        &'a self,
        query: &'a FullTextQuery,
        k: usize,
        allowed: Option<&'a RoaringTreemap>,
    ) -> BoxFuture<'a, Result<Vec<Hit>>> {
        Box::pin(async move {
            match query {
                FullTextQuery::Match(m) => {
                    check_match(m)?;
                    let columns = match &m.column {
                        Some(c) => vec![c.clone()],
                        None => self.text_columns(),
                    };
                    if columns.is_empty() {
                        return Err(invalid(
                            "full-text search needs a column with an inverted index; none has one",
                        ));
                    }
                    if let [column] = columns.as_slice() {
                        return self.eval_leaf(column, Leaf::Terms(m), k, allowed).await;
                    }
                    let mut scores = HashMap::new();
                    for column in &columns {
                        accumulate(
                            &mut scores,
                            self.eval_leaf(column, Leaf::Terms(m), usize::MAX, allowed).await?,
                        );
                    }
                    Ok(into_hits(scores, k))
                }
                FullTextQuery::Phrase { query, column, slop } => {
                    let column = self.only_text_column(column, "phrase")?;
                    self.eval_leaf(&column, Leaf::Phrase { query, slop: *slop }, k, allowed)
                        .await
                }
                FullTextQuery::Prefix {
                    prefix,
                    column,
                    max_expansions,
                } => {
                    if *max_expansions == 0 {
                        return Err(invalid("max_expansions must be at least 1"));
                    }
                    let column = self.only_text_column(column, "prefix")?;
                    let leaf = Leaf::Prefix {
                        prefix,
                        max_expansions: *max_expansions,
                    };
                    self.eval_leaf(&column, leaf, k, allowed).await
                }
                FullTextQuery::MultiMatch {
                    query,
                    columns,
                    boosts,
                    operator,
                } => {
                    if columns.is_empty() {
                        return Err(invalid("a multi-match query needs at least one column"));
                    }
                    if let Some(b) = boosts
                        && b.len() != columns.len()
                    {
                        return Err(invalid(format!(
                            "a multi-match query has {} columns and {} boosts",
                            columns.len(),
                            b.len()
                        )));
                    }
                    let mut scores = HashMap::new();
                    for (i, column) in columns.iter().enumerate() {
                        let m = MatchQuery {
                            operator: *operator,
                            boost: boosts.as_ref().map_or(1.0, |b| b[i]),
                            ..MatchQuery::new(query.clone(), Some(column.clone()))
                        };
                        check_match(&m)?;
                        accumulate(
                            &mut scores,
                            self.eval_leaf(column, Leaf::Terms(&m), usize::MAX, allowed).await?,
                        );
                    }
                    Ok(into_hits(scores, k))
                }
                FullTextQuery::Boost {
                    positive,
                    negative,
                    negative_boost,
                } => {
                    if !(negative_boost.is_finite() && *negative_boost >= 0.0) {
                        return Err(invalid(format!(
                            "negative_boost must be finite and >= 0, got {negative_boost}"
                        )));
                    }
                    let hits = self.full_text_hits(positive, usize::MAX, allowed).await?;
                    let demoted: HashSet<u64> = self
                        .full_text_hits(negative, usize::MAX, allowed)
                        .await?
                        .into_iter()
                        .map(|h| h.row)
                        .collect();
                    let hits = hits
                        .into_iter()
                        .map(|h| Hit {
                            score: if demoted.contains(&h.row) {
                                h.score * negative_boost
                            } else {
                                h.score
                            },
                            ..h
                        })
                        .collect();
                    Ok(top(hits, k))
                }
                FullTextQuery::Boolean(clauses) => self.boolean_hits(clauses, k, allowed).await,
            }
        })
    }

    async fn boolean_hits(
        &self,
        clauses: &[(Occur, FullTextQuery)],
        k: usize,
        allowed: Option<&RoaringTreemap>,
    ) -> Result<Vec<Hit>> {
        if !clauses.iter().any(|(o, _)| *o != Occur::MustNot) {
            return Err(invalid("a boolean query needs at least one must or should clause"));
        }
        let mut must: Option<HashMap<u64, f32>> = None;
        let mut should: HashMap<u64, f32> = HashMap::new();
        let mut excluded: HashSet<u64> = HashSet::new();
        for (occur, clause) in clauses {
            let hits = self.full_text_hits(clause, usize::MAX, allowed).await?;
            match occur {
                Occur::Must => {
                    let these: HashMap<u64, f32> = hits.into_iter().map(|h| (h.row, h.score)).collect();
                    must = Some(match must {
                        None => these,
                        Some(previous) => previous
                            .into_iter()
                            .filter_map(|(row, s)| these.get(&row).map(|t| (row, s + t)))
                            .collect(),
                    });
                }
                Occur::Should => accumulate(&mut should, hits),
                Occur::MustNot => excluded.extend(hits.into_iter().map(|h| h.row)),
            }
        }
        let mut scores = match must {
            Some(rows) => rows
                .into_iter()
                .map(|(row, s)| (row, s + should.get(&row).copied().unwrap_or(0.0)))
                .collect(),
            None => should,
        };
        scores.retain(|row, _| !excluded.contains(row));
        Ok(into_hits(scores, k))
    }
}
