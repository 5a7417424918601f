//! Page planning: chunk boundaries, and the page-wide choices of dictionary
//! and zstd made by sampling the page's values.

use crate::chunk::{ChunkValues, ValidityInput};
use crate::dictionary::{Dictionary, encode_variable_plain};
use crate::encode::{ChunkOptions, encode_chunk};
use crate::error::Result;
use crate::symbols_train::{self, SymbolEncoder};
use crate::zdict::{self, ZstdEncoderDictionary};
use crate::{MAX_CHUNK_VALUES, ValueKind, bitpack};
use std::collections::{HashMap, HashSet};

/// Hashing of sampled values (SipHash was 7% of writing a text corpus):
/// entries are numbered in order of first appearance, so the hash only
/// sets speed, never the bytes written.
type FastHash = foldhash::fast::RandomState;

/// Knobs for page planning.
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    /// Aim for chunks of about this many raw bytes (random reads fetch one chunk).
    pub target_chunk_bytes: usize,
    /// Consider dictionary encoding for variable-width values.
    pub allow_dictionary: bool,
    /// Consider zstd; `None` disables it.
    pub zstd_level: Option<i32>,
    /// Consider training a zstd dictionary for zstd pages of variable-width
    /// values (large pages only).
    pub zstd_dictionary: bool,
    /// Consider a symbol table for variable-width pages that zstd would
    /// compress (large pages only); chosen when it comes close to zstd's size.
    pub symbol_table: bool,
    /// Keep the values under null slots exactly (needed for list lengths,
    /// whose null entries still own child values). When false, null slots
    /// may be stored as any value that encodes cheaply.
    pub preserve_null_slots: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            target_chunk_bytes: 8 * 1024,
            allow_dictionary: true,
            zstd_level: Some(1),
            zstd_dictionary: true,
            symbol_table: true,
            preserve_null_slots: false,
        }
    }
}

/// The decisions for one page.
#[derive(Debug, Clone, Default)]
pub struct PagePlan {
    /// Exclusive end row of each chunk.
    pub chunk_ends: Vec<usize>,
    /// Page dictionary with one index per value, and the index bit width.
    pub dictionary: Option<(Dictionary, Vec<u32>, u8)>,
    /// zstd level to apply to chunks, if sampling showed it pays.
    pub zstd_level: Option<i32>,
    /// zstd dictionary trained on the page's chunks, if sampling showed it pays.
    pub zstd_dictionary: Option<Vec<u8>>,
    /// Symbol table the page's variable-width chunks are coded with, if
    /// sampling showed it comes close to zstd; chunks then skip zstd.
    pub symbols: Option<SymbolEncoder>,
}

/// One encoded page: chunk bytes back to back plus its chunk table.
#[derive(Debug, Clone, Default)]
pub struct EncodedPage {
    /// The chunks, concatenated.
    pub bytes: Vec<u8>,
    /// Values in each chunk.
    pub chunk_rows: Vec<u32>,
    /// Encoded bytes of each chunk.
    pub chunk_sizes: Vec<u32>,
    /// The page dictionary, if chunks index into one.
    pub dictionary: Option<Dictionary>,
    /// The zstd dictionary the page's chunks were compressed with, if any.
    pub zstd_dictionary: Option<Vec<u8>>,
    /// The serialised symbol table the page's chunks are coded with, if any.
    pub symbol_table: Option<Vec<u8>>,
}

