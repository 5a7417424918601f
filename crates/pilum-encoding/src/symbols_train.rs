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
use std::hash::{BuildHasherDefault, Hasher};

/// Rounds of counting and selection.
const GENERATIONS: usize = 5;
/// Tokens while training: codes 0..255, then 256 + byte for an escaped byte.
const TOKENS: usize = 512;

/// log2 of the slots that symbols of 3+ bytes are hashed into by their
/// first three bytes. One symbol per slot keeps a lookup to one load and one
/// compare, without a data-dependent loop; the trainer never picks a symbol
/// whose slot is taken. 2,048 slots of 16 bytes stay in L1 cache.
const SLOT_BITS: u32 = 11;

/// Masks of the low `len` bytes of a word, by `len`.
const MASKS: [u64; 9] = {
    let mut masks = [0u64; 9];
    let mut len = 1;
    while len <= 8 {
        masks[len] = u64::MAX >> (64 - 8 * len);
        len += 1;
    }
    masks
};

/// The slot of a symbol of 3+ bytes, or of the text at a position.
#[inline]
fn slot_of(word: u64) -> usize {
    ((word & 0xff_ffff) as u32).wrapping_mul(0x9E37_79B1) as usize >> (32 - SLOT_BITS)
}

/// A symbol of 3+ bytes in its slot; an empty slot has `len` 0 and a word
/// that no masked input equals.
#[derive(Debug, Clone, Copy)]
struct LongSymbol {
    word: u64,
    code: u8,
    len: u8,
}

const EMPTY_SLOT: LongSymbol = LongSymbol {
    word: 1,
    code: ESCAPE,
    len: 0,
};

/// Candidates ranked in full each generation; the rest cannot make the
/// table unless slot clashes drop more than three in four of these.
const RANKED_CANDIDATES: usize = 4 * MAX_SYMBOLS;

/// A fast hasher for the trainer's candidate map, whose keys are symbol
/// words and lengths (SipHash took a third of the training time).
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(23) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

/// A symbol table with a lookup structure for greedy longest-match encoding.
#[derive(Debug, Clone)]
pub struct SymbolEncoder {
    table: SymbolTable,
    /// Code of the one-byte symbol for each byte, or [`ESCAPE`].
    single: [u8; 256],
    /// For each two-byte prefix (little-endian): the code of the two-byte
    /// symbol it equals, or [`ESCAPE`] when there is none. (A 4 KiB table
    /// hashed like the slots was tried and was not faster.)
    pairs: Vec<u8>,
    /// Symbols of 3+ bytes by [`slot_of`]; a symbol whose slot is taken by
    /// a lower code is never used.
    slots: Vec<LongSymbol>,
}

impl SymbolEncoder {
    /// The encoder for `table`.
    pub fn new(table: SymbolTable) -> Self {
        let mut single = [ESCAPE; 256];
        let mut pairs = Vec::new();
        let mut slots = vec![EMPTY_SLOT; 1 << SLOT_BITS];
        for code in 0..table.len() as u8 {
            match table.symbol(code) {
                Some((word, 1)) => single[word as u8 as usize] = code,
                Some((word, 2)) => pairs.push((word as u16, code)),
                Some((word, len)) => {
                    let slot = &mut slots[slot_of(word)];
                    if slot.len == 0 {
                        *slot = LongSymbol {
                            word,
                            code,
                            len: len as u8,
                        };
                    }
                }
                None => {}
            }
        }
        let mut pair_codes = vec![ESCAPE; 1 << 16];
        for (prefix, code) in pairs {
            pair_codes[prefix as usize] = code;
        }
        Self {
            table,
            single,
            pairs: pair_codes,
            slots,
        }
    }

    /// The table this encoder uses.
    pub fn table(&self) -> &SymbolTable {
        &self.table
    }

