"""Tags, compaction and cleanup of a dataset."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional

from ._args import CLEANUP_NOOPS, CLEANUP_UNSUPPORTED, COMPACT_NOOPS, COMPACT_UNSUPPORTED, check_kwargs
from ._data import staged_progress
from .branches import reference_arg

if TYPE_CHECKING:
    from .dataset import PilumDataset

__all__ = ["Tags", "DatasetOptimizer", "CompactionMetrics", "CleanupStats", "cleanup_old_versions"]


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


class Tags:
    """The tags (named versions) of a dataset."""

    def __init__(self, dataset: "PilumDataset"):
        self._dataset = dataset

    def list(self) -> Dict[str, Dict[str, Any]]:
        """``{name: {"version": v, "branch": b, "timestamp": t}}`` (``branch`` is
        ``None`` for the main line)."""
        return {
            name: {"version": v, "branch": branch, "timestamp": ts}
            for name, v, branch, ts in self._dataset._ds.tags_list()
        }

    def create(self, tag: str, reference: Any = None) -> None:
        """Names `reference`: a version of this dataset's branch, another tag,
        ``(branch, version)``, or this branch's latest version when ``None``."""
        self._dataset._ds.tag_set(tag, reference_arg(reference, optional=True), False)

    def update(self, tag: str, reference: Any = None) -> None:
        """Moves an existing tag to `reference` (as in ``create``)."""
        self._dataset._ds.tag_set(tag, reference_arg(reference, optional=True), True)

    def delete(self, tag: str) -> None:
        """Deletes a tag (the version stays)."""
        self._dataset._ds.tag_delete(tag)

    def get_version(self, tag: str) -> int:
        """The version `tag` names."""
        return self._dataset._ds.tag_version(tag)


class DatasetOptimizer:
    """Maintenance that rewrites data or indices: ``compact_files``, ``optimize_indices``."""

    def __init__(self, dataset: "PilumDataset"):
        self._dataset = dataset

    def compact_files(
        self,
        *,
        target_rows_per_fragment: Optional[int] = None,
        materialize_deletions: Optional[bool] = None,
        materialize_deletions_threshold: Optional[float] = None,
        merge_column_files: bool = False,
        progress: Any = None,
        **kwargs: Any,
    ) -> CompactionMetrics:
        """Merges small fragments (to `target_rows_per_fragment`, default 1,048,576 rows)
        and, unless ``materialize_deletions=False``, drops deleted rows from fragments
        where they exceed `materialize_deletions_threshold` (default 0.1); commits one
        version (none if nothing to do). Row ids are kept, and older versions stay
        readable until cleanup.

        Accepted no-ops (Lance tuning): ``max_rows_per_group``, ``num_threads``,
        ``batch_size``, ``compaction_mode``, ``binary_copy_read_batch_bytes``,
        ``defer_index_remap``, ``data_storage_version``.
        """
        check_kwargs("compact_files", kwargs, COMPACT_NOOPS, COMPACT_UNSUPPORTED)
        rows = 1024 * 1024 if target_rows_per_fragment is None else int(target_rows_per_fragment)
        threshold = 0.1 if materialize_deletions_threshold is None else float(materialize_deletions_threshold)
        if materialize_deletions is False:
            threshold = float("inf")
        report, close = staged_progress(progress, "compaction")
        try:
            removed, added, files_removed, files_added = self._dataset._ds.compact_files(
                rows, threshold, bool(merge_column_files), report
            )
        finally:
            close()
        return CompactionMetrics(removed, added, files_removed, files_added)

    def optimize_indices(self, **kwargs: Any) -> None:
        """Brings vector and full-text indices up to date in one new version (none if nothing to do).

        ``num_indices_to_merge`` (default 1): 0 indexes the fragments no
        segment covers as a new segment, reusing a vector index's trained
        model (an inverted index analyzes them with its analyzer);
        n >= 1 folds them and the newest n segments into one, dropping the
        entries of deleted and updated rows (for an inverted index, also
        from its BM25 statistics). ``index_names`` limits the work to
        those indices; ``retrain=True`` rebuilds each index from scratch.
        """
        merge = kwargs.pop("num_indices_to_merge", 1)
        names = kwargs.pop("index_names", None)
        retrain = kwargs.pop("retrain", False)
        if kwargs:
            raise TypeError(f"optimize_indices() got unexpected keyword arguments {sorted(kwargs)}")
        if isinstance(merge, bool) or not isinstance(merge, int) or merge < 0:
            raise ValueError(f"optimize_indices: num_indices_to_merge must be a non-negative integer, got {merge!r}")
        if isinstance(names, str):
            names = [names]
        self._dataset._ds.optimize_indices(merge, None if names is None else list(names), bool(retrain))


def cleanup_old_versions(
    dataset: "PilumDataset",
    older_than: Optional[_dt.timedelta],
    error_if_tagged_old_versions: bool,
    progress: Any,
    kwargs: Dict[str, Any],
) -> CleanupStats:
    """``PilumDataset.cleanup_old_versions`` (see there)."""
    delete_unverified = kwargs.pop("delete_unverified", False)
    if not isinstance(delete_unverified, bool):
        raise TypeError("delete_unverified must be a bool")
    check_kwargs("cleanup_old_versions", kwargs, CLEANUP_NOOPS, CLEANUP_UNSUPPORTED)
    if older_than is None:
        older_than = _dt.timedelta(days=14)
    if error_if_tagged_old_versions:
        _refuse_old_tags(dataset, older_than)
    report, close = staged_progress(progress, "cleanup")
    try:
        versions, files, size = dataset._ds.cleanup_old_versions(older_than.total_seconds(), report, delete_unverified)
    finally:
        close()
    return CleanupStats(old_versions=versions, files_removed=files, bytes_removed=size)


def _refuse_old_tags(dataset: "PilumDataset", older_than: _dt.timedelta) -> None:
    """Raises when a tagged version other than the latest is older than `older_than`."""
    cutoff = _dt.datetime.now(_dt.timezone.utc) - older_than
    committed = {v["version"]: v["timestamp"] for v in dataset.versions()}
    latest = max(committed)
    old = sorted(
        f"{name} (version {entry['version']})"
        for name, entry in dataset.tags.list().items()
        if entry["branch"] == dataset.branch
        and entry["version"] < latest and entry["version"] in committed and committed[entry["version"]] < cutoff
    )
    if old:
        raise ValueError(
            f"cleanup_old_versions: tagged versions are older than {older_than}: {', '.join(old)}; "
            "delete the tags or pass error_if_tagged_old_versions=False to keep them"
        )
