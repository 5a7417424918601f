//! Planning a filter over scalar indices: each test a scalar index can
//! answer is looked up in the best such index (exact kinds first), its
//! rows mapped to the physical rows of the fragments the index covers,
//! and the tests combined through the filter's `AND`s and `OR`s. The scan
//! then reads only the candidate rows of those fragments (re-checking the
//! filter unless every part was answered exactly) and the other fragments
//! as usual, so the result is the unindexed scan's.

use super::scalar_filter::FilterTree;
use crate::dataset::Dataset;
use crate::error::Result;
use crate::index::{
    IndexSegment, LeafTest, ScalarIndexType, SegmentRows, compares_with_zero, is_float, widen_for_floats,
};
use crate::proto;
use datafusion::logical_expr::Expr;
use futures::FutureExt;
use futures::future::BoxFuture;
use roaring::{RoaringBitmap, RoaringTreemap};
use std::collections::HashMap;
use std::sync::Arc;

/// The rows of one fragment a filter can match.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candidates {
    /// Physical rows (deleted rows may be among them).
    pub offsets: RoaringBitmap,
    /// Whether exactly these live rows match (no re-check needed).
    pub exact: bool,
}

/// Candidates by fragment id; fragments without an entry are scanned.
pub(crate) type IndexedRows = HashMap<u64, Candidates>;

/// Kinds in the order a test prefers them.
const PREFERENCE: [ScalarIndexType; 5] = [
    ScalarIndexType::BTree,
    ScalarIndexType::Bitmap,
    ScalarIndexType::LabelList,
    ScalarIndexType::NGram,
    ScalarIndexType::ZoneMap,
];

impl Dataset {
    /// The candidate rows of `fragments` that scalar indices give for
    /// `filter`; `None` when no index narrows any fragment.
    pub(crate) async fn indexed_rows(
        &self,
        filter: &Expr,
        fragments: &[Arc<proto::Fragment>],
    ) -> Result<Option<IndexedRows>> {
        if !self.manifest.indices.iter().any(|s| s.scalar_type().is_some()) {
            return Ok(None);
        }
        let tree = FilterTree::of(filter);
        let selected: HashMap<u64, &proto::Fragment> = fragments.iter().map(|f| (f.id, f.as_ref())).collect();
        let rows = self.answer_tree(&tree, &selected).await?;
        Ok((!rows.is_empty()).then_some(rows))
    }

