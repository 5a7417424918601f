//! Buffers one physical column's values and turns them into pages.

use crate::error::Result;
use crate::format::{flat_kind, narrow_flat, read_u64};
use crate::proto;
use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder, NullBuffer};
use pilum_encoding::{ChunkValues, IntegerSign, PlanOptions, ValidityInput, ValueKind, encode_page};

/// An encoded page ready to be written; `offset` is filled in by the writer.
pub(crate) struct PendingPage {
    pub bytes: Vec<u8>,
    pub meta: proto::Page,
}

/// One page's worth of buffered values, moved out of a [`ColumnWriter`] so
/// it can be encoded on another thread.
pub(crate) struct BufferedPage {
    kind: ValueKind,
    n: usize,
    rows: Option<BooleanBuffer>,
    items: Option<BooleanBuffer>,
    fixed: Vec<u8>,
    bits: BooleanBuffer,
    offsets: Vec<u64>,
    data: Vec<u8>,
    /// Lengths columns: child offset of the first value.
    child_start: Option<u64>,
}

impl BufferedPage {
    /// Bytes of the values before encoding (`Column.value_bytes`).
    fn value_bytes(&self) -> u64 {
        match self.kind {
            ValueKind::Bits => self.n.div_ceil(8) as u64,
            ValueKind::Fixed { .. } => self.fixed.len() as u64,
            ValueKind::Variable => match (self.offsets.first(), self.offsets.last()) {
                (Some(first), Some(last)) => last.saturating_sub(*first),
                _ => 0,
            },
        }
    }

    /// Encodes the values as one page; `flat_vectors` as in
    /// [`WriterOptions`](crate::WriterOptions).
    pub(crate) fn encode(self, plan: PlanOptions, flat_vectors: bool) -> Result<PendingPage> {
        let n = self.n;
        let mut meta = proto::Page {
            num_values: n as u64,
            ..Default::default()
        };
        let flat = flat_kind(self.kind) && self.items.is_none() && (flat_vectors || !narrow_flat(self.kind));
        let bytes = if flat {
            meta.layout = proto::PageLayout::Flat as i32;
            if let Some(rows) = &self.rows {
                meta.flat_validity = rows.sliced().as_slice()[..n.div_ceil(8)].to_vec();
                if !n.is_multiple_of(8)
                    && let Some(last) = meta.flat_validity.last_mut()
                {
                    *last &= (1u8 << (n % 8)) - 1;
                }
            }
            self.fixed
        } else {
            let values = match self.kind {
                ValueKind::Bits => ChunkValues::Bits(&self.bits),
                ValueKind::Fixed { .. } => ChunkValues::Fixed(&self.fixed),
                ValueKind::Variable => ChunkValues::Variable {
                    offsets: &self.offsets,
                    data: &self.data,
                },
            };
            let plan = PlanOptions {
                preserve_null_slots: self.child_start.is_some(),
                ..plan
            };
            let validity = ValidityInput {
                rows: self.rows,
                items: self.items,
            };
            let page = encode_page(self.kind, values, n, &validity, plan)?;
            if let Some(dict) = &page.dictionary {
                meta.dictionary = dict.to_bytes()?;
                meta.dictionary_entries = dict.len() as u32;
            }
            if let Some(zstd_dictionary) = page.zstd_dictionary {
                meta.zstd_dictionary = zstd_dictionary;
            }
            if let Some(symbol_table) = page.symbol_table {
                meta.symbol_table = symbol_table;
            }
            if let Some(mut start) = self.child_start {
                let mut value = 0usize;
                for &rows in &page.chunk_rows {
                    meta.chunk_child_starts.push(start);
                    for _ in 0..rows {
                        start += read_u64(&self.fixed, value);
                        value += 1;
                    }
                }
            }
            meta.chunk_values = page.chunk_rows;
            meta.chunk_sizes = page.chunk_sizes;
            page.bytes
        };
        meta.length = bytes.len() as u64;
        Ok(PendingPage { bytes, meta })
    }
}

/// Accumulates values of one physical column between page flushes.
pub(crate) struct ColumnWriter {
    kind: ValueKind,
    fixed: Vec<u8>,
    bits: BooleanBufferBuilder,
    offsets: Vec<u64>,
    data: Vec<u8>,
    validity: BooleanBufferBuilder,
    nulls: usize,
    items: Option<BooleanBufferBuilder>,
    len: usize,
    /// Lengths columns: child offset of the first buffered value.
    child_offset: Option<u64>,
    num_values: u64,
    /// Bytes of the values taken out as pages so far, before encoding.
    value_bytes: u64,
    pub(crate) pages: Vec<proto::Page>,
}

impl ColumnWriter {
    /// The physical kind of the column's values.
    pub(crate) fn kind(&self) -> ValueKind {
        self.kind
    }

