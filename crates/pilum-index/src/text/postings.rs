//! Posting lists: for one term, the documents holding it (ascending
//! document numbers, local to an index segment) with the term's frequency
//! in each, in blocks of 128. Each block packs its document gaps and its
//! frequencies at the smallest bit width that fits (SIMD bit-packing via
//! `bitpacking`), and records its last document and the largest frequency
//! and shortest document length in it, which bound the score any of its
//! documents can reach (block-max pruning).

use crate::error::{IndexError, Result};
use bitpacking::{BitPacker, BitPacker4x};

/// Postings per block.
pub const BLOCK_LEN: usize = BitPacker4x::BLOCK_LEN;

/// Largest document number a list holds (room for a block's padding).
pub const MAX_DOC: u32 = u32::MAX - BLOCK_LEN as u32;

/// What a block records besides its packed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockMeta {
    /// Its last (largest) document.
    pub last_doc: u32,
    /// Postings in it (`BLOCK_LEN`, except in the last block).
    pub len: u32,
    /// Byte offset of its packed gaps and frequencies in the list's data.
    pub offset: u32,
    /// Bits per document gap.
    pub doc_bits: u8,
    /// Bits per (frequency − 1).
    pub tf_bits: u8,
    /// Largest frequency in it.
    pub max_tf: u32,
    /// Shortest document (in terms) in it.
    pub min_doc_len: u32,
    /// Its impacts: the entries `impacts[impact_start..impact_end]` of the
    /// list, the `(frequency, document length)` pairs no other posting of
    /// the block beats in both (higher frequency and shorter document).
    /// Any score that grows with frequency and shrinks with length is
    /// largest at one of them, whatever the corpus statistics.
    pub impact_start: u32,
    /// End of its impacts.
    pub impact_end: u32,
}

/// One term's postings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostingList {
    blocks: Vec<BlockMeta>,
    data: Vec<u8>,
    impacts: Vec<(u32, u32)>,
    doc_count: u32,
    positions: Option<Positions>,
    /// The impacts no posting of the whole list beats in both (derived
    /// from the blocks' impacts; not stored).
    list_impacts: Vec<(u32, u32)>,
}

/// Where a term occurs in each of its documents (for phrase queries):
/// posting after posting, its frequency's positions as ascending gaps
/// (variable-length integers, the first counted from 0), and where each
/// block's first posting starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Positions {
    /// Byte offset in `data` of each block's first posting.
    pub block_starts: Vec<u32>,
    /// The encoded positions.
    pub data: Vec<u8>,
}

/// Builds a [`PostingList`] from postings in ascending document order.
#[derive(Debug, Default)]
pub struct PostingListBuilder {
    list: PostingList,
    docs: Vec<u32>,
    tfs: Vec<u32>,
    lens: Vec<u32>,
}

impl PostingListBuilder {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty list that records positions ([`Self::push_with_positions`]).
    pub fn with_positions() -> Self {
        let mut builder = Self::default();
        builder.list.positions = Some(Positions::default());
        builder
    }

    /// Adds `doc` holding the term at `positions` (ascending, at least one;
    /// their count is the frequency), for a list made by
    /// [`Self::with_positions`].
    pub fn push_with_positions(&mut self, doc: u32, positions: &[u32], doc_len: u32) -> Result<()> {
        if positions.is_empty() || positions.windows(2).any(|w| w[1] <= w[0]) {
            return Err(IndexError::params("positions must be ascending and at least one"));
        }
        let starts_block = self.docs.is_empty();
        let Some(store) = self.list.positions.as_mut() else {
            return Err(IndexError::params("this list was not built to record positions"));
        };
        let mark = store.data.len();
        let mut previous = 0u32;
        for (i, &p) in positions.iter().enumerate() {
            super::varint::put(&mut store.data, u64::from(if i == 0 { p } else { p - previous }));
            previous = p;
        }
        if let Err(e) = self.push_unchecked_positions(doc, positions.len() as u32, doc_len) {
            if let Some(store) = self.list.positions.as_mut() {
                store.data.truncate(mark);
            }
            return Err(e);
        }
        if starts_block && let Some(store) = self.list.positions.as_mut() {
            store.block_starts.push(mark as u32);
        }
        Ok(())
    }

    /// Adds `doc` (greater than the previous one) holding the term `tf`
    /// (≥ 1) times; `doc_len` is the document's length in terms.
    pub fn push(&mut self, doc: u32, tf: u32, doc_len: u32) -> Result<()> {
        if self.list.positions.is_some() {
            return Err(IndexError::params(
                "a list recording positions takes push_with_positions",
            ));
        }
        self.push_unchecked_positions(doc, tf, doc_len)
    }

