"""Which keyword arguments each call accepts beyond its own parameters.

Code written for pylance or pyarrow passes their arguments. Each one is
either honoured, accepted as a documented no-op (it only tunes their
engines' I/O, threading, caching or file layout, so results cannot depend
on it), or rejected: an unknown name raises ``TypeError`` and a known
pylance feature Pilum lacks raises ``NotImplementedError``, unless its
value is one that leaves the feature off (``nearest=None``). Every message
names the argument.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

__all__ = [
    "SCAN_NOOPS",
    "SCAN_UNSUPPORTED",
    "TAKE_ROWS_NOOPS",
    "TAKE_BLOBS_NOOPS",
    "OPEN_NOOPS",
    "OPEN_UNSUPPORTED",
    "WRITE_NOOPS",
    "WRITE_UNSUPPORTED",
    "COMPACT_NOOPS",
    "COMPACT_UNSUPPORTED",
    "CLEANUP_NOOPS",
    "CLEANUP_UNSUPPORTED",
    "check_kwargs",
]

#: name -> (values that leave the feature off, what the feature is)
Unsupported = Mapping[str, Tuple[Tuple[Any, ...], str]]

#: Scans (``scanner``, ``to_table``, ``to_batches``, ``head``, ``count_rows``,
#: ``take``, ``to_pandas`` and the fragment methods): pyarrow's and pylance's
#: read-ahead, threading, caching, memory-pool, I/O buffer, statistics and
#: statistics knobs. Pilum always scans in order (``scan_in_order``) and sizes
#: batches by rows (``batch_size_bytes``).
SCAN_NOOPS = frozenset(
    {
        "batch_readahead",
        "fragment_readahead",
        "use_threads",
        "cache_metadata",
        "memory_pool",
        "io_buffer_size",
        "scan_in_order",
        "use_stats",
        "batch_size_bytes",
    }
)

SCAN_UNSUPPORTED: Unsupported = {
    "disable_scoring_autoprojection": ((None, False), "search scores"),
    "index_segments": ((None,), "index segments"),
    "include_deleted_rows": ((None, False), "returning deleted rows"),
    "scan_stats_callback": ((None,), "scan statistics callbacks"),
    "row_addr_allowlist": ((None,), "row address allow lists"),
    "row_addr_blocklist": ((None,), "row address block lists"),
    "blob_handling": ((None, "all_binary"), "blob descriptions (Pilum scans return blob bytes)"),
    "fragment_scan_options": ((None,), "pyarrow file-format scan options"),
}

#: ``take_rows`` / ``_take_rows``: Pilum always applies deletions, which gives
#: the same rows for live ids as pylance's ``ignore_deletions=True``.
TAKE_ROWS_NOOPS = frozenset({"ignore_deletions"})

#: ``take_blobs``: the read buffer size (Pilum reads exactly the bytes asked for).
TAKE_BLOBS_NOOPS = frozenset({"buffer_size"})

#: ``pilum.dataset`` and ``PilumDataset(...)``: Lance's cache sizes, block
#: size, read parameters, session (a cache) and commit lock (Pilum commits
#: atomically without one).
OPEN_NOOPS = frozenset(
    {
        "block_size",
        "index_cache_size",
        "metadata_cache_size",
        "metadata_cache_size_bytes",
        "read_params",
        "session",
        "commit_lock",
    }
)

OPEN_UNSUPPORTED: Unsupported = {
    "default_scan_options": ((None,), "default scan options"),
    "serialized_manifest": ((None,), "opening from a serialized manifest"),
    "namespace_client": ((None,), "Lance namespaces"),
    "table_id": ((None,), "Lance namespaces"),
    "namespace_client_managed_versioning": ((None, False), "Lance namespaces"),
    "base_store_params": ((None,), "multi-base datasets"),
}

#: ``write_dataset`` and ``insert``: Lance's file layout (row groups, pages,
#: format version, manifest paths; Pilum's row ids are always stable), its
#: data cache, session and commit lock.
WRITE_NOOPS = frozenset(
    {
        "max_rows_per_group",
        "data_storage_version",
        "use_legacy_format",
        "enable_v2_manifest_paths",
        "enable_stable_row_ids",
        "commit_lock",
        "data_cache_bytes",
        "max_page_bytes",
        "blob_pack_file_size_threshold",
        "session",
    }
)

WRITE_UNSUPPORTED: Unsupported = {
    "auto_cleanup_options": ((None,), "automatic cleanup"),
    "commit_message": ((None,), "commit messages"),
    "transaction_properties": ((None,), "transaction properties"),
    "initial_bases": ((None,), "multi-base datasets"),
    "target_bases": ((None,), "multi-base datasets"),
    "target_all_bases": ((None, False), "multi-base datasets"),
    "base_store_params": ((None,), "multi-base datasets"),
    "external_blob_mode": ((None, "reference"), "ingesting external blobs"),
    "allow_external_blob_outside_bases": ((None, False), "external blobs"),
    "namespace_client": ((None,), "Lance namespaces"),
    "table_id": ((None,), "Lance namespaces"),
}

#: ``optimize.compact_files``: Lance's row groups, threads, batch size,
#: rewrite strategy, index remapping (Pilum has no indexes) and format version.
COMPACT_NOOPS = frozenset(
    {
        "max_rows_per_group",
        "num_threads",
        "batch_size",
        "compaction_mode",
        "binary_copy_read_batch_bytes",
        "defer_index_remap",
        "data_storage_version",
    }
)

COMPACT_UNSUPPORTED: Unsupported = {
    "max_bytes_per_file": ((None,), "a file size limit for compaction"),
    "max_source_fragments": ((None,), "limits on the fragments one compaction reads"),
    "max_source_rows": ((None,), "limits on the rows one compaction reads"),
    "max_source_bytes": ((None,), "limits on the bytes one compaction reads"),
    "excluded_fragment_ids": ((None,), "excluding fragments from compaction"),
}

#: ``cleanup_old_versions``: deletion rate and concurrency.
CLEANUP_NOOPS = frozenset({"delete_rate_limit", "delete_concurrency"})

CLEANUP_UNSUPPORTED: Unsupported = {
    "retain_versions": ((None,), "keeping a number of versions"),
    "versions": ((None,), "deleting listed versions"),
}


def _inert(value: Any, values: Tuple[Any, ...]) -> bool:
    return any(value is v or (type(value) is type(v) and value == v) for v in values)


def check_kwargs(
    call: str,
    kwargs: Dict[str, Any],
    noops: frozenset = frozenset(),
    unsupported: Optional[Unsupported] = None,
) -> None:
    """Raises unless every entry of `kwargs` is a no-op of `call` or an
    unsupported feature left off."""
    for name, value in kwargs.items():
        if name in noops:
            continue
        if unsupported and name in unsupported:
            off, feature = unsupported[name]
            if _inert(value, off):
                continue
            raise NotImplementedError(f"{call}(): {name}={value!r} is not supported by Pilum ({feature})")
        raise TypeError(f"{call}() got an unexpected keyword argument {name!r}")
