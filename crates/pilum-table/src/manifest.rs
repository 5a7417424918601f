//! A version's manifest: its in-memory form and its framed bytes.
//!
//! Framing (see `format-spec/table.md`): magic `PLMF`, u16 major, u16 minor,
//! u32 compression (0 none, 1 zstd), u32 uncompressed length, the payload,
//! then the CRC32 of the payload as stored. All integers little-endian.

use crate::error::{Result, TableError};
use crate::fragment_list::FragmentList;
use crate::proto;
use crate::schema::TableSchema;
use bytes::Bytes;
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;

/// Magic bytes opening every manifest.
pub const MANIFEST_MAGIC: [u8; 4] = *b"PLMF";
/// Manifest format major version; a reader refuses other majors.
pub const MANIFEST_MAJOR: u16 = 1;
/// Manifest format minor version.
pub const MANIFEST_MINOR: u16 = 4;
const HEADER_LEN: usize = 16;
const COMPRESSION_NONE: u32 = 0;
const COMPRESSION_ZSTD: u32 = 1;
/// Payloads larger than this are zstd-compressed.
const COMPRESS_ABOVE: usize = 4096;
/// A payload may not claim to decompress to more than this many bytes.
const MAX_PAYLOAD: u32 = 1 << 30;

/// Reader feature: fragments may carry deletion files.
pub const FEATURE_DELETION_FILES: u64 = 1;
/// Reader feature: fragments carry stable row id sequences.
pub const FEATURE_STABLE_ROW_IDS: u64 = 2;
/// Writer feature: the manifest has an index section that writers must
/// carry forward (a writer unaware of it would silently drop the indices).
pub const FEATURE_INDICES: u64 = 4;
/// Reader and writer feature: files may live under other roots
/// (`base_paths`, shallow clones); a reader unaware of them would look for
/// them under the dataset's own root.
pub const FEATURE_BASE_PATHS: u64 = 8;
/// Reader and writer feature: the fragment list is kept in fragment pages
/// (`fragment_pages`); a reader unaware of them would see no fragment.
pub const FEATURE_FRAGMENT_PAGES: u64 = 16;
/// Every reader feature bit this library understands.
pub const KNOWN_FEATURES: u64 =
    FEATURE_DELETION_FILES | FEATURE_STABLE_ROW_IDS | FEATURE_BASE_PATHS | FEATURE_FRAGMENT_PAGES;
/// The reader features every manifest sets.
const ALWAYS_SET: u64 = FEATURE_DELETION_FILES | FEATURE_STABLE_ROW_IDS;
/// Every writer feature bit this library understands.
pub const KNOWN_WRITER_FEATURES: u64 = KNOWN_FEATURES | FEATURE_INDICES;

/// One version of a dataset.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Version number (≥ 1).
    pub version: u64,
    /// Commit time in microseconds since the Unix epoch (UTC).
    pub timestamp_micros: i64,
    /// Writer library and version.
    pub writer_version: String,
    /// Features a writer must understand to commit on top of this version.
    pub writer_features: u64,
    /// The schema.
    pub schema: TableSchema,
    /// Live fragments, in row order (inline, or in pages read on demand).
    pub(crate) fragments: FragmentList,
    /// Highest fragment id ever issued.
    pub max_fragment_id: u64,
    /// Next stable row id to issue.
    pub next_row_id: u64,
    /// Highest field id ever issued.
    pub max_field_id: i32,
    /// Table configuration.
    pub config: HashMap<String, String>,
    /// Table metadata.
    pub metadata: HashMap<String, String>,
    /// The transaction that produced this version.
    pub(crate) transaction: proto::Transaction,
    /// Index segments of this version.
    pub indices: Arc<Vec<crate::index::IndexSegment>>,
    /// Other roots this version's files may live under (shallow clones).
    pub(crate) base_paths: Arc<Vec<proto::BasePath>>,
}

impl Manifest {
    /// Rows including deleted ones.
    pub fn physical_rows(&self) -> u64 {
        self.fragments.physical_rows()
    }

    /// Live rows (deleted rows excluded), from metadata alone.
    pub fn live_rows(&self) -> u64 {
        self.fragments
            .physical_rows()
            .saturating_sub(self.fragments.deleted_rows())
    }

    /// Number of live fragments.
    pub fn fragment_count(&self) -> usize {
        self.fragments.len()
    }

