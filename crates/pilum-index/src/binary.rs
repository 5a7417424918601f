//! Binary codes (u8 vectors compared by Hamming distance): their bytes,
//! popcount distances, and k-means in Hamming space, whose centroids are
//! themselves binary codes (each bit the majority of its cluster's bits).
//!
//! Vectors travel through the crate as f32 values; a binary code's values
//! are its bytes, whole numbers 0–255.

use crate::error::{IndexError, Result};
use crate::kmeans::KMeans;
use crate::vectors::Vectors;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;

/// Training codes are expanded to one f32 per bit for k-means: at most
/// this many values (256 MiB), so wide codes train on a smaller sample.
const MAX_BIT_VALUES: usize = 1 << 26;

/// Points one assignment task handles.
const CHUNK_POINTS: usize = 4096;

/// The bytes of every vector of `data` (`None` when a value is not a whole
/// number from 0 to 255).
pub fn to_bytes(data: &[f32]) -> Option<Vec<u8>> {
    data.iter()
        .map(|&v| (v.fract() == 0.0 && (0.0..=255.0).contains(&v)).then_some(v as u8))
        .collect()
}

/// Differing bits of two codes of equal length (with the CPU's popcount
/// instruction where it has one, checked at run time).
pub fn hamming_bytes(a: &[u8], b: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::popcnt_available() {
        return crate::kernels::hamming_bytes_popcnt(a, b);
    }
    hamming_bytes_portable(a, b)
}

/// [`hamming_bytes`] in 64-bit words.
#[inline(always)]
pub(crate) fn hamming_bytes_portable(a: &[u8], b: &[u8]) -> u32 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut bits = 0u32;
    for (x, y) in ca.zip(cb) {
        let (x, y) = (u64::from_le_bytes(word(x)), u64::from_le_bytes(word(y)));
        bits += (x ^ y).count_ones();
    }
    for (x, y) in ra.iter().zip(rb) {
        bits += (x ^ y).count_ones();
    }
    bits
}

fn word(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&bytes[..8]);
    out
}

/// The nearest of `centroids` (codes of `width` bytes, row-major) to
/// `code`, first on ties, and its distance.
pub fn nearest_code(code: &[u8], centroids: &[u8], width: usize) -> (u32, u32) {
    let mut best = (0u32, u32::MAX);
    for (c, centroid) in centroids.chunks_exact(width.max(1)).enumerate() {
        let d = hamming_bytes(code, centroid);
        if d < best.1 {
            best = (c as u32, d);
        }
    }
    best
}

/// Nearest centroid of every code, in chunks spread over `threads` threads.
pub fn assign_codes(codes: &[u8], centroids: &[u8], width: usize, threads: usize) -> Vec<u32> {
    let n = codes.len() / width.max(1);
    let mut out = vec![0u32; n];
    let work = |(start, slots): (usize, &mut [u32])| {
        for (i, slot) in slots.iter_mut().enumerate() {
            let at = (start + i) * width;
            *slot = nearest_code(&codes[at..at + width], centroids, width).0;
        }
    };
    let chunks: Vec<(usize, &mut [u32])> = out
        .chunks_mut(CHUNK_POINTS)
        .enumerate()
        .map(|(i, s)| (i * CHUNK_POINTS, s))
        .collect();
    let threads = threads.clamp(1, chunks.len().max(1));
    if threads == 1 {
        chunks.into_iter().for_each(work);
        return out;
    }
    let mut lanes: Vec<Vec<(usize, &mut [u32])>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, chunk) in chunks.into_iter().enumerate() {
        lanes[i % threads].push(chunk);
    }
    std::thread::scope(|scope| {
        for lane in lanes {
            scope.spawn(move || lane.into_iter().for_each(work));
        }
    });
    out
}

