//! Decoding only some values of a chunk. A take of a few rows touches one
//! chunk per row; decoding the whole chunk (thousands of values) for each
//! would cost far more than the rows themselves. Bit-packed integers are
//! read value by value and plain values copied one by one; other encodings
//! decode whole and keep the selected values. The checksum is always
//! verified over the whole chunk.

use crate::chunk::{ENC_FOR, ENC_PLAIN};
use crate::decode::{
    DecodedChunk, DecodedValues, OpenedChunk, PageDictionaries, decode_shared_chunk, finish, open_chunk,
};
use crate::error::{EncodingError, Result};
use crate::{ValueKind, integer};
use arrow_buffer::{BooleanBuffer, Buffer};

/// Decodes the values at positions `selected` (strictly increasing, each
/// below `n`) of a chunk of `n` values of a scalar fixed-width `kind`
/// (`items` = 1): the result holds `selected.len()` values and their
/// validity, in order. Other kinds are an [`EncodingError::Invalid`] error.
pub fn decode_selected_chunk(
    chunk: &Buffer,
    kind: ValueKind,
    n: usize,
    page: PageDictionaries<'_>,
    selected: &[u32],
) -> Result<DecodedChunk> {
    let ValueKind::Fixed { width, items: 1, .. } = kind else {
        return Err(EncodingError::invalid(format!(
            "selected values can only be decoded from scalar fixed-width chunks, not {kind:?}"
        )));
    };
    check_selection(selected, n)?;
    let width = width as usize;
    let OpenedChunk {
        validity,
        item_validity,
        tag,
        mut cur,
    } = open_chunk(chunk.as_slice(), kind, n)?;
    let values = match (tag, kind.scalar_integer()) {
        (ENC_FOR, Some((scalar, _))) => {
            let mut out = Vec::new();
            integer::decode_for_selected(&mut cur, scalar, n, selected, &mut out)?;
            finish(&cur)?;
            Buffer::from_vec(out)
        }
        (ENC_PLAIN, _) => {
            let len = n
                .checked_mul(width)
                .ok_or_else(|| EncodingError::invalid("chunk size overflow"))?;
            let plain = cur.take(len)?;
            finish(&cur)?;
            select_fixed(plain, width, selected)
        }
        // Run-length, zstd and wide integers decode whole.
        _ => {
            let whole = decode_shared_chunk(chunk, kind, n, page)?;
            let DecodedValues::Fixed(buffer) = whole.values else {
                return Err(EncodingError::invalid("fixed-width chunk decoded as another kind"));
            };
            select_fixed(buffer.as_slice(), width, selected)
        }
    };
    Ok(DecodedChunk {
        validity: validity.map(|bits| select_bits(&bits, selected)),
        item_validity: item_validity.map(|bits| select_bits(&bits, selected)),
        values: DecodedValues::Fixed(values),
    })
}

/// Fails unless `selected` is strictly increasing and below `n`.
fn check_selection(selected: &[u32], n: usize) -> Result<()> {
    let increasing = selected.windows(2).all(|pair| pair[0] < pair[1]);
    let in_range = selected.last().is_none_or(|&last| (last as usize) < n);
    if increasing && in_range {
        Ok(())
    } else {
        Err(EncodingError::invalid(format!(
            "selected positions must increase and stay below {n}"
        )))
    }
}

/// The `width`-byte values at `selected` of `plain` (long enough: checked by the caller).
fn select_fixed(plain: &[u8], width: usize, selected: &[u32]) -> Buffer {
    let mut out = Vec::with_capacity(selected.len() * width);
    for &position in selected {
        let at = position as usize * width;
        out.extend_from_slice(plain.get(at..at + width).unwrap_or_default());
    }
    Buffer::from_vec(out)
}

