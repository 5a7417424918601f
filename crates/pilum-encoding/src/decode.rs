//! Decoding of one chunk back into values and validity.

use crate::chunk::{
    ENC_DICT, ENC_FOR, ENC_PLAIN, ENC_RLE, ENC_SYMBOLS, ENC_ZSTD, ENC_ZSTD_DICT, HAS_ITEM_VALIDITY, HAS_ROW_VALIDITY,
};
use crate::dictionary::{Dictionary, decode_variable_plain};
use crate::encode::{MAX_ZSTD_RATIO, ZSTD_SLACK};
use crate::error::{EncodingError, Result};
use crate::symbols::SymbolTable;
use crate::zdict::{self, ZstdDictionary};
use crate::{ValueKind, bitpack, integer};
use arrow_buffer::{BooleanBuffer, Buffer};
use pilum_core::ByteCursor;
use std::sync::Arc;

/// Values of a decoded chunk.
#[derive(Debug, Clone)]
pub enum DecodedValues {
    /// `n` bits.
    Bits(BooleanBuffer),
    /// `n * width` bytes.
    Fixed(Buffer),
    /// `n` indices into the page dictionary (DICT chunks), each checked to
    /// be in range; readers copy the entries straight into their output.
    Indices(Vec<u32>),
    /// `n + 1` offsets (starting at 0) into `data`.
    Variable {
        /// Value boundaries.
        offsets: Vec<u64>,
        /// Concatenated value bytes.
        data: Buffer,
    },
    /// `n` values as symbol codes, decoded by the reader straight into its
    /// output ([`SymbolTable::decode_append`]) or by [`DecodedValues::decode_symbols`].
    Symbols {
        /// The page's symbol table.
        table: Arc<SymbolTable>,
        /// `n + 1` offsets (starting at 0) into `codes`.
        code_offsets: Vec<u64>,
        /// Concatenated codes.
        codes: Buffer,
        /// Bytes the `n` values decode to.
        total: usize,
    },
}

impl DecodedValues {
    /// Symbol codes decoded into plain offsets (from 0) and bytes; `None`
    /// for values that are not symbol codes.
    pub fn plain_symbols(&self) -> Option<Result<(Vec<u64>, Buffer)>> {
        let DecodedValues::Symbols {
            table,
            code_offsets,
            codes,
            total,
        } = self
        else {
            return None;
        };
        Some(
            table
                .decode(code_offsets, codes, *total)
                .map(|(offsets, data)| (offsets, Buffer::from_vec(data))),
        )
    }

    /// Decodes symbol codes into [`DecodedValues::Variable`]; other values pass through.
    pub fn decode_symbols(self) -> Result<Self> {
        match self.plain_symbols() {
            Some(decoded) => {
                let (offsets, data) = decoded?;
                Ok(DecodedValues::Variable { offsets, data })
            }
            None => Ok(self),
        }
    }
}

/// One decoded chunk.
#[derive(Debug, Clone)]
pub struct DecodedChunk {
    /// Row validity; `None` when every value is valid.
    pub validity: Option<BooleanBuffer>,
    /// Item validity of fixed-size-list values; `None` when all items are valid.
    pub item_validity: Option<BooleanBuffer>,
    /// The values.
    pub values: DecodedValues,
}

/// The page-wide state a chunk may refer to.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageDictionaries<'a> {
    /// The page dictionary, required when the chunk holds dictionary indices.
    pub values: Option<&'a Dictionary>,
    /// The page's zstd dictionary, required by chunks compressed with it.
    pub zstd: Option<&'a ZstdDictionary>,
    /// The page's symbol table, required by chunks of symbol codes.
    pub symbols: Option<&'a Arc<SymbolTable>>,
}

/// Decodes a chunk of `n` values of `kind`, given its page's dictionaries.
/// Values stored as they are come out as copies; see [`decode_shared_chunk`].
pub fn decode_chunk(bytes: &[u8], kind: ValueKind, n: usize, page: PageDictionaries<'_>) -> Result<DecodedChunk> {
    decode_inner(bytes, None, kind, n, page)
}

/// Like [`decode_chunk`], but values stored as they are (plain values,
/// symbol codes) come out as slices of `chunk` instead of copies.
pub fn decode_shared_chunk(
    chunk: &Buffer,
    kind: ValueKind,
    n: usize,
    page: PageDictionaries<'_>,
) -> Result<DecodedChunk> {
    decode_inner(chunk.as_slice(), Some(chunk), kind, n, page)
}