/// Values sampled to estimate cardinality.
const DICT_SAMPLE: usize = 1024;
/// Largest dictionary kept, in entries and bytes.
const DICT_MAX_ENTRIES: usize = crate::MAX_DICTIONARY_ENTRIES;
const DICT_MAX_BYTES: usize = 1 << 20;
/// zstd is used when sampled chunks shrink to at most this fraction.
const ZSTD_MAX_RATIO: f64 = 0.85;
/// zstd-compressed variable-width chunks aim for the target divided by this.
const ZSTD_VARIABLE_CHUNK_DIVISOR: usize = 2;
/// zstd pages of variable-width values (without a symbol table or zstd
/// dictionary) compressing to at most this fraction cut chunks
/// [`DENSE_CHUNK_FACTOR`] times larger: a 4 KiB frame of paths is ~230
/// bytes, and rebuilding its entropy tables was a third of a scan. Corpus
/// paths (7,762 rows): 1.9 → 1.3 ms at 8 KiB, 1.1 ms at 16 KiB. On 36,834
/// rows, 16 KiB chunks took a scan of path and size from 1.8–2.3 to
/// 1.3–1.6 ms, and a take of 100 paths from 0.35–0.42 to 0.42–0.46 ms.
const DENSE_ZSTD_RATIO: f64 = 0.125;
const DENSE_CHUNK_FACTOR: usize = 4;
/// Chunks compressed while sampling.
const ZSTD_SAMPLE_CHUNKS: usize = 4;
/// Chunks of pages with a zstd dictionary aim for the zstd target divided by this.
const DICTIONARY_CHUNK_DIVISOR: usize = 2;
/// Pages with a zstd dictionary compress at least at this level: matching
/// against the dictionary is where a higher level pays (corpus text: 7%
/// smaller than level 1), where small frames of word-like text without one
/// come out the same size at level 1 as at 3, 30% faster to compress and
/// 25% faster to decode.
const DICTIONARY_MIN_LEVEL: i32 = 3;

/// The zstd level of a page with a dictionary, given the requested level.
fn dictionary_level(level: i32) -> i32 {
    level.max(DICTIONARY_MIN_LEVEL)
}

/// Chunks compressed with and without a trained dictionary to judge it.
const DICTIONARY_TEST_CHUNKS: usize = 16;
/// A dictionary is kept when the estimated saving is this many times its size,
const DICTIONARY_MIN_GAIN: usize = 2;
/// and when it makes the tested chunks at least this much smaller (percent):
/// compressing with a dictionary costs up to 40% more time, which a few
/// percent of size (Zipf-distributed words: 7%) does not repay.
const DICTIONARY_MIN_SAVING_PERCENT: usize = 10;

/// Chooses chunk boundaries, dictionary and zstd for a page of `n` values.
pub fn plan_page(kind: ValueKind, values: ChunkValues<'_>, n: usize, opts: PlanOptions) -> PagePlan {
    let mut plan = PagePlan::default();
    if let (ValueKind::Variable, ChunkValues::Variable { offsets, data }) = (kind, values)
        && opts.allow_dictionary
    {
        plan.dictionary = build_dictionary(offsets, data);
    }
    plan.chunk_ends = chunk_ends(kind, values, n, opts.target_chunk_bytes, plan.dictionary.is_some());
    let compressible = match kind {
        ValueKind::Bits => false,
        // Wide integers fall back to zstd only where frame of reference fails.
        ValueKind::Fixed { .. } => kind.scalar_integer().is_none(),
        ValueKind::Variable => plan.dictionary.is_none(),
    };
    if compressible
        && let Some(level) = opts.zstd_level
        && let Some(ratio) = zstd_pays(kind, values, &plan.chunk_ends, level)
    {
        plan.zstd_level = Some(level);
        if kind == ValueKind::Variable {
            // A random read decompresses a whole chunk: smaller zstd chunks
            // of variable-width values halve its cost for a small loss in ratio.
            let target = opts.target_chunk_bytes / ZSTD_VARIABLE_CHUNK_DIVISOR;
            plan.chunk_ends = chunk_ends(kind, values, n, target, false);
            if opts.symbol_table
                && let Some(symbols) = choose_symbols(values, &plan.chunk_ends, level)
            {
                plan.symbols = Some(symbols);
                plan.zstd_level = None;
            } else if opts.zstd_dictionary {
                // With a dictionary, small chunks lose little ratio (about 1%
                // at half the size), and a random read decompresses half as much.
                let small = chunk_ends(kind, values, n, target / DICTIONARY_CHUNK_DIVISOR, false);
                if let Some(dictionary) = train_dictionary(values, &small, &plan.chunk_ends, level) {
                    plan.zstd_dictionary = Some(dictionary);
                    plan.zstd_level = Some(dictionary_level(level));
                    plan.chunk_ends = small;
                }
            }
            if plan.symbols.is_none() && plan.zstd_dictionary.is_none() && ratio <= DENSE_ZSTD_RATIO {
                // Frames this small are mostly entropy tables to rebuild.
                plan.chunk_ends = chunk_ends(kind, values, n, target * DENSE_CHUNK_FACTOR, false);
            }
        }
    }
    plan
}

