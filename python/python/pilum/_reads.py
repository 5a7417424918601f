"""Reads shared by ``PilumDataset`` and its filtered views, all through
``self.scanner(...)``, including the ``pyarrow.dataset.Dataset`` methods
that pyarrow would otherwise run on its (absent) native object."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Iterator, Optional

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds

from ._args import SCAN_NOOPS, SCAN_UNSUPPORTED

__all__ = ["DatasetReads", "in_memory"]

_BLOB_KEYS = (b"pilum:blob", b"lance-encoding:blob")


def in_memory(dataset: Any) -> Any:
    """`dataset` read into a pyarrow ``InMemoryDataset`` when it is a Pilum dataset or view."""
    if isinstance(dataset, DatasetReads):
        return pds.InMemoryDataset(dataset.to_table())
    return dataset


class DatasetReads:
    """Read methods over ``self.scanner`` and ``self.schema``."""

    schema: pa.Schema

    def scanner(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_table(self, columns: Any = None, filter: Any = None, limit: Optional[int] = None, offset: Optional[int] = None, **kwargs: Any) -> pa.Table:
        """The rows as a ``pyarrow.Table``; arguments as for ``scanner``."""
        return self.scanner(columns, filter, limit, offset, **kwargs).to_table()

    def to_batches(self, columns: Any = None, filter: Any = None, limit: Optional[int] = None, offset: Optional[int] = None, **kwargs: Any) -> Iterator[pa.RecordBatch]:
        """The rows as ``pyarrow.RecordBatch`` es; arguments as for ``scanner``."""
        return self.scanner(columns, filter, limit, offset, **kwargs).to_batches()

    def head(self, num_rows: int, columns: Any = None, filter: Any = None, **kwargs: Any) -> pa.Table:
        """The first `num_rows` rows (after `filter`, in ``order_by`` order when given)."""
        return self.scanner(columns=columns, filter=filter, limit=num_rows, **kwargs).to_table()

    def count_rows(self, filter: Any = None, **kwargs: Any) -> int:
        """Number of rows (matching `filter`); other arguments as for ``scanner``."""
        return self.scanner(filter=filter, **kwargs).count_rows()

    def take(self, indices: Any, columns: Any = None, **kwargs: Any) -> pa.Table:
        """Rows at positions `indices` of the scan ``scanner(columns=columns, **kwargs)``
        describes (without arguments: 0 = first live row), in that order."""
        return self.scanner(columns=columns, **kwargs).take(indices)

    def to_pandas(self, columns: Any = None, filter: Any = None, limit: Optional[int] = None, offset: Optional[int] = None, *, blob_mode: Optional[str] = None, **kwargs: Any) -> Any:
        """The rows as a pandas DataFrame: scan arguments as for ``scanner``, the
        others go to ``pyarrow.Table.to_pandas``. Blob columns hold ``bytes``
        (``blob_mode="bytes"``)."""
        known = _scan_parameters()
        scan = {name: kwargs.pop(name) for name in list(kwargs) if name in known}
        table = self.to_table(columns, filter, limit, offset, **scan)
        if blob_mode not in (None, "bytes") and any(_is_blob(f) for f in table.schema):
            raise NotImplementedError(f"to_pandas(): blob_mode={blob_mode!r} is not supported by Pilum; use 'bytes' or take_blobs")
        return table.to_pandas(**kwargs)

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.scanner().__arrow_c_stream__(requested_schema)

    # --- pyarrow.dataset.Dataset methods -----------------------------------------------------

    @property
    def partition_expression(self) -> pc.Expression:
        """Always true: Pilum datasets are not partitioned."""
        return pc.scalar(True)

    def filter(self, expression: Any) -> Any:
        """A read-only view whose reads keep only rows where `expression` (a SQL
        predicate or a pyarrow expression) holds."""
        from .view import FilteredDataset

        return FilteredDataset(self, expression)

    def sort_by(self, sorting: Any, **kwargs: Any) -> pds.InMemoryDataset:
        """The rows sorted as ``pyarrow.Table.sort_by(sorting, **kwargs)`` sorts them,
        as a pyarrow ``InMemoryDataset`` (read into memory, like pyarrow does).
        For a sorted scan without reading everything, use ``order_by=`` with ``limit``."""
        return pds.InMemoryDataset(self.to_table().sort_by(sorting, **kwargs))

    def join(self, right_dataset: Any, keys: Any, right_keys: Any = None, join_type: str = "left outer", left_suffix: Optional[str] = None, right_suffix: Optional[str] = None, coalesce_keys: bool = True, use_threads: bool = True) -> pds.InMemoryDataset:
        """pyarrow's ``Dataset.join`` over this dataset's rows (read into memory,
        as is a Pilum `right_dataset`); returns a pyarrow ``InMemoryDataset``."""
        return in_memory(self).join(in_memory(right_dataset), keys, right_keys, join_type, left_suffix, right_suffix, coalesce_keys, use_threads)

    def join_asof(self, right_dataset: Any, on: str, by: Any, tolerance: int, right_on: Optional[str] = None, right_by: Any = None) -> pds.InMemoryDataset:
        """pyarrow's ``Dataset.join_asof`` over this dataset's rows (read into
        memory, as is a Pilum `right_dataset`); returns a pyarrow ``InMemoryDataset``."""
        return in_memory(self).join_asof(in_memory(right_dataset), on, by, tolerance, right_on, right_by)

    def replace_schema(self, schema: pa.Schema) -> Any:
        """Not supported: a Pilum dataset reads with its stored schema."""
        raise NotImplementedError(
            "replace_schema is not supported by Pilum: change the stored schema with alter_columns, "
            "add_columns or drop_columns, or cast what you read: to_table().cast(schema)"
        )


def _is_blob(field: pa.Field) -> bool:
    return any((field.metadata or {}).get(key) == b"true" for key in _BLOB_KEYS)


@functools.lru_cache(maxsize=None)
def _scan_parameters() -> frozenset:
    """Every keyword ``PilumDataset.scanner`` honours or knows."""
    from .dataset import PilumDataset

    parameters = inspect.signature(PilumDataset.scanner).parameters.values()
    own = {p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)} - {"self"}
    return frozenset(own) | SCAN_NOOPS | frozenset(SCAN_UNSUPPORTED)
