"""The writing half of ``pilum.ray``: ``PilumDatasink`` / ``write_pilum``
(Ray workers write uncommitted fragments, the driver commits them as one
version) and ``add_columns`` (new columns per fragment on Ray tasks, one
``Merge`` commit)."""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import pyarrow as pa
import ray
import ray.data
from ray.data.block import Block, BlockAccessor
from ray.data.datasource import Datasink, WriteResult

from . import errors
from .dataset import PilumDataset
from .distributed import FragmentMetadata, LanceOperation, commit, write_fragments

__all__ = ["PilumDatasink", "write_pilum", "add_columns", "check_count"]

MODES = ("create", "append", "overwrite")


def check_count(function: str, name: str, value: Any) -> None:
    """`value` must be None or an int ≥ 1."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{function}: {name} must be an integer >= 1, got {value!r}")


def _open(uri: str, storage_options: Optional[Dict[str, str]]) -> Optional[PilumDataset]:
    try:
        return PilumDataset(uri, storage_options=storage_options)
    except errors.DatasetNotFoundError:
        return None


def _plain_arrow(table: pa.Table) -> pa.Table:
    """`table` with Ray's fixed-shape 1-D tensor columns (what numpy rows of
    vectors become in Ray) as ``fixed_size_list``, so they stay vectors."""
    for i, field in enumerate(table.schema):
        shape = getattr(field.type, "shape", None)
        if not isinstance(field.type, pa.ExtensionType) or shape is None or len(shape) != 1:
            continue
        storage = [chunk.storage for chunk in table.column(i).chunks]
        if any(chunk.null_count for chunk in storage):
            continue
        arrays = [pa.FixedSizeListArray.from_arrays(chunk.flatten(), shape[0]) for chunk in storage]
        column = pa.chunked_array(arrays, pa.list_(field.type.storage_type.value_type, shape[0]))
        table = table.set_column(i, pa.field(field.name, column.type, field.nullable, field.metadata), column)
    return table


class PilumDatasink(Datasink):
    """A ``ray.data.Datasink`` writing a Ray dataset into the Pilum dataset at
    `uri` as one new version. Each write task writes its blocks as
    uncommitted fragments (``write_fragments``) and returns their
    ``FragmentMetadata``; ``on_write_complete`` commits them once on the
    driver (``Append`` on top of the version current when the write started,
    rebasing over commits made since; ``Overwrite`` for ``"create"`` and
    ``"overwrite"``). A failed write commits nothing: its files stay
    invisible until ``cleanup_old_versions`` removes them. After the commit
    ``dataset`` is the new version."""

    def __init__(
        self,
        uri: Union[str, os.PathLike],
        *,
        mode: str = "create",
        schema: Optional[pa.Schema] = None,
        min_rows_per_file: Optional[int] = None,
        max_rows_per_file: int = 1024 * 1024,
        storage_options: Optional[Dict[str, str]] = None,
    ):
        if mode not in MODES:
            raise ValueError(f"write_pilum: mode must be 'create', 'append' or 'overwrite', not {mode!r}")
        if schema is not None and not isinstance(schema, pa.Schema):
            raise TypeError(f"write_pilum: schema must be a pyarrow.Schema, not {type(schema).__name__}")
        check_count("write_pilum", "min_rows_per_file", min_rows_per_file)
        check_count("write_pilum", "max_rows_per_file", max_rows_per_file)
        self._uri, self._mode, self._schema = os.fspath(uri), mode, schema
        self._min_rows, self._max_rows = min_rows_per_file, max_rows_per_file
        self._storage_options = dict(storage_options) if storage_options else None
        self._read_version: Optional[int] = None
        self.dataset: Optional[PilumDataset] = None
        # Workers write for the existing schema (append) or a new one; decided now.
        self._appends: Optional[bool] = None
        self._appends = mode == "append" and self._check_target() is not None

    def _check_target(self) -> Optional[PilumDataset]:
        """The dataset there now (None if none), after checking it suits `mode`."""
        existing = _open(self._uri, self._storage_options)
        if existing is not None and self._mode == "create":
            raise errors.DatasetAlreadyExistsError(
                f"write_pilum: a dataset exists at {self._uri} (mode='create'); pass mode='append' or 'overwrite'")
        if self._mode == "append" and self._appends is not None and self._appends != (existing is not None):
            state = "appeared" if existing is not None else "disappeared"
            raise errors.CommitConflictError(f"write_pilum: the dataset at {self._uri} {state} since the write was set up")
        self._read_version = existing.version if existing is not None else None
        return existing

    @property
    def min_rows_per_write(self) -> Optional[int]:
        return self._min_rows

    def on_write_start(self, schema: Optional[pa.Schema] = None) -> None:
        """Checks the target again and pins the version appends build on."""
        self._check_target()

    def write(self, blocks: Iterable[Block], ctx: Any) -> List[FragmentMetadata]:
        """Runs on a Ray worker: writes `blocks` as uncommitted fragments."""
        tables = (_plain_arrow(BlockAccessor.for_block(b).to_arrow()) for b in blocks)
        tables = (t for t in tables if t.num_rows)
        first = next(tables, None)
        if first is None:
            return []
        schema = self._schema or first.schema

        def batches() -> Iterator[pa.RecordBatch]:
            for table in _chain(first, tables):
                if not table.schema.equals(schema):
                    table = table.select(schema.names).cast(schema)
                yield from table.to_batches()

        reader = pa.RecordBatchReader.from_batches(schema, batches())
        return write_fragments(reader, self._uri, mode="append" if self._appends else "overwrite",
                               max_rows_per_file=self._max_rows, storage_options=self._storage_options)

    def on_write_complete(self, write_result: WriteResult) -> None:
        """Commits every task's fragments as one version (on the driver)."""
        fragments = [f for part in write_result.write_returns if part for f in part]
        if self._appends:
            if fragments:
                self.dataset = self._commit(LanceOperation.Append(fragments), self._read_version)
            return
        self._check_target()  # "create": nobody created it meanwhile
        if fragments:
            self.dataset = self._commit(LanceOperation.Overwrite(self._schema, fragments), None)
        elif self._schema is not None:
            from . import write_dataset

            mode = "create" if self._mode == "create" else "overwrite"
            self.dataset = write_dataset(self._schema.empty_table(), self._uri, mode=mode, storage_options=self._storage_options)
        else:
            raise ValueError("write_pilum: no rows to write and no schema to create the dataset with; pass schema=")

    def _commit(self, operation: Any, read_version: Optional[int]) -> PilumDataset:
        try:
            return commit(self._uri, operation, read_version, storage_options=self._storage_options)
        except errors.SchemaMismatchError as error:
            hint = "" if self._schema is not None else "; pass schema= so that every write task casts to it"
            raise errors.SchemaMismatchError(f"write_pilum: {error}{hint}") from error

    def on_write_failed(self, error: Exception) -> None:
        """Nothing was committed; the files written stay invisible until
        ``cleanup_old_versions`` removes them."""
        self.dataset = None


