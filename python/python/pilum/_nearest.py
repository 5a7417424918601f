"""``nearest=``: pylance's vector-search argument, checked once and run exactly.

Pilum has no vector indices yet, so every search compares the query with
every candidate row (the answer an index approximates). pylance's index
tuning keys cannot change exact results and are accepted as documented
no-ops; keys that would change results and are not built yet raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

import numpy as np
import pyarrow as pa

#: Index tuning: no effect on an exact search (Pilum has no vector indices yet).
NEAREST_NOOPS = frozenset({"nprobes", "minimum_nprobes", "maximum_nprobes", "refine_factor", "ef", "use_index"})

#: pylance keys that change results and that Pilum does not support yet.
NEAREST_UNSUPPORTED = {"distance_range": "distance ranges"}

#: pylance's default number of neighbors.
DEFAULT_K = 10


@dataclass(frozen=True)
class NearestQuery:
    """A checked ``nearest=`` argument."""

    column: str
    q: List[float]
    k: int
    metric: str


def parse_nearest(nearest: Any, schema: pa.Schema) -> NearestQuery:
    """Checks a ``nearest`` dict against `schema`; raises TypeError/ValueError/NotImplementedError naming the key."""
    if not isinstance(nearest, dict):
        raise TypeError(f"nearest must be a dict with 'column' and 'q', got {type(nearest).__name__}")
    unknown = sorted(set(nearest) - {"column", "q", "k", "metric"} - NEAREST_NOOPS - set(NEAREST_UNSUPPORTED))
    if unknown:
        raise TypeError(f"nearest: unknown keys {unknown}")
    for key, what in NEAREST_UNSUPPORTED.items():
        if nearest.get(key) is not None:
            raise NotImplementedError(f"nearest[{key!r}]: {what} are not supported by Pilum yet")
    column = nearest.get("column")
    if not isinstance(column, str):
        raise ValueError("nearest['column'] must name a vector column")
    if column not in schema.names:
        raise ValueError(f"nearest['column']: no column {column!r}")
    if "q" not in nearest or nearest["q"] is None:
        raise ValueError("nearest['q'] (the query vector) is required")
    q = nearest["q"]
    if isinstance(q, (pa.Array, pa.ChunkedArray)):
        q = q.to_numpy(zero_copy_only=False)
    try:
        vector = np.asarray(q, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"nearest['q'] is not a vector of numbers: {error}") from None
    if vector.ndim != 1:
        raise NotImplementedError("nearest['q']: several query vectors at once are not supported by Pilum yet; pass one 1-d vector")
    k = nearest.get("k", DEFAULT_K)
    if k is None:
        k = DEFAULT_K
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"nearest['k'] must be a non-negative integer, got {k!r}")
    metric = nearest.get("metric", "l2")
    if metric is None:
        metric = "l2"
    if not isinstance(metric, str):
        raise ValueError(f"nearest['metric'] must be a string, got {metric!r}")
    return NearestQuery(column=column, q=[float(x) for x in vector], k=int(k), metric=metric)


def run_nearest(
    native: Any,
    query: NearestQuery,
    *,
    columns: Optional[List[str]],
    sql_filter: Optional[str],
    prefilter: bool,
    with_row_id: bool,
    limit: Optional[int],
    offset: Optional[int],
) -> pa.Table:
    """The search's rows: `columns` (all when None), ``_distance``, then ``_rowid`` when asked (pylance's order)."""
    table = native.nearest_exact(
        query.column, query.q, query.k, query.metric, filter=sql_filter, prefilter=bool(prefilter), columns=columns
    )
    table = pa.table(table)
    names = [n for n in table.column_names if n not in ("_rowid", "_distance")] + ["_distance"]
    if with_row_id:
        names.append("_rowid")
    table = table.select(names)
    start = offset or 0
    return table.slice(start, limit) if limit is not None else table.slice(start)


def nearest_schema(schema: pa.Schema, columns: Optional[List[str]], with_row_id: bool) -> pa.Schema:
    """The schema `run_nearest` returns, without running it."""
    fields: List[pa.Field] = [schema.field(n) for n in (columns if columns is not None else schema.names)]
    fields.append(pa.field("_distance", pa.float32(), nullable=False))
    if with_row_id:
        fields.append(pa.field("_rowid", pa.uint64(), nullable=False))
    return pa.schema(fields)

