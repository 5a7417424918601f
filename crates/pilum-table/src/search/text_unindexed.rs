//! Full-text search over fragments no index segment covers: each row is
//! analyzed as the index would, counted in the corpus statistics, and
//! scored exactly with the same BM25 as the indexed rows.

use super::text_leaf::{Group, Hit, Leaf};
use super::text_query::Operator;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::index::{TERM_CACHE_ENTRIES, analyze_row};
use crate::scanner::ROW_ID;
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use futures::TryStreamExt;
use pilum_index::text::{
    Analyzer, Bm25, CorpusStats, TermCache, edit_distance_within, in_query_order, phrase_frequency,
};
use roaring::RoaringTreemap;
use std::collections::{HashMap, HashSet};

/// A query group as unindexed rows match it: its known terms grow as rows
/// reveal fuzzy or prefix matches the dictionaries lacked.
#[derive(Debug, Clone)]
pub(crate) struct UnindexedGroup {
    /// Terms searched for it.
    pub terms: Vec<String>,
    known: HashSet<String>,
    rejected: HashSet<String>,
    term: Vec<char>,
    /// What a matching term starts with: the whole prefix of a prefix
    /// query, or the first `prefix_length` characters of a fuzzy term.
    required_prefix: String,
    offset: u32,
    fuzziness: u32,
    prefix: bool,
}

impl UnindexedGroup {
    /// The group as the indexed segments search it.
    pub fn of(group: &Group) -> Self {
        Self {
            terms: group.terms.clone(),
            known: group.terms.iter().cloned().collect(),
            rejected: HashSet::new(),
            term: group.term.chars().collect(),
            required_prefix: if group.prefix {
                group.term.clone()
            } else {
                group.term.chars().take(group.prefix_length).collect()
            },
            offset: group.offset,
            fuzziness: group.fuzziness,
            prefix: group.prefix,
        }
    }

    fn matches(&mut self, token: &str) -> bool {
        if self.known.contains(token) {
            return true;
        }
        if self.rejected.contains(token) {
            return false;
        }
        let hit = if self.prefix {
            token.starts_with(&self.required_prefix)
        } else if self.fuzziness > 0 && token.starts_with(&self.required_prefix) {
            let chars: Vec<char> = token.chars().collect();
            edit_distance_within(&self.term, &chars, self.fuzziness).is_some()
        } else {
            false
        };
        if hit {
            self.known.insert(token.to_string());
            self.terms.push(token.to_string());
        } else {
            self.rejected.insert(token.to_string());
        }
        hit
    }
}

/// Where term `term` of group `g` stands in the query's flattened term
/// list (the order the indexed search sums in).
fn query_order(groups: &[UnindexedGroup], g: usize, term: &str) -> usize {
    let before: usize = groups[..g].iter().map(|x| x.terms.len()).sum();
    before + groups[g].terms.iter().position(|t| t == term).unwrap_or(0)
}

/// A row holding a query term: its length and, per matched term, the
/// group, frequency and positions.
struct Candidate {
    row: u64,
    len: u32,
    terms: Vec<(usize, String, u32, Vec<u32>)>,
}

/// What unindexed rows add: their statistics and candidates.
#[derive(Default)]
pub(crate) struct Unindexed {
    /// Rows with a value.
    pub docs: u64,
    /// Their terms in all.
    pub total_terms: u64,
    /// Rows holding each matched term.
    pub df: HashMap<String, u64>,
    candidates: Vec<Candidate>,
}