    /// The pages of the fragment list; empty when the manifest lists its
    /// fragments itself (at most one page's worth).
    pub fn fragment_pages(&self) -> Vec<crate::FragmentPageInfo> {
        self.fragments
            .pages()
            .map(|pages| pages.iter().map(crate::FragmentPageInfo::of).collect())
            .unwrap_or_default()
    }

    /// This manifest without fragments loaded from its pages.
    pub(crate) fn unloaded(&self) -> Self {
        Self {
            fragments: self.fragments.unloaded(),
            ..self.clone()
        }
    }

    /// The operation that produced this version.
    pub fn operation(&self) -> crate::operation::Operation {
        crate::operation::Operation::of(self.transaction.operation())
    }

    /// The reader features this version needs.
    pub fn reader_features(&self) -> u64 {
        let mut features = ALWAYS_SET;
        if !self.base_paths.is_empty() {
            features |= FEATURE_BASE_PATHS;
        }
        if self.fragments.pages().is_some() {
            features |= FEATURE_FRAGMENT_PAGES;
        }
        features
    }

    /// Serializes into the framed form.
    pub fn to_bytes(&self) -> Bytes {
        let message = proto::Manifest {
            version: self.version,
            timestamp_micros: self.timestamp_micros,
            writer_version: self.writer_version.clone(),
            reader_features: self.reader_features(),
            writer_features: self.writer_features,
            schema: Some(proto::Schema {
                arrow_schema: pilum_file::schema_to_bytes(self.schema.arrow()),
                field_ids: self.schema.field_ids().to_vec(),
            }),
            fragments: match &self.fragments {
                FragmentList::Inline(fragments) => fragments.as_ref().clone(),
                FragmentList::Paged { .. } => Vec::new(),
            },
            fragment_pages: self
                .fragments
                .pages()
                .map(|pages| pages.as_ref().clone())
                .unwrap_or_default(),
            max_fragment_id: self.max_fragment_id,
            next_row_id: self.next_row_id,
            max_field_id: self.max_field_id,
            config: self.config.clone(),
            metadata: self.metadata.clone(),
            transaction: Some(self.transaction.clone()),
            indices: self.indices.iter().map(|s| s.to_message()).collect(),
            base_paths: self.base_paths.as_ref().clone(),
        };
        frame(&message.encode_to_vec())
    }

    /// Parses framed bytes read from `path`.
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Self> {
        let payload = unframe(bytes, path)?;
        let message = proto::Manifest::decode(payload.as_slice())
            .map_err(|e| TableError::corrupt(path, format!("manifest does not decode: {e}")))?;
        // Readers check reader features; writers check writer features at commit.
        let unknown = message.reader_features & !KNOWN_FEATURES;
        if unknown != 0 {
            return Err(TableError::UnsupportedFeatures {
                version: message.version,
                kind: "reader",
                flags: unknown,
            });
        }
        let schema = message
            .schema
            .ok_or_else(|| TableError::corrupt(path, "manifest has no schema"))?;
        let arrow = pilum_file::parse_schema(&schema.arrow_schema, path)?;
        let schema = TableSchema::from_parts(Arc::new(arrow), schema.field_ids)?;
        let fragments = if message.fragment_pages.is_empty() {
            validate_fragments(&message.fragments, path)?;
            FragmentList::inline(message.fragments)
        } else {
            if !message.fragments.is_empty() {
                return Err(TableError::corrupt(
                    path,
                    "manifest has both inline fragments and fragment pages",
                ));
            }
            crate::fragment_pages::validate_pages(&message.fragment_pages, path)?;
            FragmentList::paged(message.fragment_pages, None)
        };
        Ok(Self {
            version: message.version,
            timestamp_micros: message.timestamp_micros,
            writer_version: message.writer_version,
            writer_features: message.writer_features,
            schema,
            fragments,
            max_fragment_id: message.max_fragment_id,
            next_row_id: message.next_row_id,
            max_field_id: message.max_field_id,
            config: message.config,
            metadata: message.metadata,
            transaction: message.transaction.unwrap_or_default(),
            indices: Arc::new(crate::index::decode_section(message.indices, path)?),
            base_paths: Arc::new(validate_bases(message.base_paths, path)?),
        })
    }
}

