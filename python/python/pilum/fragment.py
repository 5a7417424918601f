"""Fragments: the units a dataset's rows are stored in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, List, Optional, Tuple

import pyarrow as pa

from ._data import index_list
from .distributed import FragmentMetadata, write_fragments

if TYPE_CHECKING:
    from .dataset import PilumDataset
    from .scanner import PilumScanner

__all__ = ["FragmentMetadata", "PilumFragment", "write_fragments"]


class PilumFragment:
    """One fragment of a dataset version: its data files and deletions."""

    def __init__(
        self,
        dataset: "PilumDataset",
        fragment_id: int,
        physical_rows: int,
        num_deletions: int,
        files: List[Tuple[str, int]],
        deletion_file: Optional[str],
    ):
        self._dataset = dataset
        self.fragment_id = fragment_id
        self.physical_rows = physical_rows
        self.num_deletions = num_deletions
        self._files = files
        self._deletion_file = deletion_file

    @staticmethod
    def create(
        dataset_uri: Any,
        data: Any,
        fragment_id: Optional[int] = None,
        schema: Optional[pa.Schema] = None,
        *,
        mode: str = "append",
        **kwargs: Any,
    ) -> FragmentMetadata:
        """pylance's ``LanceFragment.create``: writes `data` as one
        uncommitted fragment and returns its ``FragmentMetadata`` (commit it
        with ``LanceDataset.commit``). ``fragment_id`` must be None: the
        commit assigns ids. Other arguments as for ``write_fragments``."""
        if fragment_id is not None:
            raise NotImplementedError("LanceFragment.create(): fragment_id is assigned at commit by Pilum; pass None")
        kwargs.setdefault("max_rows_per_file", 2**62)
        kwargs.setdefault("max_bytes_per_file", 2**62)
        written = write_fragments(data, dataset_uri, schema, mode=mode, **kwargs)
        if len(written) != 1:
            raise ValueError(f"LanceFragment.create(): data became {len(written)} fragments; it must make exactly one (is it empty?)")
        return written[0]

    def merge_columns(
        self,
        value_func: Any,
        columns: Optional[List[str]] = None,
        batch_size: Optional[int] = None,
        reader_schema: Optional[pa.Schema] = None,
    ) -> Tuple[FragmentMetadata, pa.Schema]:
        """pylance's ``merge_columns``: computes new columns for this
        fragment with `value_func` (called on each batch of its live rows,
        reading `columns`; it returns the new columns as a RecordBatch,
        Table, dict or pandas DataFrame with one row per input row) and
        writes them without committing. Returns the ``FragmentMetadata`` and
        the schema the commit gives the dataset; commit every fragment's
        result with ``LanceDataset.commit(uri, LanceOperation.Merge(fragments,
        schema), read_version=...)``. `reader_schema` fixes the new columns'
        schema (default: the first batch's)."""
        from . import _native
        from .distributed import _as_batch

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in self.to_batches(columns=columns, batch_size=batch_size):
                out = _as_batch(value_func(batch), reader_schema)
                if out.num_rows != batch.num_rows:
                    raise ValueError(f"merge_columns: value_func returned {out.num_rows} rows for a batch of {batch.num_rows}")
                yield out

        produced = batches()
        first = next(produced, None)
        if first is None:
            if reader_schema is None:
                raise ValueError("merge_columns: the fragment has no live rows; pass reader_schema")
            schema = reader_schema
            chained: Iterator[pa.RecordBatch] = iter(())
        else:
            schema = first.schema

            def chain() -> Iterator[pa.RecordBatch]:
                yield first
                yield from produced

            chained = chain()
        reader = pa.RecordBatchReader.from_batches(schema, chained)
        dataset = self._dataset
        payload = _native.write_pending_columns(
            reader, dataset.uri, dataset.version, self.fragment_id, dataset._storage_options
        )
        metadata = FragmentMetadata(payload)
        return metadata, pa.schema(_native.pending_schema(payload))

    def __repr__(self) -> str:
        return f"PilumFragment(id={self.fragment_id}, rows={self.count_rows()}, files={len(self._files)})"

    def count_rows(self, filter: Any = None) -> int:
        """Live rows in the fragment (matching `filter` when given)."""
        if filter is None:
            return self.physical_rows - self.num_deletions
        return self.scanner(filter=filter).count_rows()

    def data_files(self) -> List[str]:
        """Paths of the data files, relative to the dataset root."""
        return [path for path, _ in self._files]

    def data_file_sizes(self) -> List[int]:
        """Sizes in bytes of the data files."""
        return [size for _, size in self._files]

    def deletion_file(self) -> Optional[str]:
        """Path of the deletion file, if rows were deleted."""
        return self._deletion_file

    @property
    def schema(self) -> pa.Schema:
        return self._dataset.schema

    def scanner(self, schema: Optional[pa.Schema] = None, **kwargs: Any) -> "PilumScanner":
        """A scan of this fragment only; arguments as for ``PilumDataset.scanner``.
        `schema` (pyarrow's leading argument) must be the dataset's schema."""
        if schema is not None and not pa.schema(schema).equals(self.schema):
            raise NotImplementedError("PilumFragment.scanner(): a schema other than the dataset's is not supported by Pilum")
        return self._dataset.scanner(fragments=[self.fragment_id], **kwargs)

    def to_table(self, columns: Any = None, filter: Any = None, limit: Optional[int] = None, offset: Optional[int] = None, **kwargs: Any) -> pa.Table:
        """The fragment's rows as a table; arguments as for ``PilumDataset.scanner``."""
        return self.scanner(columns=columns, filter=filter, limit=limit, offset=offset, **kwargs).to_table()

    def to_batches(self, **kwargs: Any) -> Iterator[pa.RecordBatch]:
        """The fragment's rows as record batches; arguments as for ``PilumDataset.scanner``."""
        return self.scanner(**kwargs).to_batches()

    def head(self, num_rows: int, **kwargs: Any) -> pa.Table:
        """The fragment's first `num_rows` rows."""
        return self.scanner(limit=num_rows, **kwargs).to_table()

    def take(self, indices: Any, columns: Any = None) -> pa.Table:
        """Rows at live positions `indices` within this fragment."""
        first = 0
        for fragment in self._dataset.get_fragments():
            if fragment.fragment_id == self.fragment_id:
                break
            first += fragment.count_rows()
        live = self.count_rows()
        positions = index_list(indices)
        if any(p >= live for p in positions):
            raise IndexError(f"fragment {self.fragment_id} has {live} rows")
        return self._dataset.take([first + p for p in positions], columns=columns)
