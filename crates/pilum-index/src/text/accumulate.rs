//! The in-memory part of an inverted index build: documents analyzed into
//! per-term posting buffers, written out as a sorted run when a memory
//! budget is reached (see `runs.rs` for the merge). A build gives each
//! worker its own accumulator; documents are numbered by the caller,
//! ascending within one accumulator.
//!
//! Terms are interned: each distinct analyzed term gets a number, and each
//! distinct raw piece of text remembers its term's number (or that the
//! filters drop it), so a repeated word costs one hash lookup — no
//! stemming, no allocation and no string comparison.

use super::analyzer::Analyzer;
use super::varint;
use foldhash::HashMap;
use std::io::{self, Write};

/// Bytes a term costs beyond its text and postings (map slots, buffer).
const TERM_OVERHEAD: usize = 96;

/// Raw pieces remembered at most (the memory is then released).
const PIECE_CACHE_ENTRIES: usize = 1 << 18;

/// Positions between the strings of one document: a phrase (within any
/// slop below this) never spans two of them.
pub const ELEMENT_GAP: u32 = 100;

/// Postings of one term gathered since the last run: per document, its
/// number's gap from the previous one, the frequency, the document's
/// length and, when positions are kept, their gaps (all variable-length
/// integers).
#[derive(Debug, Default)]
struct TermBuffer {
    last_doc: Option<u32>,
    count: u32,
    data: Vec<u8>,
}

/// Documents' terms, gathered.
#[derive(Debug)]
pub struct InvertedAccumulator {
    positions: bool,
    ids: HashMap<Box<str>, u32>,
    terms: Vec<Box<str>>,
    buffers: Vec<TermBuffer>,
    /// Terms with postings since the last run.
    touched: Vec<u32>,
    pieces: HashMap<Box<str>, Option<u32>>,
    bytes: usize,
    docs: u64,
    scratch: Vec<(u32, u32)>,
}

impl InvertedAccumulator {
    /// An empty accumulator; `positions` keeps where terms occur.
    pub fn new(positions: bool) -> Self {
        Self {
            positions,
            ids: HashMap::default(),
            terms: Vec::new(),
            buffers: Vec::new(),
            touched: Vec::new(),
            pieces: HashMap::default(),
            bytes: 0,
            docs: 0,
            scratch: Vec::new(),
        }
    }

    /// The number of `term`, interned (copied) on first sight.
    fn intern_str(&mut self, term: &str) -> u32 {
        match self.ids.get(term) {
            Some(&id) => id,
            None => self.intern(term.to_string()),
        }
    }

    /// The number of `term`, interned on first sight.
    fn intern(&mut self, term: String) -> u32 {
        if let Some(&id) = self.ids.get(term.as_str()) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.bytes += 2 * term.len() + TERM_OVERHEAD;
        let term: Box<str> = term.into_boxed_str();
        self.ids.insert(term.clone(), id);
        self.terms.push(term);
        self.buffers.push(TermBuffer::default());
        id
    }

    /// Adds document `doc` (above every document added before), made of
    /// `texts` analyzed by `analyzer` (positions continue from one text to
    /// the next after [`ELEMENT_GAP`]); returns its length in terms.
    pub fn add_texts<S: AsRef<str>>(&mut self, doc: u32, texts: &[S], analyzer: &Analyzer) -> u32 {
        self.add_fields(doc, texts.iter().map(|t| ("", t.as_ref())), analyzer)
    }

