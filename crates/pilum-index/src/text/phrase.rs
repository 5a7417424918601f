//! Phrase queries over posting lists with positions: documents holding
//! every term in order, each term at most `slop` positions further from
//! the previous one than in the query (in total over the phrase). A
//! document scores as one term would with the phrase's frequency and the
//! sum of its terms' inverse document frequencies (Lucene's phrase weight).

use super::bm25::{Bm25, CorpusStats};
use super::postings::{BLOCK_LEN, PostingList};
use super::search::{DocFilter, ScoredDoc, TopDocs};
use crate::error::{IndexError, Result};

/// One term of a phrase: its postings (with positions), its position in
/// the analyzed query, and its inverse document frequency.
#[derive(Debug, Clone, Copy)]
pub struct PhraseTerm<'a> {
    /// The term's postings; they must record positions.
    pub postings: &'a PostingList,
    /// Its position in the query (gaps left by stop words count).
    pub offset: u32,
    /// Its inverse document frequency.
    pub idf: f32,
}

/// A forward iterator over one list, decoding whole blocks.
struct Walker<'a> {
    list: &'a PostingList,
    block: usize,
    docs: [u32; BLOCK_LEN],
    tfs: [u32; BLOCK_LEN],
    len: usize,
    at: usize,
    /// Where the first postings' positions start, for the block
    /// `offsets_block` names (found as far as the walk has needed).
    offsets: Vec<usize>,
    offsets_block: Option<usize>,
}

impl<'a> Walker<'a> {
    fn new(list: &'a PostingList) -> Result<Self> {
        let mut w = Self {
            list,
            block: 0,
            docs: [0; BLOCK_LEN],
            tfs: [0; BLOCK_LEN],
            len: 0,
            at: 0,
            offsets: Vec::new(),
            offsets_block: None,
        };
        w.load(0)?;
        Ok(w)
    }

    fn load(&mut self, block: usize) -> Result<()> {
        self.block = block;
        self.at = 0;
        self.len = if block < self.list.blocks().len() {
            self.list.decode_block(block, &mut self.docs, &mut self.tfs)?
        } else {
            0
        };
        Ok(())
    }

    fn doc(&self) -> Option<u32> {
        (self.at < self.len).then(|| self.docs[self.at])
    }

    /// Moves to the first document ≥ `target`.
    fn seek(&mut self, target: u32) -> Result<Option<u32>> {
        let blocks = self.list.blocks();
        if self.block < blocks.len() && blocks[self.block].last_doc < target {
            let b = self.block + blocks[self.block..].partition_point(|m| m.last_doc < target);
            self.load(b)?;
        }
        self.at += self.docs[self.at..self.len].partition_point(|&d| d < target);
        if self.at >= self.len && self.block < blocks.len() {
            self.load(self.block + 1)?;
        }
        Ok(self.doc())
    }

    /// The current posting's frequency.
    fn tf(&self) -> u32 {
        self.tfs[self.at.min(BLOCK_LEN - 1)]
    }

    /// The current posting's positions, into `out`.
    fn positions(&mut self, out: &mut Vec<u32>) -> Result<()> {
        if self.offsets_block != Some(self.block) {
            self.offsets.clear();
            self.offsets_block = Some(self.block);
        }
        self.list
            .extend_position_offsets(self.block, &self.tfs[..self.len], self.at, &mut self.offsets)?;
        self.list.positions_from(self.offsets[self.at], self.tfs[self.at], out)
    }
}

/// Occurrences of the phrase in one document, given each term's positions
/// (terms in query order) and the query offsets.
pub fn phrase_frequency(positions: &[Vec<u32>], offsets: &[u32], slop: u32) -> u32 {
    let mut count = 0;
    if positions.is_empty() || positions.len() != offsets.len() {
        return 0;
    }
    'starts: for &start in &positions[0] {
        let (mut previous, mut extra) = (start, 0u32);
        for i in 1..positions.len() {
            let step = offsets[i].saturating_sub(offsets[i - 1]).max(1);
            let earliest = previous.saturating_add(step);
            let list = &positions[i];
            let Some(&p) = list.get(list.partition_point(|&p| p < earliest)) else {
                continue 'starts;
            };
            extra = extra.saturating_add(p - earliest);
            if extra > slop {
                continue 'starts;
            }
            previous = p;
        }
        count += 1;
    }
    count
}

