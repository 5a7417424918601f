//! A cursor over one term's postings for query evaluation: it moves block
//! by block, and can skip into a block without decoding it.

use super::postings::BLOCK_LEN;
use super::search::{Scorer, TermQuery};
use crate::error::Result;

/// A position in one term's postings.
pub(super) struct Cursor<'a> {
    pub(super) term: TermQuery<'a>,
    /// The term's place in the query (scores are summed in this order, so
    /// equal documents get bit-identical scores).
    pub(super) order: usize,
    /// Largest score any document of the list can get.
    pub(super) list_max: f32,
    /// The block the cursor is in (the block count once exhausted).
    pub(super) block: usize,
    /// The block `docs` and `tfs` hold.
    decoded_block: Option<usize>,
    /// Boxed, so cursors stay small: WAND re-sorts them at every step.
    docs: Box<[u32; BLOCK_LEN]>,
    tfs: Box<[u32; BLOCK_LEN]>,
    len: usize,
    at: usize,
    /// The current document; after [`Cursor::skip`] only a lower bound of
    /// it until [`Cursor::materialize`] (block-max WAND moves cursors past
    /// blocks without decoding them).
    pub(super) doc: u32,
    exact: bool,
    pub(super) decoded: u64,
    /// The block whose bound `bound` holds.
    bound_block: usize,
    bound: f32,
}

/// The document past every real one.
pub(super) const END: u32 = u32::MAX;

impl<'a> Cursor<'a> {
    pub(super) fn new(term: TermQuery<'a>, order: usize, scorer: &Scorer<'_>) -> Result<Self> {
        let list_max = scorer.impacts_bound(&term, term.postings.list_impacts());
        let mut cursor = Self {
            term,
            order,
            list_max,
            block: 0,
            decoded_block: None,
            docs: Box::new([0; BLOCK_LEN]),
            tfs: Box::new([0; BLOCK_LEN]),
            len: 0,
            at: 0,
            doc: 0,
            exact: false,
            decoded: 0,
            bound_block: usize::MAX,
            bound: 0.0,
        };
        cursor.enter(0, 0);
        Ok(cursor)
    }

    /// Stands at the lower bound `target` in block `b` (exhausted past the last).
    fn enter(&mut self, b: usize, target: u32) {
        let blocks = self.term.postings.blocks();
        self.block = b;
        if b >= blocks.len() {
            self.doc = END;
            self.exact = true;
        } else {
            let first_possible = b.checked_sub(1).map_or(0, |p| blocks[p].last_doc.saturating_add(1));
            self.doc = target.max(first_possible);
            self.exact = false;
        }
    }

    /// Makes `doc` exact: the first document ≥ the bound in the current block.
    pub(super) fn materialize(&mut self) -> Result<()> {
        if self.exact {
            return Ok(());
        }
        if self.decoded_block != Some(self.block) {
            self.len = self
                .term
                .postings
                .decode_block(self.block, &mut self.docs, &mut self.tfs)?;
            self.decoded_block = Some(self.block);
            self.decoded += 1;
            self.at = 0;
        }
        let bound = self.doc;
        self.at += self.docs[self.at..self.len].partition_point(|&d| d < bound);
        // The block's last document is ≥ the bound, so one is found.
        self.doc = self
            .docs
            .get(self.at)
            .copied()
            .filter(|_| self.at < self.len)
            .unwrap_or(END);
        self.exact = true;
        Ok(())
    }

    pub(super) fn tf(&self) -> u32 {
        self.tfs[self.at]
    }

    /// Moves past the current (exact) document.
    pub(super) fn next(&mut self) -> Result<()> {
        self.materialize()?;
        if self.doc == END {
            return Ok(());
        }
        self.at += 1;
        if self.at < self.len {
            self.doc = self.docs[self.at];
        } else {
            self.enter(self.block + 1, 0);
        }
        Ok(())
    }

    /// The first block from the current one whose last document is ≥
    /// `target` (the block count when none).
    pub(super) fn block_of(&self, target: u32) -> usize {
        let blocks = self.term.postings.blocks();
        let from = self.block.min(blocks.len());
        // Usually the target is in the current block or the next one.
        if let Some(ahead) = blocks[from..].iter().take(2).position(|b| b.last_doc >= target) {
            return from + ahead;
        }
        let from = (from + 2).min(blocks.len());
        from + blocks[from..].partition_point(|b| b.last_doc < target)
    }

    /// The best score a document of block `b` can reach (cached for the
    /// last block asked about).
    pub(super) fn block_bound(&mut self, b: usize, scorer: &Scorer<'_>) -> f32 {
        if self.bound_block != b {
            self.bound = scorer.block_bound(&self.term, b);
            self.bound_block = b;
        }
        self.bound
    }

    /// Moves to a lower bound ≥ `target` of the next document, without decoding.
    pub(super) fn skip(&mut self, target: u32) {
        if self.doc >= target {
            return;
        }
        let b = self.block_of(target);
        if b == self.block && self.exact {
            // Within the decoded block: stay exact.
            self.at += self.docs[self.at..self.len].partition_point(|&d| d < target);
            self.doc = self.docs[self.at.min(self.len - 1)];
            if self.at >= self.len {
                self.enter(b + 1, target);
            }
        } else {
            self.enter(b, target);
        }
    }

    /// Moves to the first document ≥ `target`, exactly.
    pub(super) fn seek(&mut self, target: u32) -> Result<()> {
        self.skip(target);
        self.materialize()
    }
}