impl Dataset {
    /// Analyzes the live rows of `fragments` against `groups` (`json`:
    /// as a JSON segment reads them, terms also under their paths).
    pub(crate) async fn scan_unindexed(
        &self,
        column: &str,
        fragments: Vec<u64>,
        analyzer: &Analyzer,
        groups: &mut [UnindexedGroup],
        (positions, json): (bool, bool),
    ) -> Result<Unindexed> {
        let mut out = Unindexed::default();
        let mut cache = TermCache::new(TERM_CACHE_ENTRIES);
        let mut stream = self
            .scan()
            .project([column])
            .with_row_id(true)
            .with_fragments(fragments)
            .try_into_stream()
            .await?;
        while let Some(batch) = stream.try_next().await? {
            let missing = |name: &str| TableError::Internal {
                what: format!("full-text scan lacks column {name}"),
            };
            let texts = batch.column_by_name(column).ok_or_else(|| missing(column))?;
            let ids = batch
                .column_by_name(ROW_ID)
                .ok_or_else(|| missing(ROW_ID))?
                .as_primitive::<UInt64Type>();
            for row in 0..texts.len() {
                if texts.is_null(row) {
                    continue;
                }
                let analyzed = analyze_row(analyzer, &mut cache, texts.as_ref(), row, json);
                let tokens = analyzed.tokens;
                out.docs += 1;
                out.total_terms += u64::from(analyzed.length);
                let mut matched: HashMap<(usize, &str), (u32, Vec<u32>)> = HashMap::new();
                for token in &tokens {
                    for (g, group) in groups.iter_mut().enumerate() {
                        if group.matches(&token.text) {
                            let entry = matched.entry((g, token.text.as_str())).or_default();
                            entry.0 += 1;
                            if positions {
                                entry.1.push(token.position);
                            }
                        }
                    }
                }
                if matched.is_empty() {
                    continue;
                }
                let mut seen: HashSet<&str> = HashSet::new();
                for (_, term) in matched.keys() {
                    if seen.insert(term) {
                        *out.df.entry(term.to_string()).or_default() += 1;
                    }
                }
                out.candidates.push(Candidate {
                    row: ids.value(row),
                    len: analyzed.length,
                    terms: matched
                        .into_iter()
                        .map(|((g, term), (tf, p))| (g, term.to_string(), tf, p))
                        .collect(),
                });
            }
        }
        Ok(out)
    }
}

impl Unindexed {
    /// The candidates that match `leaf`, with their exact scores.
    pub(crate) fn score(
        &self,
        leaf: Leaf<'_>,
        groups: &[UnindexedGroup],
        idfs: &HashMap<String, f32>,
        bm25: Bm25,
        stats: &CorpusStats,
        allowed: Option<&RoaringTreemap>,
    ) -> Vec<Hit> {
        let average = stats.average_length();
        let idf = |t: &str| idfs.get(t).copied().unwrap_or_else(|| bm25.idf(0, stats));
        let mut out = Vec::new();
        for c in &self.candidates {
            if allowed.is_some_and(|a| !a.contains(c.row)) {
                continue;
            }
            let score = match leaf {
                Leaf::Phrase { slop, .. } => {
                    let mut positions: Vec<Vec<u32>> = vec![Vec::new(); groups.len()];
                    for (g, _, _, p) in &c.terms {
                        positions[*g] = p.clone();
                    }
                    if positions.iter().any(Vec::is_empty) {
                        continue;
                    }
                    let offsets: Vec<u32> = groups.iter().map(|g| g.offset).collect();
                    let frequency = phrase_frequency(&positions, &offsets, slop);
                    if frequency == 0 {
                        continue;
                    }
                    let sum: f32 = groups.iter().filter_map(|g| g.terms.first()).map(|t| idf(t)).sum();
                    bm25.score(sum, frequency, c.len, average)
                }
                Leaf::Prefix { .. } => {
                    let mut parts: Vec<(usize, f32)> = c
                        .terms
                        .iter()
                        .map(|(g, t, tf, _)| (query_order(groups, *g, t), bm25.score(idf(t), *tf, c.len, average)))
                        .collect();
                    in_query_order(&mut parts)
                }
                Leaf::Terms(m) => {
                    let mut hit_groups: HashSet<usize> = HashSet::new();
                    let mut parts: Vec<(usize, f32)> = Vec::with_capacity(c.terms.len());
                    for (g, t, tf, _) in &c.terms {
                        hit_groups.insert(*g);
                        parts.push((
                            query_order(groups, *g, t),
                            m.boost * bm25.score(idf(t), *tf, c.len, average),
                        ));
                    }
                    let score = in_query_order(&mut parts);
                    let needed = match m.operator {
                        Operator::And => groups.len(),
                        Operator::Or => m.minimum_should_match.max(1),
                    };
                    if hit_groups.len() < needed {
                        continue;
                    }
                    score
                }
            };
            out.push(Hit { row: c.row, score });
        }
        out
    }
}
