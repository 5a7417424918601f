//! Top-k evaluation of term queries over posting lists. A disjunction
//! (any term) runs block-max WAND (Ding and Suel, 2011): terms are kept in
//! document order, and a document is scored only when the best scores its
//! terms' lists, then their current blocks, could add up to beat the k-th
//! best score so far; whole blocks that cannot are skipped unread. A
//! conjunction (every term) walks the rarest list and seeks the others.

use super::bm25::{Bm25, CorpusStats};
use super::cursor::{Cursor, END};
use super::postings::{BLOCK_LEN, PostingList};
use crate::error::{IndexError, Result};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One term of a query: its postings, its inverse document frequency and
/// a weight (a boost; 1 for none).
#[derive(Debug, Clone, Copy)]
pub struct TermQuery<'a> {
    /// The term's postings.
    pub postings: &'a PostingList,
    /// Its inverse document frequency (from the corpus statistics).
    pub idf: f32,
    /// Multiplies its score.
    pub weight: f32,
}

/// Which documents may be returned (deleted or filtered-out rows are
/// not); `None` accepts every document.
pub type DocFilter<'a> = Option<&'a (dyn Fn(u32) -> bool + Sync)>;

/// Work a query did: blocks of postings decoded and documents scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SearchStats {
    /// Posting blocks decoded.
    pub blocks_decoded: u64,
    /// Documents whose score was computed.
    pub docs_scored: u64,
}

/// A document and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredDoc {
    /// Document number.
    pub doc: u32,
    /// BM25 score.
    pub score: f32,
}

/// Ordering for the result heap: lower score first, then higher document
/// (so among equal scores the lower document survives).
#[derive(PartialEq)]
struct Ranked(ScoredDoc);

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .score
            .total_cmp(&self.0.score)
            .then(self.0.doc.cmp(&other.0.doc))
    }
}

/// The best `k` documents, kept in a min-heap.
pub(super) struct TopDocs {
    k: usize,
    heap: BinaryHeap<Ranked>,
}

impl TopDocs {
    pub(super) fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 12) + 1),
        }
    }

    /// The score a document must beat to enter (−∞ until k are held).
    pub(super) fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f32::NEG_INFINITY, |r| r.0.score)
        }
    }

    pub(super) fn offer(&mut self, doc: u32, score: f32) {
        if self.k == 0 {
            return;
        }
        self.heap.push(Ranked(ScoredDoc { doc, score }));
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    /// Best first; ties by ascending document.
    pub(super) fn into_sorted(self) -> Vec<ScoredDoc> {
        let mut out: Vec<ScoredDoc> = self.heap.into_iter().map(|r| r.0).collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
        out
    }
}

/// The most `cursors` can add together to a document in `from..=to`: per
/// cursor, the best bound of its blocks that overlap the range. `None`
/// when a cursor holds no document from `from` on.
fn range_bounds(cursors: &[Cursor<'_>], from: u32, to: u32, scorer: &Scorer<'_>) -> Option<f32> {
    let mut total = 0.0f32;
    for c in cursors {
        let blocks = c.term.postings.blocks().len();
        let first = c.block_of(from);
        if first >= blocks {
            return None;
        }
        let last = c.block_of(to).min(blocks - 1);
        total += (first..=last)
            .map(|b| scorer.block_bound(&c.term, b))
            .fold(0.0f32, f32::max);
    }
    Some(total)
}

/// Whether a document whose score is at most `bound` cannot enter above
/// `threshold`. The bound is summed in another order than the score, so
/// it gets a margin of a few ulps against rounding.
fn cannot_beat(bound: f32, threshold: f32) -> bool {
    bound + bound.abs() * 1e-6 <= threshold
}

/// The sum of a document's term scores, added in query order (float
/// addition is not associative: a fixed order gives equal documents equal
/// scores, whatever order the cursors stood in).
pub fn in_query_order(parts: &mut [(usize, f32)]) -> f32 {
    parts.sort_unstable_by_key(|p| p.0);
    parts.iter().map(|p| p.1).sum()
}

/// Scores with the corpus statistics and document lengths.
pub(super) struct Scorer<'a> {
    bm25: Bm25,
    average_length: f32,
    doc_lens: &'a [u32],
}

