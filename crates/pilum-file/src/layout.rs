//! The reader's validated view of a file's metadata: where every chunk of
//! every page lies, checked against the file size and the column tree.

use crate::error::{FileError, Result};
use crate::proto;
use crate::views::DictionaryViews;
use arrow_buffer::{BooleanBuffer, Buffer};
use pilum_encoding::{Dictionary, PageDictionaries, SymbolTable, ValueKind, ZstdDictionary};
use std::sync::{Arc, OnceLock};

/// One chunk of a chunked page.
#[derive(Debug, Clone)]
pub(crate) struct ChunkLayout {
    /// Index of the chunk's first value within the column.
    pub first_value: u64,
    /// Values in the chunk.
    pub num_values: u64,
    /// Absolute byte offset.
    pub offset: u64,
    /// Encoded bytes.
    pub size: u64,
    /// For list-length columns: child offset of the chunk's first value.
    pub child_start: u64,
}

/// One page of a column.
#[derive(Debug, Clone)]
pub(crate) struct PageLayout {
    /// Index of the page's first value within the column.
    pub first_value: u64,
    /// Values in the page.
    pub num_values: u64,
    /// Absolute byte offset.
    pub offset: u64,
    /// Bytes of the page.
    pub length: u64,
    /// `true` for flat pages (values back to back, no chunks).
    pub flat: bool,
    /// Chunks of a chunked page.
    pub chunks: Vec<ChunkLayout>,
    /// Page dictionary.
    pub dictionary: Option<Dictionary>,
    /// The dictionary prepared for view reads (`None` inside: too large).
    pub dictionary_views: OnceLock<Option<Arc<DictionaryViews>>>,
    /// Validity of a flat page; `None` when all valid.
    pub flat_validity: Option<BooleanBuffer>,
    /// The zstd dictionary of the page's ZSTD_DICT chunks.
    pub zstd_dictionary: Option<Arc<ZstdDictionary>>,
    /// The symbol table of the page's SYMBOLS chunks.
    pub symbol_table: Option<Arc<SymbolTable>>,
}

impl PageLayout {
    /// The dictionaries a chunk of this page may refer to.
    pub(crate) fn dictionaries(&self) -> PageDictionaries<'_> {
        PageDictionaries {
            values: self.dictionary.as_ref(),
            zstd: self.zstd_dictionary.as_deref(),
            symbols: self.symbol_table.as_ref(),
        }
    }
}

/// One physical column.
#[derive(Debug, Clone)]
pub(crate) struct ColumnLayout {
    pub kind: ValueKind,
    pub num_values: u64,
    pub pages: Vec<PageLayout>,
    /// Bytes of the values before encoding; 0 when unknown (1.0 and 1.1 files).
    pub value_bytes: u64,
}

impl ColumnLayout {
    /// Index of the page holding value `v` (which must be < `num_values`).
    pub(crate) fn page_of(&self, v: u64) -> usize {
        self.pages.partition_point(|p| p.first_value + p.num_values <= v)
    }
}

impl PageLayout {
    /// Index of the chunk holding value `v`.
    pub(crate) fn chunk_of(&self, v: u64) -> usize {
        self.chunks.partition_point(|c| c.first_value + c.num_values <= v)
    }
}

/// Kind of a column as recorded in the metadata.
fn recorded_kind(c: &proto::Column) -> Option<ValueKind> {
    use pilum_encoding::IntegerSign;
    Some(match proto::ColumnKind::try_from(c.kind).ok()? {
        proto::ColumnKind::Bits => ValueKind::Bits,
        proto::ColumnKind::Variable => ValueKind::Variable,
        proto::ColumnKind::Fixed => ValueKind::Fixed {
            width: c.width,
            items: c.items,
            integer: match proto::IntegerSign::try_from(c.integer).ok()? {
                proto::IntegerSign::None => None,
                proto::IntegerSign::Signed => Some(IntegerSign::Signed),
                proto::IntegerSign::Unsigned => Some(IntegerSign::Unsigned),
            },
        },
    })
}

/// Whether a column recorded as `recorded` can be read as the schema's `kind`.
/// Format 1.0 recorded `Decimal128` as a non-integer 16-byte value; such
/// columns hold only plain (or zstd-wrapped plain) chunks, which decode the
/// same either way.
fn kind_matches(recorded: ValueKind, kind: ValueKind) -> bool {
    let legacy_wide = ValueKind::Fixed {
        width: 16,
        items: 1,
        integer: None,
    };
    recorded == kind || (kind.wide_integer() && recorded == legacy_wide)
}

/// Validates the metadata's columns against the expected `kinds` and the data
/// region `[HEADER_LEN, data_end)`, producing the reader's layout.
pub(crate) fn build_layout(
    path: &str,
    columns: &[proto::Column],
    kinds: &[ValueKind],
    lengths: &[usize],
    data_end: u64,
) -> Result<Vec<ColumnLayout>> {
    if columns.len() != kinds.len() {
        return Err(FileError::corrupt(
            &path,
            format!(
                "metadata lists {} columns, schema implies {}",
                columns.len(),
                kinds.len()
            ),
        ));
    }
    columns
        .iter()
        .zip(kinds)
        .enumerate()
        .map(|(i, (c, &kind))| column_layout(path, i, c, kind, lengths.contains(&i), data_end))
        .collect()
}

