//! Indices beside the data: the manifest's index section, index files under
//! `_indices/{uuid}/`, building, coverage bookkeeping at commit, and the
//! cache of loaded segments. The byte layout is in `format-spec/index.md`.

mod build;
mod build_memory;
mod build_stream;
mod coverage;
mod distributed;
mod files;
mod loaded;
mod manage;
mod optimize;
mod partition_cache;
mod read;
mod scalar_build;
mod scalar_collect;
mod scalar_files;
mod scalar_floats;
mod scalar_loaded;
mod scalar_optimize;
mod scalar_params;
mod scalar_query;
mod segment;
mod segment_info;
mod spill;
mod text_build;
mod text_files;
mod text_loaded;
mod text_optimize;
mod text_params;
mod text_rows;

pub use build::{IndexType, VectorIndexParams};
pub(crate) use coverage::carry_forward;
pub(crate) use loaded::{SegmentCache, metric_of};
pub use manage::{IndexDescription, IndexStatistics};
pub use optimize::OptimizeIndexOptions;
pub use partition_cache::DEFAULT_INDEX_CACHE_BYTES;
pub(crate) use scalar_floats::{compares_with_zero, is_float, widen_for_floats};
pub(crate) use scalar_loaded::ScalarCache;
pub use scalar_params::{DEFAULT_ZONE_ROWS, ScalarIndexParams, ScalarIndexType};
pub(crate) use scalar_query::{CmpOp, LeafTest, SegmentRows, range_mask};
pub use segment_info::{IndexFileInfo, TextSegmentInfo, VectorSegmentInfo};
pub(crate) use text_loaded::{LoadedText, file_error};
pub use text_params::TextIndexParams;
pub(crate) use text_rows::{TERM_CACHE_ENTRIES, analyze_row};

use crate::error::{Result, TableError};
use crate::proto;
use roaring::RoaringBitmap;

/// Directory of index files, relative to the dataset root.
pub const INDICES_DIR: &str = "_indices";
/// Highest format version of the vector kinds this library reads. It
/// writes version 1, or 2 for what version 1 cannot express (a matryoshka
/// prefix or a multivector column), 3 for 4-bit PQ codes or IVF_HNSW_SQ,
/// or 5 for the hamming metric, so older readers skip those segments (and
/// search their fragments exactly) instead of misreading them. Version 4
/// hamming segments (binary codes stored as f32) still read.
pub const VECTOR_INDEX_VERSION: u32 = 5;
/// The index version from which hamming segments store binary codes as
/// bytes (a `code` column) rather than f32 values (a `vector` column).
pub(crate) const BINARY_BYTES_VERSION: u32 = 5;
/// Highest format version of INVERTED segments this library reads. It
/// writes version 2 for JSON columns (terms also indexed under their
/// paths), else 1, so older readers skip exactly the segments they would
/// misread.
pub const TEXT_INDEX_VERSION: u32 = 2;
/// Highest format version of scalar segments (BTREE, BITMAP, LABEL_LIST,
/// NGRAM, ZONEMAP) this library reads.
pub const SCALAR_INDEX_VERSION: u32 = 1;

/// One segment of an index, as a manifest holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSegment {
    /// The stored message.
    pub(crate) message: proto::IndexSegment,
    /// Covered fragment ids (decoded `fragment_bitmap`).
    pub fragments: RoaringBitmap,
}

