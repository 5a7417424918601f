"""Distributed writes with pylance's names: workers write fragments without
committing (``write_fragments`` / ``LanceFragment.create``) and get back
``FragmentMetadata`` that pickles; one process commits them all as one
version (``LanceDataset.commit(uri, LanceOperation.Append(fragments))``),
through the same conflict detection and rebase as any commit. Files of
fragments never committed stay invisible and are removed by cleanup."""

from __future__ import annotations

import base64
import json
import os
from typing import Any, Dict, Iterable, List, Optional, Union

import pyarrow as pa

from . import _native
from ._args import WRITE_NOOPS, WRITE_UNSUPPORTED, check_kwargs
from ._data import ReaderLike, progress_callback, to_reader
from ._index_segments import CreateIndex, IndexSegmentMetadata

__all__ = ["FragmentMetadata", "IndexSegmentMetadata", "LanceOperation", "commit", "write_fragments"]


class FragmentMetadata:
    """Written, not yet committed data: a new fragment (from
    ``write_fragments``; its rows and data files) or new columns for an
    existing fragment (from ``LanceFragment.merge_columns``; its
    ``fragment_id``). Pickles (and ``to_json``/``from_json``) so it can
    travel from a worker to the process that commits."""

    def __init__(self, payload: bytes):
        kind, rows, files, fragment_ids, base_version = _native.pending_info(bytes(payload))
        self._payload = bytes(payload)
        self._kind: str = kind
        self._base_version: Optional[int] = base_version
        self.physical_rows: int = rows
        self.files: List[str] = list(files)
        #: The fragment new columns belong to (None for a new fragment).
        self.fragment_id: Optional[int] = fragment_ids[0] if len(fragment_ids) == 1 else None

    @property
    def num_rows(self) -> int:
        """Rows in the fragment."""
        return self.physical_rows

    def to_json(self) -> Dict[str, str]:
        """A JSON-serializable form (see ``from_json``)."""
        return {"pilum_pending_fragment": base64.b64encode(self._payload).decode("ascii")}

    @staticmethod
    def from_json(value: Union[str, Dict[str, str]]) -> "FragmentMetadata":
        """The fragment ``to_json`` (or its ``json.dumps``) describes."""
        data = json.loads(value) if isinstance(value, str) else value
        if not isinstance(data, dict) or "pilum_pending_fragment" not in data:
            raise ValueError("not a Pilum fragment description (from FragmentMetadata.to_json)")
        return FragmentMetadata(base64.b64decode(data["pilum_pending_fragment"]))

    def __reduce__(self) -> Any:
        return (FragmentMetadata, (self._payload,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FragmentMetadata) and other._payload == self._payload

    def __hash__(self) -> int:
        return hash(self._payload)

    def __repr__(self) -> str:
        if self._kind == "columns":
            return f"FragmentMetadata(new columns for fragment {self.fragment_id}, files={self.files})"
        return f"FragmentMetadata(rows={self.physical_rows}, files={self.files})"


def write_fragments(
    data: ReaderLike,
    dataset_uri: Union[str, os.PathLike, Any],
    schema: Optional[pa.Schema] = None,
    *,
    mode: str = "append",
    max_rows_per_file: int = 1024 * 1024,
    max_bytes_per_file: int = 90 * 1024**3,
    progress: Any = None,
    storage_options: Optional[Dict[str, str]] = None,
    **kwargs: Any,
) -> List[FragmentMetadata]:
    """Writes `data` into new fragments of the dataset at `dataset_uri`
    without committing them; returns one ``FragmentMetadata`` per fragment.
    ``mode="append"`` writes for the existing dataset's schema (commit with
    ``LanceOperation.Append``); ``"overwrite"`` or ``"create"`` for a new
    schema (commit with ``LanceOperation.Overwrite``). Accepted no-ops as in
    ``write_dataset``."""
    check_kwargs("write_fragments", kwargs, WRITE_NOOPS, WRITE_UNSUPPORTED)
    if mode not in ("append", "overwrite", "create"):
        raise ValueError(f"mode must be 'append', 'overwrite' or 'create', not {mode!r}")
    uri, storage_options = _uri_and_options(dataset_uri, storage_options)
    reader = to_reader(data, schema)
    total = data.num_rows if isinstance(data, pa.Table) else None
    update, close = progress_callback(progress, "write", total=total)
    try:
        parts = _native.write_pending(
            reader,
            uri,
            "append" if mode == "append" else "overwrite",
            int(max_rows_per_file),
            int(max_bytes_per_file),
            storage_options,
            update,
        )
    finally:
        close()
    return [FragmentMetadata(part) for part in parts]


class _Operation:
    """An operation ``commit`` applies."""

    _name = ""

    _kind = "fragments"
    _source = "write_fragments"

    def _parts(self) -> List[bytes]:
        fragments = list(getattr(self, "fragments"))
        bad = [type(f).__name__ for f in fragments if not isinstance(f, FragmentMetadata)]
        if bad:
            raise TypeError(f"LanceOperation.{self._name}: fragments must be FragmentMetadata from {self._source}, got {bad[0]}")
        wrong = [f for f in fragments if f._kind != self._kind]
        if wrong:
            raise TypeError(f"LanceOperation.{self._name}: fragments must come from {self._source}, got {wrong[0]!r}")
        return [f._payload for f in fragments]


class _Append(_Operation):
    """Add the fragments' rows to the dataset."""

    _name = "Append"

    def __init__(self, fragments: Iterable[FragmentMetadata]):
        self.fragments = list(fragments)


class _Overwrite(_Operation):
    """Replace the dataset's schema and rows (create it if there is none)."""

    _name = "Overwrite"

    def __init__(self, new_schema: Any, fragments: Iterable[FragmentMetadata]):
        self.new_schema = new_schema
        self.fragments = list(fragments)


class _Merge(_Operation):
    """Add columns to existing fragments: `fragments` from
    ``LanceFragment.merge_columns`` (fragments with no entry read the new
    columns as nulls), `schema` the schema they return."""

    _name = "Merge"
    _kind = "columns"
    _source = "LanceFragment.merge_columns"

    def __init__(self, fragments: Iterable[FragmentMetadata], schema: Any):
        self.fragments = list(fragments)
        self.schema = schema


def _unsupported(name: str) -> type:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"LanceOperation.{name} is not supported by Pilum yet (Append, Overwrite, Merge and CreateIndex are)")

    return type(name, (_Operation,), {"__init__": __init__, "__doc__": f"Not supported by Pilum yet: raises NotImplementedError."})