    fn push_unchecked_positions(&mut self, doc: u32, tf: u32, doc_len: u32) -> Result<()> {
        let last = self
            .docs
            .last()
            .copied()
            .or_else(|| self.list.blocks.last().map(|b| b.last_doc));
        if last.is_some_and(|l| doc <= l) || tf == 0 || doc > MAX_DOC {
            return Err(IndexError::params(format!(
                "postings need ascending documents and frequencies ≥ 1 (doc {doc} after {last:?}, tf {tf})"
            )));
        }
        self.docs.push(doc);
        self.tfs.push(tf);
        self.lens.push(doc_len);
        if self.docs.len() == BLOCK_LEN {
            self.flush();
        }
        Ok(())
    }

    /// The finished list.
    pub fn finish(mut self) -> PostingList {
        if !self.docs.is_empty() {
            self.flush();
        }
        let (tfs, lens): (Vec<u32>, Vec<u32>) = self.list.impacts.iter().copied().unzip();
        self.list.list_impacts = frontier(&tfs, &lens);
        self.list
    }

    fn flush(&mut self) {
        let len = self.docs.len();
        let initial = self.list.blocks.last().map_or(0, |b| b.last_doc);
        let last_doc = self.docs[len - 1];
        let offset = self.list.data.len();
        let (doc_bits, tf_bits) = if len < BLOCK_LEN {
            // A short (last) block: gaps minus one and frequencies minus
            // one as variable-length integers, not padded to 128 values.
            let mut previous = if self.list.blocks.is_empty() {
                None
            } else {
                Some(initial)
            };
            for (&doc, &tf) in self.docs.iter().zip(&self.tfs) {
                let gap = previous.map_or(doc, |p| doc - p - 1);
                super::varint::put(&mut self.list.data, u64::from(gap));
                super::varint::put(&mut self.list.data, u64::from(tf - 1));
                previous = Some(doc);
            }
            (0, 0)
        } else {
            let (mut docs, mut tfs) = ([0u32; BLOCK_LEN], [0u32; BLOCK_LEN]);
            docs.copy_from_slice(&self.docs);
            for (slot, tf) in tfs.iter_mut().zip(&self.tfs) {
                *slot = tf - 1;
            }
            let packer = BitPacker4x::new();
            let doc_bits = packer.num_bits_strictly_sorted(initial_for_gaps(initial, &self.list), &docs);
            let tf_bits = packer.num_bits(&tfs);
            let mut buffer = [0u8; 4 * BLOCK_LEN];
            let written =
                packer.compress_strictly_sorted(initial_for_gaps(initial, &self.list), &docs, &mut buffer, doc_bits);
            self.list.data.extend_from_slice(&buffer[..written]);
            let written = packer.compress(&tfs, &mut buffer, tf_bits);
            self.list.data.extend_from_slice(&buffer[..written]);
            (doc_bits, tf_bits)
        };
        let impact_start = self.list.impacts.len() as u32;
        self.list.impacts.extend(frontier(&self.tfs, &self.lens));
        self.list.blocks.push(BlockMeta {
            last_doc,
            len: len as u32,
            offset: offset as u32,
            doc_bits,
            tf_bits,
            max_tf: self.tfs.iter().copied().max().unwrap_or(1),
            min_doc_len: self.lens.iter().copied().min().unwrap_or(0),
            impact_start,
            impact_end: self.list.impacts.len() as u32,
        });
        self.list.doc_count += len as u32;
        self.docs.clear();
        self.tfs.clear();
        self.lens.clear();
    }
}

/// The `(frequency, length)` pairs of a block that no other pair beats in
/// both, by descending frequency (and so ascending length).
fn frontier(tfs: &[u32], lens: &[u32]) -> Vec<(u32, u32)> {
    let mut pairs: Vec<(u32, u32)> = tfs.iter().copied().zip(lens.iter().copied()).collect();
    pairs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (tf, len) in pairs {
        if out.last().is_none_or(|&(_, shortest)| len < shortest) {
            out.push((tf, len));
        }
    }
    out
}

/// The value gaps of a block are taken from: the previous block's last
/// document, or "one before document 0" for the first block (strictly
/// sorted packing needs every value above its predecessor).
fn initial_for_gaps(previous_last: u32, list: &PostingList) -> Option<u32> {
    (!list.blocks.is_empty()).then_some(previous_last)
}

/// Corruption of block `block`'s positions.
fn positions_corrupt(block: usize, what: &str) -> IndexError {
    IndexError::Corrupt {
        what: format!("positions of posting block {block}: {what}"),
    }
}