fn chunk_ends(kind: ValueKind, values: ChunkValues<'_>, n: usize, target: usize, dictionary: bool) -> Vec<usize> {
    let per_chunk = match (kind, values) {
        (ValueKind::Bits, _) => MAX_CHUNK_VALUES,
        (ValueKind::Variable, _) if dictionary => MAX_CHUNK_VALUES,
        (ValueKind::Fixed { width, .. }, _) => {
            let rows = (target / (width as usize).max(1)).clamp(1, MAX_CHUNK_VALUES);
            1 << rows.ilog2()
        }
        (ValueKind::Variable, ChunkValues::Variable { offsets, .. }) => {
            let mut ends = Vec::new();
            let mut start = 0;
            for i in 0..n {
                let bytes = offsets[i + 1] - offsets[start];
                if bytes as usize >= target || i + 1 - start >= MAX_CHUNK_VALUES {
                    ends.push(i + 1);
                    start = i + 1;
                }
            }
            if start < n {
                ends.push(n);
            }
            return ends;
        }
        (ValueKind::Variable, _) => MAX_CHUNK_VALUES,
    };
    (1..=n.div_ceil(per_chunk)).map(|c| (c * per_chunk).min(n)).collect()
}

fn build_dictionary(offsets: &[u64], data: &[u8]) -> Option<(Dictionary, Vec<u32>, u8)> {
    let n = offsets.len().saturating_sub(1);
    if n < 64 {
        return None;
    }
    let value = |i: usize| &data[offsets[i] as usize..offsets[i + 1] as usize];
    let stride = (n / DICT_SAMPLE).max(1);
    // Distinct values only grow, so the sample fails as soon as they pass a
    // quarter of it: a page of long, distinct documents stops after hashing
    // a quarter of its sample instead of all of it.
    let most_distinct = n.div_ceil(stride) / 4;
    let mut sample: HashSet<&[u8], FastHash> =
        HashSet::with_capacity_and_hasher(most_distinct + 1, FastHash::default());
    for i in (0..n).step_by(stride) {
        sample.insert(value(i));
        if sample.len() > most_distinct {
            return None;
        }
    }
    let mut ids: HashMap<&[u8], u32, FastHash> = HashMap::with_hasher(FastHash::default());
    let mut dict = Dictionary {
        offsets: vec![0],
        data: Vec::new(),
    };
    let mut indices = Vec::with_capacity(n);
    for i in 0..n {
        let v = value(i);
        let next = ids.len() as u32;
        let id = *ids.entry(v).or_insert_with(|| {
            dict.data.extend_from_slice(v);
            dict.offsets.push(dict.data.len() as u64);
            next
        });
        if ids.len() > DICT_MAX_ENTRIES || dict.data.len() > DICT_MAX_BYTES {
            return None;
        }
        indices.push(id);
    }
    let bits = bitpack::bits_needed(dict.len().saturating_sub(1) as u64);
    Some((dict, indices, bits))
}

/// The plain body of chunk `c` (ending at `ends[c]`), as zstd would see it.
fn plain_body(kind: ValueKind, values: ChunkValues<'_>, ends: &[usize], c: usize) -> Option<Vec<u8>> {
    let start = if c == 0 { 0 } else { ends[c - 1] };
    let mut body = Vec::new();
    match (kind, values) {
        (ValueKind::Fixed { width, .. }, ChunkValues::Fixed(bytes)) => {
            let w = width as usize;
            body.extend_from_slice(&bytes[start * w..ends[c] * w]);
        }
        (_, ChunkValues::Variable { offsets, data }) => {
            encode_variable_plain(&offsets[start..=ends[c]], data, &mut body).ok()?;
        }
        _ => return None,
    }
    Some(body)
}

