//! Widening the exact re-ranking window of a filtered query when rows
//! just past it turn out to belong in the answer.
//!
//! An index's default refine factor is calibrated on unfiltered queries.
//! A selective filter changes the question: the nearest passing rows lie
//! farther out, often among many rows at nearly equal distances, where
//! quantized estimates cannot order them. The window's own errors cannot
//! tell (it holds exactly the rows whose estimates came out low), so the
//! query also re-ranks a sample of the rows ranked just past the window:
//! if one of them makes the top k, the window was too narrow and doubles
//! (at worst until it holds every passing row, which makes it exact).

use pilum_index::Neighbor;

/// One in this many of the rows ranked just past the window (as many as
/// the window holds) is re-ranked to test it.
pub(crate) const SAMPLE_EVERY: usize = 4;

/// The rows to re-rank: the first `window` candidates (by estimate), then
/// every [`SAMPLE_EVERY`]-th of the next `window`.
pub(crate) fn window_and_sample(candidates: &[Neighbor], window: usize) -> (Vec<u64>, Vec<u64>) {
    let inside = candidates.iter().take(window).map(|n| n.id).collect();
    let sample = candidates
        .iter()
        .skip(window)
        .take(window)
        .step_by(SAMPLE_EVERY)
        .map(|n| n.id)
        .collect();
    (inside, sample)
}

/// Whether a sampled row past the window ranks among the `k` nearest of
/// `exact` (window and sample together, exact distances, ties by id).
pub(crate) fn sample_reaches_top(exact: &[Neighbor], sample: &[u64], k: usize) -> bool {
    if k == 0 || sample.is_empty() {
        return false;
    }
    let mut ranked: Vec<&Neighbor> = exact.iter().collect();
    ranked.sort_by(|a, b| a.distance.total_cmp(&b.distance).then(a.id.cmp(&b.id)));
    ranked.iter().take(k).any(|n| sample.contains(&n.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(id: u64, distance: f32) -> Neighbor {
        Neighbor { id, distance }
    }

    #[test]
    fn the_sample_is_every_fourth_row_past_the_window() {
        let candidates: Vec<Neighbor> = (0..20).map(|i| n(i, i as f32)).collect();
        let (inside, sample) = window_and_sample(&candidates, 8);
        assert_eq!(inside, (0..8).collect::<Vec<_>>());
        assert_eq!(sample, vec![8, 12]);
        let (inside, sample) = window_and_sample(&candidates[..10], 8);
        assert_eq!((inside.len(), sample), (8, vec![8]));
    }

    #[test]
    fn a_sampled_row_in_the_top_k_means_the_window_was_too_narrow() {
        let exact = [n(1, 1.0), n(2, 2.0), n(3, 3.0), n(9, 1.5)];
        assert!(sample_reaches_top(&exact, &[9], 2));
        assert!(!sample_reaches_top(&exact, &[9], 1));
        assert!(!sample_reaches_top(&exact, &[], 2));
        assert!(
            !sample_reaches_top(&[n(1, 1.0), n(9, 1.0)], &[9], 1),
            "ties go to the lower id"
        );
    }
}