/// A chunk whose checksum, size and validity have been read: what remains
/// is its encoding tag's body.
pub(crate) struct OpenedChunk<'a> {
    pub validity: Option<BooleanBuffer>,
    pub item_validity: Option<BooleanBuffer>,
    /// The encoding tag.
    pub tag: u8,
    /// The body after the tag.
    pub cur: ByteCursor<'a>,
}

/// Checks a chunk of `n` values of `kind` (its value count, checksum and
/// validity flags) and reads its validity and encoding tag.
pub(crate) fn open_chunk(bytes: &[u8], kind: ValueKind, n: usize) -> Result<OpenedChunk<'_>> {
    if n > crate::MAX_CHUNK_VALUES {
        return Err(EncodingError::invalid(format!(
            "{n} values exceed the {} per chunk",
            crate::MAX_CHUNK_VALUES
        )));
    }
    let Some(body_len) = bytes.len().checked_sub(4) else {
        return Err(EncodingError::invalid(format!(
            "chunk of {} bytes is shorter than its checksum",
            bytes.len()
        )));
    };
    let (body, crc) = bytes.split_at(body_len);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(EncodingError::Checksum { stored, computed });
    }
    let mut cur = ByteCursor::new(body);
    let mode = cur.u8()?;
    if mode & !(HAS_ROW_VALIDITY | HAS_ITEM_VALIDITY) != 0 {
        return Err(EncodingError::UnknownTag {
            what: "validity",
            tag: mode,
        });
    }
    let validity = if mode & HAS_ROW_VALIDITY != 0 {
        Some(read_bitmap(&mut cur, n)?)
    } else {
        None
    };
    let item_validity = if mode & HAS_ITEM_VALIDITY != 0 {
        let ValueKind::Fixed { items, .. } = kind else {
            return Err(EncodingError::invalid("item validity on a column without items"));
        };
        let count = n
            .checked_mul(items as usize)
            .ok_or_else(|| EncodingError::invalid("item count overflow"))?;
        Some(read_bitmap(&mut cur, count)?)
    } else {
        None
    };
    let tag = cur.u8()?;
    Ok(OpenedChunk {
        validity,
        item_validity,
        tag,
        cur,
    })
}

fn decode_inner(
    bytes: &[u8],
    shared: Option<&Buffer>,
    kind: ValueKind,
    n: usize,
    page: PageDictionaries<'_>,
) -> Result<DecodedChunk> {
    let OpenedChunk {
        validity,
        item_validity,
        tag,
        mut cur,
    } = open_chunk(bytes, kind, n)?;
    let values = if tag == ENC_ZSTD || tag == ENC_ZSTD_DICT {
        let zstd_dictionary = match tag {
            ENC_ZSTD => None,
            _ => Some(
                page.zstd
                    .ok_or_else(|| EncodingError::invalid("zstd dictionary chunk in a page without one"))?,
            ),
        };
        let raw_len = cur.u32()? as usize;
        let inner = cur.u8()?;
        if inner == ENC_SYMBOLS {
            return Err(EncodingError::invalid("symbol codes inside a zstd frame"));
        }
        let compressed = cur.rest();
        if raw_len > compressed.len() * MAX_ZSTD_RATIO + ZSTD_SLACK {
            return Err(EncodingError::invalid(format!(
                "zstd chunk claims {raw_len} bytes from {} compressed",
                compressed.len()
            )));
        }
        let raw = zdict::decompress(compressed, raw_len, zstd_dictionary)?;
        if raw.len() != raw_len {
            return Err(EncodingError::invalid(format!(
                "zstd produced {} bytes, expected {raw_len}",
                raw.len()
            )));
        }
        let raw = Buffer::from_vec(raw);
        let mut inner_cur = ByteCursor::new(raw.as_slice());
        let values = decode_body(&mut inner_cur, inner, kind, n, page, Some(&raw))?;
        finish(&inner_cur)?;
        values
    } else {
        let values = decode_body(&mut cur, tag, kind, n, page, shared)?;
        finish(&cur)?;
        values
    };
    Ok(DecodedChunk {
        validity,
        item_validity,
        values,
    })
}

pub(crate) fn finish(cur: &ByteCursor<'_>) -> Result<()> {
    match cur.remaining() {
        0 => Ok(()),
        extra => Err(EncodingError::invalid(format!("{extra} trailing bytes in chunk"))),
    }
}