def _chain(first: pa.Table, rest: Iterator[pa.Table]) -> Iterator[pa.Table]:
    yield first
    yield from rest


def write_pilum(
    ray_dataset: "ray.data.Dataset",
    uri: Union[str, os.PathLike],
    *,
    mode: str = "create",
    schema: Optional[pa.Schema] = None,
    min_rows_per_file: Optional[int] = None,
    max_rows_per_file: int = 1024 * 1024,
    storage_options: Optional[Dict[str, str]] = None,
    concurrency: Optional[int] = None,
    ray_remote_args: Optional[Dict[str, Any]] = None,
) -> Optional[PilumDataset]:
    """Writes `ray_dataset` to the Pilum dataset at `uri` as one version and
    returns it (None when an append had no rows). `mode`: ``"create"``
    (fails with ``DatasetAlreadyExistsError`` if one exists), ``"append"``
    (creates it when missing) or ``"overwrite"``. `schema` casts every
    block; each write task gets at least `min_rows_per_file` rows and writes
    files of at most `max_rows_per_file`. ``concurrency`` and
    ``ray_remote_args`` go to ``Dataset.write_datasink``."""
    if not isinstance(ray_dataset, ray.data.Dataset):
        raise TypeError(f"write_pilum: ray_dataset must be a ray.data.Dataset, not {type(ray_dataset).__name__}")
    check_count("write_pilum", "concurrency", concurrency)
    sink = PilumDatasink(uri, mode=mode, schema=schema, min_rows_per_file=min_rows_per_file,
                         max_rows_per_file=max_rows_per_file, storage_options=storage_options)
    ray_dataset.write_datasink(sink, concurrency=concurrency, ray_remote_args=ray_remote_args)
    return sink.dataset