    /// Calls `emit` with each token of the greedy longest-match encoding of
    /// `value`: a code, or `256 + byte` for an escaped byte.
    #[inline]
    fn tokens(&self, value: &[u8], mut emit: impl FnMut(usize)) {
        let mut pos = 0;
        while pos < value.len() {
            let rest = &value[pos..];
            let word = match rest.first_chunk::<8>() {
                Some(bytes) => u64::from_le_bytes(*bytes),
                None => load_word(rest),
            };
            let long = self.slots[slot_of(word)];
            let pair = self.pairs[(word & 0xffff) as usize];
            let (code, len) = if word & MASKS[long.len as usize] == long.word && long.len as usize <= rest.len() {
                (long.code, long.len as usize)
            } else if pair != ESCAPE && rest.len() >= 2 {
                (pair, 2)
            } else {
                (self.single[rest[0] as usize], 1)
            };
            if code == ESCAPE {
                emit(256 + rest[0] as usize);
            } else {
                emit(code as usize);
            }
            pos += len;
        }
    }

    /// Codes the values `data[offsets[i]..offsets[i + 1]]`: returns the
    /// code strings' offsets (from 0) and their bytes.
    pub fn encode_values(&self, offsets: &[u64], data: &[u8]) -> (Vec<u64>, Vec<u8>) {
        let raw = match (offsets.first(), offsets.last()) {
            (Some(&first), Some(&last)) => (last - first) as usize,
            _ => 0,
        };
        let mut codes = Vec::with_capacity(raw);
        let mut code_offsets = Vec::with_capacity(offsets.len().max(1));
        code_offsets.push(0u64);
        for bounds in offsets.windows(2) {
            self.encode(&data[bounds[0] as usize..bounds[1] as usize], &mut codes);
            code_offsets.push(codes.len() as u64);
        }
        (code_offsets, codes)
    }

    /// Appends the codes of `value` to `out`.
    pub fn encode(&self, value: &[u8], out: &mut Vec<u8>) {
        // At most two bytes per input byte (all escapes): write into room
        // made once instead of growing the vector code by code.
        let start = out.len();
        out.resize(start + 2 * value.len(), 0);
        let room = &mut out[start..];
        let mut n = 0;
        self.tokens(value, |token| {
            if token < 256 {
                room[n] = token as u8;
                n += 1;
            } else {
                room[n] = ESCAPE;
                room[n + 1] = (token - 256) as u8;
                n += 2;
            }
        });
        out.truncate(start + n);
    }
}

/// A candidate symbol `(word, length)` and its gain.
type Candidate = ((u64, usize), u64);

/// The (up to) 255 candidates of highest gain, ties broken by length then
/// bytes so training is deterministic, keeping one symbol of 3+ bytes per
/// slot (the higher gain keeps it).
fn best_candidates(ranked: Vec<Candidate>) -> Vec<Candidate> {
    let order = |a: &Candidate, b: &Candidate| b.1.cmp(&a.1).then(b.0.1.cmp(&a.0.1)).then(a.0.0.cmp(&b.0.0));
    let keep = |mut ranked: Vec<Candidate>| {
        ranked.sort_unstable_by(order);
        let mut taken = vec![false; 1 << SLOT_BITS];
        ranked.retain(|&((word, len), _)| len < 3 || !std::mem::replace(&mut taken[slot_of(word)], true));
        ranked.truncate(MAX_SYMBOLS);
        ranked
    };
    // Sorting thousands of candidates dominated training: rank the best few
    // hundred first, and all of them only when slot clashes (text with few
    // distinct prefixes) leave fewer than a full table.
    if ranked.len() > RANKED_CANDIDATES {
        let mut head = ranked.clone();
        head.select_nth_unstable_by(RANKED_CANDIDATES - 1, order);
        head.truncate(RANKED_CANDIDATES);
        let head = keep(head);
        if head.len() == MAX_SYMBOLS {
            return head;
        }
    }
    keep(ranked)
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
        let mut gains: HashMap<(u64, usize), u64, BuildHasherDefault<WordHasher>> =
            HashMap::with_capacity_and_hasher(seen.len() + TOKENS, BuildHasherDefault::default());
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
            let word = (first | second << (8 * first_len)) & MASKS[len];
            *gains.entry((word, len)).or_default() += count * len as u64;
        }
        let ranked = best_candidates(gains.into_iter().collect());
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
