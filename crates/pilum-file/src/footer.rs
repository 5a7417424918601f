//! The fixed header and footer of a Pilum file.

use crate::error::{FileError, Result};
use pilum_core::ByteCursor;

/// Magic bytes at the start and at the very end of every file.
pub const MAGIC: [u8; 4] = *b"PILM";
/// Format major version this library writes and reads.
pub const MAJOR_VERSION: u16 = 1;
/// Format minor version this library writes (1.1 added [`FEATURE_WIDE_FOR`],
/// 1.2 [`FEATURE_ZSTD_DICTIONARY`] and [`FEATURE_SYMBOL_TABLE`], 1.3
/// [`FEATURE_NARROW_FLAT`]).
pub const MINOR_VERSION: u16 = 3;
/// Bytes of the header: magic, major, minor.
pub const HEADER_LEN: u64 = 8;
/// Bytes of the footer.
pub const FOOTER_LEN: u64 = 32;
/// Feature bit (format 1.1): 16-byte signed integer columns (`Decimal128`)
/// are recorded as integers and their chunks may use frame-of-reference
/// encoding with a 16-byte reference.
pub const FEATURE_WIDE_FOR: u32 = 0x1;
/// Feature bit (format 1.2): some pages carry a zstd dictionary and their
/// chunks may be zstd frames compressed with it (encoding tag 5).
pub const FEATURE_ZSTD_DICTIONARY: u32 = 0x2;
/// Feature bit (format 1.2): some pages carry a symbol table and their
/// chunks may hold variable-width values as its codes (encoding tag 6).
pub const FEATURE_SYMBOL_TABLE: u32 = 0x4;
/// Feature bit (format 1.3): some FLAT pages hold flattened fixed-size lists
/// narrower than [`FLAT_MIN_WIDTH`](crate::FLAT_MIN_WIDTH) bytes per value
/// (e.g. 32-d f32 or 128-d u8 vectors), which earlier readers reject.
pub const FEATURE_NARROW_FLAT: u32 = 0x8;
/// Feature bits this reader understands.
pub const KNOWN_FEATURES: u32 = FEATURE_WIDE_FOR | FEATURE_ZSTD_DICTIONARY | FEATURE_SYMBOL_TABLE | FEATURE_NARROW_FLAT;

/// The header bytes at offset 0: magic, then major and minor version (u16 LE each).
pub const HEADER: [u8; HEADER_LEN as usize] = {
    let major = MAJOR_VERSION.to_le_bytes();
    let minor = MINOR_VERSION.to_le_bytes();
    [
        MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], major[0], major[1], minor[0], minor[1],
    ]
};

/// The decoded footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// Absolute offset of the metadata block.
    pub metadata_offset: u64,
    /// Bytes of the metadata block.
    pub metadata_length: u64,
    /// CRC32 (IEEE) of the metadata block.
    pub metadata_crc32: u32,
    /// Feature bits a reader must understand.
    pub required_features: u32,
    /// Format major version.
    pub major: u16,
    /// Format minor version.
    pub minor: u16,
}

impl Footer {
    /// Serialises the footer.
    pub fn to_bytes(self) -> [u8; FOOTER_LEN as usize] {
        let mut out = [0u8; FOOTER_LEN as usize];
        out[0..8].copy_from_slice(&self.metadata_offset.to_le_bytes());
        out[8..16].copy_from_slice(&self.metadata_length.to_le_bytes());
        out[16..20].copy_from_slice(&self.metadata_crc32.to_le_bytes());
        out[20..24].copy_from_slice(&self.required_features.to_le_bytes());
        out[24..26].copy_from_slice(&self.major.to_le_bytes());
        out[26..28].copy_from_slice(&self.minor.to_le_bytes());
        out[28..32].copy_from_slice(&MAGIC);
        out
    }

    /// Parses and validates the last [`FOOTER_LEN`] bytes of a file of `file_size` bytes.
    pub fn parse(bytes: &[u8], file_size: u64, path: &str) -> Result<Self> {
        let not_pilum = |reason: String| FileError::NotPilum {
            path: path.to_string(),
            reason,
        };
        if file_size < HEADER_LEN + FOOTER_LEN || bytes.len() < FOOTER_LEN as usize {
            return Err(not_pilum(format!(
                "{file_size} bytes is smaller than a header and footer"
            )));
        }
        let tail = &bytes[bytes.len() - FOOTER_LEN as usize..];
        if tail[28..32] != MAGIC {
            return Err(not_pilum("footer magic is not PILM".to_string()));
        }
        let mut cur = ByteCursor::new(tail);
        let read = |r: pilum_core::Result<u64>| r.map_err(|e| FileError::corrupt(&path, e.to_string()));
        let footer = Footer {
            metadata_offset: read(cur.u64())?,
            metadata_length: read(cur.u64())?,
            metadata_crc32: read(cur.u32().map(u64::from))? as u32,
            required_features: read(cur.u32().map(u64::from))? as u32,
            major: read(cur.u16().map(u64::from))? as u16,
            minor: read(cur.u16().map(u64::from))? as u16,
        };
        if footer.major != MAJOR_VERSION {
            return Err(FileError::UnsupportedVersion {
                path: path.to_string(),
                major: footer.major,
                minor: footer.minor,
            });
        }
        let unknown = footer.required_features & !KNOWN_FEATURES;
        if unknown != 0 {
            return Err(FileError::UnsupportedFeatures {
                path: path.to_string(),
                flags: unknown,
            });
        }
        let end = footer.metadata_offset.checked_add(footer.metadata_length);
        if footer.metadata_offset < HEADER_LEN || end != Some(file_size - FOOTER_LEN) {
            return Err(FileError::corrupt(
                &path,
                format!(
                    "metadata block {}+{} does not end at the footer (file is {file_size} bytes)",
                    footer.metadata_offset, footer.metadata_length
                ),
            ));
        }
        Ok(footer)
    }
}
