"""Distributed vector index builds on the distributed write protocol:
``create_index(..., fragment_ids=...)`` trains once and returns an
uncommitted segment, workers call :func:`build_index_segment` for other
fragments with that model, and ``LanceDataset.commit(uri,
LanceOperation.CreateIndex(segments))`` lands them as one index."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional, Union

from . import _native

__all__ = ["IndexSegmentMetadata", "build_index_segment", "CreateIndex"]


class IndexSegmentMetadata:
    """One built, not yet committed segment of a vector index: its name,
    the fragments it covers and its files under ``_indices/``. Pickles, so
    it can travel from a worker to the process that commits; files of
    segments never committed are removed by cleanup."""

    def __init__(self, payload: bytes, base_version: int):
        name, uuid, kind, fragments = _native.index_segment_info(bytes(payload))
        self._payload = bytes(payload)
        self.base_version = int(base_version)
        self.name: str = name
        self.uuid: str = uuid
        self.index_type: str = kind
        self.fragment_ids: List[int] = list(fragments)

    def __reduce__(self) -> Any:
        return (IndexSegmentMetadata, (self._payload, self.base_version))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IndexSegmentMetadata) and other._payload == self._payload

    def __hash__(self) -> int:
        return hash(self._payload)

    def __repr__(self) -> str:
        return f"IndexSegmentMetadata(name={self.name!r}, type={self.index_type}, fragments={self.fragment_ids}, uuid={self.uuid})"


def build_index_segment(
    dataset: Union[str, os.PathLike, Any],
    trained: IndexSegmentMetadata,
    fragment_ids: Iterable[int],
    *,
    memory_limit: Optional[int] = None,
    storage_options: Optional[Dict[str, str]] = None,
) -> IndexSegmentMetadata:
    """On a worker: encodes fragments `fragment_ids` (of the version
    `trained` was built on) with `trained`'s model into a new segment of the
    same index, written but not committed. `dataset` is a URI or a pilum
    dataset."""
    from .distributed import _uri_and_options

    if not isinstance(trained, IndexSegmentMetadata):
        raise TypeError(f"build_index_segment: trained must be the IndexSegmentMetadata from create_index(fragment_ids=...), not {type(trained).__name__}")
    fragments = [int(f) for f in fragment_ids]
    if not fragments:
        raise ValueError("build_index_segment: fragment_ids must not be empty")
    if memory_limit is not None and (isinstance(memory_limit, bool) or memory_limit <= 0):
        raise ValueError(f"build_index_segment: memory_limit must be a positive number of bytes, got {memory_limit!r}")
    uri, storage_options = _uri_and_options(dataset, storage_options)
    payload = _native.build_index_segment(
        uri, trained.base_version, trained._payload, fragments, int(memory_limit or 1 << 30), storage_options
    )
    return IndexSegmentMetadata(payload, trained.base_version)


class CreateIndex:
    """``LanceOperation.CreateIndex``: segments of one vector index built by
    ``create_index(fragment_ids=...)`` and ``build_index_segment``, committed
    as one index. `removed_indices` must be empty (pass ``replace=True`` to
    the operation to replace an index of the same name)."""

    def __init__(self, new_indices: Iterable[IndexSegmentMetadata], removed_indices: Iterable[Any] = (), *, replace: bool = False):
        self.new_indices = list(new_indices)
        if list(removed_indices):
            raise NotImplementedError("LanceOperation.CreateIndex: removed_indices is not supported by Pilum; use replace=True")
        bad = [type(s).__name__ for s in self.new_indices if not isinstance(s, IndexSegmentMetadata)]
        if bad:
            raise TypeError(f"LanceOperation.CreateIndex: new_indices must be IndexSegmentMetadata, got {bad[0]}")
        if not self.new_indices:
            raise ValueError("LanceOperation.CreateIndex needs at least one index segment")
        self.replace = bool(replace)

    def _commit(self, uri: str, read_version: Optional[int], storage_options: Optional[Dict[str, str]]) -> Any:
        stale = [s for s in self.new_indices if read_version is not None and s.base_version != read_version]
        if stale:
            raise ValueError(f"LanceOperation.CreateIndex: segments were built on version {stale[0].base_version}, not read_version {read_version}")
        return _native.commit_index_segments(uri, [s._payload for s in self.new_indices], self.replace, storage_options)
