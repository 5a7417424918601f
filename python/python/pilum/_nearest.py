"""``nearest=``: pylance's vector-search argument, checked once and run.

A search goes through a vector index on the column when one exists (and
``use_index`` is not False), and compares exactly otherwise; fragments an
index does not cover yet are always compared exactly (unless
``fast_search=True``). The index defaults (``nprobes``, ``refine_factor``)
are calibrated on the data when the index is built, so an untuned search
is accurate. ``ef`` sets the graph search width of an IVF_HNSW_SQ index in
each probed partition (default twice k × refine factor, at least 40; other
kinds compare every member of a probed partition and ignore it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

import numpy as np
import pyarrow as pa

#: Keys accepted and changing nothing: ``maximum_nprobes`` bounds pylance's
#: probe expansion, while Pilum probes past ``nprobes`` only as long as a
#: filter or deletions leave fewer than k candidates.
NEAREST_NOOPS = frozenset({"maximum_nprobes"})

#: pylance keys that change results and that Pilum does not support yet.
NEAREST_UNSUPPORTED = {"distance_range": "distance ranges"}

#: Keys Pilum honours.
NEAREST_KEYS = frozenset({"column", "q", "k", "metric", "nprobes", "minimum_nprobes", "refine_factor", "use_index", "ef"})

#: pylance's default number of neighbors.
DEFAULT_K = 10


def _is_vector_type(value_type: pa.DataType) -> bool:
    return pa.types.is_floating(value_type) or value_type in (pa.uint8(), pa.int8())


def vector_dimension(column_type: pa.DataType) -> Optional[int]:
    """Values per vector of a vector column (fixed-size list of f16/f32/f64/u8/i8, or a list of them), else None."""
    if pa.types.is_list(column_type) or pa.types.is_large_list(column_type):
        column_type = column_type.value_type
    if pa.types.is_fixed_size_list(column_type) and _is_vector_type(column_type.value_type):
        return column_type.list_size
    return None


def is_multivector(column_type: pa.DataType) -> bool:
    """Whether a column holds a bag of vectors per row."""
    return (pa.types.is_list(column_type) or pa.types.is_large_list(column_type)) and vector_dimension(column_type) is not None


@dataclass(frozen=True)
class NearestQuery:
    """A checked ``nearest=`` argument."""

    column: str
    q: bytes  # little-endian f32
    k: int
    metric: Optional[str]
    nprobes: Optional[int]
    refine_factor: Optional[int]
    use_index: bool
    #: Graph search width (IVF_HNSW_SQ).
    ef: Optional[int] = None
    #: Number of query vectors when `q` was 2-d (results gain ``query_index``).
    batch: Optional[int] = None


def _count(nearest: dict, key: str, minimum: int) -> Optional[int]:
    value = nearest.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"nearest[{key!r}] must be an integer >= {minimum}, got {value!r}")
    return int(value)


def parse_nearest(nearest: Any, schema: pa.Schema) -> NearestQuery:
    """Checks a ``nearest`` dict against `schema`; raises TypeError/ValueError/NotImplementedError naming the key."""
    if not isinstance(nearest, dict):
        raise TypeError(f"nearest must be a dict with 'column' and 'q', got {type(nearest).__name__}")
    unknown = sorted(set(nearest) - NEAREST_KEYS - NEAREST_NOOPS - set(NEAREST_UNSUPPORTED))
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
    if vector.ndim not in (1, 2) or vector.size == 0:
        raise ValueError(f"nearest['q'] must be one vector or a 2-d batch of vectors, got shape {vector.shape}")
    # On a multivector column a 2-d q is one query: a bag of vectors ranked by
    # MaxSim, and a 1-d q a bag of one; each must be of the column's size.
    bag = is_multivector(schema.field(column).type)
    if bag and vector.shape[-1] != vector_dimension(schema.field(column).type):
        raise ValueError(
            f"nearest['q']: vectors of multivector column {column!r} have "
            f"{vector_dimension(schema.field(column).type)} values, q has shape {vector.shape}"
        )
    k = nearest.get("k", DEFAULT_K)
    if k is None:
        k = DEFAULT_K
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"nearest['k'] must be a positive integer, got {k!r}")
    metric = nearest.get("metric")
    if metric is not None and not isinstance(metric, str):
        raise ValueError(f"nearest['metric'] must be a string, got {metric!r}")
    nprobes = _count(nearest, "nprobes", 1)
    minimum = _count(nearest, "minimum_nprobes", 1)
    if minimum is not None:
        nprobes = max(nprobes or 0, minimum)
    use_index = nearest.get("use_index", True)
    if use_index is None:
        use_index = True
    if not isinstance(use_index, (bool, np.bool_)):
        raise ValueError(f"nearest['use_index'] must be a bool, got {use_index!r}")
    return NearestQuery(
        column=column,
        q=np.ascontiguousarray(vector, dtype="<f4").tobytes(),
        k=int(k),
        metric=metric,
        nprobes=nprobes,
        refine_factor=_count(nearest, "refine_factor", 0),
        use_index=bool(use_index),
        ef=_count(nearest, "ef", 1),
        batch=len(vector) if vector.ndim == 2 and not bag else None,
    )


def run_nearest(
    native: Any,
    query: NearestQuery,
    *,
    columns: Optional[List[str]],
    sql_filter: Optional[str],
    prefilter: bool,
    fast_search: bool,
    with_row_id: bool,
    limit: Optional[int],
    offset: Optional[int],
) -> pa.Table:
    """The search's rows: `columns` (all when None), ``_distance``, then ``_rowid`` when asked (pylance's order)."""
    table = native.nearest(
        query.column,
        query.q,
        query.k,
        metric=query.metric,
        filter=sql_filter,
        prefilter=bool(prefilter),
        columns=columns,
        nprobes=query.nprobes,
        refine_factor=query.refine_factor,
        use_index=query.use_index,
        fast_search=bool(fast_search),
        batch=query.batch,
        ef=query.ef,
        with_row_id=bool(with_row_id),  # pylance's order: the columns, _distance, then _rowid
    )
    table = pa.table(table)
    if offset or limit is not None:
        start = offset or 0
        table = table.slice(start, limit) if limit is not None else table.slice(start)
    return table


def nearest_schema(schema: pa.Schema, columns: Optional[List[str]], with_row_id: bool, batch: bool = False) -> pa.Schema:
    """The schema `run_nearest` returns, without running it."""
    fields: List[pa.Field] = [pa.field("query_index", pa.int32(), nullable=False)] if batch else []
    fields += [schema.field(n) for n in (columns if columns is not None else schema.names)]
    fields.append(pa.field("_distance", pa.float32()))
    if with_row_id:
        fields.append(pa.field("_rowid", pa.uint64(), nullable=False))
    return pa.schema(fields)