impl PostingList {
    /// Documents holding the term.
    pub fn doc_count(&self) -> u32 {
        self.doc_count
    }

    /// The blocks' metadata.
    pub fn blocks(&self) -> &[BlockMeta] {
        &self.blocks
    }

    /// Packed bytes of every block.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Every block's impacts, block after block (see [`BlockMeta::impact_start`]).
    pub fn impacts(&self) -> &[(u32, u32)] {
        &self.impacts
    }

    /// The impacts of the whole list (the frontier of its blocks' impacts):
    /// the best score any of its documents can reach is at one of them.
    pub fn list_impacts(&self) -> &[(u32, u32)] {
        &self.list_impacts
    }

    /// The impacts of block `index`.
    pub fn block_impacts(&self, index: usize) -> &[(u32, u32)] {
        self.blocks
            .get(index)
            .and_then(|b| self.impacts.get(b.impact_start as usize..b.impact_end as usize))
            .unwrap_or(&[])
    }

    /// Its positions, when it records them.
    pub fn positions(&self) -> Option<&Positions> {
        self.positions.as_ref()
    }

    /// The positions of posting `index` of block `block`, whose decoded
    /// frequencies are `tfs`.
    pub fn positions_at(&self, block: usize, index: usize, tfs: &[u32]) -> Result<Vec<u32>> {
        let (data, mut at) = self.block_positions(block)?;
        let skip: u64 = tfs
            .get(..index)
            .ok_or_else(|| positions_corrupt(block, "no such posting"))?
            .iter()
            .map(|&t| u64::from(t))
            .sum();
        for _ in 0..skip {
            super::varint::get(data, &mut at)?;
        }
        let tf = *tfs
            .get(index)
            .ok_or_else(|| positions_corrupt(block, "no such posting"))?;
        let mut out = Vec::with_capacity(tf as usize);
        let mut position = 0u32;
        for i in 0..tf {
            let gap = super::varint::get_u32(data, &mut at)?;
            position = if i == 0 {
                gap
            } else {
                position
                    .checked_add(gap)
                    .ok_or_else(|| positions_corrupt(block, "position overflow"))?
            };
            out.push(position);
        }
        Ok(out)
    }

    /// The positions bytes, and where block `block`'s positions start in them.
    fn block_positions(&self, block: usize) -> Result<(&[u8], usize)> {
        let store = self
            .positions
            .as_ref()
            .ok_or_else(|| positions_corrupt(block, "the list records none"))?;
        let start = *store
            .block_starts
            .get(block)
            .ok_or_else(|| positions_corrupt(block, "no such block"))?;
        Ok((&store.data, start as usize))
    }

    /// Decodes the short last block `index` (variable-length integers).
    fn decode_short_block(
        &self,
        index: usize,
        previous: Option<u32>,
        docs: &mut [u32; BLOCK_LEN],
        tfs: &mut [u32; BLOCK_LEN],
    ) -> Result<usize> {
        let block = self.blocks[index];
        let corrupt = |what: &str| IndexError::Corrupt {
            what: format!("posting block {index}: {what}"),
        };
        let bytes = self
            .data
            .get(block.offset as usize..)
            .ok_or_else(|| corrupt("offset past the data"))?;
        let (mut at, mut last) = (0usize, previous);
        let len = block.len as usize;
        for (doc_slot, tf_slot) in docs[..len].iter_mut().zip(tfs[..len].iter_mut()) {
            let gap = super::varint::get_u32(bytes, &mut at)?;
            let doc = match last {
                None => gap,
                Some(p) => p
                    .checked_add(gap)
                    .and_then(|d| d.checked_add(1))
                    .ok_or_else(|| corrupt("document number overflow"))?,
            };
            let tf = super::varint::get_u32(bytes, &mut at)?
                .checked_add(1)
                .ok_or_else(|| corrupt("frequency overflow"))?;
            *doc_slot = doc;
            *tf_slot = tf;
            last = Some(doc);
        }
        if at != bytes.len() || last != Some(block.last_doc) {
            return Err(corrupt("decodes to other documents than recorded"));
        }
        Ok(len)
    }

    /// Where each posting of block `block` (frequencies `tfs`) starts in
    /// the positions bytes, found in one pass over the block.
    pub fn block_position_offsets(&self, block: usize, tfs: &[u32], out: &mut Vec<usize>) -> Result<()> {
        let (data, mut at) = self.block_positions(block)?;
        out.clear();
        for &tf in tfs {
            out.push(at);
            super::varint::skip(data, &mut at, tf as usize)?;
        }
        Ok(())
    }