/// The compressed fraction of sampled chunks at `level` when zstd pays
/// (at most [`ZSTD_MAX_RATIO`]), else `None`.
fn zstd_pays(kind: ValueKind, values: ChunkValues<'_>, ends: &[usize], level: i32) -> Option<f64> {
    let step = (ends.len() / ZSTD_SAMPLE_CHUNKS).max(1);
    let (mut raw, mut packed) = (0usize, 0usize);
    for c in (0..ends.len()).step_by(step).take(ZSTD_SAMPLE_CHUNKS) {
        let body = plain_body(kind, values, ends, c)?;
        raw += body.len();
        packed += crate::encode::zstd_compress(&body, level)
            .map(|c| c.len())
            .unwrap_or(usize::MAX / 8);
    }
    let ratio = packed as f64 / raw.max(1) as f64;
    (raw > 0 && ratio <= ZSTD_MAX_RATIO).then_some(ratio)
}

/// Trains a zstd dictionary on chunks spread over a large page of
/// variable-width values, and keeps it when chunks compressed with it are
/// estimated to save at least [`DICTIONARY_MIN_GAIN`] times its size and
/// [`DICTIONARY_MIN_SAVING_PERCENT`] of the compressed bytes.
/// `ends` are the dictionary page's (smaller) chunks; `plain_ends` the chunks
/// the page has without a dictionary, the alternative it is judged against.
fn train_dictionary(values: ChunkValues<'_>, ends: &[usize], plain_ends: &[usize], level: i32) -> Option<Vec<u8>> {
    let ChunkValues::Variable { offsets, .. } = values else {
        return None;
    };
    let raw = offsets.last()?.checked_sub(*offsets.first()?)? as usize;
    if raw < zdict::MIN_PAGE_BYTES || ends.len() < DICTIONARY_TEST_CHUNKS {
        return None;
    }
    let capacity = zdict::capacity_for(raw);
    let budget = capacity * zdict::SAMPLE_BYTES_PER_DICTIONARY_BYTE;
    let stride = (raw / budget).max(1);
    let (mut samples, mut sizes) = (Vec::with_capacity(budget + raw / ends.len()), Vec::new());
    for c in (stride / 2..ends.len()).step_by(stride) {
        let body = plain_body(ValueKind::Variable, values, ends, c)?;
        sizes.push(body.len());
        samples.extend_from_slice(&body);
        if samples.len() >= budget {
            break;
        }
    }
    let dictionary = zdict::train(&samples, &sizes, capacity, dictionary_level(level))?;
    let encoder = ZstdEncoderDictionary::new(&dictionary, dictionary_level(level)).ok()?;
    // Compressed bytes per raw byte with the dictionary (on its chunks) and
    // without (on the plain chunks), each over up to 16 chunks spread over the page.
    let ratio = |ends: &[usize], compress: &dyn Fn(&[u8]) -> Option<usize>| -> Option<f64> {
        let (mut raw, mut packed) = (0usize, 0usize);
        let step = (ends.len() / DICTIONARY_TEST_CHUNKS).max(1);
        for c in (0..ends.len()).step_by(step).take(DICTIONARY_TEST_CHUNKS) {
            let body = plain_body(ValueKind::Variable, values, ends, c)?;
            raw += body.len();
            packed += compress(&body)?;
        }
        Some(packed as f64 / raw.max(1) as f64)
    };
    let with = ratio(ends, &|body| zdict::compress_with(body, &encoder).ok().map(|c| c.len()))?;
    let without = ratio(plain_ends, &|body| {
        crate::encode::zstd_compress(body, level).ok().map(|c| c.len())
    })?;
    let saved = (without - with) * raw as f64;
    let worth_its_size = saved >= (dictionary.len() * DICTIONARY_MIN_GAIN) as f64;
    let worth_its_time = with * 100.0 <= without * (100 - DICTIONARY_MIN_SAVING_PERCENT) as f64;
    (worth_its_size && worth_its_time).then_some(dictionary)
}

