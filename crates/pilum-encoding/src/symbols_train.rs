//! Building a page's symbol table from a sample of its values, and encoding
//! values with it.
//!
//! Training follows the bottom-up scheme of the FSST paper: start with no
//! symbols, encode the sample with the current table while counting how
//! often each symbol (or escaped byte) occurs and how often each pair occurs
//! back to back, then keep the 255 candidates (symbols, escaped bytes, and
//! pairs merged into one symbol of up to 8 bytes) that cover the most bytes;
//! repeat a few generations.

use crate::symbols::{ESCAPE, MAX_SYMBOL_LEN, MAX_SYMBOLS, SymbolTable, load_word};
use std::collections::HashMap;

/// Rounds of counting and selection.
const GENERATIONS: usize = 5;
/// Tokens while training: codes 0..255, then 256 + byte for an escaped byte.
const TOKENS: usize = 512;

/// A symbol table with a lookup structure for greedy longest-match encoding.
#[derive(Debug, Clone)]
pub struct SymbolEncoder {
    table: SymbolTable,
    /// Code of the one-byte symbol for each byte, or [`ESCAPE`].
    single: [u8; 256],
    /// Codes of symbols of 2+ bytes grouped by their first two bytes, longest
    /// first: group `p` is `multi[starts[p]..starts[p + 1]]`.
    starts: Vec<u32>,
    multi: Vec<u8>,
}

impl SymbolEncoder {
    /// The encoder for `table`.
    pub fn new(table: SymbolTable) -> Self {
        let mut single = [ESCAPE; 256];
        let mut long: Vec<(u16, usize, u8)> = Vec::new();
        for code in 0..table.len() as u8 {
            let Some((word, len)) = table.symbol(code) else {
                continue;
            };
            if len == 1 {
                single[word as u8 as usize] = code;
            } else {
                long.push((word as u16, len, code));
            }
        }
        long.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let mut starts = vec![0u32; (1 << 16) + 1];
        for &(prefix, _, _) in &long {
            starts[prefix as usize + 1] += 1;
        }
        for p in 0..1 << 16 {
            starts[p + 1] += starts[p];
        }
        let multi = long.iter().map(|&(_, _, code)| code).collect();
        Self {
            table,
            single,
            starts,
            multi,
        }
    }

    /// The table this encoder uses.
    pub fn table(&self) -> &SymbolTable {
        &self.table
    }

    /// Calls `emit` with each token of the greedy longest-match encoding of
    /// `value`: a code, or `256 + byte` for an escaped byte.
    fn tokens(&self, value: &[u8], mut emit: impl FnMut(usize)) {
        let mut pos = 0;
        'outer: while pos < value.len() {
            let rest = &value[pos..];
            let word = load_word(rest);
            if rest.len() >= 2 {
                let prefix = (word & 0xffff) as usize;
                let group = self.starts[prefix] as usize..self.starts[prefix + 1] as usize;
                for &code in &self.multi[group] {
                    if let Some((symbol, len)) = self.table.symbol(code)
                        && len <= rest.len()
                        && (word ^ symbol) & mask(len) == 0
                    {
                        emit(code as usize);
                        pos += len;
                        continue 'outer;
                    }
                }
            }
            let byte = rest[0];
            match self.single[byte as usize] {
                ESCAPE => emit(256 + byte as usize),
                code => emit(code as usize),
            }
            pos += 1;
        }
    }

    /// Appends the codes of `value` to `out`.
    pub fn encode(&self, value: &[u8], out: &mut Vec<u8>) {
        self.tokens(value, |token| {
            if token < 256 {
                out.push(token as u8);
            } else {
                out.push(ESCAPE);
                out.push((token - 256) as u8);
            }
        });
    }
}

/// Mask of the low `len` bytes of a word.
fn mask(len: usize) -> u64 {
    if len >= 8 { u64::MAX } else { (1u64 << (8 * len)) - 1 }
}