    /// Extends `out`, the starts in the positions bytes of the first
    /// `out.len()` postings of block `block` (frequencies `tfs`), to the
    /// starts of postings `..=index`: a forward walk pays only for the
    /// postings it reaches.
    pub fn extend_position_offsets(&self, block: usize, tfs: &[u32], index: usize, out: &mut Vec<usize>) -> Result<()> {
        if index >= tfs.len() {
            return Err(positions_corrupt(block, "no such posting"));
        }
        let (data, start) = self.block_positions(block)?;
        if out.is_empty() {
            out.push(start);
        }
        while out.len() <= index {
            let last = out.len() - 1;
            let mut at = out[last];
            super::varint::skip(data, &mut at, tfs[last] as usize)?;
            out.push(at);
        }
        Ok(())
    }

    /// `tf` positions starting at byte `offset` of the positions bytes
    /// (from [`Self::block_position_offsets`]), into `out`.
    pub fn positions_from(&self, offset: usize, tf: u32, out: &mut Vec<u32>) -> Result<()> {
        let store = self.positions.as_ref().ok_or_else(|| IndexError::Corrupt {
            what: "the list records no positions".into(),
        })?;
        out.clear();
        let (mut at, mut position) = (offset, 0u32);
        for i in 0..tf {
            let gap = super::varint::get_u32(&store.data, &mut at)?;
            position = if i == 0 {
                gap
            } else {
                position.checked_add(gap).ok_or_else(|| IndexError::Corrupt {
                    what: "position overflow".into(),
                })?
            };
            out.push(position);
        }
        Ok(())
    }

    /// A list from stored parts, checked for consistency.
    pub fn from_parts(
        blocks: Vec<BlockMeta>,
        data: Vec<u8>,
        impacts: Vec<(u32, u32)>,
        positions: Option<Positions>,
    ) -> Result<Self> {
        if let Some(p) = &positions
            && (p.block_starts.len() != blocks.len()
                || p.block_starts.windows(2).any(|w| w[1] <= w[0])
                || p.block_starts.last().is_some_and(|&s| s as usize >= p.data.len()))
        {
            return Err(IndexError::Corrupt {
                what: "position block offsets do not match the posting blocks".into(),
            });
        }
        let mut expected_offset = 0usize;
        let mut previous: Option<u32> = None;
        let mut doc_count = 0u32;
        for (index, b) in blocks.iter().enumerate() {
            let bad = |what: &str| IndexError::Corrupt {
                what: format!("posting block: {what}"),
            };
            if b.len == 0 || b.len as usize > BLOCK_LEN || b.doc_bits > 32 || b.tf_bits > 32 || b.max_tf == 0 {
                return Err(bad("length, bit width or frequency out of range"));
            }
            if previous.is_some_and(|p| b.last_doc <= p) || b.offset as usize != expected_offset {
                return Err(bad("blocks out of order"));
            }
            let own = impacts.get(b.impact_start as usize..b.impact_end as usize);
            if own.is_none_or(|i| i.is_empty() || i.iter().any(|&(tf, _)| tf == 0 || tf > b.max_tf)) {
                return Err(bad("impacts out of range"));
            }
            if (b.len as usize) < BLOCK_LEN {
                // A short block is the last one, its postings as
                // variable-length integers to the end of the data.
                if index + 1 != blocks.len() || b.doc_bits != 0 || b.tf_bits != 0 {
                    return Err(bad("a short block that is not the last, or has bit widths"));
                }
                if data.len() < expected_offset + 2 * b.len as usize {
                    return Err(bad("short block runs past its data"));
                }
                expected_offset = data.len();
            } else {
                expected_offset += (b.doc_bits as usize + b.tf_bits as usize) * BLOCK_LEN / 8;
            }
            previous = Some(b.last_doc);
            doc_count = doc_count.saturating_add(b.len);
        }
        if expected_offset != data.len() {
            return Err(IndexError::Corrupt {
                what: format!("posting data holds {} bytes, its blocks {expected_offset}", data.len()),
            });
        }
        let (tfs, lens): (Vec<u32>, Vec<u32>) = impacts.iter().copied().unzip();
        Ok(Self {
            list_impacts: frontier(&tfs, &lens),
            blocks,
            data,
            impacts,
            doc_count,
            positions,
        })
    }

