"""Scans of a dataset: projection, filter, limit and offset pushed into Pilum."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Union

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds

from ._expr import expression_to_sql, referenced_columns
from .errors import reraise_tagged

if TYPE_CHECKING:
    from .dataset import PilumDataset

__all__ = ["PilumScanner"]

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


class PilumScanner(pds.Scanner):
    """A configured scan; a ``pyarrow.dataset.Scanner`` look-alike.

    SQL filters and pyarrow expressions that translate exactly run inside
    Pilum (only matching rows are read in full); other pyarrow expressions
    are applied to the scanned batches by pyarrow, so results are always
    correct. The result exports ``__arrow_c_stream__``.
    """

    def __init__(
        self,
        dataset: "PilumDataset",
        columns: Optional[Union[List[str], Dict[str, str]]] = None,
        filter: Filter = None,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        batch_size: Optional[int] = None,
        fragments: Optional[List[int]] = None,
        with_row_id: bool = False,
        with_row_address: bool = False,
        late_materialization: Optional[bool] = None,
    ):
        if limit is not None and limit < 0:
            raise ValueError("limit must be non-negative")
        if offset is not None and offset < 0:
            raise ValueError("offset must be non-negative")
        self._arguments = dict(
            columns=columns,
            filter=filter,
            limit=limit,
            offset=offset,
            batch_size=batch_size,
            fragments=fragments,
            with_row_id=with_row_id,
            with_row_address=with_row_address,
            late_materialization=late_materialization,
        )
        self._dataset = dataset
        self._expressions: Optional[Dict[str, str]] = None
        if isinstance(columns, dict):
            self._expressions = dict(columns)
            columns = None
        self._columns = list(columns) if columns is not None else None
        self._limit = limit
        self._offset = offset
        self._batch_size = batch_size
        self._fragments = fragments
        self._with_row_id = bool(with_row_id)
        self._with_row_address = bool(with_row_address)
        self._late = late_materialization
        self._sql_filter: Optional[str] = None
        self._residual: Optional[pc.Expression] = None
        if isinstance(filter, str):
            self._sql_filter = filter
        elif isinstance(filter, pc.Expression):
            translated = expression_to_sql(filter, dataset.schema)
            if translated is None:
                self._residual = filter
            else:
                self._sql_filter = translated
        elif filter is not None:
            raise TypeError(f"filter must be a SQL string or a pyarrow Expression, not {type(filter).__name__}")

    # --- pyarrow.dataset.Scanner surface -------------------------------------------------

    @property
    def dataset_schema(self) -> pa.Schema:
        return self._dataset.schema

    @property
    def projected_schema(self) -> pa.Schema:
        if self._expressions is not None:
            return self.to_reader().schema
        return pa.schema(self._dataset._ds.scan_schema(self._columns, self._with_row_id, self._with_row_address))

    def to_reader(self) -> pa.RecordBatchReader:
        """The rows as a streaming ``pyarrow.RecordBatchReader``."""
        if self._expressions is not None:
            return self._expression_reader()
        if self._residual is None:
            return native_reader(self._native_scan(self._columns, self._limit, self._offset))
        return self._residual_reader()

    def to_table(self) -> pa.Table:
        """All rows as a ``pyarrow.Table``."""
        return self.to_reader().read_all()

    def to_batches(self) -> Iterator[pa.RecordBatch]:
        """The rows as an iterator of ``pyarrow.RecordBatch``."""
        yield from self.to_reader()

    def count_rows(self) -> int:
        """Number of rows the scan returns."""
        simple = self._residual is None and self._expressions is None and self._fragments is None
        if simple and self._limit is None and not self._offset:
            return self._dataset._ds.count_rows(self._sql_filter)
        return self._count()

    def head(self, num_rows: int) -> pa.Table:
        """The first `num_rows` rows."""
        table = self.to_table() if self._limit is not None else self._with_limit(num_rows).to_table()
        return table.slice(0, num_rows)

    def take(self, indices: Any) -> pa.Table:
        """Rows of the scan result at `indices`."""
        return self.to_table().take(indices)

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.to_reader().__arrow_c_stream__(requested_schema)

    # --- internals -------------------------------------------------------------------------

    def _with_limit(self, limit: int) -> "PilumScanner":
        return PilumScanner(self._dataset, **{**self._arguments, "limit": limit})

    def _count(self) -> int:
        return sum(batch.num_rows for batch in self.to_reader())

    def _native_scan(self, columns: Optional[List[str]], limit: Optional[int], offset: Optional[int]) -> Any:
        return self._dataset._ds.scan(
            columns=columns,
            filter=self._sql_filter,
            limit=limit,
            offset=offset,
            with_row_id=self._with_row_id,
            with_row_address=self._with_row_address,
            batch_size=self._batch_size,
            fragments=self._fragments,
            late_materialization=self._late,
        )

    def _residual_reader(self) -> pa.RecordBatchReader:
        """Filter in pyarrow: read the projected plus filter columns, filter, then project, limit and offset."""
        wanted = self._columns
        needed = None
        if wanted is not None:
            refs = referenced_columns(self._residual, self._dataset.schema)
            names = self._dataset.schema.names if refs is None else [n for n in self._dataset.schema.names if n in refs]
            needed = list(dict.fromkeys(list(wanted) + names))
        source = native_reader(self._native_scan(needed, None, None))
        schema = pa.schema(self._dataset._ds.scan_schema(wanted, self._with_row_id, self._with_row_address))
        residual, skip, left = self._residual, self._offset or 0, self._limit

        def batches() -> Iterator[pa.RecordBatch]:
            nonlocal skip, left
            for batch in source:
                table = pa.Table.from_batches([batch]).filter(residual)
                if skip:
                    dropped = min(skip, table.num_rows)
                    table, skip = table.slice(dropped), skip - dropped
                if left is not None:
                    table = table.slice(0, left)
                    left -= table.num_rows
                for out in table.select(schema.names).to_batches():
                    yield out
                if left == 0:
                    return

        return pa.RecordBatchReader.from_batches(schema, batches())

    def _expression_reader(self) -> pa.RecordBatchReader:
        """Columns given as ``{name: SQL expression}``: evaluated by the SQL engine."""
        from .sql import quote_identifier

        assert self._expressions is not None  # checked by to_reader
        if self._residual is not None or self._with_row_id or self._with_row_address or self._fragments is not None:
            raise ValueError(
                "columns given as SQL expressions combine only with a SQL (string) filter, limit and offset"
            )
        select = ", ".join(f"{expr} AS {quote_identifier(name)}" for name, expr in self._expressions.items())
        query = f"SELECT {select} FROM dataset"
        if self._sql_filter is not None:
            query += f" WHERE {self._sql_filter}"
        if self._limit is not None:
            query += f" LIMIT {int(self._limit)}"
        if self._offset:
            query += f" OFFSET {int(self._offset)}"
        from .sql import Session

        session = Session(ordered=True)
        session.register("dataset", self._dataset)
        return session.sql(query).to_reader()
