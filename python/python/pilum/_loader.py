"""Reading a batch plan with bounded prefetch: up to `readahead` batches in
flight on a thread pool, each read by one ``take`` (positions) or
``take_rows`` (row ids) with the GIL released, yielded in plan order."""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Deque, Iterable, Iterator, List, NamedTuple, Optional

import numpy as np
import pyarrow as pa

from ._plan import BatchPlan

__all__ = ["PlannedBatch", "read_planned"]

#: Threads reading at once for a local dataset, at most (they mostly wait
#: on the native reader, which decodes in parallel itself).
_LOCAL_THREADS = 4
#: For object storage, where each read waits on requests.
_REMOTE_THREADS = 32


class PlannedBatch(NamedTuple):
    """One batch of a plan: its number, its rows (positions or row ids) and the data."""

    index: int
    rows: np.ndarray
    data: pa.RecordBatch


def _to_batch(table: pa.Table) -> pa.RecordBatch:
    batches = table.combine_chunks().to_batches()
    if len(batches) == 1:
        return batches[0]
    return pa.RecordBatch.from_pylist([], schema=table.schema) if not batches else pa.concat_batches(batches)


def _read_one(dataset: Any, plan: BatchPlan, index: int, columns: Optional[List[str]], with_row_id: bool) -> PlannedBatch:
    rows = plan.batch(index)
    if columns is not None and not columns:
        if not with_row_id:
            raise ValueError("columns=[] reads nothing: name a column or pass with_row_id=True")
        table = pa.table({})
    elif plan.by_row_id:
        table = dataset._take_rows(rows, columns)
    else:
        table = dataset.take(rows, columns=columns)
    if with_row_id:
        if not plan.by_row_id:
            raise ValueError("with_row_id needs a plan made with row_ids=True")
        ids = pa.array(rows.astype(np.uint64), pa.uint64())
        table = pa.table({"_rowid": ids}) if table.num_columns == 0 else table.append_column(pa.field("_rowid", pa.uint64(), nullable=False), ids)
    return PlannedBatch(index, rows, _to_batch(table))


def _threads(dataset: Any, readahead: int) -> int:
    remote = "://" in str(getattr(dataset, "uri", ""))
    cap = _REMOTE_THREADS if remote else min(_LOCAL_THREADS, max(2, os.cpu_count() or 2))
    return max(1, min(readahead, cap))


def read_planned(
    dataset: Any,
    plan: BatchPlan,
    batch_indices: Iterable[int],
    *,
    columns: Optional[List[str]] = None,
    with_row_id: bool = False,
    readahead: int = 16,
) -> Iterator[PlannedBatch]:
    """Batches `batch_indices` of `plan`, in that order, at most `readahead` in flight."""
    if isinstance(readahead, bool) or not isinstance(readahead, int) or readahead < 1:
        raise ValueError(f"batch_readahead must be a positive int, got {readahead!r}")
    indices = iter(batch_indices)
    pool = ThreadPoolExecutor(max_workers=_threads(dataset, readahead), thread_name_prefix="pilum-loader")
    pending: Deque[Future] = deque()
    try:
        for index in indices:
            pending.append(pool.submit(_read_one, dataset, plan, index, columns, with_row_id))
            if len(pending) >= readahead:
                break
        while pending:
            done = pending.popleft().result()
            for index in indices:
                pending.append(pool.submit(_read_one, dataset, plan, index, columns, with_row_id))
                break
            yield done
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)

