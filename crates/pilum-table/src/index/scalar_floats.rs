//! Float tests made safe for an index kept in IEEE total order. Filters
//! order floats the same way (NaN above every number, negative NaN below)
//! except that they take −0 and +0 as equal, so only a zero literal needs
//! care: it stands for both zeros and its answer is re-checked. A NaN
//! literal narrows nothing.

use super::scalar_query::{Bound, CmpOp, LeafTest};
use arrow_schema::DataType;
use datafusion::common::ScalarValue;

/// Whether `data_type` is a floating-point type.
pub(crate) fn is_float(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Float16 | DataType::Float32 | DataType::Float64)
}

fn zero_or_nan(value: &ScalarValue) -> (bool, bool) {
    match value {
        ScalarValue::Float64(Some(v)) => (*v == 0.0, v.is_nan()),
        ScalarValue::Float32(Some(v)) => (*v == 0.0, v.is_nan()),
        ScalarValue::Float16(Some(v)) => (v.to_f32() == 0.0, v.is_nan()),
        _ => (false, false),
    }
}

fn signed_zero(value: &ScalarValue, negative: bool) -> ScalarValue {
    let zero = if negative { -0.0f64 } else { 0.0 };
    match value {
        ScalarValue::Float32(_) => ScalarValue::Float32(Some(zero as f32)),
        ScalarValue::Float16(_) => ScalarValue::Float64(Some(zero))
            .cast_to(&DataType::Float16)
            .unwrap_or(ScalarValue::Float64(Some(zero))),
        _ => ScalarValue::Float64(Some(zero)),
    }
}

/// Whether a test on a float column compares with a zero (its answer is
/// then widened to both zeros and must be re-checked).
pub(crate) fn compares_with_zero(test: &LeafTest) -> bool {
    let zero = |v: &ScalarValue| zero_or_nan(v).0;
    match test {
        LeafTest::Compare(_, v) => zero(v),
        LeafTest::InList(values) => values.iter().any(zero),
        LeafTest::Range(low, high) => [low, high].into_iter().flatten().any(|(v, _)| zero(v)),
        _ => false,
    }
}

/// A test on a float column widened so that its answer under the index's
/// total order holds every row the filter can match, whichever way the
/// filter orders signed zeros and NaN: a zero literal stands for both
/// zeros, and a NaN literal narrows nothing.
pub(crate) fn widen_for_floats(test: &LeafTest) -> Option<LeafTest> {
    use LeafTest::*;
    let nan = |v: &ScalarValue| zero_or_nan(v).1;
    let zero = |v: &ScalarValue| zero_or_nan(v).0;
    Some(match test {
        Compare(_, v) if nan(v) => return None,
        Compare(op, v) if zero(v) => match op {
            CmpOp::Eq => Range(Some((signed_zero(v, true), true)), Some((signed_zero(v, false), true))),
            CmpOp::NotEq => return None,
            CmpOp::Lt | CmpOp::LtEq => Compare(CmpOp::LtEq, signed_zero(v, false)),
            CmpOp::Gt | CmpOp::GtEq => Compare(CmpOp::GtEq, signed_zero(v, true)),
        },
        InList(values) if values.iter().any(nan) => return None,
        InList(values) => InList(
            values
                .iter()
                .flat_map(|v| {
                    if zero(v) {
                        vec![signed_zero(v, true), signed_zero(v, false)]
                    } else {
                        vec![v.clone()]
                    }
                })
                .collect(),
        ),
        Range(low, high) => {
            if [low, high].into_iter().flatten().any(|(v, _)| nan(v)) {
                return None;
            }
            // A zero bound becomes the outer zero, included.
            let widen = |bound: &Option<Bound>, negative: bool| {
                bound.as_ref().map(|(v, inclusive)| {
                    if zero(v) {
                        (signed_zero(v, negative), true)
                    } else {
                        (v.clone(), *inclusive)
                    }
                })
            };
            Range(widen(low, true), widen(high, false))
        }
        HasAny(_) | HasAll(_) => return None,
        other => other.clone(),
    })
}
