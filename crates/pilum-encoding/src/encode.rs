//! Encoding of one chunk: validity, the cheapest value encoding, a CRC32.

use crate::chunk::{
    ChunkValues, ENC_DICT, ENC_FOR, ENC_PLAIN, ENC_RLE, ENC_SYMBOLS, ENC_ZSTD, ENC_ZSTD_DICT, HAS_ITEM_VALIDITY,
    HAS_ROW_VALIDITY, ValidityInput, write_bitmap,
};
use crate::dictionary::encode_variable_plain;
use crate::error::{EncodingError, Result};
use crate::integer;
use crate::symbols_train::SymbolEncoder;
use crate::zdict::{self, ZstdEncoderDictionary};
use crate::{ValueKind, bitpack};

/// zstd output is kept only when the chunk's raw size is at most this many
/// times its compressed size, so a reader can bound decompression.
pub(crate) const MAX_ZSTD_RATIO: usize = 4096;
/// Slack added to the ratio bound for tiny chunks.
pub(crate) const ZSTD_SLACK: usize = 64 * 1024;

/// How to encode one chunk; produced by the page plan.
#[derive(Debug, Clone, Copy)]
pub struct ChunkOptions<'a> {
    /// Dictionary indices for the chunk's values (variable-width only).
    pub dictionary_indices: Option<&'a [u32]>,
    /// Bit width of the dictionary indices.
    pub dictionary_bits: u8,
    /// Whether to try zstd over the plain body.
    pub zstd_level: Option<i32>,
    /// The page's zstd dictionary; when set, zstd frames reference it.
    pub zstd_dictionary: Option<&'a ZstdEncoderDictionary>,
    /// The page's symbol table; when set, variable-width values are
    /// stored as its codes (and zstd is not applied).
    pub symbols: Option<&'a SymbolEncoder>,
    /// Store the values under null slots exactly.
    pub preserve_null_slots: bool,
}

/// Appends the encoded chunk for `values` (of the given `kind`) to `out`.
pub fn encode_chunk(
    kind: ValueKind,
    values: ChunkValues<'_>,
    validity: &ValidityInput,
    opts: ChunkOptions<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let start = out.len();
    let mut mode = 0u8;
    if validity.rows.is_some() {
        mode |= HAS_ROW_VALIDITY;
    }
    if validity.items.is_some() {
        mode |= HAS_ITEM_VALIDITY;
    }
    out.push(mode);
    for bitmap in [&validity.rows, &validity.items].into_iter().flatten() {
        write_bitmap(bitmap, out);
    }
    match (kind, values) {
        (ValueKind::Bits, ChunkValues::Bits(bits)) => {
            out.push(ENC_PLAIN);
            write_bitmap(bits, out);
        }
        (ValueKind::Fixed { width, .. }, ChunkValues::Fixed(bytes)) => {
            let width = width as usize;
            if let Some((_, sign)) = kind.scalar_integer() {
                let valid = if opts.preserve_null_slots {
                    None
                } else {
                    validity.rows.as_ref()
                };
                encode_integer(bytes, width, sign, valid, out);
            } else if kind.wide_integer() && encode_wide_integer(bytes, validity, opts, out) {
                // Frame of reference over 16-byte integers.
            } else {
                with_zstd(opts, ENC_PLAIN, out, |body| {
                    body.extend_from_slice(bytes);
                    Ok(())
                })?;
            }
        }
        (ValueKind::Variable, ChunkValues::Variable { offsets, data }) => match opts.dictionary_indices {
            Some(indices) => {
                out.push(ENC_DICT);
                out.push(opts.dictionary_bits);
                bitpack::pack_bits(indices.iter().map(|&i| u64::from(i)), opts.dictionary_bits, out);
            }
            None => match opts.symbols {
                Some(symbols) => encode_symbols(symbols, offsets, data, out)?,
                None => with_zstd(opts, ENC_PLAIN, out, |body| encode_variable_plain(offsets, data, body))?,
            },
        },
        (kind, _) => {
            return Err(EncodingError::invalid(format!(
                "values do not match column kind {kind:?}"
            )));
        }
    }
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(())
}