    fn answer_tree<'a>(
        &'a self,
        tree: &'a FilterTree,
        selected: &'a HashMap<u64, &'a proto::Fragment>,
    ) -> BoxFuture<'a, Result<IndexedRows>> {
        async move {
            match tree {
                FilterTree::Opaque => Ok(IndexedRows::new()),
                FilterTree::Leaf { column, test } => self.answer_leaf(column, test, selected).await,
                FilterTree::And(parts) => {
                    let mut out: Option<IndexedRows> = None;
                    for part in parts {
                        let rows = self.answer_tree(part, selected).await?;
                        out = Some(match out {
                            None => rows,
                            Some(acc) => and(acc, rows),
                        });
                    }
                    Ok(out.unwrap_or_default())
                }
                FilterTree::Or(parts) => {
                    let mut out: Option<IndexedRows> = None;
                    for part in parts {
                        let rows = self.answer_tree(part, selected).await?;
                        out = Some(match out {
                            None => rows,
                            Some(acc) => or(acc, rows),
                        });
                        if out.as_ref().is_some_and(|o| o.is_empty()) {
                            break;
                        }
                    }
                    Ok(out.unwrap_or_default())
                }
            }
        }
        .boxed()
    }

    /// The segments of the index best suited to `test` on `column`.
    fn index_for(&self, column: &str, test: &LeafTest) -> Option<(ScalarIndexType, Vec<&IndexSegment>)> {
        let field_id = self.manifest.schema.field_id(column).ok()?;
        let usable = |s: &&IndexSegment| s.field_id() == Some(field_id) && s.message.field_ids.len() == 1;
        let (kind, name) = self
            .manifest
            .indices
            .iter()
            .filter(usable)
            .filter_map(|s| s.scalar_type().filter(|k| k.answers(test)).map(|k| (k, s.name())))
            .min_by_key(|(k, name)| (PREFERENCE.iter().position(|p| p == k), name.to_string()))?;
        let segments = self
            .manifest
            .indices
            .iter()
            .filter(|s| s.name() == name && s.scalar_type() == Some(kind))
            .collect();
        Some((kind, segments))
    }

    async fn answer_leaf(
        &self,
        column: &str,
        test: &LeafTest,
        selected: &HashMap<u64, &proto::Fragment>,
    ) -> Result<IndexedRows> {
        let Some((kind, segments)) = self.index_for(column, test) else {
            return Ok(IndexedRows::new());
        };
        // Float columns: filters take -0 and +0 as equal where the index's
        // total order does not, so a test against a zero is widened to both
        // and its answer re-checked.
        let float = self
            .schema()
            .field_with_name(column)
            .is_ok_and(|f| is_float(f.data_type()) || matches!(f.data_type(), arrow_schema::DataType::List(i) | arrow_schema::DataType::LargeList(i) if is_float(i.data_type())));
        let exact = kind.is_exact() && !(float && compares_with_zero(test));
        let widened;
        let test = if float {
            match widen_for_floats(test) {
                Some(t) => {
                    widened = t;
                    &widened
                }
                None => return Ok(IndexedRows::new()),
            }
        } else {
            test
        };
        let mut out = IndexedRows::new();
        for segment in segments {
            let covered: Vec<&proto::Fragment> = segment
                .fragments
                .iter()
                .filter_map(|id| selected.get(&(id as u64)).copied())
                .filter(|f| f.row_ids.is_some())
                .collect();
            if covered.is_empty() {
                continue;
            }
            let loaded = self.cache.segments.scalars.get(&self.location, segment).await?;
            let Some(rows) = loaded.answer(test).await? else {
                continue;
            };
            // Inexact answers holding over half the covered rows are left to
            // the scan before any mapping (see below).
            let covered_rows: u64 = covered.iter().map(|f| f.physical_rows).sum();
            if let SegmentRows::Ids(ids) = &rows
                && !exact
                && ids.len() * 2 > covered_rows
            {
                continue;
            }
            for (fragment, offsets) in physical_rows(rows, &covered) {
                // Candidates to re-check in more than half a fragment are
                // left to the scan: reading them costs about what it does.
                let rows = selected.get(&fragment).map_or(0, |f| f.physical_rows);
                if !exact && offsets.len() * 2 > rows {
                    continue;
                }
                out.insert(fragment, Candidates { offsets, exact });
            }
        }
        Ok(out)
    }
}

/// A segment's answer as physical rows of each covered fragment.
fn physical_rows(rows: SegmentRows, covered: &[&proto::Fragment]) -> HashMap<u64, RoaringBitmap> {
    match rows {
        SegmentRows::Offsets(mut by_fragment) => covered
            .iter()
            .map(|f| (f.id, by_fragment.remove(&f.id).unwrap_or_default()))
            .collect(),
        SegmentRows::Ids(ids) => map_ids(&ids, covered, false),
        SegmentRows::AllBut(ids) => map_ids(&ids, covered, true),
    }
}

