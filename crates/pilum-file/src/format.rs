//! Rules and byte helpers of the file format that the writer and the reader
//! share, so neither side borrows from the other.

use pilum_encoding::ValueKind;

/// Fixed-width scalar values at least this wide are stored in flat pages (one
/// contiguous range per value, no chunking). Flattened fixed-size lists
/// (embedding vectors, binary codes) are stored flat at any width.
pub const FLAT_MIN_WIDTH: u32 = 256;

/// Whether values of `kind` may be stored in FLAT pages: flattened
/// fixed-size lists of any width (`items > 1`), and other fixed-width values
/// of at least [`FLAT_MIN_WIDTH`] bytes. The writer also needs the page to
/// have no per-item validity, which flat pages cannot hold.
pub(crate) fn flat_kind(kind: ValueKind) -> bool {
    matches!(kind, ValueKind::Fixed { width, items, .. } if items > 1 || width >= FLAT_MIN_WIDTH)
}

/// Whether a FLAT page of `kind` needs [`FEATURE_NARROW_FLAT`](crate::FEATURE_NARROW_FLAT):
/// its values are narrower than [`FLAT_MIN_WIDTH`], which readers before
/// format 1.3 reject.
pub(crate) fn narrow_flat(kind: ValueKind) -> bool {
    matches!(kind, ValueKind::Fixed { width, .. } if width < FLAT_MIN_WIDTH)
}

/// Little-endian `u64` number `i` of `bytes` (0 past the end).
pub(crate) fn read_u64(bytes: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(s) = bytes.get(i * 8..i * 8 + 8) {
        b.copy_from_slice(s);
    }
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_flat_at_any_width_scalars_only_when_wide() {
        let vector = |width, items| ValueKind::Fixed {
            width,
            items,
            integer: None,
        };
        assert!(flat_kind(vector(128, 32)), "32-d f32");
        assert!(flat_kind(vector(16, 128)), "128-bit binary code as 16 x u8 is 16 items");
        assert!(flat_kind(vector(128, 128)), "128-d u8");
        assert!(flat_kind(vector(3072, 768)), "768-d f32");
        assert!(!flat_kind(vector(8, 1)), "an f64 scalar stays chunked");
        assert!(flat_kind(vector(256, 1)), "wide fixed-size binary");
        assert!(!flat_kind(ValueKind::Variable));
        assert!(narrow_flat(vector(128, 32)) && !narrow_flat(vector(3072, 768)));
    }

    #[test]
    fn read_u64_is_little_endian_and_zero_past_the_end() {
        let bytes = [1u8, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0];
        assert_eq!(read_u64(&bytes, 0), 1);
        assert_eq!(read_u64(&bytes, 1), 258);
        assert_eq!(read_u64(&bytes, 2), 0);
    }
}
