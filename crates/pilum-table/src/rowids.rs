//! Stable row ids: each fragment stores the ids of its physical rows as runs
//! of consecutive ids, and a dataset version builds an id → address index.

use crate::proto;

/// Runs covering `count` fresh ids starting at `start`.
pub fn fresh(start: u64, count: u64) -> proto::RowIdSequence {
    proto::RowIdSequence {
        starts: vec![start],
        lengths: vec![count],
    }
}

/// Compresses an id list into runs of consecutive ids.
pub fn from_ids(ids: &[u64]) -> proto::RowIdSequence {
    let mut sequence = proto::RowIdSequence::default();
    for &id in ids {
        match (sequence.starts.last(), sequence.lengths.last_mut()) {
            (Some(&start), Some(length)) if start + *length == id => *length += 1,
            _ => {
                sequence.starts.push(id);
                sequence.lengths.push(1);
            }
        }
    }
    sequence
}

/// The id of every physical row, in order.
#[cfg(test)]
pub fn expand(sequence: &proto::RowIdSequence) -> Vec<u64> {
    let total: u64 = sequence.lengths.iter().sum();
    let mut ids = Vec::with_capacity(total as usize);
    for (&start, &length) in sequence.starts.iter().zip(&sequence.lengths) {
        ids.extend(start..start + length);
    }
    ids
}

/// The ids of physical rows `offsets` (each must be in range).
pub fn ids_at(sequence: &proto::RowIdSequence, offsets: impl Iterator<Item = u64>) -> Vec<u64> {
    // Prefix sums of run lengths, then a binary search per offset.
    let mut ends = Vec::with_capacity(sequence.lengths.len());
    let mut total = 0u64;
    for &length in &sequence.lengths {
        total += length;
        ends.push(total);
    }
    offsets
        .map(|offset| {
            let run = ends.partition_point(|&end| end <= offset);
            let run_start = if run == 0 { 0 } else { ends[run - 1] };
            sequence
                .starts
                .get(run)
                .map_or(u64::MAX, |start| start + (offset - run_start))
        })
        .collect()
}

/// Maps stable row ids to (fragment position, row offset) for one version.
///
/// Runs may overlap: an updated row keeps its id in its new fragment while
/// its old copy stays (deleted) in the old one, so a lookup returns every
/// candidate and the caller keeps the one that is not deleted.
#[derive(Debug, Default)]
pub struct RowIdIndex {
    /// (first id, length, fragment position, offset of the first id), sorted by id.
    runs: Vec<(u64, u64, usize, u64)>,
    /// Largest run end among `runs[..=i]`, to stop the backward search early.
    max_end: Vec<u64>,
}

impl RowIdIndex {
    /// Builds the index over `fragments`.
    pub fn build(fragments: &[proto::Fragment]) -> Self {
        let mut runs = Vec::new();
        for (position, fragment) in fragments.iter().enumerate() {
            let Some(sequence) = &fragment.row_ids else { continue };
            let mut offset = 0;
            for (&start, &length) in sequence.starts.iter().zip(&sequence.lengths) {
                runs.push((start, length, position, offset));
                offset += length;
            }
        }
        runs.sort_unstable();
        let mut max_end = Vec::with_capacity(runs.len());
        let mut end = 0;
        for run in &runs {
            end = end.max(run.0 + run.1);
            max_end.push(end);
        }
        Self { runs, max_end }
    }

    /// Every (fragment position, offset) whose row id is `id`.
    pub fn candidates(&self, id: u64) -> impl Iterator<Item = (usize, u64)> + '_ {
        let mut i = self.runs.partition_point(|r| r.0 <= id);
        std::iter::from_fn(move || {
            while i > 0 && self.max_end[i - 1] > id {
                i -= 1;
                let (start, length, position, offset) = self.runs[i];
                if id < start + length {
                    return Some((position, offset + (id - start)));
                }
            }
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn runs_round_trip(ids in proptest::collection::vec(0u64..1000, 0..200)) {
            let sequence = from_ids(&ids);
            prop_assert_eq!(expand(&sequence), ids.clone());
            let offsets: Vec<u64> = (0..ids.len() as u64).collect();
            prop_assert_eq!(ids_at(&sequence, offsets.into_iter()), ids);
        }
    }

    #[test]
    fn index_locates_ids() {
        let fragments = vec![
            proto::Fragment {
                id: 1,
                physical_rows: 3,
                row_ids: Some(fresh(10, 3)),
                ..Default::default()
            },
            proto::Fragment {
                id: 2,
                physical_rows: 3,
                row_ids: Some(from_ids(&[0, 20, 21])),
                ..Default::default()
            },
        ];
        let index = RowIdIndex::build(&fragments);
        assert_eq!(index.candidates(11).collect::<Vec<_>>(), vec![(0, 1)]);
        assert_eq!(index.candidates(0).collect::<Vec<_>>(), vec![(1, 0)]);
        assert_eq!(index.candidates(21).collect::<Vec<_>>(), vec![(1, 2)]);
        assert!(index.candidates(13).collect::<Vec<_>>().is_empty());
        assert!(index.candidates(5).collect::<Vec<_>>().is_empty());
        // Overlapping runs (an updated row 11 moved to a third fragment).
        let mut moved = fragments.clone();
        moved.push(proto::Fragment {
            id: 3,
            physical_rows: 1,
            row_ids: Some(fresh(11, 1)),
            ..Default::default()
        });
        let index = RowIdIndex::build(&moved);
        let mut found = index.candidates(11).collect::<Vec<_>>();
        found.sort_unstable();
        assert_eq!(found, vec![(0, 1), (2, 0)]);
        assert_eq!(index.candidates(12).collect::<Vec<_>>(), vec![(0, 2)]);
    }
}
