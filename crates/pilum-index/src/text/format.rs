//! Byte layouts of an inverted index segment's three files
//! (`format-spec/index.md`, "INVERTED"): the posting lists, the term
//! dictionary and the document table. Everything is little-endian; each
//! list, the dictionary and the table end with a CRC-32 of their bytes, so
//! damage is reported as corruption instead of a wrong answer.

use super::postings::{BlockMeta, Positions, PostingList};
use crate::error::{IndexError, Result};

/// Magic of the postings file.
pub const POSTINGS_MAGIC: &[u8; 4] = b"PLTP";
/// Magic of the term dictionary file.
pub const TERMS_MAGIC: &[u8; 4] = b"PLTT";
/// Magic of the document table file.
pub const DOCS_MAGIC: &[u8; 4] = b"PLTD";
/// Version of the three layouts this library writes and reads.
pub const TEXT_FORMAT_VERSION: u32 = 1;
/// Bytes of a file header: magic and version.
pub const HEADER_LEN: usize = 8;
/// Bytes of one stored block descriptor.
const BLOCK_BYTES: usize = 32;

fn corrupt(what: impl Into<String>) -> IndexError {
    IndexError::Corrupt { what: what.into() }
}

/// The header every file starts with.
pub fn header(magic: &[u8; 4]) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[..4].copy_from_slice(magic);
    out[4..].copy_from_slice(&TEXT_FORMAT_VERSION.to_le_bytes());
    out
}

/// Checks a file's header.
pub fn check_header(bytes: &[u8], magic: &[u8; 4]) -> Result<()> {
    if bytes.len() < HEADER_LEN || &bytes[..4] != magic {
        return Err(corrupt(format!(
            "missing the {:?} header",
            String::from_utf8_lossy(magic)
        )));
    }
    let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if version != TEXT_FORMAT_VERSION {
        return Err(IndexError::Unsupported {
            what: format!("text index layout version {version} (this library reads {TEXT_FORMAT_VERSION})"),
        });
    }
    Ok(())
}

