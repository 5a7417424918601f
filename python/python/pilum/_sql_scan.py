"""Scans that run as one DataFusion query: columns given as SQL expressions,
and ``order_by`` (``ORDER BY`` with ``LIMIT`` runs as a bounded top-k)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional

import pyarrow as pa

from ._ordering import ColumnOrdering, order_by_sql
from .sql import Session, quote_identifier

if TYPE_CHECKING:
    from .dataset import PilumDataset

__all__ = ["sql_scan"]


def sql_scan(
    dataset: "PilumDataset",
    *,
    columns: Optional[List[str]],
    expressions: Optional[Dict[str, str]],
    where: Optional[str],
    orderings: List[ColumnOrdering],
    limit: Optional[int],
    offset: Optional[int],
) -> pa.Table:
    """The rows of ``SELECT ... FROM dataset WHERE ... ORDER BY ... LIMIT ... OFFSET ...``.

    Plain columns (`columns`, or all when both `columns` and `expressions`
    are ``None``) come back with the types and metadata a native scan gives.
    """
    if expressions is not None:
        select = [f"{sql} AS {quote_identifier(name)}" for name, sql in expressions.items()]
        target = None
    else:
        target = pa.schema(dataset._ds.scan_schema(columns, False, False))
        select = [quote_identifier(name) for name in target.names]
    # A query must select something; a zero-column result keeps its row count.
    query = f"SELECT {', '.join(select) or 'TRUE AS __pilum_row'} FROM dataset"
    if where is not None:
        query += f" WHERE {where}"
    order = order_by_sql(orderings)
    if order is not None:
        query += f" ORDER BY {order}"
    if limit is not None:
        query += f" LIMIT {int(limit)}"
    if offset:
        query += f" OFFSET {int(offset)}"
    session = Session(ordered=True)
    session.register("dataset", dataset)
    table = session.sql(query)
    if target is None:
        return table
    if not select:
        return table.drop_columns(table.column_names)
    return table.cast(target)
