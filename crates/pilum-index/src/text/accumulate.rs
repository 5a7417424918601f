//! The in-memory part of an inverted index build: documents' terms
//! gathered into per-term posting buffers, written out as a sorted run
//! when a memory budget is reached (see `runs.rs` for the merge). A build
//! feeds each worker its own accumulator; documents are numbered by the
//! caller, ascending within one accumulator.

use super::analyzer::Token;
use super::varint;
use foldhash::HashMap;
use foldhash::HashMapExt;
use std::io::{self, Write};

/// Bytes a term costs beyond its text and postings (map slot, buffer).
const TERM_OVERHEAD: usize = 64;

/// Postings of one term gathered so far: per document, its number's gap
/// from the previous one, the frequency, the document's length and, when
/// positions are kept, their gaps (all variable-length integers).
#[derive(Debug, Default)]
struct TermBuffer {
    last_doc: Option<u32>,
    count: u32,
    data: Vec<u8>,
}

/// Terms of documents, gathered.
#[derive(Debug)]
pub struct InvertedAccumulator {
    positions: bool,
    terms: HashMap<Box<str>, TermBuffer>,
    bytes: usize,
    docs: u64,
}

impl InvertedAccumulator {
    /// An empty accumulator; `positions` keeps where terms occur.
    pub fn new(positions: bool) -> Self {
        Self {
            positions,
            terms: HashMap::new(),
            bytes: 0,
            docs: 0,
        }
    }

    /// Adds document `doc` (above every document added before) with its
    /// analyzed `tokens`; returns its length in terms.
    pub fn add(&mut self, doc: u32, tokens: &[Token]) -> u32 {
        self.docs += 1;
        let length = tokens.len() as u32;
        if tokens.is_empty() {
            return 0;
        }
        let mut order: Vec<u32> = (0..tokens.len() as u32).collect();
        // Stable: a term's positions stay ascending.
        order.sort_by(|&a, &b| tokens[a as usize].text.cmp(&tokens[b as usize].text));
        let mut start = 0;
        while start < order.len() {
            let term = &tokens[order[start] as usize].text;
            let mut end = start + 1;
            while end < order.len() && tokens[order[end] as usize].text == *term {
                end += 1;
            }
            let buffer = match self.terms.get_mut(term.as_str()) {
                Some(b) => b,
                None => {
                    self.bytes += term.len() + TERM_OVERHEAD;
                    self.terms.entry(term.as_str().into()).or_default()
                }
            };
            let before = buffer.data.capacity();
            let gap = buffer.last_doc.map_or(doc, |last| doc.wrapping_sub(last));
            varint::put(&mut buffer.data, u64::from(gap));
            varint::put(&mut buffer.data, (end - start) as u64);
            varint::put(&mut buffer.data, u64::from(length));
            if self.positions {
                let mut previous = 0u32;
                for (i, &t) in order[start..end].iter().enumerate() {
                    let p = tokens[t as usize].position;
                    varint::put(&mut buffer.data, u64::from(if i == 0 { p } else { p - previous }));
                    previous = p;
                }
            }
            buffer.last_doc = Some(doc);
            buffer.count += 1;
            self.bytes += buffer.data.capacity() - before;
            start = end;
        }
        length
    }

    /// Bytes held (an estimate that counts buffers' capacity).
    pub fn memory(&self) -> usize {
        self.bytes
    }

    /// Documents added.
    pub fn docs(&self) -> u64 {
        self.docs
    }

    /// Whether nothing was added since the last run.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Writes what was gathered as one run, terms in byte order, and
    /// empties the accumulator. Run layout: per term a tag byte 1, the
    /// term's length and bytes, its posting count and its buffer's length
    /// and bytes (lengths and counts as variable-length integers); a tag
    /// byte 0 ends the run.
    pub fn write_run(&mut self, out: &mut impl Write) -> io::Result<()> {
        let mut terms: Vec<(Box<str>, TermBuffer)> = std::mem::take(&mut self.terms).into_iter().collect();
        terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut head = Vec::with_capacity(32);
        for (term, buffer) in terms {
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
        self.bytes = 0;
        Ok(())
    }
}