    /// Adds document `doc` as [`add_texts`](Self::add_texts) does, made of
    /// `(qualifier, text)` fields: each term of a text is also indexed as
    /// `qualifier` followed by the term, at the same position, unless the
    /// qualifier is empty (JSON paths: [`crate::text::json_fields`]). The
    /// length returned and recorded counts the plain terms only.
    pub fn add_fields<'a>(
        &mut self,
        doc: u32,
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
        analyzer: &Analyzer,
    ) -> u32 {
        self.docs += 1;
        let mut pairs = std::mem::take(&mut self.scratch);
        pairs.clear();
        let mut base = 0u32;
        let mut length = 0u32;
        let mut qualified = String::new();
        for (qualifier, text) in fields {
            let mut position = base;
            let mut last = None;
            analyzer.for_each_piece(text, &mut |raw: &str| {
                let id = match self.pieces.get(raw) {
                    Some(id) => *id,
                    None => {
                        if self.pieces.len() >= PIECE_CACHE_ENTRIES {
                            self.pieces = HashMap::default();
                        }
                        let id = analyzer.filter_piece(raw).map(|term| self.intern(term));
                        self.pieces.insert(raw.into(), id);
                        id
                    }
                };
                if let Some(id) = id {
                    pairs.push((id, position));
                    length = length.saturating_add(1);
                    if !qualifier.is_empty() {
                        qualified.clear();
                        qualified.push_str(qualifier);
                        qualified.push_str(&self.terms[id as usize]);
                        let qualified_id = self.intern_str(&qualified);
                        pairs.push((qualified_id, position));
                    }
                    last = Some(position);
                }
                position = position.saturating_add(1);
            });
            if let Some(last) = last {
                base = last.saturating_add(ELEMENT_GAP);
            }
        }
        pairs.sort_unstable();
        let mut start = 0;
        while start < pairs.len() {
            let id = pairs[start].0;
            let mut end = start + 1;
            while end < pairs.len() && pairs[end].0 == id {
                end += 1;
            }
            let buffer = &mut self.buffers[id as usize];
            if buffer.count == 0 {
                self.touched.push(id);
            }
            let before = buffer.data.capacity();
            let gap = buffer.last_doc.map_or(doc, |last| doc.wrapping_sub(last));
            varint::put(&mut buffer.data, u64::from(gap));
            varint::put(&mut buffer.data, (end - start) as u64);
            varint::put(&mut buffer.data, u64::from(length));
            if self.positions {
                let mut previous = 0u32;
                for (i, &(_, p)) in pairs[start..end].iter().enumerate() {
                    varint::put(&mut buffer.data, u64::from(if i == 0 { p } else { p - previous }));
                    previous = p;
                }
            }
            buffer.last_doc = Some(doc);
            buffer.count += 1;
            self.bytes += buffer.data.capacity() - before;
            start = end;
        }
        self.scratch = pairs;
        length
    }

    /// Bytes held (an estimate that counts buffers' capacity and the
    /// dictionary).
    pub fn memory(&self) -> usize {
        self.bytes
    }

    /// Documents added.
    pub fn docs(&self) -> u64 {
        self.docs
    }

    /// Whether nothing was added since the last run.
    pub fn is_empty(&self) -> bool {
        self.touched.is_empty()
    }

    /// Writes what was gathered since the last run as one run, terms in
    /// byte order, and empties the buffers (the dictionary stays). Run
    /// layout: per term a tag byte 1, the term's length and bytes, its
    /// posting count and its buffer's length and bytes (lengths and counts
    /// as variable-length integers); a tag byte 0 ends the run.
    pub fn write_run(&mut self, out: &mut impl Write) -> io::Result<()> {
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable_by(|&a, &b| self.terms[a as usize].cmp(&self.terms[b as usize]));
        let mut head = Vec::with_capacity(32);
        for id in touched {
            let buffer = std::mem::take(&mut self.buffers[id as usize]);
            self.bytes = self.bytes.saturating_sub(buffer.data.capacity());
            let term = &self.terms[id as usize];
            head.clear();
            head.push(1);
            varint::put(&mut head, term.len() as u64);
            head.extend_from_slice(term.as_bytes());
            varint::put(&mut head, u64::from(buffer.count));
            varint::put(&mut head, buffer.data.len() as u64);
            out.write_all(&head)?;
            out.write_all(&buffer.data)?;
        }
        out.write_all(&[0])?;
        Ok(())
    }
}