fn select_bits(bits: &BooleanBuffer, selected: &[u32]) -> BooleanBuffer {
    selected.iter().map(|&i| bits.value(i as usize)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChunkOptions, ChunkValues, IntegerSign, ValidityInput, decode_chunk, encode_chunk};
    use proptest::prelude::*;

    fn kind(width: u32, integer: bool) -> ValueKind {
        ValueKind::Fixed {
            width,
            items: 1,
            integer: integer.then_some(IntegerSign::Signed),
        }
    }

    /// Encodes `values` (with `nulls` marking invalid positions) as one chunk.
    fn chunk_of(values: &[i64], nulls: &[bool], zstd: bool) -> Buffer {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let validity = ValidityInput {
            rows: nulls
                .iter()
                .any(|&null| null)
                .then(|| nulls.iter().map(|&null| !null).collect()),
            items: None,
        };
        let options = ChunkOptions {
            zstd_level: zstd.then_some(3),
            ..plain_options()
        };
        let mut out = Vec::new();
        encode_chunk(kind(8, true), ChunkValues::Fixed(&bytes), &validity, options, &mut out).unwrap();
        Buffer::from_vec(out)
    }

    fn plain_options() -> ChunkOptions<'static> {
        ChunkOptions {
            dictionary_indices: None,
            dictionary_bits: 0,
            zstd_level: None,
            zstd_dictionary: None,
            symbols: None,
            preserve_null_slots: false,
        }
    }

    proptest! {
        #[test]
        fn selected_values_match_the_whole_chunk(
            drawn in proptest::collection::vec(-1000i64..1000, 1..600),
            run_length in 1usize..40,
            null_every in 0usize..7,
            pick in proptest::collection::vec(any::<bool>(), 600),
            zstd in any::<bool>(),
        ) {
            // Long runs make the encoder choose run-length encoding.
            let values: Vec<i64> = (0..drawn.len()).map(|i| drawn[i / run_length]).collect();
            let n = values.len();
            let nulls: Vec<bool> = (0..n).map(|i| null_every > 0 && i % null_every == 0).collect();
            let chunk = chunk_of(&values, &nulls, zstd);
            let whole = decode_chunk(chunk.as_slice(), kind(8, true), n, PageDictionaries::default()).unwrap();
            let selected: Vec<u32> = (0..n as u32).filter(|&i| pick[i as usize]).collect();
            let some = decode_selected_chunk(&chunk, kind(8, true), n, PageDictionaries::default(), &selected).unwrap();
            let (DecodedValues::Fixed(all), DecodedValues::Fixed(got)) = (&whole.values, &some.values) else {
                panic!("fixed values expected");
            };
            for (slot, &position) in selected.iter().enumerate() {
                let p = position as usize;
                prop_assert_eq!(&got.as_slice()[slot * 8..slot * 8 + 8], &all.as_slice()[p * 8..p * 8 + 8]);
                let valid = |v: &Option<BooleanBuffer>, i: usize| v.as_ref().is_none_or(|b| b.value(i));
                prop_assert_eq!(valid(&some.validity, slot), valid(&whole.validity, p));
            }
            prop_assert_eq!(got.len(), selected.len() * 8);
        }
    }

    #[test]
    fn plain_floats_are_copied_value_by_value() {
        let floats: Vec<u8> = [1.5f64, -2.0, 3.25].iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut out = Vec::new();
        let float = kind(8, false);
        encode_chunk(
            float,
            ChunkValues::Fixed(&floats),
            &ValidityInput::default(),
            plain_options(),
            &mut out,
        )
        .unwrap();
        let chunk = Buffer::from_vec(out);
        let some = decode_selected_chunk(&chunk, float, 3, PageDictionaries::default(), &[0, 2]).unwrap();
        let DecodedValues::Fixed(got) = some.values else {
            panic!("fixed values expected")
        };
        assert_eq!(
            got.as_slice(),
            [1.5f64, 3.25].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn bad_selections_kinds_and_chunks_are_errors() {
        let chunk = chunk_of(&[1, 2, 3], &[false; 3], false);
        let page = PageDictionaries::default();
        let integer = kind(8, true);
        assert!(decode_selected_chunk(&chunk, integer, 3, page, &[2, 1]).is_err());
        assert!(decode_selected_chunk(&chunk, integer, 3, page, &[3]).is_err());
        assert!(decode_selected_chunk(&chunk, ValueKind::Variable, 3, page, &[0]).is_err());
        let mut damaged = chunk.as_slice().to_vec();
        damaged[2] ^= 1;
        let damaged = Buffer::from_vec(damaged);
        assert!(matches!(
            decode_selected_chunk(&damaged, integer, 3, page, &[0]),
            Err(EncodingError::Checksum { .. })
        ));
        let truncated = Buffer::from(&chunk.as_slice()[..chunk.len() - 6]);
        assert!(decode_selected_chunk(&truncated, integer, 3, page, &[0]).is_err());
    }
}