/// Pages with fewer value bytes than this get no symbol table.
const SYMBOLS_MIN_PAGE_BYTES: usize = 64 * 1024;
/// Value bytes sampled to train a symbol table (more barely helps: Zipf
/// words come out 0.3% smaller from a 6× larger sample).
const SYMBOLS_SAMPLE_BYTES: usize = 32 * 1024;
/// Chunks coded both ways to judge a symbol table against zstd.
const SYMBOLS_TEST_CHUNKS: usize = 16;
/// A symbol table is chosen when its chunks are at most this many percent
/// larger than zstd's: it decodes 2.5× faster (Zipf words: 1.5 GB/s
/// against 0.6 GB/s per core, 4% larger pages),
const SYMBOLS_MAX_EXTRA_PERCENT: usize = 10;
/// ... and at most this percentage of the test chunks compressed as one
/// zstd frame. Where that frame is much smaller, neighbouring chunks share
/// long repeats that a page zstd dictionary captures: on documentation text
/// the symbol codes are 1.9–12× that frame, on Zipf words 1.09×.
const SYMBOLS_MAX_JOINT_PERCENT: usize = 130;

/// Trains a symbol table on values spread over a large page and returns it
/// when chunks coded with it come within [`SYMBOLS_MAX_EXTRA_PERCENT`] of
/// their zstd size at `level`, and within [`SYMBOLS_MAX_JOINT_PERCENT`] of
/// those chunks compressed as one frame.
///
/// Training is skipped when the second bound could only be met by a table
/// that beats zstd on the chunks outright, which none measured does (symbol
/// codes over zstd's chunks: Zipf words 1.03–1.04, documentation 1.14–7.6):
/// on documentation text that skips the table's training and trial coding on
/// three pages in five, 8% of encoding the 200 MiB corpus.
fn choose_symbols(values: ChunkValues<'_>, ends: &[usize], level: i32) -> Option<SymbolEncoder> {
    let ChunkValues::Variable { offsets, data } = values else {
        return None;
    };
    let n = offsets.len().checked_sub(1)?;
    let raw = offsets.last()?.checked_sub(*offsets.first()?)? as usize;
    if raw < SYMBOLS_MIN_PAGE_BYTES || n == 0 {
        return None;
    }
    let step = (ends.len() / SYMBOLS_TEST_CHUNKS).max(1);
    let tested: Vec<usize> = (0..ends.len()).step_by(step).take(SYMBOLS_TEST_CHUNKS).collect();
    let (mut with_zstd, mut bodies) = (0usize, Vec::new());
    for &c in &tested {
        let body = plain_body(ValueKind::Variable, values, ends, c)?;
        with_zstd += crate::encode::zstd_compress(&body, level).ok()?.len();
        bodies.extend_from_slice(&body);
    }
    // The test chunks as one frame: redundancy across chunks that a zstd
    // dictionary would capture (documents sharing boilerplate) shows here.
    let joint = crate::encode::zstd_compress(&bodies, level).ok()?.len();
    if joint * SYMBOLS_MAX_JOINT_PERCENT < with_zstd * 100 {
        return None;
    }
    let symbols = symbols_train::train(&symbol_sample(offsets, data, n, raw));
    let mut with_symbols = 0usize;
    for &c in &tested {
        let start = if c == 0 { 0 } else { ends[c - 1] };
        let (code_offsets, codes) = symbols.encode_values(&offsets[start..=ends[c]], data);
        let mut coded = Vec::new();
        encode_variable_plain(&code_offsets, &codes, &mut coded).ok()?;
        with_symbols += coded.len() + 4;
    }
    let close_to_chunks = with_symbols * 100 <= with_zstd * (100 + SYMBOLS_MAX_EXTRA_PERCENT);
    let close_to_joint = with_symbols * 100 <= joint * SYMBOLS_MAX_JOINT_PERCENT;
    (close_to_chunks && close_to_joint).then_some(symbols)
}

