"""PyTorch datasets over a Pilum dataset version, with pylance's names.

``LanceDataset`` is an ``IterableDataset`` of whole batches: a sampler plans
this rank's batches (every row once per epoch across ranks, the same
number of batches on every rank), DataLoader workers split them by batch
number so the loader yields them in plan order with any ``num_workers``,
and up to ``batch_readahead`` batches are read ahead with the GIL released.
``SafeLanceDataset`` is map-style (batched ``__getitems__``) for
DataLoader samplers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import pyarrow as pa
import torch
import torch.utils.data

from .. import dataset as open_dataset
from .._loader import read_planned
from .._reads import _is_blob
from ..dataset import PilumDataset
from ..errors import ColumnNotFoundError
from ..sampler import (
    FullScanSampler,
    GlobalShuffleSampler,
    RandomSubsetSampler,
    Sampler,
    ShardedBatchSampler,
    ShardedFragmentSampler,
)
from ._convert import to_tensor
from .dist import global_rank_and_world_size, worker_index_and_count

__all__ = ["LanceDataset", "SafeLanceDataset", "get_safe_loader", "to_tensor"]

_BLOB_MODES = ("file", "bytes")


def _open(dataset: Any, dataset_options: Optional[Dict[str, Any]]) -> PilumDataset:
    if isinstance(dataset, PilumDataset):
        if dataset_options:
            raise ValueError("dataset_options apply when the dataset is given as a URI, not as an open dataset")
        return dataset
    if isinstance(dataset, (str, Path)):
        return open_dataset(os.fspath(dataset), **(dataset_options or {}))
    raise TypeError(f"dataset must be a URI or a pilum dataset, not {type(dataset).__name__}")


def _check_columns(ds: PilumDataset, columns: Any) -> Optional[List[str]]:
    if columns is None:
        return None
    if isinstance(columns, dict):
        raise NotImplementedError("columns given as SQL expressions are not supported by Pilum's loader; pass column names")
    names = [columns] if isinstance(columns, str) else list(columns)
    for name in names:
        if name not in ds.schema.names:
            raise ColumnNotFoundError(f"column {name!r} not found in the dataset (columns: {ds.schema.names})")
    return names


class LanceDataset(torch.utils.data.IterableDataset):
    """Batches of a dataset version as tensors (a dict of column → tensor,
    or a bare tensor for one column), for ``DataLoader(ds, batch_size=None)``.

    Sampling: `sampler` (any of ``pilum.sampler``), or one chosen from
    `shuffle` (a global shuffle by random access), `samples` (a random
    subset), `shard_granularity` ("fragment" or "batch") and the rank and
    world size (explicit, or from ``torch.distributed`` with
    `auto_detect_rank`). `filter` works with every sampler. `seed` and the
    epoch (``set_epoch``) fix the order; ``state_dict`` /
    ``load_state_dict`` resume mid-epoch. Blob columns reach `to_tensor_fn`
    as lists of file objects (``blob_mode="file"``, pylance's behaviour) or
    of bytes (``"bytes"``). `vector_dtype` casts floating vectors in the
    default conversion. Pilum's loader does not cache (``cache=`` raises).
    """

    def __init__(
        self,
        dataset: Union[PilumDataset, str, Path],
        batch_size: int,
        *args: Any,
        dataset_options: Optional[Dict[str, Any]] = None,
        columns: Optional[List[str]] = None,
        filter: Any = None,
        samples: Optional[int] = 0,
        cache: Any = None,
        with_row_id: bool = False,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        shard_granularity: Optional[str] = None,
        batch_readahead: int = 16,
        to_tensor_fn: Optional[Callable[..., Any]] = to_tensor,
        sampler: Optional[Sampler] = None,
        auto_detect_rank: bool = True,
        shuffle: bool = False,
        seed: int = 0,
        vector_dtype: Optional[torch.dtype] = None,
        blob_mode: str = "file",
        **kwargs: Any,
    ):
        super().__init__()
        if args:
            raise TypeError(f"LanceDataset() takes 2 positional arguments (dataset, batch_size); {len(args)} more were given")
        if kwargs:
            raise TypeError(f"LanceDataset() got unexpected keyword argument {sorted(kwargs)[0]!r}")
        if cache:
            raise NotImplementedError("LanceDataset(cache=...) is not supported by Pilum: reads are served from the dataset itself")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if (rank is None) != (world_size is None):
            raise ValueError("pass both rank and world_size, or neither")
        if shard_granularity not in (None, "fragment", "batch"):
            raise ValueError(f"shard_granularity must be 'fragment', 'batch' or None, got {shard_granularity!r}")
        chosen = [name for name, on in (("sampler", sampler is not None), ("shuffle", shuffle), ("samples", bool(samples)), ("shard_granularity", shard_granularity is not None)) if on]
        if len(chosen) > 1:
            raise ValueError(f"choose one way of sampling: {', '.join(chosen)} were given together")
        if sampler is not None and not isinstance(sampler, Sampler):
            raise TypeError(f"sampler must be a pilum.sampler.Sampler, not {type(sampler).__name__}")
        if seed and sampler is None and not shuffle and not samples:
            raise ValueError("seed orders shuffled or sampled reads: pass shuffle=True or samples=, or a randomized sampler")
        if sampler is not None:
            # The sampler carries its own rank, world size and seed.
            given = [n for n, v in (("rank", rank), ("world_size", world_size), ("seed", seed or None)) if v is not None]
            if given:
                raise ValueError(f"{', '.join(given)} cannot be combined with sampler=, which sets its own")
        if blob_mode not in _BLOB_MODES:
            raise ValueError(f"blob_mode must be 'file' or 'bytes', got {blob_mode!r}")
        if vector_dtype is not None and to_tensor_fn is not to_tensor:
            raise TypeError("vector_dtype applies to the default to_tensor_fn; convert in your own to_tensor_fn instead")
        self.dataset = _open(dataset, dataset_options)
        self._pid = os.getpid()
        self.columns = _check_columns(self.dataset, columns)
        self.batch_size = batch_size
        self.filter = filter
        self.samples = samples or 0
        self.with_row_id = bool(with_row_id)
        self.rank, self.world_size = rank, world_size
        self.shard_granularity = shard_granularity
        self.batch_readahead = batch_readahead
        self.sampler = sampler
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.blob_mode = blob_mode
        self._to_tensor_fn = to_tensor_fn
        self._vector_dtype = vector_dtype
        self._auto_detect_rank = auto_detect_rank
        self._epoch = 0
        self._resume: Optional[tuple] = None
        self._consumed = 0

    def __repr__(self) -> str:
        return f"LanceDataset({self.dataset.uri}, version={self.dataset.version}, batch_size={self.batch_size})"

    @property
    def schema(self) -> pa.Schema:
        """The schema of the columns read."""
        schema = self.dataset.schema
        if self.columns is None:
            return schema
        return pa.schema([schema.field(name) for name in self.columns], metadata=schema.metadata)

    # --- epochs and resumption -------------------------------------------------

    def set_epoch(self, epoch: int) -> None:
        """Moves to `epoch`: shuffled orders change (pylance's iterable
        samplers ignore this). Call it before each epoch's iterator."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        self._epoch = epoch
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        if self._resume is not None and self._resume[0] != epoch:
            self._resume = None
        self._consumed = 0

    def state_dict(self, batches_consumed: Optional[int] = None) -> Dict[str, Any]:
        """Where this epoch stands. `batches_consumed` is the number of
        batches the training loop received this epoch; without it, the
        batches this process yielded (right for ``num_workers=0``)."""
        consumed = self._consumed if batches_consumed is None else int(batches_consumed)
        return {"epoch": self._epoch, "batches_consumed": consumed, "seed": self.seed, "batch_size": self.batch_size, "version": self.dataset.version}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Resumes: the epoch in `state` skips the batches it had consumed
        (same dataset version, batch size and seed required)."""
        for key in ("version", "batch_size", "seed"):
            mine = self.dataset.version if key == "version" else getattr(self, key)
            if key in state and state[key] != mine:
                raise ValueError(f"cannot resume: the state was saved with {key}={state[key]!r}, this loader has {mine!r}")
        epoch, consumed = int(state["epoch"]), int(state.get("batches_consumed", 0))
        if consumed < 0:
            raise ValueError(f"batches_consumed must be non-negative, got {consumed}")
        self.set_epoch(epoch)
        self._resume = (epoch, consumed)
        self._consumed = consumed

    # --- planning ----------------------------------------------------------------

    def _rank(self) -> tuple:
        if self.rank is not None:
            return self.rank, self.world_size
        if self._auto_detect_rank:
            return global_rank_and_world_size()
        return 0, 1

    def _sampler(self) -> Sampler:
        if self.sampler is not None:
            return self.sampler
        rank, world = self._rank()
        if self.samples:
            chosen: Sampler = RandomSubsetSampler(self.samples, rank, world, seed=self.seed)
        elif self.shuffle:
            chosen = GlobalShuffleSampler(rank, world, seed=self.seed)
        elif self.shard_granularity == "batch":
            chosen = ShardedBatchSampler(rank, world, seed=self.seed)
        elif self.shard_granularity == "fragment" or world > 1:
            chosen = ShardedFragmentSampler(rank, world, seed=self.seed)
        else:
            chosen = FullScanSampler()
        chosen.set_epoch(self._epoch)
        return chosen

    def _dataset(self) -> PilumDataset:
        """The dataset, reopened at the same version in a forked worker."""
        if os.getpid() != self._pid:
            ds = self.dataset
            self.dataset = open_dataset(ds.uri, version=ds.version, storage_options=ds._storage_options)
            self._pid = os.getpid()
        return self.dataset

    def _blob_columns(self) -> List[str]:
        if self.blob_mode != "file":
            return []
        return [f.name for f in self.schema if _is_blob(f)]

    def _plan(self) -> Any:
        row_ids = self.with_row_id or self.filter is not None
        return self._sampler().plan(self._dataset(), self.batch_size, filter=self.filter, row_ids=row_ids)

    def __len__(self) -> int:
        """Batches this rank reads per epoch (the same on every rank)."""
        return len(self._plan())

    # --- iteration -------------------------------------------------------------

    def __iter__(self) -> Iterator[Any]:
        ds = self._dataset()
        plan = self._plan()
        # Worker w reads batches start+w, start+w+W, ...: the DataLoader,
        # which takes one batch from each worker in turn, yields plan order.
        worker, workers = worker_index_and_count()
        start = self._resume[1] if self._resume is not None and self._resume[0] == self._epoch else 0
        blobs = self._blob_columns()
        columns = self.columns if self.columns is not None else ds.schema.names
        read_columns = [c for c in columns if c not in blobs]
        planned = read_planned(ds, plan, range(start + worker, len(plan), workers), columns=read_columns, with_row_id=self.with_row_id, readahead=self.batch_readahead)
        for item in planned:
            batch: Any = item.data
            if blobs:
                batch = {name: batch.column(name) for name in batch.schema.names}
                key = "ids" if plan.by_row_id else "indices"
                for name in blobs:
                    batch[name] = ds.take_blobs(name, **{key: item.rows})
            if self._to_tensor_fn is not None:
                extra = {"vector_dtype": self._vector_dtype} if self._vector_dtype is not None else {}
                batch = self._to_tensor_fn(batch, hf_converter=None, use_blob_api=bool(blobs), **extra)
            self._consumed = item.index + 1
            yield batch


class SafeLanceDataset(torch.utils.data.Dataset):
    """A map-style dataset (rows by position) for DataLoader samplers:
    ``__getitems__`` reads a whole batch with one ``take``. The version is
    pinned when it is made; each worker opens the dataset lazily."""

    def __init__(self, uri: Union[str, Path, PilumDataset], *, dataset_options: Optional[Dict[str, Any]] = None, columns: Optional[List[str]] = None, **kwargs: Any):
        super().__init__()
        if kwargs:
            raise TypeError(f"SafeLanceDataset() got unexpected keyword argument {sorted(kwargs)[0]!r}")
        opened = _open(uri, dataset_options)
        self.uri = opened.uri
        self.version = opened.version
        self._storage_options = opened._storage_options
        self.columns = _check_columns(opened, columns)
        self._len = opened.count_rows()
        self._ds: Optional[PilumDataset] = None
        self._pid = -1

    def __len__(self) -> int:
        return self._len

    def _dataset(self) -> PilumDataset:
        if self._ds is None or self._pid != os.getpid():
            self._ds = open_dataset(self.uri, version=self.version, storage_options=self._storage_options)
            self._pid = os.getpid()
        return self._ds

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["_ds"] = None
        return state

    def __getitem__(self, idx: int) -> Dict[str, Any]:
        return self.__getitems__([idx])[0]

    def __getitems__(self, indices: List[int]) -> List[Dict[str, Any]]:
        """Rows at `indices`, as one dict per row."""
        if any(i < 0 or i >= self._len for i in indices):
            raise IndexError(f"row positions must be in [0, {self._len})")
        return self._dataset().take(list(indices), columns=self.columns).to_pylist()


_DEFAULT_BATCH = object()


def get_safe_loader(dataset: torch.utils.data.Dataset, batch_size: Any = _DEFAULT_BATCH, num_workers: int = 4, **kwargs: Any) -> torch.utils.data.DataLoader:
    """A DataLoader with pylance's safe defaults: ``spawn`` workers that
    persist between epochs, batches of 32 unless a ``batch_sampler`` makes
    them (then `batch_size` must be left out). Other arguments go to
    ``DataLoader``."""
    if "batch_sampler" in kwargs:
        if batch_size is not _DEFAULT_BATCH and batch_size not in (None, 1):
            raise ValueError("get_safe_loader(): batch_size cannot be combined with batch_sampler, which makes the batches")
        batch_size = 1
    elif batch_size is _DEFAULT_BATCH:
        batch_size = 32
    if num_workers > 0:
        kwargs.setdefault("multiprocessing_context", "spawn")
        kwargs.setdefault("persistent_workers", True)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, **kwargs)