/// Checks base paths: ids are unique and not 0.
fn validate_bases(bases: Vec<proto::BasePath>, path: &str) -> Result<Vec<proto::BasePath>> {
    let mut seen = std::collections::HashSet::new();
    for base in &bases {
        if base.id == 0 || !seen.insert(base.id) {
            return Err(TableError::corrupt(
                path,
                format!("base path id {} is 0 or repeated", base.id),
            ));
        }
    }
    Ok(bases)
}

/// Live rows of one fragment.
pub(crate) fn fragment_live_rows(fragment: &proto::Fragment) -> u64 {
    let deleted = fragment.deletion.as_ref().map_or(0, |d| d.num_deleted);
    fragment.physical_rows.saturating_sub(deleted)
}

/// Checks what later code relies on: ids fit in 32 bits, row id runs cover
/// exactly the physical rows, deletion counts fit.
pub(crate) fn validate_fragments(fragments: &[proto::Fragment], path: &str) -> Result<()> {
    for fragment in fragments {
        let bad = |what: String| TableError::corrupt(path, format!("fragment {}: {what}", fragment.id));
        if fragment.id > u64::from(u32::MAX) {
            return Err(bad("id does not fit in 32 bits".into()));
        }
        if fragment.physical_rows > u64::from(u32::MAX) {
            return Err(bad("more than 2^32 rows".into()));
        }
        let ids = fragment.row_ids.as_ref().ok_or_else(|| bad("no row ids".into()))?;
        if ids.starts.len() != ids.lengths.len() {
            return Err(bad("row id runs are malformed".into()));
        }
        let covered = ids.lengths.iter().try_fold(0u64, |acc, &n| acc.checked_add(n));
        if covered != Some(fragment.physical_rows) {
            return Err(bad("row ids do not cover the rows".into()));
        }
        if ids
            .starts
            .iter()
            .zip(&ids.lengths)
            .any(|(s, n)| s.checked_add(*n).is_none())
        {
            return Err(bad("row id run overflows".into()));
        }
        if let Some(deletion) = &fragment.deletion
            && deletion.num_deleted > fragment.physical_rows
        {
            return Err(bad("more deleted rows than rows".into()));
        }
    }
    Ok(())
}

/// Wraps a payload in the manifest framing.
pub fn frame(payload: &[u8]) -> Bytes {
    frame_with(MANIFEST_MAGIC, payload)
}

/// Checks the manifest framing and returns the decompressed payload.
pub fn unframe(bytes: &[u8], path: &str) -> Result<Vec<u8>> {
    unframe_with(MANIFEST_MAGIC, "manifest", bytes, path)
}

/// Wraps a payload in the framing manifests and fragment pages share,
/// opened by `magic`.
pub(crate) fn frame_with(magic: [u8; 4], payload: &[u8]) -> Bytes {
    let (compression, body) = if payload.len() > COMPRESS_ABOVE {
        match zstd::bulk::compress(payload, 3) {
            Ok(compressed) if compressed.len() < payload.len() => (COMPRESSION_ZSTD, compressed),
            _ => (COMPRESSION_NONE, payload.to_vec()),
        }
    } else {
        (COMPRESSION_NONE, payload.to_vec())
    };
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + 4);
    out.extend_from_slice(&magic);
    out.extend_from_slice(&MANIFEST_MAJOR.to_le_bytes());
    out.extend_from_slice(&MANIFEST_MINOR.to_le_bytes());
    out.extend_from_slice(&compression.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    Bytes::from(out)
}