impl Scorer<'_> {
    fn score(&self, term: &TermQuery<'_>, tf: u32, doc: u32) -> f32 {
        let len = self.doc_lens.get(doc as usize).copied().unwrap_or(0);
        term.weight * self.bm25.score(term.idf, tf, len, self.average_length)
    }

    /// The largest score of the term in block `b`: the best of the block's
    /// impacts (BM25 grows with frequency and shrinks with length).
    pub(super) fn block_bound(&self, term: &TermQuery<'_>, b: usize) -> f32 {
        self.impacts_bound(term, term.postings.block_impacts(b))
    }

    /// The best score over `impacts`.
    pub(super) fn impacts_bound(&self, term: &TermQuery<'_>, impacts: &[(u32, u32)]) -> f32 {
        impacts
            .iter()
            .map(|&(tf, len)| term.weight * self.bm25.score(term.idf, tf, len, self.average_length))
            .fold(0.0f32, f32::max)
    }
}

/// Checks the query, and makes its scorer and one cursor per term.
fn prepare<'a, 'd>(
    terms: &[TermQuery<'a>],
    bm25: Bm25,
    stats: &CorpusStats,
    doc_lens: &'d [u32],
) -> Result<(Scorer<'d>, Vec<Cursor<'a>>)> {
    check(terms, doc_lens)?;
    let scorer = Scorer {
        bm25,
        average_length: stats.average_length(),
        doc_lens,
    };
    let cursors = terms
        .iter()
        .enumerate()
        .map(|(order, t)| Cursor::new(*t, order, &scorer))
        .collect::<Result<Vec<_>>>()?;
    Ok((scorer, cursors))
}

fn check(terms: &[TermQuery<'_>], doc_lens: &[u32]) -> Result<()> {
    for t in terms {
        if !(t.weight.is_finite() && t.weight >= 0.0 && t.idf.is_finite() && t.idf >= 0.0) {
            return Err(IndexError::params(format!(
                "term weights and idf must be finite and ≥ 0, got weight {} idf {}",
                t.weight, t.idf
            )));
        }
        if let Some(last) = t.postings.blocks().last()
            && last.last_doc as usize >= doc_lens.len()
        {
            return Err(IndexError::Corrupt {
                what: format!("postings reach document {} of {}", last.last_doc, doc_lens.len()),
            });
        }
    }
    Ok(())
}

/// The `k` best documents holding any of `terms`, by the sum of their
/// terms' BM25 scores; `doc_lens[d]` is document d's length in terms.
pub fn top_k_or(
    terms: &[TermQuery<'_>],
    k: usize,
    bm25: Bm25,
    stats: &CorpusStats,
    doc_lens: &[u32],
) -> Result<Vec<ScoredDoc>> {
    Ok(top_k_or_with_stats(terms, 1, k, bm25, stats, doc_lens, None)?.0)
}

/// The `k` best documents holding at least `minimum_should_match` of
/// `terms` (1 for a plain disjunction) that `accept` lets through, with
/// the work the search did.
pub fn top_k_or_with_stats(
    terms: &[TermQuery<'_>],
    minimum_should_match: usize,
    k: usize,
    bm25: Bm25,
    stats: &CorpusStats,
    doc_lens: &[u32],
    accept: DocFilter<'_>,
) -> Result<(Vec<ScoredDoc>, SearchStats)> {
    if let [term] = terms
        && minimum_should_match <= 1
    {
        return top_k_single(term, k, bm25, stats, doc_lens, accept);
    }
    let mut work = SearchStats::default();
    let (scorer, mut cursors) = prepare(terms, bm25, stats, doc_lens)?;
    let mut top = TopDocs::new(k);
    let mut parts: Vec<(usize, f32)> = Vec::with_capacity(terms.len());
    loop {
        cursors.sort_by_key(|c| c.doc);
        let threshold = top.threshold();
        // The pivot: the first cursor at which the lists' maxima, summed
        // in document order, could beat the threshold.
        let mut upper = 0.0f32;
        let Some(pivot) = cursors.iter().position(|c| {
            upper += c.list_max;
            upper > threshold
        }) else {
            break;
        };
        // A document before the m-th list's holds fewer than m terms.
        let pivot = pivot.max(minimum_should_match.max(1) - 1);
        let Some(pivot_doc) = cursors.get(pivot).map(|c| c.doc) else {
            break;
        };
        if pivot_doc == END {
            break;
        }
        // Lists standing on the pivot document too count in its bound.
        let mut pivot = pivot;
        while cursors.get(pivot + 1).is_some_and(|c| c.doc == pivot_doc) {
            pivot += 1;
        }
        // Block-max check: the current blocks' bounds at the pivot document.
        let mut block_upper = 0.0f32;
        let mut next_boundary = END;
        for c in &mut cursors[..=pivot] {
            let b = c.block_of(pivot_doc);
            if let Some(meta) = c.term.postings.blocks().get(b) {
                let last = meta.last_doc;
                block_upper += c.block_bound(b, &scorer);
                next_boundary = next_boundary.min(last.saturating_add(1));
            }
        }
        if block_upper <= threshold {
            // No document before the end of the nearest of these blocks (or
            // before the next list's document) can enter: skip to there.
            let mut target = next_boundary;
            if let Some(after) = cursors.get(pivot + 1) {
                target = target.min(after.doc);
            }
            let target = target.max(pivot_doc.saturating_add(1));
            for c in &mut cursors[..=pivot] {
                c.skip(target);
            }
            continue;
        }
        if cursors[0].doc == pivot_doc {
            // Bounds are not documents: decode, and go round again if a
            // cursor's real document lies past the pivot.
            let mut moved = false;
            for c in cursors.iter_mut().take_while(|c| c.doc == pivot_doc) {
                c.materialize()?;
                moved |= c.doc != pivot_doc;
            }
            if moved {
                continue;
            }
            let wanted = accept.is_none_or(|f| f(pivot_doc));
            work.docs_scored += u64::from(wanted);
            parts.clear();
            for c in cursors.iter_mut().take_while(|c| c.doc == pivot_doc) {
                if wanted {
                    parts.push((c.order, scorer.score(&c.term, c.tf(), pivot_doc)));
                }
                c.next()?;
            }
            let matched = parts.len();
            let score = in_query_order(&mut parts);
            if score > threshold && matched >= minimum_should_match {
                top.offer(pivot_doc, score);
            }
        } else {
            for c in &mut cursors[..pivot] {
                c.seek(pivot_doc)?;
            }
        }
    }
    work.blocks_decoded = cursors.iter().map(|c| c.decoded).sum();
    Ok((top.into_sorted(), work))
}

/// One term's `k` best documents: block by block, a block whose best
/// possible score cannot enter is skipped undecoded, the others are scored
/// in one tight pass.
fn top_k_single(
    term: &TermQuery<'_>,
    k: usize,
    bm25: Bm25,
    stats: &CorpusStats,
    doc_lens: &[u32],
    accept: DocFilter<'_>,
) -> Result<(Vec<ScoredDoc>, SearchStats)> {
    let (scorer, _) = prepare(std::slice::from_ref(term), bm25, stats, doc_lens)?;
    let mut work = SearchStats::default();
    let mut top = TopDocs::new(k);
    let (mut docs, mut tfs) = ([0u32; BLOCK_LEN], [0u32; BLOCK_LEN]);
    for b in 0..term.postings.blocks().len() {
        let threshold = top.threshold();
        if scorer.block_bound(term, b) <= threshold {
            continue;
        }
        let len = term.postings.decode_block(b, &mut docs, &mut tfs)?;
        work.blocks_decoded += 1;
        for (&doc, &tf) in docs[..len].iter().zip(&tfs[..len]) {
            let score = scorer.score(term, tf, doc);
            work.docs_scored += 1;
            if score > top.threshold() && accept.is_none_or(|f| f(doc)) {
                top.offer(doc, score);
            }
        }
    }
    Ok((top.into_sorted(), work))
}

/// The `k` best documents holding every one of `terms` that `accept`
/// lets through.
pub fn top_k_and(
    terms: &[TermQuery<'_>],
    k: usize,
    bm25: Bm25,
    stats: &CorpusStats,
    doc_lens: &[u32],
    accept: DocFilter<'_>,
) -> Result<Vec<ScoredDoc>> {
    let (scorer, mut cursors) = prepare(terms, bm25, stats, doc_lens)?;
    if cursors.is_empty() {
        return Ok(Vec::new());
    }
    // The rarest list leads; the others seek its documents.
    cursors.sort_by_key(|c| c.term.postings.doc_count());
    let mut top = TopDocs::new(k);
    let mut target = cursors[0].doc;
    // What the other terms can add at most to a document of the lead's
    // current block (from the first target in it): a lead block whose bound
    // plus this cannot beat the k-th score is skipped undecoded.
    let mut others: Option<(usize, f32)> = None;
    let mut parts: Vec<(usize, f32)> = Vec::with_capacity(cursors.len());
    'docs: while target != END {
        let threshold = top.threshold();
        if threshold > f32::NEG_INFINITY {
            let (lead, rest) = cursors.split_at_mut(1);
            let lead = &mut lead[0];
            let b = lead.block_of(target);
            if let Some(last) = lead.term.postings.blocks().get(b).map(|m| m.last_doc) {
                let rest_bound = match others {
                    Some((block, bound)) if block == b => bound,
                    _ => {
                        let Some(bound) = range_bounds(rest, target, last, &scorer) else {
                            break; // a list ends before the target: no match is left
                        };
                        others = Some((b, bound));
                        bound
                    }
                };
                if cannot_beat(lead.block_bound(b, &scorer) + rest_bound, threshold) {
                    lead.skip(last.saturating_add(1));
                    target = lead.doc;
                    continue;
                }
            }
        }
        if threshold > f32::NEG_INFINITY {
            // The lead's exact score plus the best the others' blocks at
            // this document allow: a document that cannot beat the k-th
            // score is passed without seeking (decoding) the other lists.
            let (lead, rest) = cursors.split_at_mut(1);
            lead[0].seek(target)?;
            target = lead[0].doc;
            if target == END {
                break;
            }
            let mut bound = scorer.score(&lead[0].term, lead[0].tf(), target);
            for c in rest.iter_mut() {
                let b = c.block_of(target);
                if b >= c.term.postings.blocks().len() {
                    break 'docs; // a list ends before the target: no match is left
                }
                bound += c.block_bound(b, &scorer);
            }
            if cannot_beat(bound, threshold) {
                lead[0].next()?;
                target = lead[0].doc;
                continue;
            }
        }
        for c in cursors.iter_mut() {
            c.seek(target)?;
            if c.doc != target {
                target = c.doc;
                continue 'docs;
            }
        }
        parts.clear();
        parts.extend(cursors.iter().map(|c| (c.order, scorer.score(&c.term, c.tf(), target))));
        let score = in_query_order(&mut parts);
        if score > top.threshold() && accept.is_none_or(|f| f(target)) {
            top.offer(target, score);
        }
        cursors[0].next()?;
        target = cursors[0].doc;
    }
    Ok(top.into_sorted())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::text::postings::PostingListBuilder;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A corpus of `docs` documents over `vocabulary` terms with a skewed
    /// distribution, as (postings per term, document lengths).
    fn corpus(docs: usize, vocabulary: usize, seed: u64) -> (Vec<PostingList>, Vec<u32>, Vec<BTreeMap<usize, u32>>) {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut draw = move |n: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as usize) % n.max(1)
        };
        let mut counts: Vec<BTreeMap<usize, u32>> = Vec::with_capacity(docs);
        let mut lens = Vec::with_capacity(docs);
        for _ in 0..docs {
            let len = 10 + draw(100);
            let mut doc = BTreeMap::new();
            for _ in 0..len {
                // Zipf-like: small term numbers are frequent.
                let spread = draw(vocabulary) + 1;
                let term = draw(spread);
                *doc.entry(term).or_insert(0) += 1;
            }
            lens.push(len as u32);
            counts.push(doc);
        }
        let mut lists = Vec::new();
        for term in 0..vocabulary {
            let mut b = PostingListBuilder::new();
            for (d, doc) in counts.iter().enumerate() {
                if let Some(&tf) = doc.get(&term) {
                    b.push(d as u32, tf, lens[d]).unwrap();
                }
            }
            lists.push(b.finish());
        }
        (lists, lens, counts)
    }

    fn brute(
        query: &[usize],
        minimum: usize,
        lists: &[PostingList],
        lens: &[u32],
        counts: &[BTreeMap<usize, u32>],
        stats: &CorpusStats,
    ) -> Vec<(u32, f32)> {
        let bm25 = Bm25::default();
        let mut out = Vec::new();
        for (d, doc) in counts.iter().enumerate() {
            let present = query.iter().filter(|t| doc.contains_key(t)).count();
            if present == 0 || present < minimum {
                continue;
            }
            let score: f32 = query
                .iter()
                .filter_map(|t| {
                    doc.get(t).map(|&tf| {
                        let idf = bm25.idf(lists[*t].doc_count() as u64, stats);
                        bm25.score(idf, tf, lens[d], stats.average_length())
                    })
                })
                .sum();
            out.push((d as u32, score));
        }
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// `minimum`: terms a document must hold; `usize::MAX` for all of them (AND).
    fn check_against_brute(query: &[usize], k: usize, minimum: usize, seed: u64) {
        let (lists, lens, counts) = corpus(3000, 200, seed);
        let stats = CorpusStats {
            num_docs: lens.len() as u64,
            total_terms: lens.iter().map(|&l| l as u64).sum(),
        };
        let bm25 = Bm25::default();
        let terms: Vec<TermQuery> = query
            .iter()
            .map(|&t| TermQuery {
                postings: &lists[t],
                idf: bm25.idf(lists[t].doc_count() as u64, &stats),
                weight: 1.0,
            })
            .collect();
        // Odd seeds also filter documents out (as deletions do).
        let modulus = if seed % 2 == 1 { 3 } else { u32::MAX };
        let keep = move |d: u32| d % modulus != 1;
        let accept: DocFilter<'_> = Some(&keep);
        let got = if minimum == usize::MAX {
            top_k_and(&terms, k, bm25, &stats, &lens, accept).unwrap()
        } else {
            top_k_or_with_stats(&terms, minimum, k, bm25, &stats, &lens, accept)
                .unwrap()
                .0
        };
        let need = if minimum == usize::MAX { query.len() } else { minimum };
        let mut want = brute(query, need, &lists, &lens, &counts, &stats);
        want.retain(|w| keep(w.0));
        let want_scores: Vec<f32> = want.iter().take(k).map(|w| w.1).collect();
        let got_scores: Vec<f32> = got.iter().map(|g| g.score).collect();
        assert_eq!(got_scores.len(), want_scores.len(), "query {query:?}");
        for (g, w) in got_scores.iter().zip(&want_scores) {
            assert!(
                (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                "query {query:?}: {got_scores:?} vs {want_scores:?}"
            );
        }
        // Every returned document has the score brute force gives it.
        let exact: BTreeMap<u32, f32> = want.into_iter().collect();
        for g in &got {
            let w = exact[&g.doc];
            assert!((g.score - w).abs() <= 1e-4 * w.abs().max(1.0));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn disjunctions_match_brute_force(query in proptest::collection::vec(0usize..200, 1..6), k in 1usize..30, seed in 0u64..1000) {
            check_against_brute(&query, k, 1, seed);
        }

        #[test]
        fn minimum_should_match_matches_brute_force(query in proptest::collection::vec(0usize..60, 2..6), minimum in 2usize..5, k in 1usize..30, seed in 0u64..1000) {
            check_against_brute(&query, k, minimum, seed);
        }

        #[test]
        fn conjunctions_match_brute_force(query in proptest::collection::vec(0usize..12, 1..4), k in 1usize..30, seed in 0u64..1000) {
            check_against_brute(&query, k, usize::MAX, seed);
        }
    }

    #[test]
    fn block_max_wand_scores_few_of_the_matching_documents() {
        // A frequent term with low idf and a rare one: the top 10 need only
        // a few of the frequent term's blocks.
        let (lists, lens, _) = corpus(20_000, 1000, 7);
        let stats = CorpusStats {
            num_docs: lens.len() as u64,
            total_terms: lens.iter().map(|&l| l as u64).sum(),
        };
        let bm25 = Bm25::default();
        let terms: Vec<TermQuery> = [0usize, 900]
            .iter()
            .map(|&t| TermQuery {
                postings: &lists[t],
                idf: bm25.idf(lists[t].doc_count() as u64, &stats),
                weight: 1.0,
            })
            .collect();
        let (got, work) = top_k_or_with_stats(&terms, 1, 10, bm25, &stats, &lens, None).unwrap();
        assert_eq!(got.len(), 10);
        let blocks: u64 = terms.iter().map(|t| t.postings.blocks().len() as u64).sum();
        let matching: u64 = terms.iter().map(|t| t.postings.doc_count() as u64).sum();
        assert!(lists[0].blocks().len() > 50, "the frequent list spans many blocks");
        // The rare term's documents are spread over the whole range, so
        // most of the frequent list's blocks hold one and are decoded; but
        // few documents are scored.
        assert!(work.blocks_decoded <= blocks, "{work:?} of {blocks} blocks");
        assert!(work.docs_scored * 4 < matching, "{work:?} of {matching} postings");
        // Two frequent terms: most documents hold one of them, and the top
        // 10 are found scoring a small share of them.
        let terms: Vec<TermQuery> = [3usize, 8]
            .iter()
            .map(|&t| TermQuery {
                postings: &lists[t],
                idf: bm25.idf(lists[t].doc_count() as u64, &stats),
                weight: 1.0,
            })
            .collect();
        let (got, work) = top_k_or_with_stats(&terms, 1, 10, bm25, &stats, &lens, None).unwrap();
        let matching: u64 = terms.iter().map(|t| t.postings.doc_count() as u64).sum();
        assert_eq!(got.len(), 10);
        assert!(work.docs_scored * 3 < matching, "{work:?} of {matching} postings");
    }

    #[test]
    fn bad_inputs_are_refused() {
        let (lists, lens, _) = corpus(300, 10, 1);
        let stats = CorpusStats {
            num_docs: 300,
            total_terms: 3000,
        };
        let term = TermQuery {
            postings: &lists[0],
            idf: 1.0,
            weight: f32::NAN,
        };
        assert!(top_k_or(&[term], 5, Bm25::default(), &stats, &lens).is_err());
        let term = TermQuery { weight: 1.0, ..term };
        assert!(top_k_or(&[term], 5, Bm25::default(), &stats, &lens[..10]).is_err());
        assert!(top_k_or(&[], 5, Bm25::default(), &stats, &lens).unwrap().is_empty());
        assert!(top_k_or(&[term], 0, Bm25::default(), &stats, &lens).unwrap().is_empty());
    }
}
