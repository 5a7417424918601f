//! Page dictionaries for variable-width values, and the plain layout of
//! variable-width values that dictionaries and chunks share.

use crate::bitpack::{bits_needed, pack_bits, packed_len, unpack_bits};
use crate::error::{EncodingError, Result};
use pilum_core::ByteCursor;

/// The distinct values a page's dictionary-encoded chunks index into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dictionary {
    /// `len + 1` offsets into `data`, starting at 0.
    pub offsets: Vec<u64>,
    /// Concatenated values.
    pub data: Vec<u8>,
}

impl Dictionary {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True when the dictionary has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let (start, end) = (*self.offsets.get(i)?, *self.offsets.get(i + 1)?);
        self.data.get(start as usize..end as usize)
    }

    /// Serialises the dictionary in the plain variable-width layout.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.data.len() + 16);
        encode_variable_plain(&self.offsets, &self.data, &mut out)?;
        Ok(out)
    }

    /// Parses `count` entries written by [`Dictionary::to_bytes`].
    pub fn from_bytes(bytes: &[u8], count: usize) -> Result<Self> {
        if count > crate::MAX_DICTIONARY_ENTRIES {
            return Err(EncodingError::invalid(format!(
                "{count} dictionary entries exceed {}",
                crate::MAX_DICTIONARY_ENTRIES
            )));
        }
        let mut cur = ByteCursor::new(bytes);
        let (offsets, data) = decode_variable_plain(&mut cur, count)?;
        if cur.remaining() != 0 {
            return Err(EncodingError::invalid("trailing bytes after dictionary"));
        }
        Ok(Self {
            offsets,
            data: data.to_vec(),
        })
    }
}

/// Writes values as `[min length u32][bit width u8][packed lengths][bytes]`.
pub(crate) fn encode_variable_plain(offsets: &[u64], data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let n = offsets.len().saturating_sub(1);
    let mut min = u64::MAX;
    let mut max = 0u64;
    for w in offsets.windows(2) {
        let len = w[1] - w[0];
        if len > u64::from(u32::MAX) {
            return Err(EncodingError::ValueTooLarge { len });
        }
        min = min.min(len);
        max = max.max(len);
    }
    if n == 0 {
        min = 0;
    }
    let bit_width = bits_needed(max - min);
    out.extend_from_slice(&(min as u32).to_le_bytes());
    out.push(bit_width);
    pack_bits(offsets.windows(2).map(|w| w[1] - w[0] - min), bit_width, out);
    if let (Some(&first), Some(&last)) = (offsets.first(), offsets.last()) {
        out.extend_from_slice(&data[first as usize..last as usize]);
    }
    Ok(())
}

/// Reads `n` values written by [`encode_variable_plain`]; returns offsets
/// starting at 0 and the value bytes.
pub(crate) fn decode_variable_plain<'a>(cur: &mut ByteCursor<'a>, n: usize) -> Result<(Vec<u64>, &'a [u8])> {
    let min = u64::from(cur.u32()?);
    let bit_width = cur.u8()?;
    if bit_width > 32 {
        return Err(EncodingError::invalid(format!(
            "length bit width {bit_width} exceeds 32"
        )));
    }
    let packed = cur.take(packed_len(n, bit_width))?;
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0u64);
    let mut total = 0u64;
    unpack_bits(packed, bit_width, n, |d| {
        total += min + d;
        offsets.push(total);
    })?;
    let total = usize::try_from(total).map_err(|_| EncodingError::invalid("value bytes overflow"))?;
    let data = cur.take(total)?;
    Ok((offsets, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_round_trips_and_rejects_trailing_bytes() {
        let dict = Dictionary {
            offsets: vec![0, 3, 3, 8],
            data: b"abcdefgh".to_vec(),
        };
        let bytes = dict.to_bytes().unwrap();
        assert_eq!(Dictionary::from_bytes(&bytes, 3).unwrap(), dict);
        assert!(Dictionary::from_bytes(&bytes, 100).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Dictionary::from_bytes(&longer, 3).is_err());
    }
}
