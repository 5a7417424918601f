//! One full-text query on one column: its terms (after analysis and any
//! fuzzy or prefix expansion) searched in every segment of the column's
//! inverted index with dynamic pruning, and exactly in the fragments no
//! segment covers, all scored with the statistics of the whole corpus (so
//! scores compare across segments and unindexed rows). Deleted rows, and
//! rows a pre-filter rejects, never appear.

use super::text_query::{MatchQuery, Operator};
use super::text_unindexed::{Unindexed, UnindexedGroup};
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::index::{IndexSegment, LoadedText, file_error};
use pilum_index::text::{
    Bm25, CorpusStats, PhraseTerm, PostingList, TermQuery, auto_fuzziness, expand_fuzzy, expand_prefix, path_qualifier,
    top_k_and, top_k_or_with_stats, top_k_phrase,
};
use roaring::{RoaringBitmap, RoaringTreemap};
use std::collections::HashMap;
use std::sync::Arc;

/// A row and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Hit {
    /// Stable row id.
    pub row: u64,
    /// BM25 score.
    pub score: f32,
}

/// What a leaf asks of one column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Leaf<'q> {
    /// Terms (OR / AND, fuzzy).
    Terms(&'q MatchQuery),
    /// A phrase.
    Phrase { query: &'q str, slop: u32 },
    /// Terms with a prefix.
    Prefix { prefix: &'q str, max_expansions: usize },
}

/// One query term and the dictionary terms standing for it.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// The analyzed query term (or prefix).
    pub term: String,
    /// Its position in the query.
    pub offset: u32,
    /// Terms searched for it: itself, or its expansions.
    pub terms: Vec<String>,
    /// Edits an unindexed row's term may differ by (0: exact).
    pub fuzziness: u32,
    /// Leading characters a fuzzy match shares.
    pub prefix_length: usize,
    /// Whether any term starting with `term` matches.
    pub prefix: bool,
}

/// Sorts best first (ties by row id) and keeps `k`.
pub(crate) fn top(mut hits: Vec<Hit>, k: usize) -> Vec<Hit> {
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
    hits.truncate(k);
    hits
}

impl Dataset {
    /// The segments of the first inverted index on `column`.
    pub(crate) fn text_segments(&self, column: &str) -> Result<Vec<&IndexSegment>> {
        let field_id = self.manifest.schema.field_id(column)?;
        let fits = |s: &&IndexSegment| s.is_text() && s.field_id() == Some(field_id);
        let name = self
            .manifest
            .indices
            .iter()
            .find(fits)
            .map(|s| s.name().to_string())
            .ok_or_else(|| {
                TableError::InvalidArgument(format!(
                    "full-text search needs an inverted index on column {column:?}; create one with create_scalar_index({column:?}, \"INVERTED\")"
                ))
            })?;
        Ok(self
            .manifest
            .indices
            .iter()
            .filter(|s| s.name() == name)
            .filter(fits)
            .collect())
    }

    /// The column a full-text query names, and the qualifier of the path it
    /// names inside that column: a column of the schema as it is, else
    /// `column.path` where `column` is the shortest prefix before a `.`
    /// that is a column (a path inside a JSON column).
    pub(crate) fn text_target<'a>(&self, name: &'a str) -> (&'a str, Option<String>) {
        let schema = self.schema();
        if schema.field_with_name(name).is_ok() {
            return (name, None);
        }
        name.match_indices('.')
            .map(|(at, _)| (&name[..at], &name[at + 1..]))
            .find(|(head, path)| !path.is_empty() && schema.field_with_name(head).is_ok())
            .map_or((name, None), |(head, path)| (head, Some(path_qualifier(path))))
    }

    /// Columns with an inverted index, in schema order.
    pub(crate) fn text_columns(&self) -> Vec<String> {
        self.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|name| self.text_segments(name).is_ok())
            .collect()
    }

    /// The best `k` rows of `leaf` on `column` that `allowed` (when given) holds.
    pub(crate) async fn eval_leaf(
        &self,
        column: &str,
        leaf: Leaf<'_>,
        k: usize,
        allowed: Option<&RoaringTreemap>,
    ) -> Result<Vec<Hit>> {
        let requested = column;
        let (column, qualifier) = self.text_target(requested);
        let segments = self.text_segments(column)?;
        let mut loaded: Vec<Arc<LoadedText>> = Vec::with_capacity(segments.len());
        for segment in &segments {
            loaded.push(self.cache.segments.texts.get(&self.location, segment).await?);
        }
        let Some(first) = loaded.first() else {
            return Ok(Vec::new());
        };
        if qualifier.is_some() && !loaded.iter().all(|l| l.json) {
            return Err(TableError::InvalidArgument(format!(
                "{requested:?} names a path inside column {column:?}, but its inverted index does not read JSON; \
                 path queries need an arrow.json column whose index was built with paths (text index version 2)"
            )));
        }
        let groups = query_groups(leaf, first, &loaded, qualifier.as_deref());
        if groups.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        if let Leaf::Phrase { .. } = leaf
            && loaded.iter().any(|l| !l.with_position)
        {
            return Err(TableError::InvalidArgument(format!(
                "a phrase query needs an index built with positions; rebuild the index on {column:?} with with_position=True"
            )));
        }
        // Rows no segment covers are analyzed now, for statistics and exact scores.
        let covered = segments.iter().fold(RoaringBitmap::new(), |acc, s| acc | &s.fragments);
        let uncovered: Vec<u64> = self
            .all_fragments()
            .await?
            .iter()
            .map(|f| f.id)
            .filter(|id| !covered.contains(*id as u32))
            .collect();
        let mut unindexed_groups: Vec<UnindexedGroup> = groups.iter().map(UnindexedGroup::of).collect();
        let unindexed = if uncovered.is_empty() {
            Unindexed::default()
        } else {
            self.scan_unindexed(
                column,
                uncovered,
                &first.analyzer,
                &mut unindexed_groups,
                (matches!(leaf, Leaf::Phrase { .. }), first.json),
            )
            .await?
        };
        // Corpus statistics over every segment and the unindexed rows.
        let stats = CorpusStats {
            num_docs: loaded.iter().map(|l| l.docs.row_ids.len() as u64).sum::<u64>() + unindexed.docs,
            total_terms: loaded.iter().map(|l| l.total_terms).sum::<u64>() + unindexed.total_terms,
        };
        let bm25 = Bm25::default();
        let idf = |term: &str| {
            let df: u64 = loaded
                .iter()
                .map(|l| l.lookup(term).map_or(0, |o| u64::from(l.doc_count(o))))
                .sum::<u64>()
                + unindexed.df.get(term).copied().unwrap_or(0);
            bm25.idf(df, &stats)
        };
        let idfs: HashMap<String, f32> = unindexed_groups
            .iter()
            .flat_map(|g| g.terms.iter())
            .map(|t| (t.clone(), idf(t)))
            .collect();
        let mut hits = Vec::new();
        for (segment, text) in segments.iter().zip(&loaded) {
            let valid = self.valid_ids(segment).await?;
            let accept = |doc: u32| {
                text.docs
                    .row_ids
                    .get(doc as usize)
                    .is_some_and(|&row| valid.contains(row) && allowed.is_none_or(|a| a.contains(row)))
            };
            let found = self
                .search_segment_text(text, leaf, &groups, &idfs, bm25, &stats, k, &accept)
                .await?;
            hits.extend(
                found
                    .into_iter()
                    .filter_map(|(doc, score)| text.docs.row_ids.get(doc as usize).map(|&row| Hit { row, score })),
            );
            hits = top(hits, k);
        }
        hits.extend(unindexed.score(leaf, &unindexed_groups, &idfs, bm25, &stats, allowed));
        Ok(top(hits, k))
    }

    /// Documents of one segment and their scores.
    #[allow(clippy::too_many_arguments)]
    async fn search_segment_text(
        &self,
        text: &LoadedText,
        leaf: Leaf<'_>,
        groups: &[Group],
        idfs: &HashMap<String, f32>,
        bm25: Bm25,
        stats: &CorpusStats,
        k: usize,
        accept: &(dyn Fn(u32) -> bool + Sync),
    ) -> Result<Vec<(u32, f32)>> {
        let lens = &text.docs.lengths;
        let path = "the postings file";
        let wrap = |e| file_error(path, e);
        // Each group's lists present in this segment.
        let mut lists: Vec<Vec<(Arc<PostingList>, f32)>> = Vec::with_capacity(groups.len());
        for group in groups {
            let mut found = Vec::new();
            for term in &group.terms {
                if let Some(ordinal) = text.lookup(term) {
                    let idf = idfs.get(term).copied().unwrap_or(0.0);
                    found.push((text.list(ordinal).await?, idf));
                }
            }
            lists.push(found);
        }
        let out = match leaf {
            Leaf::Phrase { slop, .. } => {
                if lists.iter().any(|l| l.is_empty()) {
                    return Ok(Vec::new());
                }
                let terms: Vec<PhraseTerm> = lists
                    .iter()
                    .zip(groups)
                    .map(|(l, g)| PhraseTerm {
                        postings: &l[0].0,
                        offset: g.offset,
                        idf: l[0].1,
                    })
                    .collect();
                top_k_phrase(&terms, slop, k, bm25, stats, lens, Some(accept)).map_err(wrap)?
            }
            Leaf::Prefix { .. } => {
                let terms = term_queries(lists.iter().flatten(), 1.0);
                top_k_or_with_stats(&terms, 1, k, bm25, stats, lens, Some(accept))
                    .map_err(wrap)?
                    .0
            }
            Leaf::Terms(m) => {
                let expanded = groups.iter().any(|g| g.terms.len() != 1);
                let needed = match m.operator {
                    Operator::And => groups.len(),
                    Operator::Or => m.minimum_should_match.max(1),
                };
                if m.operator == Operator::And && lists.iter().any(|l| l.is_empty()) {
                    return Ok(Vec::new());
                }
                if !expanded {
                    let terms = term_queries(lists.iter().flatten(), m.boost);
                    if m.operator == Operator::And {
                        top_k_and(&terms, k, bm25, stats, lens, Some(accept)).map_err(wrap)?
                    } else {
                        top_k_or_with_stats(&terms, needed, k, bm25, stats, lens, Some(accept))
                            .map_err(wrap)?
                            .0
                    }
                } else if needed <= 1 {
                    let terms = term_queries(lists.iter().flatten(), m.boost);
                    top_k_or_with_stats(&terms, 1, k, bm25, stats, lens, Some(accept))
                        .map_err(wrap)?
                        .0
                } else {
                    // Each query term's expansions together; a document
                    // needs `needed` of the query terms.
                    let mut by_doc: HashMap<u32, (f32, usize)> = HashMap::new();
                    for group_lists in &lists {
                        let terms = term_queries(group_lists.iter(), m.boost);
                        let all = top_k_or_with_stats(&terms, 1, usize::MAX, bm25, stats, lens, Some(accept))
                            .map_err(wrap)?
                            .0;
                        for d in all {
                            let entry = by_doc.entry(d.doc).or_insert((0.0, 0));
                            entry.0 += d.score;
                            entry.1 += 1;
                        }
                    }
                    let mut docs: Vec<pilum_index::text::ScoredDoc> = by_doc
                        .into_iter()
                        .filter(|(_, (_, n))| *n >= needed)
                        .map(|(doc, (score, _))| pilum_index::text::ScoredDoc { doc, score })
                        .collect();
                    docs.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
                    docs.truncate(k);
                    docs
                }
            }
        };
        Ok(out.into_iter().map(|d| (d.doc, d.score)).collect())
    }
}