/// The `k` best documents holding the phrase `terms` (in query order)
/// within `slop`, that `accept` lets through.
#[allow(clippy::too_many_arguments)]
pub fn top_k_phrase(
    terms: &[PhraseTerm<'_>],
    slop: u32,
    k: usize,
    bm25: Bm25,
    stats: &CorpusStats,
    doc_lens: &[u32],
    accept: DocFilter<'_>,
) -> Result<Vec<ScoredDoc>> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    if terms.iter().any(|t| t.postings.positions().is_none()) {
        return Err(IndexError::params("a phrase query needs an index built with positions"));
    }
    let idf: f32 = terms.iter().map(|t| t.idf).sum();
    let offsets: Vec<u32> = terms.iter().map(|t| t.offset).collect();
    let average = stats.average_length();
    let mut walkers = terms
        .iter()
        .map(|t| Walker::new(t.postings))
        .collect::<Result<Vec<_>>>()?;
    let lead = (0..terms.len())
        .min_by_key(|&i| terms[i].postings.doc_count())
        .unwrap_or(0);
    let mut top = TopDocs::new(k);
    let mut positions: Vec<Vec<u32>> = vec![Vec::new(); terms.len()];
    let mut target = walkers[lead].doc();
    // The best score any document of the lead's current block can reach:
    // a phrase occurs at most as often as its rarest term.
    let lead_list = terms[lead].postings;
    let block_bound = |b: usize| {
        lead_list
            .block_impacts(b)
            .iter()
            .map(|&(tf, len)| bm25.score(idf, tf, len, average))
            .fold(0.0f32, f32::max)
    };
    // The lead's block bound, computed once per block (not per document).
    let mut bound: Option<(usize, f32)> = None;
    'docs: while let Some(doc) = target {
        let b = walkers[lead].block;
        let block_best = match bound {
            Some((cached, value)) if cached == b => value,
            _ => {
                let value = block_bound(b);
                bound = Some((b, value));
                value
            }
        };
        if block_best <= top.threshold() {
            let past = lead_list
                .blocks()
                .get(b)
                .map_or(u32::MAX, |m| m.last_doc.saturating_add(1));
            target = walkers[lead].seek(past)?.filter(|&d| d >= past);
            continue;
        }
        for w in walkers.iter_mut() {
            match w.seek(doc)? {
                Some(d) if d == doc => {}
                Some(d) => {
                    target = walkers[lead].seek(d)?;
                    continue 'docs;
                }
                None => break 'docs,
            }
        }
        if accept.is_none_or(|f| f(doc)) {
            let len = doc_lens.get(doc as usize).copied().ok_or_else(|| IndexError::Corrupt {
                what: format!("postings reach document {doc} of {}", doc_lens.len()),
            })?;
            // Each occurrence starts at a position of the first term; with
            // no slop, occurrences also use distinct positions of every
            // term. A document whose bound cannot enter is not decoded.
            let most = if slop == 0 {
                walkers.iter().map(Walker::tf).min().unwrap_or(0)
            } else {
                walkers[0].tf()
            };
            if bm25.score(idf, most, len, average) > top.threshold() {
                for (w, out) in walkers.iter_mut().zip(positions.iter_mut()) {
                    w.positions(out)?;
                }
                let frequency = phrase_frequency(&positions, &offsets, slop);
                if frequency > 0 {
                    top.offer(doc, bm25.score(idf, frequency, len, average));
                }
            }
        }
        target = walkers[lead].seek(doc.saturating_add(1))?.filter(|&d| d > doc);
    }
    Ok(top.into_sorted())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::text::postings::PostingListBuilder;

    #[test]
    fn frequencies_follow_order_and_slop() {
        let p = |v: &[u32]| v.to_vec();
        // "a b" at 0-1 and 5-6.
        assert_eq!(phrase_frequency(&[p(&[0, 5]), p(&[1, 6])], &[0, 1], 0), 2);
        // Reversed order never matches.
        assert_eq!(phrase_frequency(&[p(&[3]), p(&[2])], &[0, 1], 5), 0);
        // One word between: needs slop 1.
        assert_eq!(phrase_frequency(&[p(&[0]), p(&[2])], &[0, 1], 0), 0);
        assert_eq!(phrase_frequency(&[p(&[0]), p(&[2])], &[0, 1], 1), 1);
        // A stop word's gap in the query is expected in the document.
        assert_eq!(phrase_frequency(&[p(&[4]), p(&[6])], &[0, 2], 0), 1);
    }

    #[test]
    fn phrases_match_a_brute_force_scan() {
        // Documents over a 4-word vocabulary; word w of document d at
        // position i when (d * 7 + i * 3) % 4 == w.
        let n = 900u32;
        let words = |d: u32| -> Vec<u32> { (0..(d % 11 + 2)).map(|i| (d * 7 + i * 3 + i * i) % 4).collect() };
        let mut builders: Vec<PostingListBuilder> = (0..4).map(|_| PostingListBuilder::with_positions()).collect();
        let mut lens = Vec::new();
        for d in 0..n {
            let doc = words(d);
            lens.push(doc.len() as u32);
            for (w, builder) in builders.iter_mut().enumerate() {
                let at: Vec<u32> = (0..doc.len() as u32).filter(|&i| doc[i as usize] == w as u32).collect();
                if !at.is_empty() {
                    builder.push_with_positions(d, &at, doc.len() as u32).unwrap();
                }
            }
        }
        let lists: Vec<PostingList> = builders.into_iter().map(|b| b.finish()).collect();
        let stats = CorpusStats {
            num_docs: n as u64,
            total_terms: lens.iter().map(|&l| l as u64).sum(),
        };
        for (a, b, slop) in [(0u32, 1u32, 0u32), (2, 3, 0), (1, 0, 1), (3, 3, 0), (0, 2, 2)] {
            let terms = [
                PhraseTerm {
                    postings: &lists[a as usize],
                    offset: 0,
                    idf: 1.0,
                },
                PhraseTerm {
                    postings: &lists[b as usize],
                    offset: 1,
                    idf: 1.0,
                },
            ];
            let keep = |d: u32| !d.is_multiple_of(5);
            let got = top_k_phrase(&terms, slop, usize::MAX, Bm25::default(), &stats, &lens, Some(&keep)).unwrap();
            let mut want: Vec<u32> = (0..n)
                .filter(|&d| keep(d))
                .filter(|&d| {
                    let doc = words(d);
                    (0..doc.len())
                        .any(|i| doc[i] == a && (i + 1..doc.len()).any(|j| doc[j] == b && (j - i - 1) as u32 <= slop))
                })
                .collect();
            // A top-5 with block skipping equals the head of the full ranking.
            let five = top_k_phrase(&terms, slop, 5, Bm25::default(), &stats, &lens, Some(&keep)).unwrap();
            assert_eq!(five, got[..got.len().min(5)].to_vec(), "top 5 of {a} {b} slop {slop}");
            let mut got_docs: Vec<u32> = got.iter().map(|s| s.doc).collect();
            got_docs.sort_unstable();
            want.sort_unstable();
            assert_eq!(got_docs, want, "phrase {a} {b} slop {slop}");
        }
    }
}
