"""Batch plans: which rows one rank reads in one epoch, in which batches.

A plan is computed, never read from disk: from a dataset version, a batch
size, an optional filter, a rank and the sampler's seed and epoch. Rows are
either live row positions (what ``take`` reads) kept as lazy ranges, or
explicit arrays of stable row ids (after a filter). Every rank of one
sampler gets the same number of batches, so distributed training never
waits on a rank that ran out; a rank with fewer rows gets smaller batches.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["BatchPlan", "RowSet", "batch_sizes", "epoch_rng", "matching_row_ids"]


def epoch_rng(seed: int, epoch: int, *salt: int) -> np.random.Generator:
    """A generator for one (seed, epoch): distinct pairs never share a stream
    (``seed + epoch`` would make (0, 1) and (1, 0) collide)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) & (2**64 - 1), int(epoch), *salt]))


def batch_sizes(rows: int, batch_size: int, batches: int) -> np.ndarray:
    """Sizes of `batches` batches over `rows` rows, none above `batch_size`:
    full batches and a last partial one when that makes `batches` of them,
    else `rows` spread evenly (zero-row batches only when rows < batches)."""
    natural = -(-rows // batch_size)
    if natural > batches:
        raise ValueError(f"{rows} rows do not fit {batches} batches of {batch_size}")
    if natural == batches:
        sizes = np.full(batches, batch_size, dtype=np.int64)
        if batches:
            sizes[-1] = rows - batch_size * (batches - 1)
        return sizes
    base, extra = divmod(rows, batches)
    sizes = np.full(batches, base, dtype=np.int64)
    sizes[:extra] += 1
    return sizes


class RowSet:
    """An ordered sequence of rows: ranges of live positions, or an array of
    positions or row ids."""

    def __init__(self, *, ranges: Optional[Sequence[Tuple[int, int]]] = None, array: Optional[np.ndarray] = None, row_ids: bool = False):
        if (ranges is None) == (array is None):
            raise ValueError("a RowSet has ranges or an array")
        self.row_ids = row_ids
        self.array = None if array is None else np.asarray(array, dtype=np.int64)
        if ranges is not None:
            starts = np.array([s for s, _ in ranges], dtype=np.int64)
            lengths = np.array([e - s for s, e in ranges], dtype=np.int64)
            keep = lengths > 0
            self.starts, self.lengths = starts[keep], lengths[keep]
            self.ends = np.cumsum(self.lengths)

    def __len__(self) -> int:
        if self.array is not None:
            return int(self.array.size)
        return int(self.ends[-1]) if self.ends.size else 0

    def slice(self, begin: int, end: int) -> np.ndarray:
        """Rows begin..end of the sequence, as an int64 array."""
        if self.array is not None:
            return self.array[begin:end]
        if end <= begin:
            return np.empty(0, dtype=np.int64)
        first = int(np.searchsorted(self.ends, begin, side="right"))
        last = int(np.searchsorted(self.ends, end - 1, side="right"))
        parts = []
        for k in range(first, last + 1):
            seg_begin = int(self.ends[k] - self.lengths[k])
            lo = max(begin, seg_begin) - seg_begin
            hi = min(end, int(self.ends[k])) - seg_begin
            start = int(self.starts[k])
            parts.append(np.arange(start + lo, start + hi, dtype=np.int64))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


class BatchPlan:
    """The batches of one rank in one epoch: batch `i` is rows
    ``offsets[i]:offsets[i+1]`` of `rows`."""

    def __init__(self, rows: RowSet, sizes: np.ndarray):
        if int(np.sum(sizes)) != len(rows):
            raise ValueError("batch sizes do not cover the rows")
        self.rows = rows
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def num_rows(self) -> int:
        return len(self.rows)

    @property
    def by_row_id(self) -> bool:
        return self.rows.row_ids

    def batch(self, i: int) -> np.ndarray:
        """The positions (or row ids) of batch `i`, in read order."""
        return self.rows.slice(int(self.offsets[i]), int(self.offsets[i + 1]))


def equal_plans(rank_rows: List[RowSet], batch_size: int) -> List[BatchPlan]:
    """One plan per rank, all with the same number of batches."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    batches = max((-(-len(r) // batch_size) for r in rank_rows), default=0)
    batches = max(batches, 1)
    return [BatchPlan(rows, batch_sizes(len(rows), batch_size, batches)) for rows in rank_rows]


_MATCH_CACHE: Dict[Tuple[Any, ...], Tuple[np.ndarray, np.ndarray]] = {}


def matching_row_ids(dataset: Any, filter: Any) -> Tuple[np.ndarray, np.ndarray]:
    """Row ids and fragment ids of the rows matching `filter`, in scan order.
    Cached per process for (dataset, version, SQL filter) so DataLoader
    workers of one rank scan once per filter, not once per epoch."""
    key = (dataset.uri, dataset.version, filter) if isinstance(filter, str) else None
    if key is not None and key in _MATCH_CACHE:
        return _MATCH_CACHE[key]
    table = dataset.to_table(columns=[], filter=filter, with_row_id=True, with_row_address=True)
    ids = table.column("_rowid").to_numpy().astype(np.int64)
    fragments = (table.column("_rowaddr").to_numpy() >> np.uint64(32)).astype(np.int64)
    if key is not None:
        if len(_MATCH_CACHE) > 8:
            _MATCH_CACHE.clear()
        _MATCH_CACHE[key] = (ids, fragments)
    return ids, fragments
