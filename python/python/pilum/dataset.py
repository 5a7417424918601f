"""``PilumDataset``: a versioned Pilum table, usable wherever a
``pyarrow.dataset.Dataset`` is expected (DuckDB, Polars, Arrow readers)."""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds

from . import _native
from ._data import ReaderLike, staged_progress, to_reader
from .blob import BlobFile
from .fragment import PilumFragment
from .merge_insert import MergeInsertBuilder
from .scanner import Filter, PilumScanner

__all__ = ["PilumDataset", "Tags", "DatasetOptimizer", "CompactionMetrics", "CleanupStats", "asof_micros"]


def asof_micros(asof: Any) -> int:
    """Microseconds since the epoch (UTC) of `asof`; naive datetimes are local time."""
    if isinstance(asof, str):
        asof = _dt.datetime.fromisoformat(asof)
    elif hasattr(asof, "to_pydatetime"):
        asof = asof.to_pydatetime()
    elif isinstance(asof, _dt.date) and not isinstance(asof, _dt.datetime):
        asof = _dt.datetime.combine(asof, _dt.time.max)
    if not isinstance(asof, _dt.datetime):
        raise TypeError(f"asof must be a datetime, date, ISO string or pandas Timestamp, not {type(asof).__name__}")
    if asof.tzinfo is None:
        asof = asof.astimezone()  # a naive datetime is local time
    return int(asof.timestamp() * 1_000_000)


def _filter_sql(filter: Filter, schema: pa.Schema) -> Optional[str]:
    """A SQL predicate from a SQL string or an exactly translatable pyarrow expression."""
    if filter is None or isinstance(filter, str):
        return filter
    if isinstance(filter, pc.Expression):
        from ._expr import expression_to_sql

        sql = expression_to_sql(filter, schema)
        if sql is None:
            raise ValueError(f"cannot translate {filter} to SQL; pass the predicate as a SQL string")
        return sql
    raise TypeError(f"filter must be a SQL string or a pyarrow Expression, not {type(filter).__name__}")


@dataclass(frozen=True)
class CompactionMetrics:
    """What ``compact_files`` did."""

    fragments_removed: int
    fragments_added: int
    files_removed: int
    files_added: int


@dataclass(frozen=True)
class CleanupStats:
    """What ``cleanup_old_versions`` removed."""

    old_versions: int
    files_removed: int
    bytes_removed: int


