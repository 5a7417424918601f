//! Deletion vectors: Roaring bitmaps of deleted row offsets, one immutable
//! file per fragment and version that changed it.

use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::paths;
use crate::proto;
use bytes::Bytes;
use roaring::RoaringBitmap;

/// Magic bytes opening a deletion file.
pub const DELETION_MAGIC: [u8; 4] = *b"PLDV";

/// Reads the deletion vector of a fragment (empty when it has none).
pub async fn read_deletions(location: &DatasetLocation, fragment: &proto::Fragment) -> Result<RoaringBitmap> {
    let Some(file) = &fragment.deletion else {
        return Ok(RoaringBitmap::new());
    };
    let root = location.base(file.base_id)?;
    let path = root.child(&file.path);
    let bytes = root.get(&path).await?;
    let bitmap = decode(&bytes, path.as_ref())?;
    if bitmap.len() != file.num_deleted || bitmap.max().is_some_and(|max| u64::from(max) >= fragment.physical_rows) {
        return Err(TableError::corrupt(path, "deletion vector does not match its fragment"));
    }
    Ok(bitmap)
}

/// Writes a new deletion file for `fragment` and returns its description.
pub async fn write_deletions(
    location: &DatasetLocation,
    fragment_id: u64,
    read_version: u64,
    deleted: &RoaringBitmap,
) -> Result<proto::DeletionFile> {
    let relative = format!(
        "{}{}",
        location.file_prefix(),
        paths::new_deletion_file(fragment_id, read_version)
    );
    let bytes = encode(deleted);
    let size = bytes.len() as u64;
    location.put(&location.child(&relative), bytes).await?;
    Ok(proto::DeletionFile {
        path: relative,
        num_deleted: deleted.len(),
        size,
        base_id: 0,
    })
}

/// Magic, then the portable Roaring serialization, then its CRC32.
fn encode(bitmap: &RoaringBitmap) -> Bytes {
    let mut out = Vec::with_capacity(bitmap.serialized_size() + 8);
    out.extend_from_slice(&DELETION_MAGIC);
    // Writing into a Vec cannot fail.
    let _ = bitmap.serialize_into(&mut out);
    let crc = crc32fast::hash(&out[4..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Bytes::from(out)
}

fn decode(bytes: &[u8], path: &str) -> Result<RoaringBitmap> {
    let corrupt = |what: &str| TableError::corrupt(path, what);
    if bytes.len() < 8 || bytes[..4] != DELETION_MAGIC {
        return Err(corrupt("not a Pilum deletion file"));
    }
    let body = &bytes[4..bytes.len() - 4];
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[bytes.len() - 4..]);
    if crc32fast::hash(body) != u32::from_le_bytes(crc) {
        return Err(corrupt("checksum mismatch"));
    }
    RoaringBitmap::deserialize_from(body).map_err(|_| corrupt("bitmap does not decode"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_damage() {
        let bitmap: RoaringBitmap = [1u32, 5, 99, 70_000].into_iter().collect();
        let bytes = encode(&bitmap);
        assert_eq!(decode(&bytes, "d").unwrap(), bitmap);
        let mut bad = bytes.to_vec();
        bad[6] ^= 0xff;
        assert!(decode(&bad, "d").is_err());
        assert!(decode(&bytes[..6], "d").is_err());
    }
}