    pub(crate) fn new(kind: ValueKind, is_lengths: bool) -> Self {
        Self {
            kind,
            fixed: Vec::new(),
            bits: BooleanBufferBuilder::new(0),
            offsets: vec![0],
            data: Vec::new(),
            validity: BooleanBufferBuilder::new(0),
            nulls: 0,
            items: None,
            len: 0,
            child_offset: is_lengths.then_some(0),
            num_values: 0,
            value_bytes: 0,
            pages: Vec::new(),
        }
    }

    fn push_validity(&mut self, n: usize, nulls: Option<&NullBuffer>) {
        match nulls {
            Some(nb) => {
                self.validity.append_buffer(nb.inner());
                self.nulls += nb.null_count();
            }
            None => self.validity.append_n(n, true),
        }
        self.len += n;
    }

    /// Appends `bytes.len() / width` fixed-width values.
    pub(crate) fn push_fixed(
        &mut self,
        bytes: &[u8],
        n: usize,
        nulls: Option<&NullBuffer>,
        items: Option<&NullBuffer>,
    ) {
        let per = self.items_per_value();
        if let Some(item_nulls) = items.filter(|nb| nb.null_count() > 0) {
            let builder = self.items.get_or_insert_with(|| {
                let mut b = BooleanBufferBuilder::new(0);
                b.append_n(self.len * per, true);
                b
            });
            builder.append_buffer(item_nulls.inner());
        } else if let Some(builder) = self.items.as_mut() {
            builder.append_n(n * per, true);
        }
        self.fixed.extend_from_slice(bytes);
        self.push_validity(n, nulls);
    }

    /// Appends boolean values.
    pub(crate) fn push_bits(&mut self, values: &BooleanBuffer, nulls: Option<&NullBuffer>) {
        self.bits.append_buffer(values);
        self.push_validity(values.len(), nulls);
    }

    /// Appends variable-width values given by `offsets` into `data`.
    pub(crate) fn push_variable<O: Copy + Into<i64>>(
        &mut self,
        offsets: &[O],
        data: &[u8],
        nulls: Option<&NullBuffer>,
    ) {
        let (Some(&first), Some(&last)) = (offsets.first(), offsets.last()) else {
            return;
        };
        let (first, last) = (first.into() as usize, last.into() as usize);
        let base = self.data.len() as i64 - first as i64;
        self.data.extend_from_slice(&data[first..last]);
        self.offsets
            .extend(offsets[1..].iter().map(|&o| (o.into() + base) as u64));
        self.push_validity(offsets.len() - 1, nulls);
    }

    fn items_per_value(&self) -> usize {
        match self.kind {
            ValueKind::Fixed { items, .. } => items as usize,
            _ => 1,
        }
    }

    /// Bytes currently buffered.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.fixed.len() + self.data.len() + self.offsets.len() * 8 + self.bits.len() / 8 + self.len / 8
    }

    /// Moves the buffered values out as one page to encode, or `None` when
    /// nothing is buffered.
    pub(crate) fn take_page(&mut self) -> Option<BufferedPage> {
        if self.len == 0 {
            return None;
        }
        let n = self.len;
        let validity = std::mem::replace(&mut self.validity, BooleanBufferBuilder::new(0)).finish();
        let child_start = self.child_offset;
        if let Some(start) = self.child_offset.as_mut() {
            *start += (0..n).map(|i| read_u64(&self.fixed, i)).sum::<u64>();
        }
        let page = BufferedPage {
            kind: self.kind,
            n,
            rows: (self.nulls > 0).then_some(validity),
            items: self.items.take().map(|mut b| b.finish()),
            fixed: std::mem::take(&mut self.fixed),
            bits: self.bits.finish(),
            offsets: std::mem::replace(&mut self.offsets, vec![0]),
            data: std::mem::take(&mut self.data),
            child_start,
        };
        self.num_values += n as u64;
        self.value_bytes += page.value_bytes();
        self.len = 0;
        self.nulls = 0;
        Some(page)
    }

    /// The column's metadata once every page has been written.
    pub(crate) fn into_metadata(self) -> proto::Column {
        let (kind, width, items, integer) = match self.kind {
            ValueKind::Bits => (proto::ColumnKind::Bits, 0, 0, None),
            ValueKind::Variable => (proto::ColumnKind::Variable, 0, 0, None),
            ValueKind::Fixed { width, items, integer } => (proto::ColumnKind::Fixed, width, items, integer),
        };
        let integer = match integer {
            None => proto::IntegerSign::None,
            Some(IntegerSign::Signed) => proto::IntegerSign::Signed,
            Some(IntegerSign::Unsigned) => proto::IntegerSign::Unsigned,
        };
        proto::Column {
            kind: kind as i32,
            width,
            items,
            integer: integer as i32,
            num_values: self.num_values,
            pages: self.pages,
            value_bytes: self.value_bytes,
        }
    }
}
