//! Page symbol tables for variable-width values: up to 255 byte strings of
//! 1–8 bytes, each replaced by a one-byte code, with code 255 escaping one
//! literal byte (the static symbol table scheme of FSST, Boncz, Neumann and
//! Leis, VLDB 2020). Decoding is one table lookup and one 8-byte store per
//! code, several times faster than zstd on short text, and any single value
//! decodes on its own.

use crate::error::{EncodingError, Result};
use pilum_core::ByteCursor;
use std::mem::MaybeUninit;

/// The code that escapes one literal byte.
pub(crate) const ESCAPE: u8 = 255;
/// Most symbols a table holds (codes 0..=254).
pub(crate) const MAX_SYMBOLS: usize = 255;
/// Longest symbol, in bytes.
pub(crate) const MAX_SYMBOL_LEN: usize = 8;
/// Bytes [`SymbolTable::decode_append`] needs past the decoded values (it
/// stores whole words); capacity for them avoids a reallocation.
pub const SYMBOL_DECODE_SLACK: usize = MAX_SYMBOL_LEN;

/// A page's symbol table, ready to decode chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolTable {
    /// Symbol bytes, little-endian in a word, zero above the symbol's length.
    words: [u64; 256],
    /// Symbol lengths; 0 for codes the table does not use.
    lens: [u8; 256],
    /// Number of symbols.
    count: usize,
}

impl SymbolTable {
    /// A table of the given symbols (at most 255, each 1–8 bytes).
    pub(crate) fn new(symbols: &[&[u8]]) -> Result<Self> {
        if symbols.len() > MAX_SYMBOLS {
            return Err(EncodingError::invalid(format!(
                "{} symbols exceed {MAX_SYMBOLS}",
                symbols.len()
            )));
        }
        let mut table = Self::empty();
        table.count = symbols.len();
        for (code, symbol) in symbols.iter().enumerate() {
            if symbol.is_empty() || symbol.len() > MAX_SYMBOL_LEN {
                return Err(EncodingError::invalid(format!(
                    "symbol of {} bytes (1 to {MAX_SYMBOL_LEN} allowed)",
                    symbol.len()
                )));
            }
            table.words[code] = load_word(symbol);
            table.lens[code] = symbol.len() as u8;
        }
        Ok(table)
    }

    /// A table without symbols: every byte is escaped.
    pub(crate) fn empty() -> Self {
        Self {
            words: [0; 256],
            lens: [0; 256],
            count: 0,
        }
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the table has no symbols (every byte is escaped).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The symbol of `code`, or `None` for codes the table does not use.
    pub(crate) fn symbol(&self, code: u8) -> Option<(u64, usize)> {
        let len = self.lens[code as usize] as usize;
        (len > 0).then_some((self.words[code as usize], len))
    }

    /// Serialises the table as `[count u8][count lengths u8][symbol bytes]`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.count * (1 + MAX_SYMBOL_LEN));
        out.push(self.count as u8);
        out.extend_from_slice(&self.lens[..self.count]);
        for code in 0..self.count {
            let len = self.lens[code] as usize;
            out.extend_from_slice(&self.words[code].to_le_bytes()[..len]);
        }
        out
    }

