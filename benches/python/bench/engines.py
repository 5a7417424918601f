"""One adapter per engine, all with the same small interface.

Engines: ``pilum`` (its pylance-compatible API), ``lance-2.2`` and
``lance-stable`` (pylance with ``data_storage_version`` "2.2" and "stable",
Lance's default), ``parquet`` (``pyarrow.parquet.write_table`` defaults:
snappy), ``parquet-zstd`` (zstd at pyarrow's default level) and
``parquet-small-pages`` (8 KiB data pages, 64Ki-row groups, page index).
Reads of Parquet go through ``pyarrow.dataset``. An operation an engine
does not have raises :class:`NotSupported`, which the report shows as "n/a".
:meth:`Engine.on_s3` gives the same engine reading and writing on S3.
"""

from __future__ import annotations

import copy
import importlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from .s3 import Remote

ENGINE_NAMES = ("pilum", "lance-2.2", "lance-stable", "parquet", "parquet-zstd", "parquet-small-pages")


class NotSupported(Exception):
    """The engine has no such operation (reported as "n/a", not as a failure)."""


@dataclass(frozen=True)
class Predicate:
    """One filter in two spellings: SQL for Pilum and Lance, a pyarrow expression for Parquet."""

    label: str
    sql: str
    arrow: pc.Expression


class Engine:
    """The operations the workloads need. Handles come from :meth:`open`."""

    name = ""
    #: Whether the engine commits versions (appends, add column, time travel).
    versioned = False

    def dataset_path(self, directory: str, stem: str) -> str:
        """Where this engine's copy of dataset `stem` lives under `directory`."""
        return os.path.join(directory, f"{stem}-{self.name}")

    def settings(self) -> str:
        """The write settings, for the report."""
        raise NotImplementedError

    def write(self, table: pa.Table, path: str) -> None:
        """Writes `table` as a new dataset at `path` (which does not exist)."""
        raise NotImplementedError

    def append(self, table: pa.Table, path: str) -> None:
        """Appends `table` to the dataset at `path`, committing a new version."""
        raise NotSupported("no versioned appends")

    def open(self, path: str) -> Any:
        raise NotImplementedError

    def count_rows(self, handle: Any) -> int:
        return handle.count_rows()

    def scan_stream(self, handle: Any) -> int:
        """Reads every row as record batches, keeping none; returns the row count."""
        return sum(batch.num_rows for batch in handle.to_batches())

    def scan_batches(self, handle: Any) -> List[pa.RecordBatch]:
        """Reads every row as record batches and returns them (kept, so their content can be checked
        after the timer stops)."""
        return list(handle.to_batches())

    def scan(self, handle: Any, columns: Optional[Sequence[str]] = None, predicate: Optional[Predicate] = None) -> pa.Table:
        raise NotImplementedError

    def take(self, handle: Any, indices: List[int], columns: Optional[Sequence[str]] = None) -> pa.Table:
        raise NotImplementedError

    def read_blobs(self, handle: Any, column: str, indices: List[int]) -> List[bytes]:
        """Opens the blobs at `indices` as file-like objects and reads each whole; returns their bytes."""
        raise NotSupported("no file-like blob API")

    def on_s3(self, remote: "Remote") -> "Engine":
        """This engine writing and reading through `remote` (an S3 endpoint) instead of local files."""
        raise NotImplementedError

    def add_sql_column(self, handle: Any, name: str, expression: str) -> None:
        raise NotSupported("files are immutable: adding a column means rewriting them")

    def drop_column(self, handle: Any, name: str) -> None:
        raise NotSupported("files are immutable")


