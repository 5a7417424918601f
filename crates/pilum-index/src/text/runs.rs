//! Merging the sorted runs of an inverted index build into final posting
//! lists, term by term in byte order: memory holds one term's postings at
//! a time, whatever the corpus's size. Runs come from several workers, so
//! a term's documents from different runs interleave and are put back in
//! order before its list is built.

use super::postings::{PostingList, PostingListBuilder};
use super::varint;
use crate::error::{IndexError, Result};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, Read};

fn spill_error(e: std::io::Error) -> IndexError {
    IndexError::Spill { what: e.to_string() }
}

/// Reads the entries of one run (see `InvertedAccumulator::write_run`).
pub struct RunReader {
    source: Box<dyn BufRead + Send>,
}

/// One term's entry in a run.
struct RunEntry {
    term: String,
    count: u32,
    data: Vec<u8>,
}

impl RunReader {
    /// A reader over a run's bytes.
    pub fn new(source: Box<dyn BufRead + Send>) -> Self {
        Self { source }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let mut byte = [0u8];
            self.source.read_exact(&mut byte).map_err(spill_error)?;
            value |= u64::from(byte[0] & 0x7f) << shift;
            if byte[0] & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(IndexError::Spill {
            what: "a run holds an over-long integer".into(),
        })
    }

    fn next_entry(&mut self) -> Result<Option<RunEntry>> {
        let mut tag = [0u8];
        self.source.read_exact(&mut tag).map_err(spill_error)?;
        if tag[0] == 0 {
            return Ok(None);
        }
        let len = self.varint()? as usize;
        let mut term = vec![0u8; len];
        self.source.read_exact(&mut term).map_err(spill_error)?;
        let term = String::from_utf8(term).map_err(|_| IndexError::Spill {
            what: "a run holds a term that is not UTF-8".into(),
        })?;
        let count = u32::try_from(self.varint()?).map_err(|_| IndexError::Spill {
            what: "a run holds an over-large count".into(),
        })?;
        let mut data = vec![0u8; self.varint()? as usize];
        self.source.read_exact(&mut data).map_err(spill_error)?;
        Ok(Some(RunEntry { term, count, data }))
    }
}

/// A posting decoded from a run: document, frequency, document length and
/// where its positions lie in its entry's data.
#[derive(Clone, Copy)]
struct Posting {
    doc: u32,
    tf: u32,
    len: u32,
    entry: usize,
    positions_at: usize,
}

fn decode_entry(entry: &RunEntry, index: usize, positions: bool, out: &mut Vec<Posting>) -> Result<()> {
    let (bytes, mut at) = (&entry.data, 0usize);
    let mut doc = 0u32;
    for i in 0..entry.count {
        let gap = varint::get_u32(bytes, &mut at)?;
        doc = if i == 0 { gap } else { doc.wrapping_add(gap) };
        let tf = varint::get_u32(bytes, &mut at)?;
        let len = varint::get_u32(bytes, &mut at)?;
        out.push(Posting {
            doc,
            tf,
            len,
            entry: index,
            positions_at: at,
        });
        if positions {
            for _ in 0..tf {
                varint::get(bytes, &mut at)?;
            }
        }
    }
    Ok(())
}