/// The physical rows holding `ids` (or every other row, for `complement`)
/// in each fragment, through the fragments' row-id runs.
fn map_ids(ids: &RoaringTreemap, covered: &[&proto::Fragment], complement: bool) -> HashMap<u64, RoaringBitmap> {
    let sorted: Vec<u64> = ids.iter().collect();
    let mut out = HashMap::with_capacity(covered.len());
    for fragment in covered {
        let mut offsets = RoaringBitmap::new();
        let Some(sequence) = &fragment.row_ids else {
            continue;
        };
        let mut base = 0u64;
        for (&start, &length) in sequence.starts.iter().zip(&sequence.lengths) {
            let lo = sorted.partition_point(|&id| id < start);
            let hi = sorted.partition_point(|&id| id < start.saturating_add(length));
            // Ids are sorted and distinct, so their offsets are too: the
            // bitmap is built by appending.
            let offset = |id: &u64| (base + id - start) as u32;
            let inside = RoaringBitmap::from_sorted_iter(sorted[lo..hi].iter().map(offset))
                .unwrap_or_else(|_| sorted[lo..hi].iter().map(offset).collect());
            if complement {
                let mut run = RoaringBitmap::new();
                run.insert_range(base as u32..(base + length) as u32);
                offsets |= run - inside;
            } else {
                offsets |= inside;
            }
            base += length;
        }
        out.insert(fragment.id, offsets);
    }
    out
}

/// Both tests hold: a fragment either side narrows is narrowed; exact only
/// where both sides answered exactly.
fn and(mut a: IndexedRows, mut b: IndexedRows) -> IndexedRows {
    let keys: Vec<u64> = a.keys().chain(b.keys()).copied().collect();
    let mut out = IndexedRows::new();
    for key in keys {
        if out.contains_key(&key) {
            continue;
        }
        let merged = match (a.remove(&key), b.remove(&key)) {
            (Some(x), Some(y)) => Candidates {
                offsets: x.offsets & y.offsets,
                exact: x.exact && y.exact,
            },
            (Some(x), None) | (None, Some(x)) => Candidates {
                offsets: x.offsets,
                exact: false,
            },
            (None, None) => continue,
        };
        out.insert(key, merged);
    }
    out
}

/// Either test holds: only fragments both sides narrow are narrowed.
fn or(mut a: IndexedRows, mut b: IndexedRows) -> IndexedRows {
    let keys: Vec<u64> = a.keys().copied().collect();
    let mut out = IndexedRows::new();
    for key in keys {
        if let (Some(x), Some(y)) = (a.remove(&key), b.remove(&key)) {
            out.insert(
                key,
                Candidates {
                    offsets: x.offsets | y.offsets,
                    exact: x.exact && y.exact,
                },
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(rows: &[u32], exact: bool) -> Candidates {
        Candidates {
            offsets: rows.iter().copied().collect(),
            exact,
        }
    }

    #[test]
    fn and_narrows_either_side_and_or_needs_both() {
        let a = IndexedRows::from([(1, c(&[1, 2, 3], true)), (2, c(&[5], true))]);
        let b = IndexedRows::from([(1, c(&[2, 3, 4], true)), (3, c(&[7], true))]);
        let both = and(a.clone(), b.clone());
        assert_eq!(both[&1], c(&[2, 3], true));
        assert_eq!(both[&2], c(&[5], false));
        assert_eq!(both[&3], c(&[7], false));
        let either = or(a, b);
        assert_eq!(either.len(), 1);
        assert_eq!(either[&1], c(&[1, 2, 3, 4], true));
    }

    #[test]
    fn ids_map_through_row_id_runs() {
        let fragment = proto::Fragment {
            id: 4,
            physical_rows: 6,
            row_ids: Some(proto::RowIdSequence {
                starts: vec![100, 10],
                lengths: vec![3, 3],
            }),
            ..Default::default()
        };
        let ids: RoaringTreemap = [10, 101, 12, 500].into_iter().collect();
        let mapped = map_ids(&ids, &[&fragment], false);
        assert_eq!(mapped[&4].iter().collect::<Vec<_>>(), vec![1, 3, 5]);
        let rest = map_ids(&ids, &[&fragment], true);
        assert_eq!(rest[&4].iter().collect::<Vec<_>>(), vec![0, 2, 4]);
    }
}
