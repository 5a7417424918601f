"""Hybrid search: a vector query and a full-text query, each pre-filtered
by the same predicate, fused into one ranking (Reciprocal Rank Fusion by
default, or a weighted sum of normalized scores), optionally re-ranked.

``ds.hybrid_search(nearest={"column", "q", ...}, full_text_query=...,
limit=10, filter=None, fusion="rrf", rrf_k=60, vector_weight=0.5,
candidates=None, reranker=None, columns=None, with_row_id=False)``
returns `columns`, ``_relevance_score`` (higher is better), ``_distance``
and ``_score`` (null where a side did not return the row),
``_vector_rank`` and ``_text_rank`` (1-based, null when absent), then
``_rowid`` when asked. Each side contributes at most `candidates` rows
(default max(3 × limit, 30)).

`reranker` is a callable given the fused candidates as a ``pyarrow.Table``
(every requested column plus the search columns and ``_rowid``) that
returns one score per row (higher is better); the best `limit` by its
scores are kept and ``_relevance_score`` holds them.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional

import numpy as np
import pyarrow as pa

from ._nearest import parse_nearest
from .query import full_text_dict

SEARCH_COLUMNS = ("_relevance_score", "_distance", "_score", "_vector_rank", "_text_rank")


def hybrid_search(
    dataset: Any,
    nearest: dict,
    full_text_query: Any,
    *,
    limit: int = 10,
    filter: Optional[str] = None,
    fusion: str = "rrf",
    rrf_k: float = 60.0,
    vector_weight: float = 0.5,
    candidates: Optional[int] = None,
    reranker: Optional[Callable[[pa.Table], Any]] = None,
    columns: Optional[List[str]] = None,
    with_row_id: bool = False,
) -> pa.Table:
    """Runs a hybrid search (see the module docs)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    if candidates is not None and (isinstance(candidates, bool) or not isinstance(candidates, int) or candidates <= 0):
        raise ValueError(f"candidates must be a positive integer, got {candidates!r}")
    if filter is not None and not isinstance(filter, str):
        raise TypeError("hybrid_search: filter must be a SQL string")
    if reranker is not None and not callable(reranker):
        raise TypeError("reranker must be a callable taking a pyarrow.Table and returning one score per row")
    query = parse_nearest(nearest, dataset.schema)
    if query.batch is not None:
        raise ValueError("hybrid_search takes one query vector")
    window = candidates if candidates is not None else max(3 * limit, 30)
    text = full_text_dict(full_text_query)
    table = pa.table(
        dataset._ds.hybrid_search(
            query.column,
            query.q,
            text,
            window if reranker is not None else limit,
            candidates=window,
            filter=filter,
            fusion=fusion,
            rrf_k=float(rrf_k),
            vector_weight=float(vector_weight),
            columns=columns,
            metric=query.metric,
            nprobes=query.nprobes,
            refine_factor=query.refine_factor,
            ef=query.ef,
        )
    )
    if reranker is not None and table.num_rows:
        scores = np.asarray(reranker(table), dtype=np.float64)
        if scores.shape != (table.num_rows,):
            raise ValueError(f"the reranker returned {scores.shape} scores for {table.num_rows} candidates")
        order = sorted(range(table.num_rows), key=lambda i: (-scores[i], i))[:limit]
        table = table.take(pa.array(order, pa.int64()))
        position = table.schema.get_field_index("_relevance_score")
        table = table.set_column(position, "_relevance_score", pa.array(scores[order], pa.float32()))
    names = [n for n in table.column_names if n not in ("_rowid",) + SEARCH_COLUMNS]
    order_names = names + list(SEARCH_COLUMNS) + (["_rowid"] if with_row_id else [])
    return table.select(order_names)
