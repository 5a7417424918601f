"""``order_by``: sort keys of a scan, and their SQL ``ORDER BY`` clause."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

import pyarrow as pa

from .errors import ColumnNotFoundError
from .sql import quote_identifier

__all__ = ["ColumnOrdering", "normalize_order_by", "order_by_sql"]


@dataclass(frozen=True)
class ColumnOrdering:
    """One sort key of ``order_by``: a column, ascending or not, nulls first or last.

    A plain column name in ``order_by`` means ascending with nulls last.
    Floating-point NaN sorts above every number.
    """

    column_name: str
    ascending: bool = True
    nulls_first: bool = False


def _is_pair(key: Any) -> bool:
    return isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str) and key[1] in ("ascending", "descending")


def _one(key: Any) -> ColumnOrdering:
    if isinstance(key, str):
        return ColumnOrdering(key)
    if _is_pair(key):
        return ColumnOrdering(key[0], ascending=key[1] == "ascending")
    names = ("column_name", "ascending", "nulls_first")
    if all(hasattr(key, name) for name in names):  # pilum's or lance's ColumnOrdering
        name, ascending, nulls_first = (getattr(key, n) for n in names)
        if isinstance(name, str) and isinstance(ascending, bool) and isinstance(nulls_first, bool):
            return ColumnOrdering(name, ascending, nulls_first)
    raise TypeError(
        "order_by takes column names, ColumnOrdering(column_name, ascending, nulls_first) "
        f"objects or (name, 'ascending'|'descending') pairs, not {key!r}"
    )


def normalize_order_by(order_by: Any, schema: pa.Schema) -> List[ColumnOrdering]:
    """`order_by` (``None``, one key or a list of keys) as orderings of `schema`'s columns."""
    if order_by is None:
        return []
    single = isinstance(order_by, str) or hasattr(order_by, "column_name") or _is_pair(order_by)
    if single:
        keys = [order_by]
    elif isinstance(order_by, (list, tuple)):
        keys = list(order_by)
    else:
        raise TypeError(f"order_by takes a list of sort keys, not {type(order_by).__name__}")
    orderings = [_one(key) for key in keys]
    for ordering in orderings:
        if schema.get_field_index(ordering.column_name) < 0:
            raise ColumnNotFoundError(f"order_by: no column {ordering.column_name!r} in the dataset")
    return orderings


def order_by_sql(orderings: List[ColumnOrdering]) -> Optional[str]:
    """The ``ORDER BY`` list for `orderings`, or ``None`` when there are none."""
    if not orderings:
        return None
    return ", ".join(
        f"{quote_identifier(o.column_name)} {'ASC' if o.ascending else 'DESC'} "
        f"NULLS {'FIRST' if o.nulls_first else 'LAST'}"
        for o in orderings
    )