def _merge_fragment(uri: str, version: int, storage_options: Optional[Dict[str, str]], fragment_id: int, fn: Callable,
                    columns: Optional[List[str]], batch_size: Optional[int],
                    reader_schema: Optional[pa.Schema]) -> Tuple[FragmentMetadata, pa.Schema]:
    """Runs on a Ray worker: `fn`'s columns for one fragment, written, not committed."""
    fragment = PilumDataset(uri, version=version, storage_options=storage_options).get_fragment(fragment_id)
    return fragment.merge_columns(fn, columns=columns, batch_size=batch_size, reader_schema=reader_schema)


def add_columns(
    uri: Union[str, os.PathLike],
    fn: Callable[[pa.RecordBatch], Any],
    *,
    read_columns: Optional[List[str]] = None,
    reader_schema: Optional[pa.Schema] = None,
    batch_size: Optional[int] = None,
    version: Optional[Union[int, str]] = None,
    storage_options: Optional[Dict[str, str]] = None,
    concurrency: Optional[int] = None,
    num_cpus: Optional[float] = None,
    num_gpus: Optional[float] = None,
) -> PilumDataset:
    """Adds the columns `fn` computes to the dataset at `uri`, one Ray task per
    fragment, committed as one new version; existing data files are not
    rewritten. `fn` gets each batch (of `read_columns`, default all) of a
    fragment's live rows and returns the new columns (RecordBatch, Table,
    dict or DataFrame, one row per input row); `reader_schema` fixes their
    types. Reads `version` (default the latest); rows changed by a commit
    made meanwhile raise ``CommitConflictError``. At most `concurrency`
    tasks run at once, each reserving `num_cpus` (default 1) and `num_gpus`."""
    if not callable(fn):
        raise TypeError(f"add_columns: fn must be callable, not {type(fn).__name__}")
    if reader_schema is not None and not isinstance(reader_schema, pa.Schema):
        raise TypeError(f"add_columns: reader_schema must be a pyarrow.Schema, not {type(reader_schema).__name__}")
    for name, value in (("concurrency", concurrency), ("batch_size", batch_size)):
        check_count("add_columns", name, value)
    dataset = PilumDataset(uri, version=version, storage_options=storage_options)
    if read_columns is not None:
        if isinstance(read_columns, str) or not all(isinstance(c, str) for c in read_columns):
            raise TypeError(f"add_columns: read_columns must be a list of column names, got {read_columns!r}")
        missing = [c for c in read_columns if c not in dataset.schema.names]
        if missing:
            raise errors.ColumnNotFoundError(f"add_columns: no column {missing[0]!r} in {dataset.uri}")
        read_columns = list(read_columns)
    ids = [f.fragment_id for f in dataset.get_fragments() if f.count_rows() > 0]
    if not ids:
        raise ValueError(f"add_columns: {dataset.uri} has no rows at version {dataset.version}")
    options = {"num_cpus": 1 if num_cpus is None else num_cpus, "num_gpus": num_gpus or 0}
    task = ray.remote(_merge_fragment).options(**options)
    args = (dataset.uri, dataset.version, dataset._storage_options)
    limit = concurrency or len(ids)
    pending: List[Any] = []
    results: List[Tuple[FragmentMetadata, pa.Schema]] = []
    try:
        for fragment_id in ids:
            if len(pending) >= limit:
                done, pending = ray.wait(pending, num_returns=1)
                results += ray.get(done)
            pending.append(task.remote(*args, fragment_id, fn, read_columns, batch_size, reader_schema))
        results += ray.get(pending)
        pending = []
    finally:
        if pending:
            # After a failure, let the other tasks finish (their files stay
            # uncommitted; cleanup removes them). Cancelling tasks that may
            # be completing trips a fatal check in Ray 2.60's driver
            # ("Tried to complete task that was not pending"), which aborts
            # the whole driver process.
            ray.wait(pending, num_returns=len(pending))
    if any(not schema.equals(results[0][1]) for _, schema in results):
        raise errors.SchemaMismatchError(
            "add_columns: fn returned different column types on different fragments; pass reader_schema")
    operation = LanceOperation.Merge([metadata for metadata, _ in results], results[0][1])
    return commit(dataset.uri, operation, dataset.version, storage_options=dataset._storage_options)