/// About [`SYMBOLS_SAMPLE_BYTES`] of values to train a symbol table on: runs
/// of 8 neighbouring values spread evenly over the page.
fn symbol_sample<'a>(offsets: &[u64], data: &'a [u8], n: usize, raw: usize) -> Vec<&'a [u8]> {
    let value = |i: usize| &data[offsets[i] as usize..offsets[i + 1] as usize];
    let runs = (SYMBOLS_SAMPLE_BYTES * n / raw / 8).max(1);
    let stride = (n / runs).max(8);
    let mut sample = Vec::new();
    let mut sampled = 0;
    for start in (0..n).step_by(stride) {
        for i in start..(start + 8).min(n) {
            sample.push(value(i));
            sampled += value(i).len();
        }
        if sampled >= SYMBOLS_SAMPLE_BYTES {
            break;
        }
    }
    sample
}

/// Plans and encodes a whole page of `n` values.
pub fn encode_page(
    kind: ValueKind,
    values: ChunkValues<'_>,
    n: usize,
    validity: &ValidityInput,
    opts: PlanOptions,
) -> Result<EncodedPage> {
    let width = match kind {
        ValueKind::Fixed { width, .. } => width as usize,
        _ => 1,
    };
    if values.len(width) != n && width != 0 {
        return Err(crate::EncodingError::invalid(format!(
            "page holds {} values, expected {n}",
            values.len(width)
        )));
    }
    let plan = plan_page(kind, values, n, opts);
    let zstd_encoder = match (&plan.zstd_dictionary, plan.zstd_level) {
        (Some(dictionary), Some(level)) => Some(ZstdEncoderDictionary::new(dictionary, level)?),
        _ => None,
    };
    let items = match kind {
        ValueKind::Fixed { items, .. } => items as usize,
        _ => 1,
    };
    let mut page = EncodedPage::default();
    let mut start = 0;
    for &end in &plan.chunk_ends {
        let len = end - start;
        let chunk_values = match values {
            ChunkValues::Bits(bits) => ChunkValues::Bits(bits),
            ChunkValues::Fixed(bytes) => ChunkValues::Fixed(&bytes[start * width..end * width]),
            ChunkValues::Variable { offsets, data } => ChunkValues::Variable {
                offsets: &offsets[start..=end],
                data,
            },
        };
        let sliced_bits;
        let chunk_values = match chunk_values {
            ChunkValues::Bits(bits) => {
                sliced_bits = bits.slice(start, len);
                ChunkValues::Bits(&sliced_bits)
            }
            other => other,
        };
        let chunk_validity = ValidityInput {
            rows: validity
                .rows
                .as_ref()
                .map(|b| b.slice(start, len))
                .filter(|b| b.count_set_bits() != len),
            items: validity
                .items
                .as_ref()
                .map(|b| b.slice(start * items, len * items))
                .filter(|b| b.count_set_bits() != len * items),
        };
        let opts = ChunkOptions {
            dictionary_indices: plan.dictionary.as_ref().map(|(_, idx, _)| &idx[start..end]),
            dictionary_bits: plan.dictionary.as_ref().map_or(0, |(_, _, bits)| *bits),
            zstd_level: plan.zstd_level,
            zstd_dictionary: zstd_encoder.as_ref(),
            symbols: plan.symbols.as_ref(),
            preserve_null_slots: opts.preserve_null_slots,
        };
        let before = page.bytes.len();
        encode_chunk(kind, chunk_values, &chunk_validity, opts, &mut page.bytes)?;
        page.chunk_rows.push(len as u32);
        page.chunk_sizes.push((page.bytes.len() - before) as u32);
        start = end;
    }
    page.dictionary = plan.dictionary.map(|(d, _, _)| d);
    page.zstd_dictionary = plan.zstd_dictionary;
    page.symbol_table = plan.symbols.map(|symbols| symbols.table().to_bytes());
    Ok(page)
}