/// Checks the framing opened by `magic` (an object of `kind`) and returns
/// the decompressed payload.
pub(crate) fn unframe_with(magic: [u8; 4], kind: &str, bytes: &[u8], path: &str) -> Result<Vec<u8>> {
    let corrupt = |what: &str| TableError::corrupt(path, what);
    if bytes.len() < HEADER_LEN + 4 || bytes[..4] != magic {
        return Err(corrupt(&format!("not a Pilum {kind}")));
    }
    // Lengths were checked above, so the cursor reads cannot run short.
    let truncated = |_| corrupt("truncated header");
    let mut header = pilum_core::ByteCursor::new(&bytes[4..HEADER_LEN]);
    let (major, minor) = (header.u16().map_err(truncated)?, header.u16().map_err(truncated)?);
    if major != MANIFEST_MAJOR {
        return Err(TableError::corrupt(
            path,
            format!("unsupported manifest format {major}.{minor} (this reader supports {MANIFEST_MAJOR}.x)"),
        ));
    }
    let (compression, raw_len) = (header.u32().map_err(truncated)?, header.u32().map_err(truncated)?);
    let (body, crc) = bytes[HEADER_LEN..].split_at(bytes.len() - HEADER_LEN - 4);
    let stored_crc = pilum_core::ByteCursor::new(crc).u32().map_err(truncated)?;
    if crc32fast::hash(body) != stored_crc {
        return Err(corrupt("checksum mismatch"));
    }
    if raw_len > MAX_PAYLOAD {
        return Err(corrupt("payload too large"));
    }
    let payload = match compression {
        COMPRESSION_NONE => body.to_vec(),
        COMPRESSION_ZSTD => zstd::bulk::decompress(body, raw_len as usize).map_err(|_| corrupt("zstd payload"))?,
        _ => return Err(corrupt("unknown compression")),
    };
    if payload.len() != raw_len as usize {
        return Err(corrupt("payload length mismatch"));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Manifest {
        let schema = arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "id",
            arrow_schema::DataType::Int64,
            false,
        )]);
        let fragment = proto::Fragment {
            id: 1,
            files: vec![proto::DataFile {
                path: "data/a.pilum".into(),
                field_ids: vec![0],
                size: 100,
                format_major: 1,
                format_minor: 0,
                statistics: Vec::new(),
                base_id: 0,
            }],
            physical_rows: 10,
            deletion: Some(proto::DeletionFile {
                path: "_deletions/1-1-x.bin".into(),
                num_deleted: 2,
                size: 20,
                base_id: 0,
            }),
            row_ids: Some(crate::rowids::fresh(0, 10)),
        };
        Manifest {
            version: 3,
            timestamp_micros: 1,
            writer_version: "pilum test".into(),
            writer_features: KNOWN_FEATURES,
            schema: TableSchema::assign(Arc::new(schema), 0),
            fragments: FragmentList::inline(vec![fragment]),
            max_fragment_id: 1,
            next_row_id: 10,
            max_field_id: 0,
            config: HashMap::new(),
            metadata: HashMap::new(),
            transaction: proto::Transaction::default(),
            indices: Arc::default(),
            base_paths: Arc::default(),
        }
    }

    #[test]
    fn manifests_round_trip_and_damage_never_panics() {
        let bytes = sample().to_bytes();
        let back = Manifest::from_bytes(&bytes, "m").unwrap();
        assert_eq!((back.version, back.live_rows()), (3, 8));
        for cut in 0..bytes.len() {
            assert!(Manifest::from_bytes(&bytes[..cut], "m").is_err());
        }
        for at in 0..bytes.len() {
            let mut flipped = bytes.to_vec();
            flipped[at] ^= 0x40;
            let result = Manifest::from_bytes(&flipped, "m");
            // Bytes 6..8 are the minor version: any minor of major 1 reads.
            assert_eq!(result.is_ok(), (6..8).contains(&at), "flip at {at}");
        }
    }

    #[test]
    fn unknown_reader_features_are_refused() {
        let mut message = proto::Manifest::decode(unframe(&sample().to_bytes(), "m").unwrap().as_slice()).unwrap();
        message.reader_features |= 1 << 40;
        let framed = frame(&message.encode_to_vec());
        assert!(matches!(
            Manifest::from_bytes(&framed, "m"),
            Err(TableError::UnsupportedFeatures { kind: "reader", .. })
        ));
    }

    proptest! {
        /// Validly framed garbage and mutated real payloads give errors, not panics.
        #[test]
        fn framed_garbage_does_not_panic(noise in proptest::collection::vec(any::<u8>(), 0..600), at in any::<usize>(), byte in any::<u8>()) {
            let _ = Manifest::from_bytes(&frame(&noise), "m");
            let mut payload = unframe(&sample().to_bytes(), "m").unwrap();
            let index = at % payload.len();
            payload[index] = byte;
            let _ = Manifest::from_bytes(&frame(&payload), "m");
        }
    }

    #[test]
    fn framing_round_trips_and_rejects_damage() {
        for payload in [vec![7u8; 10], vec![3u8; 100_000]] {
            let framed = frame(&payload);
            assert_eq!(unframe(&framed, "m").unwrap(), payload);
            for cut in [0, 5, framed.len() - 1] {
                assert!(unframe(&framed[..cut], "m").is_err());
            }
            let mut flipped = framed.to_vec();
            flipped[HEADER_LEN] ^= 1;
            assert!(unframe(&flipped, "m").is_err());
        }
    }
}