/// Merges `runs` into one posting list per term, handed to `emit` in
/// ascending byte order of terms; `positions` says whether runs carry them.
pub fn merge_runs(
    runs: Vec<RunReader>,
    positions: bool,
    mut emit: impl FnMut(String, PostingList) -> Result<()>,
) -> Result<()> {
    let mut runs = runs;
    let mut heads: Vec<Option<RunEntry>> = Vec::with_capacity(runs.len());
    let mut heap = BinaryHeap::new();
    for (i, run) in runs.iter_mut().enumerate() {
        let head = run.next_entry()?;
        if let Some(entry) = &head {
            heap.push(Reverse((entry.term.clone(), i)));
        }
        heads.push(head);
    }
    let mut entries: Vec<RunEntry> = Vec::new();
    let mut postings: Vec<Posting> = Vec::new();
    let mut scratch: Vec<u32> = Vec::new();
    while let Some(Reverse((term, first))) = heap.pop() {
        let mut sources = vec![first];
        while heap.peek().is_some_and(|Reverse((t, _))| *t == term) {
            if let Some(Reverse((_, i))) = heap.pop() {
                sources.push(i);
            }
        }
        entries.clear();
        for &i in &sources {
            if let Some(entry) = heads[i].take() {
                entries.push(entry);
            }
            heads[i] = runs[i].next_entry()?;
            if let Some(next) = &heads[i] {
                if next.term <= term {
                    return Err(IndexError::Spill {
                        what: "a run's terms are out of order".into(),
                    });
                }
                heap.push(Reverse((next.term.clone(), i)));
            }
        }
        postings.clear();
        for (index, entry) in entries.iter().enumerate() {
            decode_entry(entry, index, positions, &mut postings)?;
        }
        if entries.len() > 1 {
            postings.sort_unstable_by_key(|p| p.doc);
        }
        let mut builder = if positions {
            PostingListBuilder::with_positions()
        } else {
            PostingListBuilder::new()
        };
        for p in &postings {
            if positions {
                scratch.clear();
                let (bytes, mut at) = (&entries[p.entry].data, p.positions_at);
                let mut position = 0u32;
                for i in 0..p.tf {
                    let gap = varint::get_u32(bytes, &mut at)?;
                    position = if i == 0 { gap } else { position.saturating_add(gap) };
                    scratch.push(position);
                }
                builder.push_with_positions(p.doc, &scratch, p.len)?;
            } else {
                builder.push(p.doc, p.tf, p.len)?;
            }
        }
        emit(term, builder.finish())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::accumulate::InvertedAccumulator;
    use super::super::analyzer::{Analyzer, AnalyzerConfig};
    use super::super::postings::BLOCK_LEN;
    use super::*;
    use std::collections::BTreeMap;
    use std::io::Cursor;

    type Model = BTreeMap<String, Vec<(u32, Vec<u32>, u32)>>;

    fn model(docs: &[String], analyzer: &Analyzer) -> Model {
        let mut out: Model = BTreeMap::new();
        for (d, text) in docs.iter().enumerate() {
            let tokens = analyzer.tokens(text);
            let mut by_term: BTreeMap<String, Vec<u32>> = BTreeMap::new();
            for t in &tokens {
                by_term.entry(t.text.clone()).or_default().push(t.position);
            }
            for (term, positions) in by_term {
                out.entry(term)
                    .or_default()
                    .push((d as u32, positions, tokens.len() as u32));
            }
        }
        out
    }

    fn decoded(list: &PostingList) -> Vec<(u32, Vec<u32>, u32)> {
        let (mut docs, mut tfs) = ([0; BLOCK_LEN], [0; BLOCK_LEN]);
        let mut out = Vec::new();
        for b in 0..list.blocks().len() {
            let len = list.decode_block(b, &mut docs, &mut tfs).unwrap();
            for (i, &doc) in docs[..len].iter().enumerate() {
                out.push((doc, list.positions_at(b, i, &tfs[..len]).unwrap(), 0));
            }
        }
        out
    }

    #[test]
    fn runs_from_several_workers_merge_into_the_model() {
        let words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"];
        let docs: Vec<String> = (0..700u32)
            .map(|d| {
                (0..(d % 13 + 1))
                    .map(|i| words[((d * 7 + i * i * 3) % 8) as usize])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let analyzer = Analyzer::new(AnalyzerConfig {
            stop_words: None,
            stem: None,
            ..AnalyzerConfig::default()
        })
        .unwrap();
        // Three workers take documents round-robin in batches of 50 and
        // flush a run every 90 documents.
        let mut workers: Vec<InvertedAccumulator> = (0..3).map(|_| InvertedAccumulator::new(true)).collect();
        let mut runs = Vec::new();
        for (d, text) in docs.iter().enumerate() {
            let w = &mut workers[(d / 50) % 3];
            w.add_texts(d as u32, &[text], &analyzer);
            if w.docs().is_multiple_of(90) {
                let mut bytes = Vec::new();
                w.write_run(&mut bytes).unwrap();
                runs.push(RunReader::new(Box::new(Cursor::new(bytes))));
            }
        }
        for w in &mut workers {
            let mut bytes = Vec::new();
            w.write_run(&mut bytes).unwrap();
            runs.push(RunReader::new(Box::new(Cursor::new(bytes))));
        }
        let want = model(&docs, &analyzer);
        let mut got = BTreeMap::new();
        merge_runs(runs, true, |term, list| {
            got.insert(term, list);
            Ok(())
        })
        .unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
        for (term, list) in &got {
            let expected: Vec<(u32, Vec<u32>, u32)> = want[term].iter().map(|(d, p, _)| (*d, p.clone(), 0)).collect();
            assert_eq!(decoded(list), expected, "{term}");
            // Lengths reach the impacts: the shortest document of block 0.
            let shortest = want[term].iter().take(BLOCK_LEN).map(|e| e.2).min().unwrap();
            assert_eq!(list.blocks()[0].min_doc_len, shortest);
        }
    }

    #[test]
    fn a_damaged_run_is_an_error() {
        let mut acc = InvertedAccumulator::new(false);
        let analyzer = Analyzer::new(AnalyzerConfig::default()).unwrap();
        acc.add_texts(0, &["search engines rank documents"], &analyzer);
        let mut bytes = Vec::new();
        acc.write_run(&mut bytes).unwrap();
        bytes.truncate(bytes.len() - 3);
        let result = merge_runs(vec![RunReader::new(Box::new(Cursor::new(bytes)))], false, |_, _| Ok(()));
        assert!(result.is_err());
    }
}