/// Trains a symbol table on `sample` (values drawn from a page).
pub fn train(sample: &[&[u8]]) -> SymbolEncoder {
    let mut encoder = SymbolEncoder::new(SymbolTable::empty());
    let mut single = vec![0u64; TOKENS];
    // Pair counts, reset after each generation through the list of pairs seen.
    let mut pairs = vec![0u32; TOKENS * TOKENS];
    let mut seen: Vec<u32> = Vec::new();
    for _ in 0..GENERATIONS {
        single.fill(0);
        for value in sample {
            let mut previous: Option<usize> = None;
            encoder.tokens(value, |token| {
                single[token] += 1;
                if let Some(p) = previous {
                    let pair = p * TOKENS + token;
                    if pairs[pair] == 0 {
                        seen.push(pair as u32);
                    }
                    pairs[pair] += 1;
                }
                previous = Some(token);
            });
        }
        let token_symbol = |token: usize| -> (u64, usize) {
            if token >= 256 {
                ((token - 256) as u64, 1)
            } else {
                encoder.table().symbol(token as u8).unwrap_or((0, 0))
            }
        };
        // Gain of a candidate: the bytes it would cover.
        let mut gains: HashMap<(u64, usize), u64> = HashMap::with_capacity(seen.len() + TOKENS);
        for (token, &count) in single.iter().enumerate() {
            let (word, len) = token_symbol(token);
            if count > 0 && len > 0 {
                *gains.entry((word, len)).or_default() += count * len as u64;
            }
        }
        for pair in seen.drain(..) {
            let count = u64::from(std::mem::take(&mut pairs[pair as usize]));
            let pair = pair as usize;
            let ((first, first_len), (second, second_len)) = (token_symbol(pair / TOKENS), token_symbol(pair % TOKENS));
            if first_len == 0 || second_len == 0 || first_len >= MAX_SYMBOL_LEN {
                continue;
            }
            let len = (first_len + second_len).min(MAX_SYMBOL_LEN);
            let word = (first | second << (8 * first_len)) & mask(len);
            *gains.entry((word, len)).or_default() += count * len as u64;
        }
        let mut ranked: Vec<((u64, usize), u64)> = gains.into_iter().collect();
        // Ties broken by length then bytes, so training is deterministic.
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.1.cmp(&a.0.1)).then(a.0.0.cmp(&b.0.0)));
        ranked.truncate(MAX_SYMBOLS);
        let symbols: Vec<[u8; 8]> = ranked.iter().map(|((word, _), _)| word.to_le_bytes()).collect();
        let slices: Vec<&[u8]> = symbols
            .iter()
            .zip(&ranked)
            .map(|(bytes, ((_, len), _))| &bytes[..*len])
            .collect();
        match SymbolTable::new(&slices) {
            Ok(table) => encoder = SymbolEncoder::new(table),
            Err(_) => break,
        }
    }
    encoder
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(encoder: &SymbolEncoder, values: &[&[u8]]) {
        let mut codes = Vec::new();
        let mut code_offsets = vec![0u64];
        let mut total = 0;
        for value in values {
            encoder.encode(value, &mut codes);
            code_offsets.push(codes.len() as u64);
            total += value.len();
        }
        let (offsets, data) = encoder.table().decode(&code_offsets, &codes, total).unwrap();
        let mut start = 0;
        for (value, end) in values.iter().zip(&offsets[1..]) {
            assert_eq!(&data[start..*end as usize], *value);
            start = *end as usize;
        }
    }

    #[test]
    fn trained_table_compresses_repetitive_text_and_round_trips() {
        let text: Vec<String> = (0..2000)
            .map(|i| format!("the quick brown fox {i} jumps over the lazy dog"))
            .collect();
        let sample: Vec<&[u8]> = text.iter().map(String::as_bytes).collect();
        let encoder = train(&sample);
        assert!(encoder.table().len() > 20);
        let mut codes = Vec::new();
        for value in &sample {
            encoder.encode(value, &mut codes);
        }
        let raw: usize = sample.iter().map(|v| v.len()).sum();
        assert!(codes.len() * 3 < raw, "{} codes for {raw} bytes", codes.len());
        round_trip(&encoder, &sample);
        // Bytes never seen in training are escaped.
        round_trip(&encoder, &[b"\x00\xff\xfe unseen \x01", b"", b"the lazy dog"]);
    }

    #[test]
    fn training_is_deterministic_and_handles_empty_samples() {
        let sample: Vec<&[u8]> = vec![b"abcabcabc", b"xyz", b""];
        assert_eq!(train(&sample).table(), train(&sample).table());
        let empty = train(&[]);
        assert!(empty.table().is_empty());
        round_trip(&empty, &[b"anything"]);
    }
}
