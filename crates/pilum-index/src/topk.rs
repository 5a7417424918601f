//! The k nearest of a stream of candidates.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A candidate: its distance and the id it answers with (a row id).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    /// Distance to the query (smaller is nearer).
    pub distance: f32,
    /// The candidate's id.
    pub id: u64,
}

impl Neighbor {
    /// Total order: by distance (NaN last), then by id, so results are
    /// deterministic when distances tie.
    fn order(&self, other: &Self) -> Ordering {
        self.distance.total_cmp(&other.distance).then(self.id.cmp(&other.id))
    }
}

/// Heap entry ordered so the heap's top is the farthest kept neighbor.
#[derive(Debug, Clone, Copy)]
struct Farthest(Neighbor);

impl PartialEq for Farthest {
    fn eq(&self, other: &Self) -> bool {
        self.0.order(&other.0) == Ordering::Equal
    }
}
impl Eq for Farthest {}
impl PartialOrd for Farthest {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Farthest {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.order(&other.0)
    }
}

/// Keeps the `k` nearest candidates pushed into it.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Farthest>,
}

impl TopK {
    /// An empty selection of at most `k`.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.saturating_add(1).min(1 << 16)),
        }
    }

    /// The distance a candidate must beat to enter (infinite until full).
    pub fn threshold(&self) -> f32 {
        match self.heap.peek() {
            Some(top) if self.heap.len() == self.k => top.0.distance,
            _ => f32::INFINITY,
        }
    }

    /// Offers a candidate.
    pub fn push(&mut self, distance: f32, id: u64) {
        if self.k == 0 {
            return;
        }
        let candidate = Farthest(Neighbor { distance, id });
        if self.heap.len() < self.k {
            self.heap.push(candidate);
        } else if let Some(mut top) = self.heap.peek_mut()
            && candidate < *top
        {
            *top = candidate;
        }
    }

    /// Number kept.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// The k it keeps.
    pub fn capacity(&self) -> usize {
        self.k
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The kept neighbors, nearest first.
    pub fn into_sorted(self) -> Vec<Neighbor> {
        self.heap.into_sorted_vec().into_iter().map(|f| f.0).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn keeps_the_k_smallest_like_a_full_sort(
            distances in proptest::collection::vec(0u8..20, 0..200),
            k in 0usize..30,
        ) {
            let mut top = TopK::new(k);
            for (id, d) in distances.iter().enumerate() {
                top.push(*d as f32, id as u64);
            }
            let mut all: Vec<(u8, u64)> = distances.iter().enumerate().map(|(i, d)| (*d, i as u64)).collect();
            all.sort();
            all.truncate(k);
            let got: Vec<(u8, u64)> = top.into_sorted().iter().map(|n| (n.distance as u8, n.id)).collect();
            prop_assert_eq!(got, all);
        }
    }

    #[test]
    fn threshold_is_infinite_until_full() {
        let mut top = TopK::new(2);
        top.push(3.0, 1);
        assert_eq!(top.threshold(), f32::INFINITY);
        top.push(1.0, 2);
        assert_eq!(top.threshold(), 3.0);
        top.push(f32::NAN, 3);
        assert_eq!(top.into_sorted().iter().map(|n| n.id).collect::<Vec<_>>(), vec![2, 1]);
    }
}
