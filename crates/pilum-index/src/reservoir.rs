//! A uniform random sample of a stream of vectors in bounded memory
//! (Vitter's Algorithm R), seeded so a build is reproducible.

use crate::error::{IndexError, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// At most `capacity` vectors of a stream, each equally likely to be kept.
#[derive(Debug, Clone)]
pub struct Reservoir {
    capacity: usize,
    dim: usize,
    seen: u64,
    values: Vec<f32>,
    ids: Vec<u64>,
    rng: ChaCha8Rng,
}

impl Reservoir {
    /// An empty sample of at most `capacity` vectors of `dim` values.
    pub fn new(capacity: usize, dim: usize, seed: u64) -> Self {
        Self {
            capacity,
            dim,
            seen: 0,
            values: Vec::new(),
            ids: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Offers the next vector of the stream (`dim` values) with its id.
    pub fn offer(&mut self, vector: &[f32], id: u64) -> Result<()> {
        if vector.len() != self.dim {
            return Err(IndexError::params(format!(
                "a reservoir of {}-d vectors was offered one of {}",
                self.dim,
                vector.len()
            )));
        }
        self.seen += 1;
        if self.ids.len() < self.capacity {
            self.values.extend_from_slice(vector);
            self.ids.push(id);
            return Ok(());
        }
        let slot = self.rng.random_range(0..self.seen);
        if let Ok(slot) = usize::try_from(slot)
            && slot < self.capacity
        {
            self.values[slot * self.dim..(slot + 1) * self.dim].copy_from_slice(vector);
            self.ids[slot] = id;
        }
        Ok(())
    }

    /// Vectors offered so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The kept vectors (row-major) and their ids, in slot order.
    pub fn into_parts(self) -> (Vec<f32>, Vec<u64>) {
        (self.values, self.ids)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keeps_everything_below_capacity_and_a_uniform_sample_above() {
        let mut small = Reservoir::new(10, 1, 1);
        for i in 0..5 {
            small.offer(&[i as f32], i).unwrap();
        }
        assert!(small.offer(&[1.0, 2.0], 9).is_err(), "a vector of the wrong size");
        assert_eq!(small.into_parts().1, vec![0, 1, 2, 3, 4]);
        // 2,000 samples of 100 from 0..10,000: the kept ids' mean is near
        // the stream's (4,999.5), each of the ten deciles near 10%.
        let mut deciles = [0usize; 10];
        for seed in 0..20 {
            let mut r = Reservoir::new(100, 1, seed);
            for i in 0..10_000u64 {
                r.offer(&[i as f32], i).unwrap();
            }
            assert_eq!(r.seen(), 10_000);
            for id in r.into_parts().1 {
                deciles[(id / 1000) as usize] += 1;
            }
        }
        for count in deciles {
            assert!((150..=250).contains(&count), "{deciles:?}");
        }
    }
}