    /// Parses a table written by [`SymbolTable::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut cur = ByteCursor::new(bytes);
        let count = cur.u8()? as usize;
        if count > MAX_SYMBOLS {
            return Err(EncodingError::invalid(format!("{count} symbols exceed {MAX_SYMBOLS}")));
        }
        let lens = cur.take(count)?;
        let mut symbols = Vec::with_capacity(count);
        for &len in lens {
            symbols.push(cur.take(len as usize)?);
        }
        if cur.remaining() != 0 {
            return Err(EncodingError::invalid("trailing bytes after symbol table"));
        }
        Self::new(&symbols)
    }

    /// Decodes `n` values from `codes`, cut at `code_offsets` (`n + 1`
    /// offsets starting at 0), into `total` bytes; returns the decoded
    /// offsets and bytes. Codes the table does not use, an escape without
    /// its byte, or a total that does not match are errors.
    pub fn decode(&self, code_offsets: &[u64], codes: &[u8], total: usize) -> Result<(Vec<u64>, Vec<u8>)> {
        let mut out = Vec::new();
        let mut offsets = Vec::with_capacity(code_offsets.len());
        offsets.push(0);
        self.decode_append(code_offsets, codes, total, &mut out, &mut offsets)?;
        Ok((offsets, out))
    }

    /// Like [`SymbolTable::decode`], but appends the `total` decoded bytes
    /// to `out` and each value's end (a position in `out`) to `ends`, so a
    /// reader decodes straight into its output. On error `out` is left as it
    /// was; `ends` may have grown.
    pub fn decode_append(
        &self,
        code_offsets: &[u64],
        codes: &[u8],
        total: usize,
        out: &mut Vec<u8>,
        ends: &mut Vec<u64>,
    ) -> Result<()> {
        check_decoded_len(codes.len(), total)?;
        let start = out.len();
        // Every code stores a whole word; the slack keeps the last store in
        // bounds. The room is written, not zeroed first.
        out.reserve(total + SYMBOL_DECODE_SLACK);
        let room = out
            .spare_capacity_mut()
            .get_mut(..total + SYMBOL_DECODE_SLACK)
            .ok_or_else(|| EncodingError::invalid("no room to decode symbols"))?;
        let written = self.decode_values(code_offsets, codes, room, start as u64, ends)?;
        if written != total {
            return Err(EncodingError::invalid(format!(
                "symbols decoded to {written} bytes, expected {total}"
            )));
        }
        // SAFETY: decoding stores every byte it moves past (a code stores
        // its whole symbol and more, an escape its byte), so the first
        // `written` bytes of the spare capacity are initialised; `reserve`
        // made the capacity at least `start + written`.
        unsafe { out.set_len(start + written) };
        Ok(())
    }

    /// Decodes every value into `out` from its start, pushing each value's
    /// end plus `base`; returns the bytes decoded.
    fn decode_values(
        &self,
        code_offsets: &[u64],
        codes: &[u8],
        out: &mut [MaybeUninit<u8>],
        base: u64,
        ends: &mut Vec<u64>,
    ) -> Result<usize> {
        let known = self.all_codes_known(codes);
        let mut pos = 0;
        for bounds in code_offsets.windows(2) {
            let value = codes
                .get(bounds[0] as usize..bounds[1] as usize)
                .ok_or_else(|| EncodingError::invalid("code offsets out of range"))?;
            // Each code writes one word and advances at most 8 bytes, so a
            // word of room per code means no store can leave `out`.
            let room = value.len().saturating_mul(MAX_SYMBOL_LEN);
            pos = if known && out.len().saturating_sub(pos) >= room {
                self.decode_value_with_room(value, out, pos)?
            } else {
                self.decode_value_checked(value, out, pos)?
            };
            ends.push(base + pos as u64);
        }
        Ok(pos)
    }

    /// Whether every byte of `codes` is a code the table uses or an escape,
    /// always true for a full table. Literal bytes after escapes are
    /// counted too, so `false` may be wrong, but only costs the checked path.
    fn all_codes_known(&self, codes: &[u8]) -> bool {
        let count = self.count;
        count == MAX_SYMBOLS
            || !codes
                .iter()
                .fold(false, |unknown, &c| unknown | ((c as usize >= count) & (c != ESCAPE)))
    }

    /// Decodes one value whose codes are all known or escapes, given a word
    /// of room per code in `out` past `pos`: no bounds check per code.
    fn decode_value_with_room(&self, value: &[u8], out: &mut [MaybeUninit<u8>], mut pos: usize) -> Result<usize> {
        debug_assert!(out.len() - pos >= value.len() * MAX_SYMBOL_LEN);
        let base = out.as_mut_ptr().cast::<u8>();
        let mut i = 0;
        while let Some(&code) = value.get(i) {
            if code == ESCAPE {
                let byte = *value
                    .get(i + 1)
                    .ok_or_else(|| EncodingError::invalid("escape code without its byte"))?;
                // SAFETY: as for the word store below; this stores one byte.
                unsafe { base.add(pos).write(byte) };
                pos += 1;
                i += 2;
                continue;
            }
            // SAFETY: each code consumed before this one advanced `pos` by
            // at most 8 bytes and `i` by at least 1, so `pos <= start + 8 * i`
            // with `i < value.len()`, and the caller checked
            // `out.len() >= start + 8 * value.len()`: the 8 bytes written at
            // `pos` lie inside `out`. `write_unaligned` needs no alignment.
            unsafe {
                base.add(pos)
                    .cast::<u64>()
                    .write_unaligned(self.words[code as usize].to_le())
            };
            pos += self.lens[code as usize] as usize;
            i += 1;
        }
        Ok(pos)
    }

    /// [`SymbolTable::decode_value`] with every store bounds-checked.
    fn decode_value_checked(&self, value: &[u8], out: &mut [MaybeUninit<u8>], mut pos: usize) -> Result<usize> {
        let overflow = || EncodingError::invalid("symbols decode past the stated length");
        let mut i = 0;
        while i < value.len() {
            let code = value[i];
            if code == ESCAPE {
                let byte = *value
                    .get(i + 1)
                    .ok_or_else(|| EncodingError::invalid("escape code without its byte"))?;
                out.get_mut(pos).ok_or_else(overflow)?.write(byte);
                pos += 1;
                i += 2;
            } else {
                let len = self.lens[code as usize] as usize;
                if len == 0 {
                    return Err(EncodingError::invalid(format!(
                        "code {code} is not in the symbol table"
                    )));
                }
                let word = self.words[code as usize].to_le_bytes();
                let slots = out.get_mut(pos..pos + MAX_SYMBOL_LEN).ok_or_else(overflow)?;
                for (slot, byte) in slots.iter_mut().zip(word) {
                    slot.write(byte);
                }
                pos += len;
                i += 1;
            }
        }
        Ok(pos)
    }
}

