"""Samplers for training loaders, with pylance's names: which rows each rank
reads per epoch, and in which order.

Every sampler turns a dataset version into a :class:`BatchPlan` for its
rank. Across the ranks of one sampler every row is read exactly once per
epoch and every rank gets the same number of batches (a rank with fewer
rows gets smaller batches), so distributed training never hangs on a rank
that ran out. ``(seed, epoch)`` fixes the order; ``set_epoch`` reshuffles
every randomized sampler. Samplers are also callables, as in pylance:
``sampler(dataset, batch_size=..., columns=..., filter=...)`` yields
``pyarrow.RecordBatch``es.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import pyarrow as pa

from ._plan import BatchPlan, RowSet, epoch_rng, equal_plans, matching_row_ids

__all__ = [
    "BatchPlan",
    "FullScanSampler",
    "GlobalShuffleSampler",
    "RandomSubsetSampler",
    "Sampler",
    "ShardedBatchSampler",
    "ShardedFixedBatchSampler",
    "ShardedFragmentSampler",
]


def _check_rank(rank: Any, world_size: Any) -> Tuple[int, int]:
    for name, value in (("rank", rank), ("world_size", world_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    return int(rank), int(world_size)


def _fragments(dataset: Any) -> List[Tuple[int, int, int]]:
    """(fragment id, first live position, live rows) of each fragment, in order."""
    out, first = [], 0
    for fragment in dataset.get_fragments():
        rows = fragment.count_rows()
        out.append((fragment.fragment_id, first, rows))
        first += rows
    return out


class Sampler:
    """Base of the samplers: a rank, a world size, a seed and an epoch."""

    randomize = False

    def __init__(self, rank: int = 0, world_size: int = 1, randomize: bool = False, seed: int = 0):
        self._rank, self._world_size = _check_rank(rank, world_size)
        self.randomize = bool(randomize)
        self._seed = int(seed)
        self._epoch = 0

    @property
    def rank(self) -> int:
        return self._rank

    @property
    def world_size(self) -> int:
        return self._world_size

    @property
    def epoch(self) -> int:
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Moves to `epoch`: randomized samplers reshuffle."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        self._epoch = int(epoch)

    @classmethod
    def from_torch(cls, randomize: bool = False, seed: int = 0) -> "Sampler":
        """This sampler for the rank and world size of ``torch.distributed``
        (rank 0 of 1 when it is not initialized)."""
        from .torch.dist import global_rank_and_world_size

        rank, world_size = global_rank_and_world_size()
        return cls(rank, world_size, randomize=randomize, seed=seed)

    def state_dict(self) -> Dict[str, Any]:
        return {"sampler": type(self).__name__, "rank": self._rank, "world_size": self._world_size, "seed": self._seed, "epoch": self._epoch}

    def plan(self, dataset: Any, batch_size: int, *, filter: Any = None, row_ids: bool = False) -> BatchPlan:
        """This rank's batches for the current epoch. `row_ids` asks for
        stable row ids instead of positions (always the case with a filter)."""
        by_id = row_ids or filter is not None
        if by_id:
            ids, fragments = matching_row_ids(dataset, filter)
            rank_rows = self._split_ids(dataset, ids, fragments, batch_size)
        else:
            rank_rows = self._split_positions(dataset, batch_size)
        return equal_plans(rank_rows, batch_size)[self._rank]

    def _split_positions(self, dataset: Any, batch_size: int) -> List[RowSet]:
        raise NotImplementedError  # pragma: no cover - every sampler overrides

    def _split_ids(self, dataset: Any, ids: np.ndarray, fragments: np.ndarray, batch_size: int) -> List[RowSet]:
        raise NotImplementedError  # pragma: no cover - every sampler overrides

    def __call__(
        self,
        dataset: Any,
        *,
        batch_size: int = 128,
        columns: Optional[List[str]] = None,
        filter: Any = None,
        batch_readahead: int = 16,
        with_row_id: bool = False,
        **kwargs: Any,
    ) -> Iterator[pa.RecordBatch]:
        """pylance's sampler call: this rank's batches as RecordBatches."""
        from ._loader import read_planned

        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument {sorted(kwargs)[0]!r}")
        plan = self.plan(dataset, batch_size, filter=filter, row_ids=with_row_id)
        planned = read_planned(dataset, plan, range(len(plan)), columns=columns, with_row_id=with_row_id, readahead=batch_readahead)
        return (batch.data for batch in planned)


class FullScanSampler(Sampler):
    """Every row, in storage order, for a single reader (no sharding)."""

    def __init__(self) -> None:
        super().__init__(0, 1)

    def _split_positions(self, dataset: Any, batch_size: int) -> List[RowSet]:
        return [RowSet(ranges=[(0, dataset.count_rows())])]

    def _split_ids(self, dataset: Any, ids: np.ndarray, fragments: np.ndarray, batch_size: int) -> List[RowSet]:
        return [RowSet(array=ids, row_ids=True)]


class ShardedFragmentSampler(Sampler):
    """Whole fragments per rank, balanced by rows (largest first, each to
    the rank with the fewest rows so far); each rank reads its fragments in
    storage order, or in an order shuffled per epoch with ``randomize``."""

    def _assign(self, sizes: Dict[int, int]) -> List[List[int]]:
        owners: List[List[int]] = [[] for _ in range(self._world_size)]
        load = [0] * self._world_size
        for fid in sorted(sizes, key=lambda f: (-sizes[f], f)):
            target = min(range(self._world_size), key=lambda r: (load[r], r))
            owners[target].append(fid)
            load[target] += sizes[fid]
        for rank, fids in enumerate(owners):
            fids.sort()
            if self.randomize:
                order = epoch_rng(self._seed, self._epoch, rank).permutation(len(fids))
                owners[rank] = [fids[i] for i in order]
        return owners

    def _split_positions(self, dataset: Any, batch_size: int) -> List[RowSet]:
        spans = {fid: (first, rows) for fid, first, rows in _fragments(dataset)}
        owners = self._assign({fid: rows for fid, (_, rows) in spans.items()})
        return [RowSet(ranges=[(spans[f][0], spans[f][0] + spans[f][1]) for f in fids]) for fids in owners]

    def _split_ids(self, dataset: Any, ids: np.ndarray, fragments: np.ndarray, batch_size: int) -> List[RowSet]:
        order = np.argsort(fragments, kind="stable")
        fids, starts, counts = np.unique(fragments[order], return_index=True, return_counts=True)
        rows_of = {int(f): ids[order[s : s + c]] for f, s, c in zip(fids, starts, counts)}
        owners = self._assign({f: rows.size for f, rows in rows_of.items()})
        out = []
        for owned in owners:
            parts = [rows_of[f] for f in owned]
            out.append(RowSet(array=np.concatenate(parts) if parts else np.empty(0, np.int64), row_ids=True))
        return out


class ShardedBatchSampler(Sampler):
    """Batches of consecutive rows dealt round-robin to ranks (batch `b`
    to rank ``b % world_size``); ``randomize`` shuffles each rank's batch
    order per epoch."""

    def _deal(self, total: int, batch_size: int) -> List[np.ndarray]:
        """Each rank's global batch numbers, in reading order."""
        batches = -(-total // batch_size)
        dealt = [np.arange(rank, batches, self._world_size) for rank in range(self._world_size)]
        if self.randomize:
            dealt = [epoch_rng(self._seed, self._epoch, rank).permutation(b) for rank, b in enumerate(dealt)]
        return dealt

    def _split_positions(self, dataset: Any, batch_size: int) -> List[RowSet]:
        total = dataset.count_rows()
        return [
            RowSet(ranges=[(int(b) * batch_size, min(total, (int(b) + 1) * batch_size)) for b in batches])
            for batches in self._deal(total, batch_size)
        ]

    def _split_ids(self, dataset: Any, ids: np.ndarray, fragments: np.ndarray, batch_size: int) -> List[RowSet]:
        return self._deal_array(ids, batch_size, True)

    def _deal_array(self, rows: np.ndarray, batch_size: int, row_ids: bool) -> List[RowSet]:
        out = []
        for batches in self._deal(rows.size, batch_size):
            parts = [rows[int(b) * batch_size : (int(b) + 1) * batch_size] for b in batches]
            out.append(RowSet(array=np.concatenate(parts) if parts else np.empty(0, np.int64), row_ids=row_ids))
        return out


class GlobalShuffleSampler(Sampler):
    """A uniformly random permutation of every row per epoch, read by
    random access (not a shuffle buffer); rank `r` reads every
    ``world_size``-th row of it. Always randomized."""

    def __init__(self, rank: int = 0, world_size: int = 1, randomize: bool = True, seed: int = 0):
        if not randomize:
            raise ValueError("GlobalShuffleSampler always shuffles; use ShardedBatchSampler for a fixed order")
        super().__init__(rank, world_size, True, seed)

    def _permutation(self, n: int) -> np.ndarray:
        return epoch_rng(self._seed, self._epoch).permutation(n)

    def _split_positions(self, dataset: Any, batch_size: int) -> List[RowSet]:
        order = self._permutation(dataset.count_rows())
        return [RowSet(array=order[rank :: self._world_size]) for rank in range(self._world_size)]

    def _split_ids(self, dataset: Any, ids: np.ndarray, fragments: np.ndarray, batch_size: int) -> List[RowSet]:
        order = ids[self._permutation(ids.size)]
        return [RowSet(array=order[rank :: self._world_size], row_ids=True) for rank in range(self._world_size)]


class ShardedFixedBatchSampler(ShardedBatchSampler):
    """A batch sampler for map-style datasets (``SafeLanceDataset`` with
    ``DataLoader(batch_sampler=...)``): yields lists of row positions out
    of ``range(total_num_rows)``, batches dealt to ranks as in
    ``ShardedBatchSampler``; every rank yields the same number of batches
    and every position appears once per epoch across ranks."""

    def __init__(self, rank: int, world_size: int, randomize: bool = False, seed: int = 0, batch_size: int = 0, total_num_rows: int = 0):
        super().__init__(rank, world_size, randomize, seed)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if isinstance(total_num_rows, bool) or not isinstance(total_num_rows, (int, np.integer)) or total_num_rows < 0:
            raise ValueError(f"total_num_rows must be a non-negative int, got {total_num_rows!r}")
        self._batch_size, self._total = int(batch_size), int(total_num_rows)

    def _rank_plan(self) -> BatchPlan:
        ranks = [
            RowSet(ranges=[(int(b) * self._batch_size, min(self._total, (int(b) + 1) * self._batch_size)) for b in batches])
            for batches in self._deal(self._total, self._batch_size)
        ]
        return equal_plans(ranks, self._batch_size)[self._rank]

    def __len__(self) -> int:
        return len(self._rank_plan())

    def __iter__(self) -> Iterator[List[int]]:
        plan = self._rank_plan()
        for i in range(len(plan)):
            yield plan.batch(i).tolist()


class RandomSubsetSampler(ShardedBatchSampler):
    """``samples`` rows drawn at random (without replacement, per seed and
    epoch), read in storage order in batches dealt to ranks as in
    ``ShardedBatchSampler``: the loaders' ``samples=`` argument."""

    def __init__(self, samples: int, rank: int = 0, world_size: int = 1, seed: int = 0):
        super().__init__(rank, world_size, False, seed)
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
            raise ValueError(f"samples must be a positive int, got {samples!r}")
        self._samples = int(samples)

    def _choose(self, n: int) -> np.ndarray:
        picked = epoch_rng(self._seed, self._epoch, 1).choice(n, min(self._samples, n), replace=False)
        return np.sort(picked)

    def _split_positions(self, dataset: Any, batch_size: int) -> List[RowSet]:
        return self._deal_array(self._choose(dataset.count_rows()), batch_size, False)

    def _split_ids(self, dataset: Any, ids: np.ndarray, fragments: np.ndarray, batch_size: int) -> List[RowSet]:
        return self._deal_array(ids[self._choose(ids.size)], batch_size, True)