/// A little-endian reader over a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| corrupt(format!("{n} bytes wanted at {} of {}", self.at, self.bytes.len())))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// Checks the CRC-32 that ends `bytes` and returns what precedes it.
fn strip_crc(bytes: &[u8]) -> Result<&[u8]> {
    let split = bytes
        .len()
        .checked_sub(4)
        .ok_or_else(|| corrupt("shorter than its checksum"))?;
    let (body, tail) = bytes.split_at(split);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc32fast::hash(body) != stored {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(body)
}

fn push_crc(out: &mut Vec<u8>, from: usize) {
    let crc = crc32fast::hash(&out[from..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Appends one posting list: counts, block descriptors, impacts, packed
/// data, optional positions, CRC-32.
pub fn encode_list(list: &PostingList, out: &mut Vec<u8>) {
    let from = out.len();
    let positions = list.positions();
    out.extend_from_slice(&(list.blocks().len() as u32).to_le_bytes());
    out.extend_from_slice(&(list.impacts().len() as u32).to_le_bytes());
    out.extend_from_slice(&(list.data().len() as u32).to_le_bytes());
    out.extend_from_slice(&positions.map_or(0u32, |p| p.data.len() as u32).to_le_bytes());
    for b in list.blocks() {
        for v in [b.last_doc, b.len, b.offset] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&[b.doc_bits, b.tf_bits, 0, 0]);
        for v in [b.max_tf, b.min_doc_len, b.impact_start, b.impact_end] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    for &(tf, len) in list.impacts() {
        out.extend_from_slice(&tf.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(list.data());
    if let Some(p) = positions {
        for s in &p.block_starts {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.extend_from_slice(&p.data);
    }
    push_crc(out, from);
}

/// Decodes one posting list written by [`encode_list`] (exactly its bytes).
pub fn decode_list(bytes: &[u8]) -> Result<PostingList> {
    let mut r = Reader {
        bytes: strip_crc(bytes)?,
        at: 0,
    };
    let (blocks, impacts, data, positions) = (r.u32()? as usize, r.u32()? as usize, r.u32()?, r.u32()?);
    // Counts that cannot fit the bytes are refused before allocating for them.
    blocks
        .checked_mul(BLOCK_BYTES)
        .and_then(|n| n.checked_add(impacts.checked_mul(8)?))
        .filter(|&n| n <= r.bytes.len())
        .ok_or_else(|| corrupt("posting list counts exceed its bytes"))?;
    let mut metas = Vec::with_capacity(blocks);
    for _ in 0..blocks {
        let (last_doc, len, offset) = (r.u32()?, r.u32()?, r.u32()?);
        let bits = r.take(4)?;
        metas.push(BlockMeta {
            last_doc,
            len,
            offset,
            doc_bits: bits[0],
            tf_bits: bits[1],
            max_tf: r.u32()?,
            min_doc_len: r.u32()?,
            impact_start: r.u32()?,
            impact_end: r.u32()?,
        });
    }
    let mut pairs = Vec::with_capacity(impacts);
    for _ in 0..impacts {
        pairs.push((r.u32()?, r.u32()?));
    }
    let packed = r.take(data as usize)?.to_vec();
    let positions = if positions > 0 {
        let mut starts = Vec::with_capacity(blocks);
        for _ in 0..blocks {
            starts.push(r.u32()?);
        }
        Some(Positions {
            block_starts: starts,
            data: r.take(positions as usize)?.to_vec(),
        })
    } else {
        None
    };
    if r.at != r.bytes.len() {
        return Err(corrupt("posting list has trailing bytes"));
    }
    PostingList::from_parts(metas, packed, pairs, positions)
}

/// One term of the dictionary: its documents and where its list lies in
/// the postings file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermEntry {
    /// Documents holding the term.
    pub doc_count: u32,
    /// Byte offset of its list in the postings file.
    pub offset: u64,
    /// Byte length of its list (CRC included).
    pub length: u32,
}

/// Encodes a dictionary (terms in ascending byte order).
pub fn encode_terms(terms: &[(String, TermEntry)]) -> Result<Vec<u8>> {
    let mut out = header(TERMS_MAGIC).to_vec();
    out.extend_from_slice(&(terms.len() as u64).to_le_bytes());
    for (i, (term, entry)) in terms.iter().enumerate() {
        if i > 0 && terms[i - 1].0.as_bytes() >= term.as_bytes() {
            return Err(IndexError::params("dictionary terms must be ascending and distinct"));
        }
        let len = u16::try_from(term.len()).map_err(|_| IndexError::params("a term is longer than 65,535 bytes"))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(term.as_bytes());
        out.extend_from_slice(&entry.doc_count.to_le_bytes());
        out.extend_from_slice(&entry.offset.to_le_bytes());
        out.extend_from_slice(&entry.length.to_le_bytes());
    }
    push_crc(&mut out, 0);
    Ok(out)
}

/// Decodes a dictionary, checking order and that every list lies within a
/// postings file of `postings_len` bytes.
pub fn decode_terms(bytes: &[u8], postings_len: u64) -> Result<Vec<(String, TermEntry)>> {
    check_header(bytes, TERMS_MAGIC)?;
    let mut r = Reader {
        bytes: strip_crc(bytes)?,
        at: HEADER_LEN,
    };
    let count = r.u64()?;
    // Each entry takes at least 18 bytes.
    if count.saturating_mul(18) > r.bytes.len() as u64 {
        return Err(corrupt(format!("dictionary claims {count} terms")));
    }
    let mut out: Vec<(String, TermEntry)> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let len = r.u16()? as usize;
        let term = std::str::from_utf8(r.take(len)?).map_err(|_| corrupt("a term is not UTF-8"))?;
        if out.last().is_some_and(|(p, _)| p.as_bytes() >= term.as_bytes()) {
            return Err(corrupt("dictionary terms out of order"));
        }
        let entry = TermEntry {
            doc_count: r.u32()?,
            offset: r.u64()?,
            length: r.u32()?,
        };
        if entry.offset < HEADER_LEN as u64 || entry.offset.saturating_add(u64::from(entry.length)) > postings_len {
            return Err(corrupt(format!("the list of {term:?} lies outside the postings file")));
        }
        out.push((term.to_string(), entry));
    }
    if r.at != r.bytes.len() {
        return Err(corrupt("dictionary has trailing bytes"));
    }
    Ok(out)
}

/// The documents of a segment: row id and length in terms of each
/// document number, and the corpus totals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DocTable {
    /// Row id of each document.
    pub row_ids: Vec<u64>,
    /// Length in terms of each document.
    pub lengths: Vec<u32>,
}

impl DocTable {
    /// Terms in all documents.
    pub fn total_terms(&self) -> u64 {
        self.lengths.iter().map(|&l| u64::from(l)).sum()
    }
}

/// Encodes a document table.
pub fn encode_docs(docs: &DocTable) -> Vec<u8> {
    let mut out = header(DOCS_MAGIC).to_vec();
    out.reserve(docs.row_ids.len() * 12 + 20);
    out.extend_from_slice(&(docs.row_ids.len() as u64).to_le_bytes());
    out.extend_from_slice(&docs.total_terms().to_le_bytes());
    for id in &docs.row_ids {
        out.extend_from_slice(&id.to_le_bytes());
    }
    for len in &docs.lengths {
        out.extend_from_slice(&len.to_le_bytes());
    }
    push_crc(&mut out, 0);
    out
}

/// Decodes a document table.
pub fn decode_docs(bytes: &[u8]) -> Result<DocTable> {
    check_header(bytes, DOCS_MAGIC)?;
    let mut r = Reader {
        bytes: strip_crc(bytes)?,
        at: HEADER_LEN,
    };
    let (count, total) = (r.u64()?, r.u64()?);
    if count.saturating_mul(12) != (r.bytes.len() - r.at) as u64 {
        return Err(corrupt(format!("document table claims {count} documents")));
    }
    let n = count as usize;
    let row_ids = r.take(n * 8)?.chunks_exact(8).map(|c| {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        u64::from_le_bytes(a)
    });
    let row_ids: Vec<u64> = row_ids.collect();
    let lengths: Vec<u32> = r
        .take(n * 4)?
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let table = DocTable { row_ids, lengths };
    if table.total_terms() != total {
        return Err(corrupt("document lengths do not add up to the stored total"));
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::text::postings::PostingListBuilder;

    fn sample(positions: bool) -> PostingList {
        let mut b = if positions {
            PostingListBuilder::with_positions()
        } else {
            PostingListBuilder::new()
        };
        for d in 0..300u32 {
            if positions {
                b.push_with_positions(d * 3, &[d % 5, d % 5 + 2], 9).unwrap();
            } else {
                b.push(d * 3, 1 + d % 4, 9).unwrap();
            }
        }
        b.finish()
    }

    #[test]
    fn lists_round_trip_and_every_damage_is_caught() {
        for positions in [false, true] {
            let list = sample(positions);
            let mut bytes = Vec::new();
            encode_list(&list, &mut bytes);
            assert_eq!(decode_list(&bytes).unwrap(), list);
            for cut in [0, 3, bytes.len() / 2, bytes.len() - 1] {
                assert!(decode_list(&bytes[..cut]).is_err());
            }
            for i in (0..bytes.len()).step_by(7) {
                let mut bent = bytes.clone();
                bent[i] ^= 0x10;
                assert!(decode_list(&bent).is_err(), "flip at {i}");
            }
        }
    }

    /// Every posting of a list, walked as a query would (blocks, then
    /// each posting's positions): must fail cleanly, never panic.
    fn walk(list: &PostingList) -> Result<()> {
        let (mut docs, mut tfs) = ([0u32; crate::text::BLOCK_LEN], [0u32; crate::text::BLOCK_LEN]);
        let mut offsets = Vec::new();
        let mut positions = Vec::new();
        for b in 0..list.blocks().len() {
            let len = list.decode_block(b, &mut docs, &mut tfs)?;
            if list.positions().is_some() {
                list.block_position_offsets(b, &tfs[..len], &mut offsets)?;
                for (i, &offset) in offsets.iter().enumerate() {
                    list.positions_from(offset, tfs[i], &mut positions)?;
                }
            }
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Arbitrary bytes, and valid files with bytes changed, are decoded
        /// or refused, never a panic (the stable-toolchain twin of the
        /// `decode_text_index` fuzz target).
        #[test]
        fn decoders_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            edits in proptest::collection::vec((0usize..4096, proptest::prelude::any::<u8>()), 0..6),
            positions in proptest::prelude::any::<bool>(),
        ) {
            let _ = decode_list(&bytes).map(|l| walk(&l));
            let _ = decode_terms(&bytes, 1 << 20);
            let _ = decode_docs(&bytes);
            let mut valid = Vec::new();
            encode_list(&sample(positions), &mut valid);
            for (at, value) in &edits {
                let at = at % valid.len();
                valid[at] = *value;
            }
            // Fix the checksum so damage reaches the structural checks.
            let body = valid.len() - 4;
            let crc = crc32fast::hash(&valid[..body]).to_le_bytes();
            valid[body..].copy_from_slice(&crc);
            let _ = decode_list(&valid).map(|l| walk(&l));
        }
    }

    #[test]
    fn dictionaries_and_tables_round_trip_and_refuse_damage() {
        let terms = vec![
            (
                "apple".to_string(),
                TermEntry {
                    doc_count: 3,
                    offset: 8,
                    length: 40,
                },
            ),
            (
                "banana".to_string(),
                TermEntry {
                    doc_count: 1,
                    offset: 48,
                    length: 30,
                },
            ),
        ];
        let bytes = encode_terms(&terms).unwrap();
        assert_eq!(decode_terms(&bytes, 78).unwrap(), terms);
        assert!(decode_terms(&bytes, 77).is_err());
        assert!(decode_terms(&bytes[..bytes.len() - 1], 78).is_err());
        let mut swapped = terms.clone();
        swapped.swap(0, 1);
        assert!(encode_terms(&swapped).is_err());
        let docs = DocTable {
            row_ids: vec![5, 9, 2],
            lengths: vec![3, 0, 7],
        };
        let bytes = encode_docs(&docs);
        assert_eq!(decode_docs(&bytes).unwrap(), docs);
        let mut bent = bytes.clone();
        bent[20] ^= 1;
        assert!(decode_docs(&bent).is_err());
        let mut future = bytes.clone();
        future[4] = 9;
        assert!(matches!(decode_docs(&future), Err(IndexError::Unsupported { .. })));
    }
}
