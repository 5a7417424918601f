//! What a scalar index segment answers: the rows (by row id) or, for a
//! zone map, the row ranges (by fragment offset) where one test on the
//! indexed column can hold. Values are compared with Arrow's comparison
//! kernels (IEEE total order for floats), the very kernels a scan's filter
//! runs, so an exact kind's answer is the scan's.

use super::scalar_loaded::{LoadedScalar, ZoneTable};
use super::scalar_params::ScalarIndexType;
use crate::error::Result;
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, ArrayRef, BooleanArray, Datum, Scalar};
use arrow_schema::DataType;
use datafusion::common::ScalarValue;
use pilum_index::ngram::GramQuery;
use roaring::{RoaringBitmap, RoaringTreemap};
use std::collections::HashMap;

/// A comparison operator (`column op literal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    /// The operator with its sides swapped (`literal op column`).
    pub fn swapped(self) -> Self {
        match self {
            Self::Lt => Self::Gt,
            Self::LtEq => Self::GtEq,
            Self::Gt => Self::Lt,
            Self::GtEq => Self::LtEq,
            other => other,
        }
    }
}

/// One test on one column that an index may answer.
#[derive(Debug, Clone)]
pub(crate) enum LeafTest {
    Compare(CmpOp, ScalarValue),
    InList(Vec<ScalarValue>),
    /// Between optional bounds, each inclusive or not (`BETWEEN`, or a
    /// column's comparisons under one `AND`).
    Range(Option<Bound>, Option<Bound>),
    IsNull,
    IsNotNull,
    /// `array_has_any` (and `array_has` with one value).
    HasAny(Vec<ScalarValue>),
    /// `array_has_all`.
    HasAll(Vec<ScalarValue>),
    /// The grams a `contains`, `LIKE` or regular-expression match needs.
    Grams(GramQuery),
}

/// A range bound: the value and whether it is included.
pub(crate) type Bound = (ScalarValue, bool);

/// A segment's answer.
#[derive(Debug)]
pub(crate) enum SegmentRows {
    /// These row ids.
    Ids(RoaringTreemap),
    /// Every covered row but these ids.
    AllBut(RoaringTreemap),
    /// These physical rows, by fragment.
    Offsets(HashMap<u64, RoaringBitmap>),
}

impl ScalarIndexType {
    /// Whether this kind can answer `test`.
    pub(crate) fn answers(self, test: &LeafTest) -> bool {
        use LeafTest::*;
        match self {
            Self::BTree | Self::Bitmap | Self::ZoneMap => {
                matches!(test, Compare(..) | InList(_) | Range(..) | IsNull | IsNotNull)
            }
            Self::LabelList => matches!(test, HasAny(_) | HasAll(_) | IsNull | IsNotNull),
            Self::NGram => matches!(test, Grams(q) if !q.is_all()),
        }
    }
}

/// Whether values of `from` may be cast to `to` for a comparison without
/// changing its outcome (string and binary layouts only).
fn same_family(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let strings = |t: &DataType| matches!(t, Utf8 | LargeUtf8 | Utf8View);
    let binaries = |t: &DataType| matches!(t, Binary | LargeBinary | BinaryView);
    (strings(from) && strings(to)) || (binaries(from) && binaries(to))
}

/// `value` as a one-value datum of `data_type`, or `None` when it is null
/// or of another type (the test is then left to the scan).
fn literal(value: &ScalarValue, data_type: &DataType) -> Option<Scalar<ArrayRef>> {
    if value.is_null() {
        return None;
    }
    let value = if value.data_type() == *data_type {
        value.clone()
    } else if same_family(&value.data_type(), data_type) {
        value.cast_to(data_type).ok()?
    } else {
        return None;
    };
    value.to_scalar().ok()
}

fn compare(op: CmpOp, left: &dyn Datum, right: &dyn Datum) -> Result<BooleanArray> {
    use arrow_ord::cmp;
    Ok(match op {
        CmpOp::Eq => cmp::eq(left, right)?,
        CmpOp::NotEq => cmp::neq(left, right)?,
        CmpOp::Lt => cmp::lt(left, right)?,
        CmpOp::LtEq => cmp::lt_eq(left, right)?,
        CmpOp::Gt => cmp::gt(left, right)?,
        CmpOp::GtEq => cmp::gt_eq(left, right)?,
    })
}

