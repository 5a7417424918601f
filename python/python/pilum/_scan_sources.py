"""Readers under a scan: native Pilum streams, filters split into the part
Pilum runs (SQL) and the part pyarrow applies, and pyarrow-side filtering."""

from __future__ import annotations

import functools
from typing import Any, Iterator, List, Optional, Tuple, Union

import pyarrow as pa
import pyarrow.compute as pc

from ._batching import RowWindow
from ._expr import expression_to_sql
from .errors import reraise_tagged

__all__ = ["Filter", "native_reader", "split_filters", "filtered_reader"]

Filter = Union[str, pc.Expression, None]


def native_reader(stream: Any) -> pa.RecordBatchReader:
    """A pyarrow reader over a native scan whose errors surface as ``pilum.errors`` classes."""
    source = pa.RecordBatchReader.from_stream(stream)

    def batches() -> Iterator[pa.RecordBatch]:
        while True:
            try:
                batch = source.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowException as e:
                reraise_tagged(e)
                raise
            yield batch

    return pa.RecordBatchReader.from_batches(source.schema, batches())


def split_filters(filters: Tuple[Filter, ...], schema: pa.Schema) -> Tuple[Optional[str], Optional[pc.Expression]]:
    """The conjunction of `filters` as a SQL predicate plus a residual pyarrow
    expression (the expressions without an exact SQL translation)."""
    sql: List[str] = []
    residual: List[pc.Expression] = []
    for f in filters:
        if f is None:
            continue
        if isinstance(f, str):
            sql.append(f)
        elif isinstance(f, pc.Expression):
            translated = expression_to_sql(f, schema)
            if translated is None:
                residual.append(f)
            else:
                sql.append(translated)
        else:
            raise TypeError(f"filter must be a SQL string or a pyarrow Expression, not {type(f).__name__}")
    where = sql[0] if len(sql) == 1 else (" AND ".join(f"({s})" for s in sql) or None)
    return where, functools.reduce(lambda a, b: a & b, residual) if residual else None


def filtered_reader(
    source: pa.RecordBatchReader, residual: pc.Expression, schema: pa.Schema, offset: int, limit: Optional[int]
) -> pa.RecordBatchReader:
    """`source`'s rows where `residual` holds, projected to `schema`, after
    skipping `offset` of them and stopping after `limit`."""
    window = RowWindow(offset, limit)

    def batches() -> Iterator[pa.RecordBatch]:
        if window.done:
            return
        for batch in source:
            table = window.cut(pa.Table.from_batches([batch]).filter(residual))
            yield from table.select(schema.names).to_batches()
            if window.done:
                return

    return pa.RecordBatchReader.from_batches(schema, batches())
