"""Pilum: one versioned table for multimodal AI data.

The API mirrors pylance's core dataset API, so code written for Lance runs
with ``import pilum as lance``::

    import pilum
    ds = pilum.write_dataset(table, "/data/images")
    ds.add_columns({"area": "width * height"})       # no data rewritten
    old = pilum.dataset("/data/images", version=1)   # time travel
    ds.to_table(columns=["id"], filter="area > 1000")
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Union

import pyarrow as pa

from . import _native, errors, query
from ._args import WRITE_NOOPS, WRITE_UNSUPPORTED, check_kwargs
from ._data import ReaderLike, progress_callback, to_reader
from ._native import __version__, clear_metadata_cache, metadata_cache_bytes
from ._ordering import ColumnOrdering
from .blob import BlobFile
from .dataset import PilumDataset
from .distributed import FragmentMetadata, LanceOperation
from .errors import *  # noqa: F401,F403
from .fragment import PilumFragment
from .maintenance import CleanupStats, CompactionMetrics, DatasetOptimizer, Tags
from .merge_insert import MergeInsertBuilder
from .scanner import PilumScanner
from .sql import Session
from .view import FilteredDataset

#: pylance-compatible aliases.
LanceDataset = PilumDataset
LanceScanner = PilumScanner
LanceFragment = PilumFragment

__all__ = [
    "write_dataset",
    "dataset",
    "PilumDataset",
    "PilumScanner",
    "PilumFragment",
    "FilteredDataset",
    "ColumnOrdering",
    "FragmentMetadata",
    "LanceDataset",
    "LanceOperation",
    "LanceScanner",
    "LanceFragment",
    "BlobFile",
    "MergeInsertBuilder",
    "DatasetOptimizer",
    "CompactionMetrics",
    "CleanupStats",
    "Tags",
    "Session",
    "errors",
    "__version__",
    "clear_metadata_cache",
    "metadata_cache_bytes",
] + errors.__all__


def write_dataset(
    data_obj: ReaderLike,
    uri: Union[str, os.PathLike, PilumDataset],
    schema: Optional[pa.Schema] = None,
    mode: str = "create",
    *,
    max_rows_per_file: int = 1024 * 1024,
    max_bytes_per_file: int = 90 * 1024**3,
    storage_options: Optional[Dict[str, str]] = None,
    progress: Any = None,
    **kwargs: Any,
) -> PilumDataset:
    """Writes `data_obj` to a dataset at `uri` and returns it.

    `data_obj` is a pyarrow Table or RecordBatchReader, a pandas DataFrame,
    or anything exporting ``__arrow_c_stream__``; it is streamed, never
    loaded whole. `mode` is ``"create"`` (fail if a dataset exists),
    ``"append"`` or ``"overwrite"`` (a new version; old ones stay readable).
    ``progress=True`` shows a tqdm bar of rows written (a tqdm object or a
    callable receiving row counts also works). Binary columns whose field
    metadata has ``pilum:blob`` or ``lance-encoding:blob`` = ``"true"`` are
    stored out of line and read back lazily with ``take_blobs``.

    Accepted no-ops (Lance's file layout and engine settings):
    ``max_rows_per_group``, ``data_storage_version``, ``use_legacy_format``,
    ``enable_v2_manifest_paths``, ``enable_stable_row_ids`` (Pilum row ids
    are always stable), ``commit_lock``, ``data_cache_bytes``,
    ``max_page_bytes``, ``blob_pack_file_size_threshold``, ``session``.
    """
    check_kwargs("write_dataset", kwargs, WRITE_NOOPS, WRITE_UNSUPPORTED)
    if mode not in ("create", "append", "overwrite"):
        raise ValueError(f"mode must be 'create', 'append' or 'overwrite', not {mode!r}")
    branch = None
    on_branch = None
    if isinstance(uri, PilumDataset):
        storage_options = storage_options or uri._storage_options
        branch = uri.branch
        on_branch = uri._ds if branch is not None else None
        uri = uri.uri
    uri = os.fspath(uri)
    reader = to_reader(data_obj, schema)
    total = data_obj.num_rows if isinstance(data_obj, pa.Table) else None
    update, close = progress_callback(progress, "write", total=total)
    try:
        if on_branch is not None:
            # The handle's own branch: a branch deleted and created again under
            # its name is another branch, and writes to it are refused.
            handle = on_branch.write_into(reader, mode, int(max_rows_per_file), int(max_bytes_per_file), update)
        else:
            handle = _native._Dataset.write(
                reader, uri, mode, int(max_rows_per_file), int(max_bytes_per_file), storage_options, update, branch
            )
    finally:
        close()
    return PilumDataset(uri, storage_options=storage_options, _native_dataset=handle)


def dataset(
    uri: Union[str, os.PathLike],
    version: Optional[Union[int, str]] = None,
    asof: Any = None,
    storage_options: Optional[Dict[str, str]] = None,
    *,
    branch: Optional[str] = None,
    **kwargs: Any,
) -> PilumDataset:
    """Opens the dataset at `uri`: the latest version, or `version` (a number
    or a tag), or the version current at `asof` (a datetime; naive means
    local time); on `branch` when one is named (``None`` or ``"main"``: the
    main line). ``index_cache_size_bytes`` bounds the loaded index
    partitions the dataset object keeps (default 4 GiB). Accepted no-ops
    (Pilum caches per dataset object and commits without a lock):
    ``block_size``, ``index_cache_size``, ``metadata_cache_size``,
    ``metadata_cache_size_bytes``, ``read_params``, ``session``,
    ``commit_lock``."""
    return PilumDataset(uri, version=version, asof=asof, storage_options=storage_options, branch=branch, **kwargs)