fn and(a: &BooleanArray, b: &BooleanArray) -> Result<BooleanArray> {
    Ok(datafusion::arrow::compute::kernels::boolean::and(a, b)?)
}

fn or(a: &BooleanArray, b: &BooleanArray) -> Result<BooleanArray> {
    Ok(datafusion::arrow::compute::kernels::boolean::or(a, b)?)
}

/// Nulls become false.
fn definite(mask: BooleanArray) -> BooleanArray {
    match mask.nulls() {
        Some(_) => arrow_select::filter::prep_null_mask_filter(&mask),
        None => mask,
    }
}

/// A range's bounds as comparisons of a value with literals (`None` when
/// a bound cannot be compared, or there is none).
fn range_ops(
    low: &Option<Bound>,
    high: &Option<Bound>,
    data_type: &DataType,
) -> Option<Vec<(CmpOp, Scalar<ArrayRef>)>> {
    let mut ops = Vec::new();
    if let Some((value, inclusive)) = low {
        ops.push((
            if *inclusive { CmpOp::GtEq } else { CmpOp::Gt },
            literal(value, data_type)?,
        ));
    }
    if let Some((value, inclusive)) = high {
        ops.push((
            if *inclusive { CmpOp::LtEq } else { CmpOp::Lt },
            literal(value, data_type)?,
        ));
    }
    (!ops.is_empty()).then_some(ops)
}

/// The mask of `(min, max)` ranges that may hold a value passing `test`.
pub(crate) fn range_mask(test: &LeafTest, mins: &ArrayRef, maxes: &ArrayRef) -> Result<Option<BooleanArray>> {
    let data_type = mins.data_type();
    let may_hold = |op: CmpOp, v: &Scalar<ArrayRef>| -> Result<BooleanArray> {
        Ok(match op {
            CmpOp::Eq => and(&compare(CmpOp::LtEq, mins, v)?, &compare(CmpOp::GtEq, maxes, v)?)?,
            CmpOp::NotEq => or(&compare(CmpOp::NotEq, mins, v)?, &compare(CmpOp::NotEq, maxes, v)?)?,
            CmpOp::Lt | CmpOp::LtEq => compare(op, mins, v)?,
            CmpOp::Gt | CmpOp::GtEq => compare(op, maxes, v)?,
        })
    };
    let mask = match test {
        LeafTest::Compare(op, value) => match literal(value, data_type) {
            Some(v) => may_hold(*op, &v)?,
            None => return Ok(None),
        },
        LeafTest::Range(low, high) => match range_ops(low, high, data_type) {
            Some(bounds) => {
                // A range [min, max] meets the bounds when max is above the
                // low one and min below the high one.
                let mut mask = BooleanArray::from(vec![true; mins.len()]);
                for (op, value) in bounds {
                    let side = if matches!(op, CmpOp::Gt | CmpOp::GtEq) {
                        maxes
                    } else {
                        mins
                    };
                    mask = and(&mask, &compare(op, side, &value)?)?;
                }
                mask
            }
            None => return Ok(None),
        },
        LeafTest::InList(values) => {
            let mut mask = BooleanArray::from(vec![false; mins.len()]);
            for value in values {
                let Some(v) = literal(value, data_type) else {
                    return Ok(None);
                };
                mask = or(&mask, &definite(may_hold(CmpOp::Eq, &v)?))?;
            }
            mask
        }
        _ => return Ok(None),
    };
    Ok(Some(definite(mask)))
}