class PilumDataset(pds.Dataset):
    """A Pilum dataset at one version.

    Open one with :func:`pilum.dataset` or create one with
    :func:`pilum.write_dataset`. Write operations (``delete``, ``update``,
    ``add_columns``, ...) commit a new version and move this object to it;
    ``checkout_version`` returns a new object and leaves this one alone.
    """

    def __init__(
        self,
        uri: Union[str, os.PathLike],
        version: Optional[Union[int, str]] = None,
        asof: Any = None,
        storage_options: Optional[Dict[str, str]] = None,
        *,
        _native_dataset: Any = None,
    ):
        self._uri = os.fspath(uri)
        self._storage_options = dict(storage_options) if storage_options else None
        if _native_dataset is None:
            tag = version if isinstance(version, str) else None
            number = version if isinstance(version, int) else None
            if version is not None and not isinstance(version, (int, str)):
                raise TypeError("version must be an int or a tag name")
            micros = asof_micros(asof) if asof is not None else None
            _native_dataset = _native._Dataset.open(self._uri, number, tag, micros, self._storage_options)
        self._ds = _native_dataset

    def _wrap(self, native: Any) -> "PilumDataset":
        return PilumDataset(self._uri, storage_options=self._storage_options, _native_dataset=native)

    def __reduce__(self) -> Any:
        # Pickles as (uri, version): Polars, Ray and multiprocessing ship datasets to workers.
        return (PilumDataset, (self._uri, self.version, None, self._storage_options))

    def __repr__(self) -> str:
        return f"PilumDataset(uri={self._uri!r}, version={self.version})"

    # --- metadata -----------------------------------------------------------------------------

    @property
    def uri(self) -> str:
        """The dataset's URI."""
        return self._uri

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of this version."""
        return pa.schema(self._ds.schema)

    @property
    def version(self) -> int:
        """The version this object reads."""
        return self._ds.version

    @property
    def latest_version(self) -> int:
        """The newest committed version (asks storage)."""
        return self._ds.latest_version()

    def versions(self) -> List[Dict[str, Any]]:
        """Every version, oldest first: ``version``, ``timestamp`` (aware UTC datetime),
        ``operation``, ``num_rows``, ``num_fragments``, ``metadata``."""
        return self._ds.versions()

    @property
    def tags(self) -> "Tags":
        """Named versions: ``create``, ``update``, ``delete``, ``list``, ``get_version``."""
        return Tags(self)

    @property
    def data_storage_version(self) -> str:
        """The Pilum dataset format version."""
        return "1.0"

    def checkout_version(self, version: Union[int, str]) -> "PilumDataset":
        """This dataset at `version` (a number or a tag name)."""
        if isinstance(version, str):
            return self._wrap(self._ds.checkout(tag=version))
        return self._wrap(self._ds.checkout(version=int(version)))

    def checkout_latest(self) -> "PilumDataset":
        """This dataset at its newest version."""
        return self._wrap(self._ds.checkout(latest=True))

    def restore(self) -> None:
        """Commits this (older) version as the newest version."""
        self._ds.restore()

    def update_config(self, values: Dict[str, Optional[str]]) -> None:
        """Sets (or, with ``None``, removes) dataset configuration keys; commits a version."""
        self._ds.update_config(values)

    # --- reading ------------------------------------------------------------------------------

    def scanner(
        self,
        columns: Optional[Union[List[str], Dict[str, str]]] = None,
        filter: Filter = None,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        batch_size: Optional[int] = None,
        fragments: Optional[Iterable[Union[int, PilumFragment]]] = None,
        *,
        with_row_id: bool = False,
        with_row_address: bool = False,
        late_materialization: Optional[bool] = None,
        **unused: Any,
    ) -> PilumScanner:
        """A scan of this version.

        `columns` is a list of names or ``{name: SQL expression}``; `filter` a
        SQL predicate or a pyarrow expression. Other keyword arguments that
        pyarrow and pylance accept (``batch_readahead``, ``use_threads``,
        ...) tune their own engines and are ignored here.
        """
        fragment_ids = None
        if fragments is not None:
            fragment_ids = [f.fragment_id if isinstance(f, PilumFragment) else int(f) for f in fragments]
        return PilumScanner(
            self,
            columns=columns,
            filter=filter,
            limit=limit,
            offset=offset,
            batch_size=batch_size,
            fragments=fragment_ids,
            with_row_id=with_row_id,
            with_row_address=with_row_address,
            late_materialization=late_materialization,
        )

    def to_table(self, columns: Any = None, filter: Filter = None, limit: Optional[int] = None, **kwargs: Any) -> pa.Table:
        """The rows as a ``pyarrow.Table``; arguments as for :meth:`scanner`."""
        return self.scanner(columns=columns, filter=filter, limit=limit, **kwargs).to_table()

    def to_batches(self, columns: Any = None, filter: Filter = None, **kwargs: Any) -> Iterator[pa.RecordBatch]:
        """The rows as ``pyarrow.RecordBatch`` es; arguments as for :meth:`scanner`."""
        return self.scanner(columns=columns, filter=filter, **kwargs).to_batches()

    def head(self, num_rows: int, columns: Any = None, filter: Filter = None, **kwargs: Any) -> pa.Table:
        """The first `num_rows` rows (after `filter`)."""
        return self.scanner(columns=columns, filter=filter, limit=num_rows, **kwargs).to_table()

    def count_rows(self, filter: Filter = None, **kwargs: Any) -> int:
        """Number of live rows, or of rows matching `filter`."""
        return self.scanner(filter=filter).count_rows()

    def take(self, indices: Any, columns: Optional[List[str]] = None, **kwargs: Any) -> pa.Table:
        """Rows at positions `indices` (0 = first live row), in that order."""
        return pa.table(self._ds.take(_index_list(indices), columns))

    def _take_rows(self, row_ids: Any, columns: Optional[List[str]] = None, **kwargs: Any) -> pa.Table:
        """Rows with stable row ids `row_ids` (the ``_rowid`` column), in that order."""
        return pa.table(self._ds.take_rows(_index_list(row_ids), columns))

    take_rows = _take_rows

    def take_blobs(
        self,
        blob_column: str,
        ids: Any = None,
        indices: Any = None,
    ) -> List[Optional[BlobFile]]:
        """Opens blob values as lazy file-like objects, by row id (`ids`) or position (`indices`).

        A null value gives ``None``. Only 16 bytes per blob are read until the file is read.
        """
        if (ids is None) == (indices is None):
            raise ValueError("pass exactly one of ids and indices")
        natives = self._ds.take_blobs(
            blob_column,
            indices=None if indices is None else _index_list(indices),
            ids=None if ids is None else _index_list(ids),
        )
        return [None if n is None else BlobFile(n) for n in natives]

    def get_fragments(self, filter: Any = None) -> List[PilumFragment]:
        """The fragments of this version."""
        if filter is not None:
            raise ValueError("get_fragments does not filter; scan with a filter instead")
        return [PilumFragment(self, *entry) for entry in self._ds.fragments()]

    def get_fragment(self, fragment_id: int) -> Optional[PilumFragment]:
        """The fragment with id `fragment_id`, if present."""
        return next((f for f in self.get_fragments() if f.fragment_id == fragment_id), None)

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.scanner().__arrow_c_stream__(requested_schema)

    def to_pandas(self, **kwargs: Any) -> Any:
        """The rows as a pandas DataFrame."""
        return self.to_table().to_pandas(**kwargs)

    # --- writing ------------------------------------------------------------------------------

    def insert(self, data: ReaderLike, *, mode: str = "append", **kwargs: Any) -> None:
        """Appends (or with ``mode="overwrite"`` replaces) rows; commits a version."""
        from . import write_dataset

        written = write_dataset(data, self._uri, mode=mode, storage_options=self._storage_options, **kwargs)
        self._ds = written._ds

    def delete(self, predicate: Filter) -> Dict[str, int]:
        """Deletes rows matching `predicate`; returns ``{"num_deleted_rows": n}``."""
        sql = _filter_sql(predicate, self.schema)
        if sql is None:
            raise ValueError("delete needs a predicate")
        return {"num_deleted_rows": self._ds.delete(sql)}

    def update(self, updates: Dict[str, str], where: Filter = None) -> Dict[str, int]:
        """Sets columns to SQL expressions on rows matching `where`; returns ``{"num_rows_updated": n}``."""
        if not updates:
            raise ValueError("update needs at least one column")
        return {"num_rows_updated": self._ds.update(list(updates.items()), _filter_sql(where, self.schema))}

    def merge_insert(self, on: Union[str, Iterable[str]]) -> MergeInsertBuilder:
        """An upsert keyed on `on`; configure it, then ``execute(data)``."""
        return MergeInsertBuilder(self, [on] if isinstance(on, str) else list(on))

    def add_columns(self, transforms: Any, read_columns: Optional[List[str]] = None, **kwargs: Any) -> None:
        """Adds columns without rewriting existing data.

        `transforms` is ``{name: SQL expression}`` (one new file per fragment,
        holding only the new columns), or a ``pa.Field``, list of fields or
        ``pa.Schema`` (all-null columns: metadata only).
        """
        if isinstance(transforms, dict):
            self._ds.add_columns_sql([(str(k), str(v)) for k, v in transforms.items()])
        elif isinstance(transforms, pa.Field):
            self._ds.add_columns_null(pa.schema([transforms]))
        elif isinstance(transforms, pa.Schema):
            self._ds.add_columns_null(transforms)
        elif isinstance(transforms, list) and all(isinstance(f, pa.Field) for f in transforms):
            self._ds.add_columns_null(pa.schema(transforms))
        else:
            raise TypeError("add_columns takes {name: SQL expression}, a pa.Field, a list of fields or a pa.Schema")

    def drop_columns(self, columns: List[str]) -> None:
        """Drops columns (metadata only: no data is rewritten)."""
        self._ds.drop_columns(list(columns))

    def alter_columns(self, *alterations: Dict[str, Any]) -> None:
        """Renames (``name``), changes ``nullable`` or casts (``data_type``) columns given by ``path``."""
        converted = []
        for alteration in alterations:
            unknown = set(alteration) - {"path", "name", "nullable", "data_type"}
            if unknown or "path" not in alteration:
                raise ValueError(f"an alteration has a 'path' and any of name/nullable/data_type; got {alteration}")
            converted.append(
                (alteration["path"], alteration.get("name"), alteration.get("nullable"), alteration.get("data_type"))
            )
        self._ds.alter_columns(converted)

    def merge(self, data_obj: ReaderLike, left_on: str, right_on: Optional[str] = None, schema: Any = None) -> None:
        """Adds the other columns of `data_obj`, joined on ``left_on`` = ``right_on``."""
        self._ds.merge(to_reader(data_obj, schema), left_on, right_on or left_on)

    # --- maintenance --------------------------------------------------------------------------

    @property
    def optimize(self) -> "DatasetOptimizer":
        """Compaction: ``ds.optimize.compact_files(...)``."""
        return DatasetOptimizer(self)

    def cleanup_old_versions(
        self,
        older_than: Optional[_dt.timedelta] = None,
        *,
        progress: Any = None,
        **kwargs: Any,
    ) -> CleanupStats:
        """Deletes versions older than `older_than` (default 14 days) except the latest
        and tagged ones, and the files no remaining version uses."""
        if older_than is None:
            older_than = _dt.timedelta(days=14)
        report, close = staged_progress(progress, "cleanup")
        try:
            versions, files, size = self._ds.cleanup_old_versions(older_than.total_seconds(), report)
        finally:
            close()
        return CleanupStats(old_versions=versions, files_removed=files, bytes_removed=size)

    # --- SQL ----------------------------------------------------------------------------------

    def __datafusion_table_provider__(self, session: Any) -> Any:
        """A DataFusion FFI table provider over this version, so that
        ``datafusion.SessionContext().register_table(name, ds)`` (datafusion-python
        55) queries it with projection, filter and limit pushdown; ``INSERT INTO``
        through it appends one version."""
        return self._ds.__datafusion_table_provider__(session)

    def sql(self, query: str) -> pa.Table:
        """Runs SQL with this dataset (at this version) as table ``dataset``."""
        from .sql import Session

        session = Session()
        session.register("dataset", self)
        return session.sql(query)


def _index_list(indices: Any) -> List[int]:
    if isinstance(indices, (pa.Array, pa.ChunkedArray)):
        indices = indices.to_pylist()
    elif hasattr(indices, "tolist"):
        indices = indices.tolist()
    out = [int(i) for i in indices]
    if any(i < 0 for i in out):
        raise IndexError("row indices must be non-negative")
    return out


class Tags:
    """The tags (named versions) of a dataset."""

    def __init__(self, dataset: PilumDataset):
        self._dataset = dataset

    def list(self) -> Dict[str, Dict[str, Any]]:
        """``{name: {"version": v, "timestamp": t}}``."""
        return {name: {"version": v, "timestamp": ts} for name, v, ts in self._dataset._ds.tags_list()}

    def _resolve(self, reference: Optional[Union[int, str]]) -> int:
        if reference is None:
            return self._dataset.latest_version
        if isinstance(reference, str):
            return self.get_version(reference)
        return int(reference)

    def create(self, tag: str, reference: Optional[Union[int, str]] = None) -> None:
        """Names version `reference` (a number, another tag, or the latest when ``None``)."""
        self._dataset._ds.tag_set(tag, self._resolve(reference), False)

    def update(self, tag: str, reference: Optional[Union[int, str]] = None) -> None:
        """Moves an existing tag."""
        self._dataset._ds.tag_set(tag, self._resolve(reference), True)

    def delete(self, tag: str) -> None:
        """Deletes a tag (the version stays)."""
        self._dataset._ds.tag_delete(tag)

    def get_version(self, tag: str) -> int:
        """The version `tag` names."""
        return self._dataset._ds.tag_version(tag)


class DatasetOptimizer:
    """Maintenance that rewrites data: ``compact_files``."""

    def __init__(self, dataset: PilumDataset):
        self._dataset = dataset

    def compact_files(
        self,
        *,
        target_rows_per_fragment: int = 1024 * 1024,
        materialize_deletions: bool = True,
        materialize_deletions_threshold: float = 0.1,
        merge_column_files: bool = False,
        progress: Any = None,
        **kwargs: Any,
    ) -> CompactionMetrics:
        """Merges small fragments and drops deleted rows; commits one version (none if nothing to do).

        Row ids are kept, and older versions stay readable until cleanup.
        """
        threshold = materialize_deletions_threshold if materialize_deletions else float("inf")
        report, close = staged_progress(progress, "compaction")
        try:
            removed, added, files_removed, files_added = self._dataset._ds.compact_files(
                int(target_rows_per_fragment), float(threshold), bool(merge_column_files), report
            )
        finally:
            close()
        return CompactionMetrics(removed, added, files_removed, files_added)