class LanceOperation:
    """Operations for ``LanceDataset.commit``, with pylance's names."""

    Append = _Append
    Overwrite = _Overwrite
    Merge = _Merge
    Delete = _unsupported("Delete")
    Update = _unsupported("Update")
    Rewrite = _unsupported("Rewrite")
    Restore = _unsupported("Restore")
    CreateIndex = CreateIndex
    DataReplacement = _unsupported("DataReplacement")
    Project = _unsupported("Project")
    UpdateConfig = _unsupported("UpdateConfig")


COMMIT_NOOPS = frozenset({"commit_lock", "enable_v2_manifest_paths", "max_retries"})
COMMIT_UNSUPPORTED = {"detached": ((False, None), "detached commits"), "commit_message": ((None,), "commit messages")}


def commit(
    base_uri: Union[str, os.PathLike, Any],
    operation: Any,
    read_version: Optional[int] = None,
    *,
    storage_options: Optional[Dict[str, str]] = None,
    **kwargs: Any,
) -> Any:
    """Commits `operation` (``LanceOperation.Append``, ``.Overwrite``, ``.Merge`` or ``.CreateIndex``) as
    one version of the dataset at `base_uri`, on top of `read_version` (the
    version the workers started from; the latest when None); versions
    committed since are rebased over. For ``Merge`` the version is the one
    the columns were computed on, which `read_version` must match when
    given. Returns the dataset at the new version."""
    from .dataset import PilumDataset

    check_kwargs("commit", kwargs, COMMIT_NOOPS, COMMIT_UNSUPPORTED)
    if read_version is not None and (isinstance(read_version, bool) or not isinstance(read_version, int) or read_version < 1):
        raise ValueError(f"read_version must be a version number ≥ 1, got {read_version!r}")
    if isinstance(operation, CreateIndex):
        uri, storage_options = _uri_and_options(base_uri, storage_options)
        handle = operation._commit(uri, read_version, storage_options)
        return PilumDataset(uri, storage_options=storage_options, _native_dataset=handle)
    if isinstance(operation, _Merge):
        parts = operation._parts()
        # New columns belong to the version they were computed on.
        stale = [f._base_version for f in operation.fragments if read_version is not None and f._base_version != read_version]
        if stale:
            raise ValueError(f"LanceOperation.Merge: fragments were computed on version {stale[0]}, not read_version {read_version}")
        _check_schema(operation.schema, operation.fragments, "Merge: schema")
        uri, storage_options = _uri_and_options(base_uri, storage_options)
        handle = _native.commit_pending_columns(uri, parts, storage_options)
        return PilumDataset(uri, storage_options=storage_options, _native_dataset=handle)
    if isinstance(operation, _Append):
        name = "append"
    elif isinstance(operation, _Overwrite):
        name = "overwrite"
        if operation.new_schema is not None:
            _check_schema(operation.new_schema, operation.fragments, "Overwrite: new_schema")
    else:
        raise TypeError(f"commit takes a LanceOperation.Append, Overwrite, Merge or CreateIndex, not {type(operation).__name__}")
    uri, storage_options = _uri_and_options(base_uri, storage_options)
    handle = _native.commit_pending(uri, name, operation._parts(), read_version, storage_options)
    return PilumDataset(uri, storage_options=storage_options, _native_dataset=handle)


