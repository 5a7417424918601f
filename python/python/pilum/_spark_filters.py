"""Spark data source filters (``pyspark.sql.datasource.Filter``) as Pilum SQL.

Spark does not evaluate a filter again once the source accepts it, so a
filter is accepted only when its SQL keeps exactly the rows Spark keeps:
top-level columns of a type the literal matches, literals Pilum's SQL spells
exactly. Pilum's SQL agrees with Spark on NaN (equal to itself, above every
number), on ``-0.0 = 0.0`` and on three-valued logic. Everything else goes
back to Spark, which filters those rows itself.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pyarrow as pa
from pyspark.sql import datasource as sds

__all__ = ["filters_to_sql", "filter_to_sql"]

_COMPARE: Dict[type, str] = {
    sds.EqualTo: "=",
    sds.GreaterThan: ">",
    sds.GreaterThanOrEqual: ">=",
    sds.LessThan: "<",
    sds.LessThanOrEqual: "<=",
}
_STRING_FUNCTIONS: Dict[type, str] = {
    sds.StringStartsWith: "starts_with",
    sds.StringEndsWith: "ends_with",
    sds.StringContains: "contains",
}


def _is_string(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _float(value: float) -> str:
    if math.isnan(value):
        return "CAST('NaN' AS DOUBLE)"
    if math.isinf(value):
        return "CAST('Infinity' AS DOUBLE)" if value > 0 else "CAST('-Infinity' AS DOUBLE)"
    return repr(value)


def _decimal(value: decimal.Decimal, t: pa.DataType) -> Optional[str]:
    exponent = value.as_tuple().exponent
    if not value.is_finite() or not isinstance(exponent, int) or -exponent > t.scale:
        return None
    if len(value.quantize(decimal.Decimal(1).scaleb(-t.scale)).as_tuple().digits) > t.precision:
        return None
    return f"CAST({_string(format(value, 'f'))} AS DECIMAL({t.precision}, {t.scale}))"


def _timestamp(value: _dt.datetime, t: pa.DataType) -> Optional[str]:
    if (value.tzinfo is None) != (t.tz is None):
        return None  # an instant compared with a wall-clock time: leave it to Spark
    if value.tzinfo is not None:
        return "TIMESTAMP " + _string(value.astimezone(_dt.timezone.utc).replace(tzinfo=None).isoformat() + "Z")
    return "TIMESTAMP " + _string(value.isoformat())


def _literal(value: Any, t: pa.DataType) -> Optional[str]:
    """`value` as SQL to compare with a column of type `t`, or None."""
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE") if pa.types.is_boolean(t) else None
    if isinstance(value, int):
        return str(value) if pa.types.is_integer(t) or pa.types.is_floating(t) else None
    if isinstance(value, float):
        return _float(value) if pa.types.is_floating(t) else None
    if isinstance(value, str):
        return _string(value) if _is_string(t) else None
    if isinstance(value, decimal.Decimal):
        return _decimal(value, t) if pa.types.is_decimal(t) else None
    if isinstance(value, _dt.datetime):
        return _timestamp(value, t) if pa.types.is_timestamp(t) else None
    if isinstance(value, _dt.date):
        return f"DATE {_string(value.isoformat())}" if pa.types.is_date(t) else None
    return None


def _column(attribute: Sequence[str], schema: pa.Schema) -> Optional[Tuple[str, pa.DataType]]:
    if len(attribute) != 1 or schema.get_field_index(attribute[0]) < 0:
        return None  # nested fields and unknown names stay with Spark
    return _quote(attribute[0]), schema.field(attribute[0]).type


def filter_to_sql(f: sds.Filter, schema: pa.Schema) -> Optional[str]:
    """The Pilum SQL predicate for one Spark filter over `schema`, or None."""
    if isinstance(f, sds.Not):
        child = filter_to_sql(f.child, schema)
        return None if child is None else f"(NOT {child})"
    column = _column(getattr(f, "attribute", ()), schema)
    if column is None:
        return None
    name, t = column
    if isinstance(f, sds.IsNull):
        return f"({name} IS NULL)"
    if isinstance(f, sds.IsNotNull):
        return f"({name} IS NOT NULL)"
    if isinstance(f, sds.EqualNullSafe):
        if f.value is None:
            return f"({name} IS NULL)"
        value = _literal(f.value, t)
        return None if value is None else f"COALESCE({name} = {value}, FALSE)"
    if type(f) in _COMPARE:
        value = _literal(f.value, t)
        return None if value is None else f"({name} {_COMPARE[type(f)]} {value})"
    if isinstance(f, sds.In):
        values = [None if v is None else _literal(v, t) for v in f.value]
        if not values or any(v is None for v in values):
            return None
        return f"({name} IN ({', '.join(values)}))"  # type: ignore[arg-type]
    if type(f) in _STRING_FUNCTIONS:
        if not _is_string(t) or not isinstance(f.value, str):
            return None
        return f"{_STRING_FUNCTIONS[type(f)]}({name}, {_string(f.value)})"
    return None


def filters_to_sql(filters: Sequence[sds.Filter], schema: pa.Schema) -> Tuple[Optional[str], List[sds.Filter]]:
    """The AND of the filters Pilum can evaluate exactly (None when none can)
    and the filters left for Spark (the same objects, as ``pushFilters``
    must return them)."""
    accepted: List[str] = []
    rejected: List[sds.Filter] = []
    for f in filters:
        sql = filter_to_sql(f, schema)
        if sql is None:
            rejected.append(f)
        else:
            accepted.append(sql)
    return (" AND ".join(accepted) if accepted else None), rejected