/// `taken`, the bytes `cur` just returned, as a slice of `source` (the
/// buffer `cur` reads) when there is one, else as a copy.
fn share_or_copy(source: Option<&Buffer>, cur: &ByteCursor<'_>, taken: &[u8]) -> Buffer {
    match source {
        Some(source) => source.slice_with_length(cur.position() - taken.len(), taken.len()),
        None => Buffer::from(taken),
    }
}

fn read_bitmap(cur: &mut ByteCursor<'_>, n: usize) -> Result<BooleanBuffer> {
    let bytes = cur.take(n.div_ceil(8))?;
    Ok(BooleanBuffer::new(Buffer::from(bytes), 0, n))
}

/// Decodes a chunk body from `cur`. `source`, when given, is the buffer
/// `cur` reads (a decompressed body): plain values become slices of it
/// instead of copies.
fn decode_body(
    cur: &mut ByteCursor<'_>,
    tag: u8,
    kind: ValueKind,
    n: usize,
    page: PageDictionaries<'_>,
    source: Option<&Buffer>,
) -> Result<DecodedValues> {
    match (kind, tag) {
        (ValueKind::Bits, ENC_PLAIN) => Ok(DecodedValues::Bits(read_bitmap(cur, n)?)),
        (ValueKind::Fixed { width, .. }, ENC_PLAIN) => {
            let len = n
                .checked_mul(width as usize)
                .ok_or_else(|| EncodingError::invalid("chunk size overflow"))?;
            let values = cur.take(len)?;
            Ok(DecodedValues::Fixed(share_or_copy(source, cur, values)))
        }
        (ValueKind::Fixed { .. }, ENC_FOR) if kind.wide_integer() => {
            let mut out = Vec::new();
            crate::wide::decode_for(cur, n, &mut out)?;
            Ok(DecodedValues::Fixed(Buffer::from_vec(out)))
        }
        (ValueKind::Fixed { .. }, ENC_FOR | ENC_RLE) => {
            let Some((width, _)) = kind.scalar_integer() else {
                return Err(EncodingError::invalid("integer encoding on a non-integer column"));
            };
            let mut out = Vec::new();
            if tag == ENC_FOR {
                integer::decode_for(cur, width, n, &mut out)?;
            } else {
                integer::decode_rle(cur, width, n, &mut out)?;
            }
            Ok(DecodedValues::Fixed(Buffer::from_vec(out)))
        }
        (ValueKind::Variable, ENC_PLAIN) => {
            let (offsets, data) = decode_variable_plain(cur, n)?;
            Ok(DecodedValues::Variable {
                offsets,
                data: share_or_copy(source, cur, data),
            })
        }
        (ValueKind::Variable, ENC_DICT) => {
            let dict = page
                .values
                .ok_or_else(|| EncodingError::invalid("dictionary chunk in a page without dictionary"))?;
            let bit_width = cur.u8()?;
            let packed = cur.take(bitpack::packed_len(n, bit_width.min(64)))?;
            let entries = dict.len() as u64;
            let raw = bitpack::unpack_to_vec(packed, bit_width, n)?;
            // One branch-free pass finds the largest index; only a bad chunk
            // pays for locating the first index out of range.
            if raw.iter().copied().max().is_some_and(|max| max >= entries) {
                let bad = raw.iter().find(|&&i| i >= entries).copied().unwrap_or_default();
                return Err(EncodingError::invalid(format!(
                    "dictionary index {bad} out of {entries} entries"
                )));
            }
            // Entries are capped at `MAX_DICTIONARY_ENTRIES`, so each index fits a u32.
            Ok(DecodedValues::Indices(raw.iter().map(|&i| i as u32).collect()))
        }
        (ValueKind::Variable, ENC_SYMBOLS) => {
            let symbols = page
                .symbols
                .ok_or_else(|| EncodingError::invalid("symbol chunk in a page without a symbol table"))?;
            let total = cur.u32()? as usize;
            let (code_offsets, codes) = decode_variable_plain(cur, n)?;
            crate::symbols::check_decoded_len(codes.len(), total)?;
            Ok(DecodedValues::Symbols {
                table: Arc::clone(symbols),
                code_offsets,
                codes: share_or_copy(source, cur, codes),
                total,
            })
        }
        (_, tag @ (ENC_FOR | ENC_RLE | ENC_DICT | ENC_SYMBOLS)) => Err(EncodingError::invalid(format!(
            "encoding {tag} is not valid for {kind:?}"
        ))),
        (_, tag) => Err(EncodingError::UnknownTag { what: "encoding", tag }),
    }
}