/// The mask of `keys` passing `test` (exactly; `None` when it cannot say).
fn key_mask(test: &LeafTest, keys: &ArrayRef) -> Result<Option<BooleanArray>> {
    let data_type = keys.data_type();
    let mask = match test {
        LeafTest::Compare(op, value) => match literal(value, data_type) {
            Some(v) => compare(*op, keys, &v)?,
            None => return Ok(None),
        },
        LeafTest::Range(low, high) => match range_ops(low, high, data_type) {
            Some(bounds) => {
                let mut mask = BooleanArray::from(vec![true; keys.len()]);
                for (op, value) in bounds {
                    mask = and(&mask, &compare(op, keys, &value)?)?;
                }
                mask
            }
            None => return Ok(None),
        },
        LeafTest::InList(values) | LeafTest::HasAny(values) => {
            if values.is_empty() {
                return Ok(None);
            }
            let mut mask = BooleanArray::from(vec![false; keys.len()]);
            for value in values {
                let Some(v) = literal(value, data_type) else {
                    return Ok(None);
                };
                mask = or(&mask, &compare(CmpOp::Eq, keys, &v)?)?;
            }
            mask
        }
        _ => return Ok(None),
    };
    Ok(Some(definite(mask)))
}

fn set_positions(mask: &BooleanArray) -> Vec<u64> {
    mask.values().set_indices().map(|i| i as u64).collect()
}

impl LoadedScalar {
    /// The rows of the segment where `test` may hold (exactly those rows
    /// for exact kinds), or `None` when this segment cannot narrow it.
    pub async fn answer(&self, test: &LeafTest) -> Result<Option<SegmentRows>> {
        match (self, test) {
            (Self::BTree { nulls, .. } | Self::Postings { nulls, .. }, LeafTest::IsNull) => {
                Ok(Some(SegmentRows::Ids(nulls.clone())))
            }
            (Self::BTree { nulls, .. } | Self::Postings { nulls, .. }, LeafTest::IsNotNull) => {
                Ok(Some(SegmentRows::AllBut(nulls.clone())))
            }
            (Self::BTree { .. }, _) => self.btree_answer(test).await,
            (Self::Postings { kind, keys, .. }, _) => match (kind, test) {
                (ScalarIndexType::NGram, LeafTest::Grams(query)) => self.gram_answer(query).await.map(Some),
                (ScalarIndexType::LabelList, LeafTest::HasAll(values)) => {
                    let mut indices = Vec::with_capacity(values.len());
                    for value in values {
                        let Some(mask) = key_mask(&LeafTest::Compare(CmpOp::Eq, value.clone()), keys)? else {
                            return Ok(None);
                        };
                        match set_positions(&mask).first() {
                            Some(&i) => indices.push(i),
                            None => return Ok(Some(SegmentRows::Ids(RoaringTreemap::new()))),
                        }
                    }
                    if indices.is_empty() {
                        return Ok(None);
                    }
                    indices.sort_unstable();
                    indices.dedup();
                    Ok(Some(SegmentRows::Ids(self.key_rows(&indices, true).await?)))
                }
                (ScalarIndexType::NGram, _) => Ok(None),
                _ => match key_mask(test, keys)? {
                    Some(mask) => Ok(Some(SegmentRows::Ids(
                        self.key_rows(&set_positions(&mask), false).await?,
                    ))),
                    None => Ok(None),
                },
            },
            (Self::Zones(zones), _) => zone_answer(zones, test),
        }
    }

    async fn btree_answer(&self, test: &LeafTest) -> Result<Option<SegmentRows>> {
        let Self::BTree {
            values,
            path,
            page_rows,
            mins,
            maxes,
            ..
        } = self
        else {
            return Ok(None);
        };
        let Some(pages) = range_mask(test, mins, maxes)? else {
            return Ok(None);
        };
        let total = values.num_rows();
        // Row ids come in value order: sorted once, a bitmap is built by
        // appending instead of one random insert per id.
        let mut ids = Vec::new();
        let mut candidate = set_positions(&pages).into_iter().peekable();
        while let Some(first) = candidate.next() {
            let mut last = first;
            while candidate.peek() == Some(&(last + 1)) {
                last += 1;
                candidate.next();
            }
            let rows = first * page_rows..((last + 1) * page_rows).min(total);
            let batch = values.read_range(rows, &pilum_file::ReadOptions::default()).await?;
            let corrupt = |what: &str| crate::error::TableError::corrupt(path, what);
            let value = batch
                .column_by_name("value")
                .ok_or_else(|| corrupt("no column value"))?;
            let row_ids = batch
                .column_by_name("_rowid")
                .and_then(|c| c.as_primitive_opt::<UInt64Type>())
                .ok_or_else(|| corrupt("no u64 column _rowid"))?;
            let Some(mask) = key_mask(test, value)? else {
                return Ok(None);
            };
            ids.extend(mask.values().set_indices().map(|i| row_ids.value(i)));
        }
        ids.sort_unstable();
        ids.dedup();
        let ids = RoaringTreemap::from_sorted_iter(ids).map_err(|e| crate::error::TableError::Internal {
            what: format!("sorted row ids refused by the bitmap: {e}"),
        })?;
        Ok(Some(SegmentRows::Ids(ids)))
    }