fn column_layout(
    path: &str,
    index: usize,
    c: &proto::Column,
    kind: ValueKind,
    is_lengths: bool,
    data_end: u64,
) -> Result<ColumnLayout> {
    let corrupt = |what: String| FileError::corrupt(&path, format!("column {index}: {what}"));
    if !recorded_kind(c).is_some_and(|recorded| kind_matches(recorded, kind)) {
        return Err(corrupt(format!("recorded kind does not match the schema's {kind:?}")));
    }
    let width = match kind {
        ValueKind::Fixed { width, .. } => u64::from(width),
        _ => 0,
    };
    let mut pages = Vec::with_capacity(c.pages.len());
    let mut first_value = 0u64;
    for (p, page) in c.pages.iter().enumerate() {
        let corrupt = |what: String| FileError::corrupt(&path, format!("column {index}, page {p}: {what}"));
        let end = page
            .offset
            .checked_add(page.length)
            .ok_or_else(|| corrupt("offset overflow".into()))?;
        if page.offset < crate::footer::HEADER_LEN || end > data_end {
            return Err(corrupt(format!(
                "bytes {}..{end} lie outside the data region",
                page.offset
            )));
        }
        let flat = match proto::PageLayout::try_from(page.layout) {
            Ok(proto::PageLayout::Flat) => true,
            Ok(proto::PageLayout::Chunked) => false,
            Err(_) => return Err(corrupt(format!("unknown page layout {}", page.layout))),
        };
        if is_lengths && (flat || page.chunk_child_starts.len() != page.chunk_values.len()) {
            return Err(corrupt("list-length page lacks its chunk child starts".into()));
        }
        let mut chunks = Vec::with_capacity(page.chunk_values.len());
        if flat {
            if !crate::format::flat_kind(kind) || Some(page.length) != page.num_values.checked_mul(width) {
                return Err(corrupt("flat page length does not match its values".into()));
            }
        } else {
            if page.chunk_values.len() != page.chunk_sizes.len() {
                return Err(corrupt("chunk tables differ in length".into()));
            }
            let starts = &page.chunk_child_starts;
            let (mut value, mut offset) = (first_value, page.offset);
            for (k, (&n, &size)) in page.chunk_values.iter().zip(&page.chunk_sizes).enumerate() {
                if n as usize > pilum_encoding::MAX_CHUNK_VALUES || n == 0 {
                    return Err(corrupt(format!("chunk {k} claims {n} values")));
                }
                let child_start = starts.get(k).copied().unwrap_or(0);
                let chunk = ChunkLayout {
                    first_value: value,
                    num_values: u64::from(n),
                    offset,
                    size: u64::from(size),
                    child_start,
                };
                value += chunk.num_values;
                offset += chunk.size;
                chunks.push(chunk);
            }
            if value - first_value != page.num_values || offset != end {
                return Err(corrupt("chunk table does not add up to the page".into()));
            }
        }
        let dictionary = match page.dictionary_entries {
            0 => None,
            n => Some(
                Dictionary::from_bytes(&page.dictionary, n as usize)
                    .map_err(|e| corrupt(format!("dictionary: {e}")))?,
            ),
        };
        let flat_validity = if page.flat_validity.is_empty() {
            None
        } else {
            let n = usize::try_from(page.num_values).map_err(|_| corrupt("too many values".into()))?;
            if page.flat_validity.len() != n.div_ceil(8) {
                return Err(corrupt("flat validity has the wrong length".into()));
            }
            Some(BooleanBuffer::new(Buffer::from(page.flat_validity.as_slice()), 0, n))
        };
        let symbol_table = match page.symbol_table.as_slice() {
            [] => None,
            bytes => Some(Arc::new(
                SymbolTable::from_bytes(bytes).map_err(|e| corrupt(format!("symbol table: {e}")))?,
            )),
        };
        pages.push(PageLayout {
            first_value,
            num_values: page.num_values,
            offset: page.offset,
            length: page.length,
            flat,
            chunks,
            dictionary,
            dictionary_views: OnceLock::new(),
            flat_validity,
            zstd_dictionary: (!page.zstd_dictionary.is_empty())
                .then(|| Arc::new(ZstdDictionary::new(page.zstd_dictionary.clone()))),
            symbol_table,
        });
        first_value += page.num_values;
    }
    if first_value != c.num_values {
        return Err(corrupt(format!(
            "pages hold {first_value} values, column claims {}",
            c.num_values
        )));
    }
    Ok(ColumnLayout {
        kind,
        num_values: c.num_values,
        pages,
        value_bytes: c.value_bytes,
    })
}