/// k-means in Hamming space over the codes of `data` (byte values): the
/// codes' bits become 0/1 values, where squared L2 distance is the Hamming
/// distance, k-means runs there with real-valued centroids (as FAISS's
/// binary IVF trains), and each centroid bit is then set where its mean is
/// above one half, the majority of its cluster. Returns `params.k`
/// centroid codes as f32 byte values, row-major. Deterministic for a seed
/// and any thread count.
pub fn train_binary(data: Vectors<'_>, params: &KMeans) -> Result<Vec<f32>> {
    let k = params.k;
    let width = data.dim();
    if k == 0 {
        return Err(IndexError::params("k-means needs at least one cluster"));
    }
    if data.len() < k {
        return Err(IndexError::TooFewVectors {
            needed: k,
            found: data.len(),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    // Each code becomes 8 f32 per byte: cap the sample so that expansion
    // stays within MAX_BIT_VALUES (at least one code per cluster).
    let affordable = (MAX_BIT_VALUES / (width * 8).max(1)).max(k);
    let limit = k.saturating_mul(params.max_points_per_centroid.max(1)).min(affordable);
    let values: Vec<f32> = if data.len() > limit {
        let mut picked = sample(&mut rng, data.len(), limit).into_vec();
        picked.sort_unstable();
        picked.iter().flat_map(|&i| data.get(i).iter().copied()).collect()
    } else {
        data.as_slice().to_vec()
    };
    let codes = to_bytes(&values)
        .ok_or_else(|| IndexError::params("hamming vectors must hold bytes (whole numbers 0 to 255)"))?;
    drop(values);
    let bits: Vec<f32> = codes
        .iter()
        .flat_map(|&byte| (0..8).map(move |bit| f32::from((byte >> bit) & 1)))
        .collect();
    let trained = params.train(Vectors::new(&bits, width * 8)?)?;
    let mut centroids = Vec::with_capacity(k * width);
    for centroid in trained.centroids.chunks_exact(width * 8) {
        for byte_bits in centroid.chunks_exact(8) {
            let byte = byte_bits
                .iter()
                .enumerate()
                .fold(0u8, |acc, (bit, &mean)| acc | (u8::from(mean > 0.5) << bit));
            centroids.push(f32::from(byte));
        }
    }
    Ok(centroids)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::Rng;

    #[test]
    fn popcount_distance_counts_differing_bits() {
        let a: Vec<u8> = (0..19).collect();
        let b: Vec<u8> = (0..19).map(|i| i ^ 0b101).collect();
        assert_eq!(hamming_bytes(&a, &b), 19 * 2);
        assert_eq!(hamming_bytes(&a, &a), 0);
        let long: Vec<u8> = (0..70).map(|i| (i * 7) as u8).collect();
        let other: Vec<u8> = long.iter().map(|b| b ^ 0b1001).collect();
        assert_eq!(hamming_bytes(&long, &other), 70 * 2);
        assert_eq!(hamming_bytes_portable(&long, &other), hamming_bytes(&long, &other));
        assert_eq!(to_bytes(&[0.0, 255.0, 7.0]), Some(vec![0, 255, 7]));
        assert_eq!(to_bytes(&[256.0]), None);
        assert_eq!(to_bytes(&[1.5]), None);
        assert_eq!(to_bytes(&[f32::NAN]), None);
    }

    /// Codes scattered a few bits around each of `centres` random codes
    /// fall into one cluster per centre, whose centroid is the centre.
    #[test]
    fn binary_k_means_recovers_the_centres() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let width = 16;
        let centres: Vec<Vec<u8>> = (0..6).map(|_| (0..width).map(|_| rng.random()).collect()).collect();
        let mut values = Vec::new();
        for i in 0..600 {
            let mut code = centres[i % 6].clone();
            for _ in 0..3 {
                let bit = rng.random_range(0..width * 8);
                code[bit / 8] ^= 1 << (bit % 8);
            }
            values.extend(code.iter().map(|&b| b as f32));
        }
        let view = Vectors::new(&values, width).unwrap();
        let params = KMeans::new(6);
        let centroids = train_binary(view, &params).unwrap();
        let found = to_bytes(&centroids).unwrap();
        for centre in &centres {
            let (_, d) = nearest_code(centre, &found, width);
            assert_eq!(d, 0, "a centre was not recovered");
        }
        assert_eq!(train_binary(view, &params).unwrap(), centroids, "deterministic");
        let one_thread = KMeans {
            threads: 1,
            ..KMeans::new(6)
        };
        assert_eq!(train_binary(view, &one_thread).unwrap(), centroids);
    }

    #[test]
    fn values_that_are_not_bytes_are_rejected() {
        let values = vec![0.5f32; 64];
        let view = Vectors::new(&values, 4).unwrap();
        assert!(train_binary(view, &KMeans::new(2)).is_err());
        assert!(train_binary(view, &KMeans::new(0)).is_err());
        assert!(train_binary(view.slice(0..1), &KMeans::new(2)).is_err());
    }
}