fn term_queries<'a>(lists: impl Iterator<Item = &'a (Arc<PostingList>, f32)>, weight: f32) -> Vec<TermQuery<'a>> {
    lists
        .map(|(postings, idf)| TermQuery {
            postings,
            idf: *idf,
            weight,
        })
        .collect()
}

/// The groups of a leaf: analyzed with the index's analyzer, expanded over
/// every segment's dictionary. With a `qualifier` (a path inside a JSON
/// column) every term is qualified, and fuzzy expansions keep the
/// qualifier exactly.
fn query_groups(leaf: Leaf<'_>, first: &LoadedText, loaded: &[Arc<LoadedText>], qualifier: Option<&str>) -> Vec<Group> {
    let analyzer = &first.analyzer;
    let qualifier = qualifier.unwrap_or("");
    let kept = qualifier.chars().count();
    match leaf {
        Leaf::Terms(m) => {
            let mut groups: Vec<Group> = Vec::new();
            for mut token in analyzer.tokens(&m.query) {
                token.text.insert_str(0, qualifier);
                if groups.iter().any(|g| g.term == token.text) {
                    continue;
                }
                let edits = m
                    .fuzziness
                    .unwrap_or_else(|| auto_fuzziness(token.text.chars().count() - kept))
                    .min(2);
                let terms = if edits == 0 {
                    vec![token.text.clone()]
                } else {
                    let mut found: Vec<String> = loaded
                        .iter()
                        .flat_map(|l| {
                            expand_fuzzy(&token.text, &l.terms, edits, m.prefix_length + kept, m.max_expansions)
                        })
                        .map(str::to_string)
                        .collect();
                    found.sort();
                    found.dedup();
                    if !found.contains(&token.text) {
                        found.push(token.text.clone());
                    }
                    found
                };
                groups.push(Group {
                    term: token.text,
                    offset: token.position,
                    terms,
                    fuzziness: edits,
                    prefix_length: m.prefix_length + kept,
                    prefix: false,
                });
            }
            groups
        }
        Leaf::Phrase { query, .. } => {
            let tokens = analyzer.tokens(query);
            let base = tokens.first().map_or(0, |t| t.position);
            tokens
                .into_iter()
                .map(|t| Group {
                    terms: vec![format!("{qualifier}{}", t.text)],
                    term: format!("{qualifier}{}", t.text),
                    offset: t.position - base,
                    fuzziness: 0,
                    prefix_length: 0,
                    prefix: false,
                })
                .collect()
        }
        Leaf::Prefix { prefix, max_expansions } => {
            let config = analyzer.config();
            let mut p = prefix.trim().to_string();
            if config.lower_case {
                p = p.to_lowercase();
            }
            if p.is_empty() {
                return Vec::new();
            }
            p.insert_str(0, qualifier);
            let mut terms: Vec<String> = loaded
                .iter()
                .flat_map(|l| expand_prefix(&p, &l.terms, max_expansions))
                .map(str::to_string)
                .collect();
            terms.sort();
            terms.dedup();
            terms.truncate(max_expansions);
            vec![Group {
                term: p,
                offset: 0,
                terms,
                fuzziness: 0,
                prefix_length: 0,
                prefix: true,
            }]
        }
    }
}
