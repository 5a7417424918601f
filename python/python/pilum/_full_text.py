"""``full_text_query=``: a full-text search run through the column's
inverted index (fragments it does not cover yet are searched exactly with
the same BM25 statistics)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pyarrow as pa


def run_full_text(
    native: Any,
    query: Dict[str, Any],
    *,
    columns: Optional[List[str]],
    sql_filter: Optional[str],
    prefilter: bool,
    with_row_id: bool,
    limit: Optional[int],
    offset: Optional[int],
) -> pa.Table:
    """The best rows: `columns` (all when None), ``_score``, then ``_rowid`` when asked."""
    start = offset or 0
    k = None if limit is None else start + limit
    table = pa.table(
        native.full_text_search(
            query, limit=k, filter=sql_filter, prefilter=bool(prefilter), columns=columns, with_row_id=bool(with_row_id)
        )
    )
    return table.slice(start) if start else table


def full_text_schema(schema: pa.Schema, columns: Optional[List[str]], with_row_id: bool) -> pa.Schema:
    """The schema `run_full_text` returns, without running it."""
    fields = [schema.field(n) for n in (columns if columns is not None else schema.names)]
    fields.append(pa.field("_score", pa.float32()))
    if with_row_id:
        fields.append(pa.field("_rowid", pa.uint64(), nullable=False))
    return pa.schema(fields)
