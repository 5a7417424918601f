"""``to_table`` of a plain search without a scanner object in between.

A vector or full-text search read straight to a table (the serving path:
one query, k rows) spends more time building a ``PilumScanner`` than the
native search takes. When every argument is of the simple kinds below, the
search runs through the same functions the scanner calls (`run_nearest`,
`run_full_text`, with the same checks), so results and errors are the
same; anything else returns None and goes through the scanner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

import pyarrow as pa

from ._full_text import run_full_text
from ._nearest import parse_nearest, run_nearest
from .query import full_text_dict

if TYPE_CHECKING:
    from .dataset import PilumDataset

#: Keyword arguments a direct search understands; any other goes through the scanner.
_DIRECT_KEYS = frozenset({"nearest", "full_text_query", "prefilter", "with_row_id", "fast_search"})


def _count_or_none(value: Any) -> bool:
    return value is None or (type(value) is int and value >= 0)


def _flag(value: Any) -> bool:
    return value is None or type(value) is bool


def direct_search(
    dataset: "PilumDataset",
    columns: Any,
    filter: Any,
    limit: Any,
    offset: Any,
    kwargs: Dict[str, Any],
) -> Optional[pa.Table]:
    """The table of a one-kind search with plain arguments, or None when the scanner must run it."""
    if not kwargs.keys() <= _DIRECT_KEYS:
        return None
    nearest = kwargs.get("nearest")
    text = kwargs.get("full_text_query")
    if (nearest is None) == (text is None):
        return None
    if not (filter is None or type(filter) is str):
        return None
    if not (columns is None or (type(columns) is list and all(type(c) is str for c in columns))):
        return None
    if not (_count_or_none(limit) and _count_or_none(offset)):
        return None
    prefilter, with_row_id, fast_search = (kwargs.get(k) for k in ("prefilter", "with_row_id", "fast_search"))
    if not (_flag(prefilter) and _flag(with_row_id) and _flag(fast_search)):
        return None
    if text is not None and fast_search:
        return None  # the scanner raises the unsupported combination
    shared = dict(
        columns=columns,
        sql_filter=filter,
        prefilter=bool(prefilter),
        with_row_id=bool(with_row_id),
        limit=limit,
        offset=offset,
    )
    if text is not None:
        return run_full_text(dataset._ds, full_text_dict(text), **shared)
    return run_nearest(dataset._ds, parse_nearest(nearest, dataset.schema), fast_search=bool(fast_search), **shared)