fn encode_integer(
    bytes: &[u8],
    width: usize,
    sign: crate::IntegerSign,
    valid: Option<&arrow_buffer::BooleanBuffer>,
    out: &mut Vec<u8>,
) {
    let n = bytes.len() / width;
    let stats = integer::stats(bytes, width, sign, valid);
    let plain = n * width;
    let for_size = integer::for_size(n, width, &stats);
    let rle_size = integer::rle_size(width, &stats);
    if rle_size < for_size && rle_size < plain {
        out.push(ENC_RLE);
        integer::encode_rle(bytes, width, valid, &stats, out);
    } else if for_size < plain {
        out.push(ENC_FOR);
        integer::encode_for(bytes, width, valid, &stats, out);
    } else {
        out.push(ENC_PLAIN);
        out.extend_from_slice(bytes);
    }
}

/// Writes `[ENC_FOR][wide FOR body]` when the chunk's range fits in 64 bits
/// and the body beats the plain values; returns whether it did.
fn encode_wide_integer(bytes: &[u8], validity: &ValidityInput, opts: ChunkOptions<'_>, out: &mut Vec<u8>) -> bool {
    let valid = if opts.preserve_null_slots {
        None
    } else {
        validity.rows.as_ref()
    };
    out.push(ENC_FOR);
    if crate::wide::try_encode_for(bytes, valid, out) {
        true
    } else {
        out.pop();
        false
    }
}

/// Writes `[ENC_SYMBOLS][decoded bytes u32][codes in the plain variable
/// layout]`, or the plain values when the codes are not smaller.
fn encode_symbols(symbols: &SymbolEncoder, offsets: &[u64], data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let (Some(&first), Some(&last)) = (offsets.first(), offsets.last()) else {
        out.push(ENC_PLAIN);
        return encode_variable_plain(offsets, data, out);
    };
    let raw = last - first;
    let (code_offsets, codes) = symbols.encode_values(offsets, data);
    match u32::try_from(raw) {
        Ok(raw32) if (codes.len() as u64) < raw => {
            out.push(ENC_SYMBOLS);
            out.extend_from_slice(&raw32.to_le_bytes());
            encode_variable_plain(&code_offsets, &codes, out)
        }
        _ => {
            out.push(ENC_PLAIN);
            encode_variable_plain(offsets, data, out)
        }
    }
}

thread_local! {
    /// One zstd compression context per thread and its level: creating a
    /// context costs more than compressing a small chunk.
    static COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Compresses `body` as one zstd frame at `level`, reusing this thread's context.
pub(crate) fn zstd_compress(body: &[u8], level: i32) -> Result<Vec<u8>> {
    COMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        let compressor = match slot.as_mut() {
            Some((current, compressor)) if *current == level => compressor,
            _ => &mut slot.insert((level, zstd::bulk::Compressor::new(level)?)).1,
        };
        Ok(compressor.compress(body)?)
    })
}

/// Writes `[tag][body]`, or `[ENC_ZSTD or ENC_ZSTD_DICT][raw len u32][tag][zstd(body)]`
/// when zstd is requested and shrinks the body within the ratio bound.
fn with_zstd(
    opts: ChunkOptions<'_>,
    tag: u8,
    out: &mut Vec<u8>,
    write_body: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let Some(level) = opts.zstd_level else {
        out.push(tag);
        return write_body(out);
    };
    let mut body = Vec::new();
    write_body(&mut body)?;
    let (zstd_tag, compressed) = match opts.zstd_dictionary {
        Some(dictionary) => (ENC_ZSTD_DICT, zdict::compress_with(&body, dictionary)?),
        None => (ENC_ZSTD, zstd_compress(&body, level)?),
    };
    let fits_u32 = u32::try_from(body.len()).is_ok();
    let bounded = body.len() <= compressed.len() * MAX_ZSTD_RATIO + ZSTD_SLACK;
    if fits_u32 && bounded && compressed.len() + 5 < body.len() {
        out.push(zstd_tag);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.push(tag);
        out.extend_from_slice(&compressed);
    } else {
        out.push(tag);
        out.extend_from_slice(&body);
    }
    Ok(())
}