def _check_schema(schema: Any, fragments: List[Any], what: str) -> None:
    """`schema` must be the schema the fragments were written with."""
    if not isinstance(schema, pa.Schema):
        schema = pa.schema(schema)
    for fragment in fragments:
        if isinstance(fragment, FragmentMetadata):
            written = pa.schema(_native.pending_schema(fragment._payload))
            if not written.equals(schema):
                raise ValueError(f"LanceOperation.{what} differs from the schema the fragments were written with")


def _as_batch(value: Any, schema: Optional[pa.Schema]) -> pa.RecordBatch:
    """A `value_func` result as one RecordBatch (of `schema` when given)."""
    if isinstance(value, dict):
        value = pa.RecordBatch.from_pydict(value)
    elif hasattr(value, "to_arrow") and not isinstance(value, (pa.RecordBatch, pa.Table)):
        value = value.to_arrow()
    elif type(value).__module__.startswith("pandas"):
        value = pa.RecordBatch.from_pandas(value, preserve_index=False)
    if isinstance(value, pa.Table):
        value = value.combine_chunks().to_batches()[0] if value.num_rows else pa.RecordBatch.from_pylist([], schema=value.schema)
    if not isinstance(value, pa.RecordBatch):
        raise TypeError(f"merge_columns: value_func must return a RecordBatch, Table, dict or DataFrame, not {type(value).__name__}")
    if schema is not None and not value.schema.equals(schema):
        value = value.cast(schema)
    return value


def _uri_and_options(uri: Any, storage_options: Optional[Dict[str, str]]) -> tuple:
    from .dataset import PilumDataset

    if isinstance(uri, PilumDataset):
        return uri.uri, storage_options or uri._storage_options
    return os.fspath(uri), storage_options