    /// Decodes block `index` into `docs` and `tfs` (its first `len` entries count).
    pub fn decode_block(&self, index: usize, docs: &mut [u32; BLOCK_LEN], tfs: &mut [u32; BLOCK_LEN]) -> Result<usize> {
        let block = self.blocks.get(index).ok_or_else(|| IndexError::Corrupt {
            what: format!("posting block {index} of {}", self.blocks.len()),
        })?;
        let previous = index.checked_sub(1).map(|i| self.blocks[i].last_doc);
        let start = block.offset as usize;
        if (block.len as usize) < BLOCK_LEN {
            return self.decode_short_block(index, previous, docs, tfs);
        }
        let doc_bytes = block.doc_bits as usize * BLOCK_LEN / 8;
        let tf_bytes = block.tf_bits as usize * BLOCK_LEN / 8;
        let packed = self
            .data
            .get(start..start + doc_bytes + tf_bytes)
            .ok_or_else(|| IndexError::Corrupt {
                what: format!("posting block {index} runs past its list"),
            })?;
        let packer = BitPacker4x::new();
        packer.decompress_strictly_sorted(previous, &packed[..doc_bytes], docs, block.doc_bits);
        packer.decompress(&packed[doc_bytes..], tfs, block.tf_bits);
        let len = block.len as usize;
        for tf in &mut tfs[..len] {
            *tf = tf.saturating_add(1);
        }
        if docs[len - 1] != block.last_doc {
            return Err(IndexError::Corrupt {
                what: format!("posting block {index} decodes to a last document other than recorded"),
            });
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn decode_all(list: &PostingList) -> Vec<(u32, u32)> {
        let (mut docs, mut tfs) = ([0; BLOCK_LEN], [0; BLOCK_LEN]);
        let mut out = Vec::new();
        for b in 0..list.blocks().len() {
            let len = list.decode_block(b, &mut docs, &mut tfs).unwrap();
            out.extend(docs[..len].iter().copied().zip(tfs[..len].iter().copied()));
        }
        out
    }

    proptest! {
        #[test]
        fn postings_round_trip(gaps in proptest::collection::vec((1u32..5000, 1u32..300), 0..700), first in 0u32..3) {
            let mut builder = PostingListBuilder::new();
            let mut doc = first;
            let mut want = Vec::new();
            for (i, (gap, tf)) in gaps.iter().enumerate() {
                if i > 0 {
                    doc += gap;
                }
                builder.push(doc, *tf, tf + 3).unwrap();
                want.push((doc, *tf));
            }
            let list = builder.finish();
            prop_assert_eq!(list.doc_count() as usize, want.len());
            prop_assert_eq!(decode_all(&list), want.clone());
            let again = PostingList::from_parts(list.blocks().to_vec(), list.data().to_vec(), list.impacts().to_vec(), None).unwrap();
            prop_assert_eq!(again, list.clone());
            for (b, block) in list.blocks().iter().enumerate() {
                let part = &want[b * BLOCK_LEN..(b * BLOCK_LEN + block.len as usize)];
                prop_assert_eq!(block.max_tf, part.iter().map(|p| p.1).max().unwrap());
                prop_assert_eq!(block.min_doc_len, part.iter().map(|p| p.1 + 3).min().unwrap());
                // Every posting is matched or beaten by an impact in both.
                let impacts = list.block_impacts(b);
                for &(_, tf) in part {
                    prop_assert!(impacts.iter().any(|&(itf, ilen)| itf >= tf && ilen <= tf + 3));
                }
            }
        }
    }

    #[test]
    fn out_of_order_input_and_damaged_parts_are_refused() {
        let mut builder = PostingListBuilder::new();
        builder.push(5, 1, 1).unwrap();
        assert!(builder.push(5, 1, 1).is_err());
        assert!(builder.push(7, 0, 1).is_err());
        let list = (0..300u32).fold(PostingListBuilder::new(), |mut b, d| {
            b.push(d * 2, 1, 1).unwrap();
            b
        });
        let list = list.finish();
        let mut data = list.data().to_vec();
        data.pop();
        assert!(PostingList::from_parts(list.blocks().to_vec(), data, list.impacts().to_vec(), None).is_err());
        let mut blocks = list.blocks().to_vec();
        blocks.swap(0, 1);
        assert!(PostingList::from_parts(blocks, list.data().to_vec(), list.impacts().to_vec(), None).is_err());
        let mut blocks = list.blocks().to_vec();
        blocks[1].last_doc += 1;
        let bent = PostingList::from_parts(blocks, list.data().to_vec(), list.impacts().to_vec(), None).unwrap();
        let (mut docs, mut tfs) = ([0; BLOCK_LEN], [0; BLOCK_LEN]);
        assert!(bent.decode_block(1, &mut docs, &mut tfs).is_err());
    }
}