    async fn gram_answer(&self, query: &GramQuery) -> Result<SegmentRows> {
        let Self::Postings { keys, .. } = self else {
            return Ok(SegmentRows::Ids(RoaringTreemap::new()));
        };
        let keys = keys.as_primitive::<UInt64Type>().values();
        let mut wanted = Vec::new();
        collect_grams(query, &mut wanted);
        wanted.sort_unstable();
        wanted.dedup();
        let found: Vec<(u64, u64)> = wanted
            .iter()
            .filter_map(|g| keys.binary_search(g).ok().map(|i| (*g, i as u64)))
            .collect();
        let indices: Vec<u64> = found.iter().map(|&(_, index)| index).collect();
        let bitmaps: HashMap<u64, RoaringTreemap> = found
            .iter()
            .map(|&(gram, _)| gram)
            .zip(self.key_bitmaps(&indices).await?)
            .collect();
        Ok(SegmentRows::Ids(evaluate(query, &bitmaps).unwrap_or_default()))
    }
}

fn zone_answer(zones: &ZoneTable, test: &LeafTest) -> Result<Option<SegmentRows>> {
    let ZoneTable {
        fragments,
        starts,
        rows,
        null_counts,
        mins,
        maxes,
    } = zones;
    let mask = match test {
        LeafTest::IsNull => BooleanArray::from_iter(null_counts.values().iter().map(|&n| Some(n > 0))),
        LeafTest::IsNotNull => BooleanArray::from_iter(
            null_counts
                .values()
                .iter()
                .zip(rows.values())
                .map(|(&n, &r)| Some(n < r)),
        ),
        _ => match range_mask(test, mins, maxes)? {
            Some(mask) => mask,
            None => return Ok(None),
        },
    };
    let mut out: HashMap<u64, RoaringBitmap> = HashMap::new();
    for zone in mask.values().set_indices() {
        let start = starts.value(zone);
        let (Ok(lo), Ok(hi)) = (u32::try_from(start), u32::try_from(start + rows.value(zone))) else {
            continue;
        };
        out.entry(fragments.value(zone)).or_default().insert_range(lo..hi);
    }
    Ok(Some(SegmentRows::Offsets(out)))
}

fn collect_grams(query: &GramQuery, out: &mut Vec<u64>) {
    match query {
        GramQuery::All => {}
        GramQuery::Grams(grams) => out.extend(grams),
        GramQuery::And(parts) | GramQuery::Or(parts) => parts.iter().for_each(|p| collect_grams(p, out)),
    }
}

/// The rows `query` admits given each gram's rows (`None`: every row).
fn evaluate(query: &GramQuery, bitmaps: &HashMap<u64, RoaringTreemap>) -> Option<RoaringTreemap> {
    match query {
        GramQuery::All => None,
        GramQuery::Grams(grams) => {
            let mut out: Option<RoaringTreemap> = None;
            for gram in grams {
                let rows = bitmaps.get(gram).cloned().unwrap_or_default();
                out = Some(match out {
                    None => rows,
                    Some(acc) => acc & rows,
                });
            }
            out
        }
        GramQuery::And(parts) => parts
            .iter()
            .fold(None, |acc, part| match (acc, evaluate(part, bitmaps)) {
                (None, x) | (x, None) => x,
                (Some(a), Some(b)) => Some(a & b),
            }),
        GramQuery::Or(parts) => {
            let mut out = RoaringTreemap::new();
            for part in parts {
                out |= evaluate(part, bitmaps)?;
            }
            Some(out)
        }
    }
}