/// Checks that `codes` codes can decode to `total` bytes (at most 8 per code),
/// before anything is allocated for them.
pub(crate) fn check_decoded_len(codes: usize, total: usize) -> Result<()> {
    if total > codes.saturating_mul(MAX_SYMBOL_LEN) {
        return Err(EncodingError::invalid(format!(
            "{codes} codes cannot decode to {total} bytes"
        )));
    }
    Ok(())
}

/// Up to 8 bytes of `bytes` as a little-endian word, zero-padded.
pub(crate) fn load_word(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = bytes.len().min(8);
    word[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_round_trips_and_decodes_symbols_and_escapes() {
        let table = SymbolTable::new(&[b"the ", b"a", b"quick br"]).unwrap();
        let parsed = SymbolTable::from_bytes(&table.to_bytes()).unwrap();
        assert_eq!(parsed, table);
        // "the quick brown" = [the ][quick br][ESC o][ESC w][ESC n]; then "a".
        let codes = [0, 2, ESCAPE, b'o', ESCAPE, b'w', ESCAPE, b'n', 1];
        let (offsets, data) = table.decode(&[0, 8, 9], &codes, 16).unwrap();
        assert_eq!(offsets, [0, 15, 16]);
        assert_eq!(data, b"the quick browna");
    }

    #[test]
    fn bad_codes_and_tables_are_errors() {
        let table = SymbolTable::new(&[b"ab"]).unwrap();
        assert!(table.decode(&[0, 1], &[7], 2).is_err(), "unused code");
        assert!(table.decode(&[0, 1], &[ESCAPE], 1).is_err(), "escape without byte");
        assert!(table.decode(&[0, 1], &[0], 3).is_err(), "wrong total");
        assert!(table.decode(&[0, 2], &[0], 2).is_err(), "offsets past the codes");
        assert!(
            table.decode(&[0, 1], &[0], 1_000).is_err(),
            "total beyond 8 bytes per code"
        );
        assert!(
            SymbolTable::from_bytes(&[1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err(),
            "9-byte symbol"
        );
        assert!(SymbolTable::from_bytes(&[1, 0]).is_err(), "empty symbol");
        assert!(SymbolTable::from_bytes(&[255]).is_err(), "truncated");
        assert!(SymbolTable::from_bytes(&[0, 0]).is_err(), "trailing byte");
    }
}
