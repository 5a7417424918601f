//! Page-level zstd dictionaries: trained from a page's own chunks, so that
//! chunks of a few KiB (small enough for one-chunk random reads) still share
//! the redundancy between neighbouring values, and decode with entropy tables
//! prepared once per page instead of once per chunk.

use crate::error::{EncodingError, Result};
use std::cell::RefCell;
use std::sync::OnceLock;
use zstd::zstd_safe::{self, CCtx, CDict, DCtx, DDict, zstd_sys};

/// Pages with fewer value bytes than this get no dictionary: it would not
/// pay for itself.
pub(crate) const MIN_PAGE_BYTES: usize = 128 * 1024;
/// Dictionary size relative to the page's raw value bytes.
const BYTES_PER_DICTIONARY_BYTE: usize = 64;
/// Smallest and largest dictionary trained.
const MIN_CAPACITY: usize = 2 * 1024;
const MAX_CAPACITY: usize = 32 * 1024;
/// Bytes of chunk samples given to the trainer per dictionary byte.
pub(crate) const SAMPLE_BYTES_PER_DICTIONARY_BYTE: usize = 8;
/// fastCover segment and d-mer sizes, fixed instead of searched: a search
/// costs ten times the training for under 3% of compressed size on text.
const SEGMENT_SIZE: u32 = 1024;
const DMER_SIZE: u32 = 8;
/// log2 of the trainer's frequency table: it takes 6 × 2^16 bytes, where
/// zstd's default (20) takes 6 MiB per page for the same dictionary on
/// samples this small (a few hundred KiB).
const FREQUENCY_LOG: u32 = 16;

/// Dictionary capacity for a page of `raw_bytes` value bytes.
pub(crate) fn capacity_for(raw_bytes: usize) -> usize {
    (raw_bytes / BYTES_PER_DICTIONARY_BYTE).clamp(MIN_CAPACITY, MAX_CAPACITY)
}

/// Trains a dictionary of at most `capacity` bytes on `samples` (the sample
/// bodies back to back, `sizes` their lengths); `None` when training fails,
/// which zstd reports for too few or too small samples.
pub(crate) fn train(samples: &[u8], sizes: &[usize], capacity: usize, level: i32) -> Option<Vec<u8>> {
    if sizes.iter().sum::<usize>() != samples.len() || sizes.len() < 8 || capacity < MIN_CAPACITY {
        return None;
    }
    let params = zstd_sys::ZDICT_fastCover_params_t {
        k: SEGMENT_SIZE.min(u32::try_from(capacity).ok()?),
        d: DMER_SIZE,
        f: FREQUENCY_LOG,
        steps: 0,
        nbThreads: 0,
        splitPoint: 1.0,
        accel: 1,
        shrinkDict: 0,
        shrinkDictMaxRegression: 0,
        zParams: zstd_sys::ZDICT_params_t {
            compressionLevel: level,
            notificationLevel: 0,
            dictID: 0,
        },
    };
    let mut dictionary = vec![0u8; capacity];
    // SAFETY: `dictionary` is a writable buffer of `capacity` bytes; `samples`
    // holds exactly `sizes.iter().sum()` readable bytes (checked above) and
    // `sizes` has `sizes.len()` entries; zstd writes at most `capacity` bytes
    // and keeps no pointer past the call.
    let written = unsafe {
        zstd_sys::ZDICT_trainFromBuffer_fastCover(
            dictionary.as_mut_ptr().cast(),
            capacity,
            samples.as_ptr().cast(),
            sizes.as_ptr(),
            u32::try_from(sizes.len()).ok()?,
            params,
        )
    };
    // SAFETY: `ZDICT_isError` only inspects the code it is given.
    if unsafe { zstd_sys::ZDICT_isError(written) } != 0 || written > capacity {
        return None;
    }
    dictionary.truncate(written);
    Some(dictionary)
}

/// A page's zstd dictionary as the writer uses it: prepared for compression
/// at one level.
pub struct ZstdEncoderDictionary {
    prepared: CDict<'static>,
}

impl ZstdEncoderDictionary {
    /// Prepares `dictionary` for compression at `level`.
    pub fn new(dictionary: &[u8], level: i32) -> Result<Self> {
        let prepared = CDict::try_create(dictionary, level)
            .ok_or_else(|| EncodingError::invalid("zstd could not prepare the page's dictionary"))?;
        Ok(Self { prepared })
    }
}

impl std::fmt::Debug for ZstdEncoderDictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZstdEncoderDictionary").finish_non_exhaustive()
    }
}

/// A page's zstd dictionary as the reader uses it: its bytes, and the
/// decoder prepared from them on first use.
pub struct ZstdDictionary {
    bytes: Vec<u8>,
    prepared: OnceLock<Option<DDict<'static>>>,
}

impl ZstdDictionary {
    /// Wraps a page's stored dictionary bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            prepared: OnceLock::new(),
        }
    }

    /// The stored bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn prepared(&self) -> Result<&DDict<'static>> {
        self.prepared
            .get_or_init(|| DDict::try_create(&self.bytes))
            .as_ref()
            .ok_or_else(|| EncodingError::invalid("zstd rejected the page's dictionary"))
    }
}

impl std::fmt::Debug for ZstdDictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZstdDictionary")
            .field("len", &self.bytes.len())
            .finish()
    }
}

thread_local! {
    /// One compression and one decompression context per thread: creating a
    /// context costs more than compressing a small chunk.
    static DICT_COMPRESSOR: RefCell<Option<CCtx<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<DCtx<'static>>> = const { RefCell::new(None) };
}

/// Compresses `body` as one zstd frame that references `dictionary`.
pub(crate) fn compress_with(body: &[u8], dictionary: &ZstdEncoderDictionary) -> Result<Vec<u8>> {
    DICT_COMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        let context = match slot.as_mut() {
            Some(context) => context,
            None => slot
                .insert(CCtx::try_create().ok_or_else(|| EncodingError::invalid("zstd could not allocate a context"))?),
        };
        let mut out = Vec::with_capacity(zstd_safe::compress_bound(body.len()));
        context
            .compress_using_cdict(&mut out, body, &dictionary.prepared)
            .map_err(zstd_error)?;
        Ok(out)
    })
}

/// Decompresses one zstd frame of at most `raw_len` bytes (a larger frame is
/// an error), with the page's dictionary when the frame references one.
pub(crate) fn decompress(compressed: &[u8], raw_len: usize, dictionary: Option<&ZstdDictionary>) -> Result<Vec<u8>> {
    let prepared = dictionary.map(ZstdDictionary::prepared).transpose()?;
    DECOMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        let context = match slot.as_mut() {
            Some(context) => context,
            None => slot
                .insert(DCtx::try_create().ok_or_else(|| EncodingError::invalid("zstd could not allocate a context"))?),
        };
        let mut out = Vec::with_capacity(raw_len);
        match prepared {
            Some(prepared) => context.decompress_using_ddict(&mut out, compressed, prepared),
            None => context.decompress(&mut out, compressed),
        }
        .map_err(zstd_error)?;
        Ok(out)
    })
}

fn zstd_error(code: usize) -> EncodingError {
    EncodingError::Zstd(std::io::Error::other(zstd_safe::get_error_name(code)))
}
