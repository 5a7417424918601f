//! Coalescing of byte ranges into fewer, larger read requests.

use std::ops::Range;

/// One read request covering several requested ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoalescedRange {
    /// The bytes the request fetches.
    pub range: Range<u64>,
    /// Indices (into the caller's list) of the ranges this request serves.
    pub members: Vec<usize>,
}

/// Groups `ranges` into requests: ranges that overlap or lie within `max_gap`
/// bytes of each other are merged, as long as a merged request stays at most
/// `max_request` bytes long (a single range longer than that is kept whole).
/// The output is sorted by offset; empty ranges are served by no request.
pub fn coalesce_ranges(ranges: &[Range<u64>], max_gap: u64, max_request: u64) -> Vec<CoalescedRange> {
    let mut order: Vec<usize> = (0..ranges.len()).filter(|&i| ranges[i].start < ranges[i].end).collect();
    order.sort_by_key(|&i| (ranges[i].start, ranges[i].end));
    let mut out: Vec<CoalescedRange> = Vec::new();
    for i in order {
        let r = &ranges[i];
        if let Some(last) = out.last_mut() {
            let merged_end = last.range.end.max(r.end);
            let close = r.start <= last.range.end.saturating_add(max_gap);
            if close && merged_end - last.range.start <= max_request.max(last.range.end - last.range.start) {
                last.range.end = merged_end;
                last.members.push(i);
                continue;
            }
        }
        out.push(CoalescedRange {
            range: r.clone(),
            members: vec![i],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_close_and_overlapping_ranges() {
        let got = coalesce_ranges(&[100..200, 0..10, 15..20, 5..12, 1000..1001], 8, 1 << 20);
        assert_eq!(
            got,
            vec![
                CoalescedRange {
                    range: 0..20,
                    members: vec![1, 3, 2]
                },
                CoalescedRange {
                    range: 100..200,
                    members: vec![0]
                },
                CoalescedRange {
                    range: 1000..1001,
                    members: vec![4]
                },
            ]
        );
    }

    #[test]
    fn respects_request_cap_and_skips_empty() {
        let got = coalesce_ranges(&[0..60, 60..120, 120..120, 121..300], 10, 100);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].range, 0..60);
        assert_eq!(got[1].range, 60..120);
        assert_eq!(got[2].range, 121..300);
    }
}