class LanceApiEngine(Engine):
    """An engine driven through pylance's dataset API (Pilum mirrors it)."""

    versioned = True

    def __init__(self, name: str, module_name: str, write_options: Dict[str, Any]):
        self.name = name
        self.module = importlib.import_module(module_name)
        self.write_options = write_options
        self.storage: Dict[str, Any] = {}  # {"storage_options": {...}} on S3

    def on_s3(self, remote: "Remote") -> "LanceApiEngine":
        engine = copy.copy(self)
        engine.storage = {"storage_options": dict(remote.storage_options)}
        engine.remote = remote
        return engine

    def dataset_path(self, directory: str, stem: str) -> str:
        if self.storage:
            return f"s3://{self.remote.bucket}/{stem}-{self.name}"
        return super().dataset_path(directory, stem)

    def settings(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.write_options.items())
        return f"{self.module.__name__}.write_dataset({options or 'defaults'})"

    def write(self, table: pa.Table, path: str) -> None:
        self.module.write_dataset(table, path, mode="create", **self.write_options, **self.storage)

    def append(self, table: pa.Table, path: str) -> None:
        self.module.write_dataset(table, path, mode="append", **self.storage)

    def open(self, path: str) -> Any:
        return self.module.dataset(path, **self.storage)

    def scan(self, handle: Any, columns: Optional[Sequence[str]] = None, predicate: Optional[Predicate] = None) -> pa.Table:
        return handle.to_table(columns=None if columns is None else list(columns), filter=predicate and predicate.sql)

    def take(self, handle: Any, indices: List[int], columns: Optional[Sequence[str]] = None) -> pa.Table:
        return handle.take(indices, columns=None if columns is None else list(columns))

    def read_blobs(self, handle: Any, column: str, indices: List[int]) -> List[bytes]:
        values = []
        for blob in handle.take_blobs(column, indices=indices):
            with blob:
                values.append(blob.read())
        return values

    def add_sql_column(self, handle: Any, name: str, expression: str) -> None:
        handle.add_columns({name: expression})

    def drop_column(self, handle: Any, name: str) -> None:
        handle.drop_columns([name])

    def storage_version(self, path: str) -> str:
        """The file format version the dataset at `path` was written with."""
        return str(self.open(path).data_storage_version)


class ParquetEngine(Engine):
    """One Parquet file per dataset, written by pyarrow, read via ``pyarrow.dataset``."""

    def __init__(self, name: str, write_options: Dict[str, Any]):
        self.name = name
        self.write_options = write_options
        self.filesystem = None  # a pyarrow.fs.S3FileSystem on S3

    def on_s3(self, remote: "Remote") -> "ParquetEngine":
        engine = copy.copy(self)
        engine.filesystem = remote.arrow_filesystem()
        engine.remote = remote
        return engine

    def dataset_path(self, directory: str, stem: str) -> str:
        if self.filesystem is not None:
            return f"{self.remote.bucket}/{stem}-{self.name}.parquet"
        return super().dataset_path(directory, stem) + ".parquet"

    def settings(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.write_options.items())
        return f"pyarrow.parquet.write_table({options or 'defaults'})"

    def write(self, table: pa.Table, path: str) -> None:
        if self.filesystem is None:
            pq.write_table(table, path, **self.write_options)
            return
        # On S3: encode in memory, then one PUT through the proxy. (pyarrow 26's multipart upload
        # fails against moto 5.2.1 at CompleteMultipartUpload.)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, **self.write_options)
        self.remote.put_object(path.split("/", 1)[1], sink.getvalue().to_pybytes())

    def open(self, path: str) -> Any:
        return pds.dataset(path, format="parquet", filesystem=self.filesystem)

    def scan(self, handle: Any, columns: Optional[Sequence[str]] = None, predicate: Optional[Predicate] = None) -> pa.Table:
        return handle.to_table(columns=None if columns is None else list(columns), filter=predicate and predicate.arrow)

    def take(self, handle: Any, indices: List[int], columns: Optional[Sequence[str]] = None) -> pa.Table:
        return handle.take(pa.array(indices, pa.int64()), columns=None if columns is None else list(columns))


def make_engine(name: str) -> Engine:
    """The engine called `name` (one of ``ENGINE_NAMES``); raises ImportError if its library is missing."""
    if name == "pilum":
        return LanceApiEngine("pilum", "pilum", {})
    if name == "lance-2.2":
        return LanceApiEngine(name, "lance", {"data_storage_version": "2.2"})
    if name == "lance-stable":
        return LanceApiEngine(name, "lance", {"data_storage_version": "stable"})
    if name == "parquet":
        return ParquetEngine(name, {})
    if name == "parquet-zstd":
        return ParquetEngine(name, {"compression": "zstd"})
    if name == "parquet-small-pages":
        return ParquetEngine(name, {"data_page_size": 8 * 1024, "row_group_size": 64 * 1024, "write_page_index": True})
    raise ValueError(f"unknown engine {name!r}; choose from {', '.join(ENGINE_NAMES)}")


def dir_size(path: str) -> int:
    """Bytes on disk of the file or directory tree at `path`."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