impl IndexSegment {
    /// Decodes and validates a stored segment read from `path`.
    pub(crate) fn from_message(message: proto::IndexSegment, path: &str) -> Result<Self> {
        let corrupt = |what: String| TableError::corrupt(path, format!("index segment {:?}: {what}", message.name));
        if message.uuid.len() != 32 || !message.uuid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(corrupt(format!("uuid {:?} is not 32 hex digits", message.uuid)));
        }
        validate_name(&message.name).map_err(|_| corrupt("invalid name".into()))?;
        let fragments = RoaringBitmap::deserialize_from(message.fragment_bitmap.as_slice())
            .map_err(|e| corrupt(format!("fragment bitmap does not decode: {e}")))?;
        Ok(Self { message, fragments })
    }

    /// The message with the bitmap re-encoded, with run containers where
    /// smaller (coverage of consecutive fragment ids then takes a few bytes
    /// per 65,536 fragments, so a manifest stays small at a million).
    pub(crate) fn to_message(&self) -> proto::IndexSegment {
        let mut message = self.message.clone();
        let mut fragments = self.fragments.clone();
        fragments.optimize();
        let mut bytes = Vec::with_capacity(fragments.serialized_size());
        // Writing into a Vec cannot fail.
        let _ = fragments.serialize_into(&mut bytes);
        message.fragment_bitmap = bytes;
        message
    }

    /// The logical index's name.
    pub fn name(&self) -> &str {
        &self.message.name
    }

    /// The segment's uuid.
    pub fn uuid(&self) -> &str {
        &self.message.uuid
    }

    /// The indexed top-level field id.
    pub fn field_id(&self) -> Option<i32> {
        self.message.field_ids.first().copied()
    }

    /// Vector details, for vector kinds.
    pub(crate) fn vector(&self) -> Option<&proto::VectorIndexDetails> {
        match &self.message.details {
            Some(proto::index_segment::Details::Vector(v)) => Some(v),
            _ => None,
        }
    }

    /// Text details, for INVERTED.
    pub(crate) fn text(&self) -> Option<&proto::TextIndexDetails> {
        match &self.message.details {
            Some(proto::index_segment::Details::Text(t)) => Some(t),
            _ => None,
        }
    }

    /// Scalar details, for the scalar kinds.
    pub(crate) fn scalar(&self) -> Option<&proto::ScalarIndexDetails> {
        match &self.message.details {
            Some(proto::index_segment::Details::Scalar(d)) => Some(d),
            _ => None,
        }
    }

    /// The scalar kind of a readable scalar segment (`None` otherwise).
    pub fn scalar_type(&self) -> Option<ScalarIndexType> {
        ScalarIndexType::of_kind(self.message.kind())
            .filter(|_| self.message.index_version <= SCALAR_INDEX_VERSION && self.scalar().is_some())
    }

    /// Whether this is a readable inverted (full-text) index segment.
    pub fn is_text(&self) -> bool {
        self.message.kind() == proto::IndexKind::Inverted
            && self.message.index_version <= TEXT_INDEX_VERSION
            && self.text().is_some()
    }

    /// The metric of a vector index (None for other kinds, or an unknown metric).
    pub fn metric(&self) -> Option<pilum_index::Metric> {
        self.vector().and_then(|d| metric_of(d).ok())
    }

    /// Values per indexed vector: the column's, or the prefix a matryoshka
    /// index covers.
    pub fn index_dim(&self) -> usize {
        self.vector().map_or(0, |d| d.dimension as usize)
    }

    /// Whether the index covers only a prefix of each vector (its distances
    /// then always get an exact re-rank on the whole vector).
    pub fn is_prefix(&self) -> bool {
        self.vector()
            .is_some_and(|d| d.column_dimension != 0 && d.column_dimension != d.dimension)
    }

    /// Whether the index is over a multivector column (one entry per
    /// vector of a row's bag).
    pub fn is_multivector(&self) -> bool {
        self.vector().is_some_and(|d| d.multivector)
    }

    /// Whether this library can read the segment as a vector index (known
    /// vector kind and version).
    pub fn is_readable(&self) -> bool {
        matches!(
            self.message.kind(),
            proto::IndexKind::IvfFlat | proto::IndexKind::IvfPq | proto::IndexKind::IvfSq | proto::IndexKind::IvfHnswSq
        ) && self.message.index_version <= VECTOR_INDEX_VERSION
            && self.vector().is_some()
    }

    /// The kind as pylance names it (`IVF_PQ`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self.message.kind() {
            proto::IndexKind::IvfFlat => "IVF_FLAT",
            proto::IndexKind::IvfPq => "IVF_PQ",
            proto::IndexKind::IvfSq => "IVF_SQ",
            proto::IndexKind::IvfHnswSq => "IVF_HNSW_SQ",
            proto::IndexKind::Inverted => "INVERTED",
            proto::IndexKind::Btree => "BTREE",
            proto::IndexKind::Bitmap => "BITMAP",
            proto::IndexKind::LabelList => "LABEL_LIST",
            proto::IndexKind::Ngram => "NGRAM",
            proto::IndexKind::Zonemap => "ZONEMAP",
            proto::IndexKind::Unspecified => "UNKNOWN",
        }
    }

    /// The path of the file with `role`, if the segment lists one.
    pub(crate) fn file(&self, role: &str) -> Option<&proto::IndexFile> {
        self.message.files.iter().find(|f| f.role == role)
    }
}

/// Checks an index name: 1–256 bytes, no `/`, no control characters.
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 256 || name.contains('/') || name.chars().any(char::is_control) {
        return Err(TableError::InvalidArgument(format!(
            "index name {name:?} must be 1 to 256 bytes without '/' or control characters"
        )));
    }
    Ok(())
}

/// Decodes a manifest's index section, checking that segments of one name
/// index the same field and cover disjoint fragments.
pub(crate) fn decode_section(messages: Vec<proto::IndexSegment>, path: &str) -> Result<Vec<IndexSegment>> {
    let segments = messages
        .into_iter()
        .map(|m| IndexSegment::from_message(m, path))
        .collect::<Result<Vec<_>>>()?;
    for (i, a) in segments.iter().enumerate() {
        for b in &segments[i + 1..] {
            if a.uuid() == b.uuid() {
                return Err(TableError::corrupt(
                    path,
                    format!("index segment {} appears twice", a.uuid()),
                ));
            }
            if a.name() == b.name() && !a.fragments.is_disjoint(&b.fragments) {
                return Err(TableError::corrupt(
                    path,
                    format!("segments of index {:?} cover the same fragment", a.name()),
                ));
            }
        }
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_of_consecutive_fragments_is_stored_as_runs() {
        let segment = IndexSegment {
            message: proto::IndexSegment {
                uuid: "0".repeat(32),
                name: "idx".into(),
                ..Default::default()
            },
            fragments: (1..=1_000_000u32).collect(),
        };
        let message = segment.to_message();
        assert!(
            message.fragment_bitmap.len() < 512,
            "{} bytes",
            message.fragment_bitmap.len()
        );
        let back = IndexSegment::from_message(message, "m").unwrap();
        assert_eq!(back.fragments, segment.fragments);
    }
}
