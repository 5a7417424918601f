"""Scans of a dataset: projection, filter, order, limit and offset pushed into Pilum."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple, Union

import pyarrow as pa
import pyarrow.dataset as pds

from ._batching import RowWindow, exact_batches
from ._data import index_list
from ._expr import referenced_columns
from ._full_text import full_text_schema, run_full_text
from ._nearest import nearest_schema, parse_nearest, run_nearest
from .query import full_text_dict
from ._ordering import normalize_order_by
from ._pyarrow_base import seal
from ._scan_sources import Filter, filtered_reader, native_reader, split_filters
from ._sql_scan import sql_scan

if TYPE_CHECKING:
    from .dataset import PilumDataset

__all__ = ["PilumScanner", "Filter", "native_reader"]


def _restore(dataset: "PilumDataset", arguments: Dict[str, Any]) -> "PilumScanner":
    return PilumScanner(dataset, **arguments)


class PilumScanner(pds.Scanner):
    """A configured scan; a ``pyarrow.dataset.Scanner`` look-alike.

    SQL filters and pyarrow expressions that translate exactly run inside
    Pilum (only matching rows are read in full); other pyarrow expressions
    are applied to the scanned batches by pyarrow, so results are always
    correct. ``order_by`` and columns given as SQL expressions run as one
    DataFusion query. The result exports ``__arrow_c_stream__``.
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
        late_materialization: Any = None,
        *,
        order_by: Any = None,
        strict_batch_size: bool = False,
        view_filters: Tuple[Filter, ...] = (),
        nearest: Any = None,
        prefilter: Optional[bool] = None,
        fast_search: Optional[bool] = None,
        full_text_query: Any = None,
        use_scalar_index: Optional[bool] = None,
    ):
        if limit is not None and limit < 0:
            raise ValueError("limit must be non-negative")
        if offset is not None and offset < 0:
            raise ValueError("offset must be non-negative")
        if batch_size is not None and batch_size <= 0:
            raise ValueError("batch_size must be positive")
        if strict_batch_size and batch_size is None:
            raise ValueError("strict_batch_size=True needs batch_size")
        if isinstance(late_materialization, (list, tuple)):
            # pylance's per-column form: a tuning choice that cannot change results.
            late_materialization = bool(late_materialization)
        self._dataset = dataset
        self._orderings = normalize_order_by(order_by, dataset.schema)
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
            order_by=self._orderings or None,
            strict_batch_size=bool(strict_batch_size),
            view_filters=tuple(view_filters),
            nearest=nearest,
            prefilter=prefilter,
            fast_search=fast_search,
            full_text_query=full_text_query,
            use_scalar_index=use_scalar_index,
        )
        if use_scalar_index is not None and not isinstance(use_scalar_index, bool):
            raise TypeError(f"use_scalar_index must be a bool, got {use_scalar_index!r}")
        self._use_scalar_index = use_scalar_index is not False
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
        self._strict = bool(strict_batch_size)
        # pylance's full-text pre-filter of a vector search:
        # filter={"search_filter": <full-text query>, "expr_filter": <SQL or None>}.
        self._search_filter = None
        if isinstance(filter, dict):
            unknown = sorted(set(filter) - {"search_filter", "expr_filter"})
            if unknown or "search_filter" not in filter:
                raise TypeError(f"a dict filter has 'search_filter' and optionally 'expr_filter', got keys {sorted(filter)}")
            self._search_filter = full_text_dict(filter["search_filter"])
            filter = filter.get("expr_filter")
        self._sql_filter, self._residual = split_filters((*view_filters, filter), dataset.schema)
        self._check_query_scan()
        self._prefilter = bool(prefilter)
        self._fast_search = bool(fast_search)
        self._nearest = None if nearest is None else parse_nearest(nearest, dataset.schema)
        self._full_text = None if full_text_query is None else full_text_dict(full_text_query)
        self._check_nearest()

    def __reduce__(self) -> Any:
        return (_restore, (self._dataset, self._arguments))

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._arguments.items() if not (v is None or v is False or (isinstance(v, tuple) and not v))}
        return f"PilumScanner({self._dataset!r}, {shown})"

    # --- pyarrow.dataset.Scanner surface -------------------------------------------------

    @staticmethod
    def from_dataset(dataset: Any, **kwargs: Any) -> Any:
        """``dataset.scanner(**kwargs)`` for a Pilum dataset or view; pyarrow's otherwise."""
        from ._reads import DatasetReads

        if isinstance(dataset, DatasetReads):
            return dataset.scanner(**kwargs)
        return pds.Scanner.from_dataset(dataset, **kwargs)

    @staticmethod
    def from_fragment(fragment: Any, *, schema: Optional[pa.Schema] = None, **kwargs: Any) -> Any:
        """``fragment.scanner(**kwargs)`` for a Pilum fragment; pyarrow's otherwise."""
        from .fragment import PilumFragment

        if not isinstance(fragment, PilumFragment):
            return pds.Scanner.from_fragment(fragment, schema=schema, **kwargs)
        if schema is not None and not schema.equals(fragment.schema):
            raise NotImplementedError("from_fragment(): a schema other than the dataset's is not supported by Pilum")
        return fragment.scanner(**kwargs)

    @staticmethod
    def from_batches(source: Any, **kwargs: Any) -> pds.Scanner:
        """pyarrow's ``Scanner.from_batches`` (a plain pyarrow scanner over `source`)."""
        return pds.Scanner.from_batches(source, **kwargs)

    @property
    def dataset_schema(self) -> pa.Schema:
        """The schema of the dataset scanned."""
        return self._dataset.schema

    @property
    def projected_schema(self) -> pa.Schema:
        """The schema of the rows the scan returns."""
        if self._nearest is not None and self._full_text is not None:
            return self._copy(limit=1).to_reader().schema
        if self._nearest is not None:
            return nearest_schema(self._dataset.schema, self._columns, self._with_row_id, self._nearest.batch is not None)
        if self._full_text is not None:
            return full_text_schema(self._dataset.schema, self._columns, self._with_row_id)
        if self._expressions is not None:
            return self._copy(limit=0, order_by=None).to_reader().schema
        return pa.schema(self._dataset._ds.scan_schema(self._columns, self._with_row_id, self._with_row_address))

    def to_reader(self) -> pa.RecordBatchReader:
        """The rows as a streaming ``pyarrow.RecordBatchReader``."""
        if self._nearest is not None and self._full_text is not None:
            reader = self._hybrid_scan().to_reader(max_chunksize=self._batch_size)
        elif self._nearest is not None:
            reader = self._nearest_scan().to_reader(max_chunksize=self._batch_size)
        elif self._full_text is not None:
            reader = self._full_text_scan().to_reader(max_chunksize=self._batch_size)
        elif self._expressions is not None or self._orderings:
            reader = self._query_scan().to_reader(max_chunksize=self._batch_size)
        elif self._residual is None:
            reader = native_reader(self._native_scan(self._columns, self._limit, self._offset))
        else:
            reader = self._residual_reader()
        if self._strict:
            assert self._batch_size is not None  # checked in __init__
            reader = exact_batches(reader, self._batch_size)
        return reader

    def to_table(self) -> pa.Table:
        """All rows as a ``pyarrow.Table``."""
        # A search's result is already one table: no reader round trip.
        if self._full_text is not None and self._nearest is None and not self._strict:
            return self._full_text_scan()
        if self._nearest is not None and self._full_text is None and not self._strict and self._batch_size is None:
            return self._nearest_scan()
        return self.to_reader().read_all()

    def to_batches(self) -> Iterator[pa.RecordBatch]:
        """The rows as an iterator of ``pyarrow.RecordBatch``."""
        yield from self.to_reader()

    def scan_batches(self) -> Iterator[pds.TaggedRecordBatch]:
        """The rows as ``TaggedRecordBatch(record_batch, fragment)`` pairs, where
        `fragment` is the ``PilumFragment`` the rows come from."""
        if self._expressions is not None or self._orderings or self._nearest is not None or self._full_text is not None:
            raise NotImplementedError(
                "scan_batches(): batches of an order_by, nearest, full-text or SQL-expression scan have no single fragment; use to_batches()"
            )
        fragments = self._dataset.get_fragments()
        if self._fragments is not None:
            by_id = {f.fragment_id: f for f in fragments}
            missing = [i for i in self._fragments if i not in by_id]
            if missing:
                raise ValueError(f"scan_batches(): no fragments {missing} in this version")
            fragments = [by_id[i] for i in self._fragments]
        return self._tagged(fragments)

    def count_rows(self) -> int:
        """Number of rows the scan returns."""
        if self._orderings:
            return self._copy(order_by=None).count_rows()
        if (
            self._residual is None
            and self._expressions is None
            and self._fragments is None
            and self._nearest is None
            and self._full_text is None
        ):
            total = max(0, self._dataset._ds.count_rows(self._sql_filter, self._use_scalar_index) - (self._offset or 0))
            return total if self._limit is None else min(total, self._limit)
        return sum(batch.num_rows for batch in self.to_reader())

    def head(self, num_rows: int) -> pa.Table:
        """The first `num_rows` rows."""
        if num_rows < 0:
            raise ValueError("num_rows must be non-negative")
        limit = num_rows if self._limit is None else min(num_rows, self._limit)
        return self._copy(limit=limit).to_table()

    def take(self, indices: Any) -> pa.Table:
        """Rows at positions `indices` of the scan result, in that order."""
        positions = index_list(indices)
        if self._plain():
            return pa.table(self._dataset._ds.take(positions, self._columns))
        return self.head(max(positions) + 1 if positions else 0).take(pa.array(positions, pa.int64()))

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.to_reader().__arrow_c_stream__(requested_schema)

    # --- internals -------------------------------------------------------------------------

    def _copy(self, **changes: Any) -> "PilumScanner":
        return PilumScanner(self._dataset, **{**self._arguments, **changes})

    def _plain(self) -> bool:
        """Whether the scan returns every live row in order (so position = dataset position)."""
        a = self._arguments
        return (
            self._sql_filter is None
            and self._nearest is None
            and self._full_text is None
            and self._residual is None
            and self._expressions is None
            and not self._orderings
            and a["limit"] is None
            and not a["offset"]
            and a["fragments"] is None
            and not self._with_row_id
            and not self._with_row_address
        )

    def _check_query_scan(self) -> None:
        """Order and SQL-expression columns run as one query, which cannot do everything."""
        if self._expressions is None and not self._orderings:
            return
        conflicts = [
            name
            for name, present in (
                ("with_row_id", self._with_row_id),
                ("with_row_address", self._with_row_address),
                ("fragments", self._fragments is not None),
                ("a pyarrow filter without an exact SQL translation (pass a SQL string)", self._residual is not None),
            )
            if present
        ]
        if not conflicts:
            return
        if self._expressions is not None:
            raise ValueError(f"columns given as SQL expressions cannot be combined with {', '.join(conflicts)}")
        raise NotImplementedError(f"order_by cannot be combined with {', '.join(conflicts)} in Pilum")

    def _check_nearest(self) -> None:
        """A vector or full-text search returns its k rows, best first; what cannot apply to that raises."""
        if self._nearest is not None and self._full_text is not None and self._arguments["fast_search"]:
            raise NotImplementedError("fast_search=True with a hybrid search (nearest= and full_text_query=) is not supported by Pilum yet")
        if self._full_text is not None and self._arguments["fast_search"]:
            raise NotImplementedError("fast_search=True with full_text_query= is not supported by Pilum yet")
        if self._search_filter is not None and (self._nearest is None or self._full_text is not None or not self._arguments["prefilter"]):
            raise ValueError(
                "filter={'search_filter': ...} pre-filters a vector search: it needs nearest= and prefilter=True, without full_text_query="
            )
        if self._nearest is None and self._full_text is None:
            if self._arguments["prefilter"]:
                raise ValueError("prefilter=True needs nearest= or full_text_query= (it chooses when the filter applies to a search)")
            if self._arguments["fast_search"]:
                raise ValueError("fast_search=True needs nearest= (it limits a search to indexed fragments)")
            return
        conflicts = [
            name
            for name, present in (
                ("order_by", bool(self._orderings)),
                ("columns given as SQL expressions", self._expressions is not None),
                ("fragments", self._fragments is not None),
                ("with_row_address", self._with_row_address),
                ("a pyarrow filter without an exact SQL translation (pass a SQL string)", self._residual is not None),
            )
            if present
        ]
        if conflicts:
            what = "nearest" if self._nearest is not None else "full_text_query"
            raise NotImplementedError(f"{what} cannot be combined with {', '.join(conflicts)} in Pilum")

    def _nearest_scan(self) -> pa.Table:
        assert self._nearest is not None  # callers check
        if self._search_filter is not None:
            return self._nearest_among_matches()
        return run_nearest(
            self._dataset._ds,
            self._nearest,
            columns=self._columns,
            sql_filter=self._sql_filter,
            prefilter=self._prefilter,
            fast_search=self._fast_search,
            with_row_id=self._with_row_id,
            limit=self._limit,
            offset=self._offset,
        )

    def _nearest_among_matches(self) -> pa.Table:
        """A vector search among the rows a full-text query matches (and
        `expr_filter` passes), compared exactly; pylance's column order."""
        assert self._nearest is not None and self._search_filter is not None  # callers check
        if self._nearest.batch is not None:
            raise NotImplementedError("a full-text pre-filter with a batch of query vectors is not supported by Pilum yet")
        matches = pa.table(
            self._dataset._ds.full_text_search(self._search_filter, filter=self._sql_filter, prefilter=True, columns=[])
        )
        table = pa.table(
            self._dataset._ds.nearest_among(
                self._nearest.column,
                self._nearest.q,
                self._nearest.k,
                matches["_rowid"].to_pylist(),
                metric=self._nearest.metric,
                columns=self._columns,
            )
        )
        names = table.column_names
        table = table.select(names[:-2] + ["_distance", "_rowid"]) if self._with_row_id else table.drop_columns(["_rowid"])
        start = self._offset or 0
        if start or self._limit is not None:
            table = table.slice(start, self._limit) if self._limit is not None else table.slice(start)
        return table

    def _hybrid_scan(self) -> pa.Table:
        """``nearest=`` with ``full_text_query=``: both searches pre-filtered
        by `filter`, fused by Reciprocal Rank Fusion (see ``pilum._hybrid``);
        `limit` rows (default the nearest query's k)."""
        from ._hybrid import hybrid_search

        assert self._nearest is not None and self._full_text is not None  # callers check
        start = self._offset or 0
        limit = self._limit if self._limit is not None else self._nearest.k
        table = hybrid_search(
            self._dataset,
            self._arguments["nearest"],
            self._arguments["full_text_query"],
            limit=start + limit,
            filter=self._sql_filter,
            columns=self._columns,
            with_row_id=self._with_row_id,
        )
        return table.slice(start) if start else table

    def _full_text_scan(self) -> pa.Table:
        assert self._full_text is not None  # callers check
        return run_full_text(
            self._dataset._ds,
            self._full_text,
            columns=self._columns,
            sql_filter=self._sql_filter,
            prefilter=self._prefilter,
            with_row_id=self._with_row_id,
            limit=self._limit,
            offset=self._offset,
        )

    def _query_scan(self) -> pa.Table:
        return sql_scan(
            self._dataset,
            columns=self._columns,
            expressions=self._expressions,
            where=self._sql_filter,
            orderings=self._orderings,
            limit=self._limit,
            offset=self._offset,
        )

    def _tagged(self, fragments: List[Any]) -> Iterator[pds.TaggedRecordBatch]:
        window = RowWindow(self._offset or 0, self._limit)
        for fragment in fragments:
            if window.done:
                return
            wanted = None if window.left is None else window.skip + window.left
            part = self._copy(fragments=[fragment.fragment_id], offset=None, limit=wanted)
            for batch in part.to_reader():
                batch = window.cut(batch)
                if batch.num_rows:
                    yield pds.TaggedRecordBatch(batch, fragment)
                if window.done:
                    return

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
        return filtered_reader(source, self._residual, schema, self._offset or 0, self._limit)

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
            use_scalar_index=self._use_scalar_index,
        )


seal(
    PilumScanner,
    pds.Scanner,
    {"__setstate__": "pickling goes through __reduce__"},
)
