"""Workloads over S3 (moto behind the counting proxy): time, requests and bytes per call.

Per engine: write the table (one run), open + ``count_rows()`` (a fresh
open each call), a streamed full scan and random takes of 1/100/1000 rows
on a dataset opened once, and a blob fetch on the blob table. Each read
row comes with two more rows, the median number of HTTP requests per call
(min–max over the calls) and the MiB the server sent; the JSON has the
per-call counts by method. Every call's result is checked against the
source's digest. Each engine's objects are deleted once it is measured.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

import pyarrow as pa

from .engines import Engine
from .s3 import Remote
from .timing import Outcome, ReadRepeat, Recorder, median_ms, sample
from .verify import Verifier
from .workloads import take_indices


@dataclass
class S3Spec:
    """What runs over S3: a table, take sizes, and a blob table with the blobs to fetch."""

    label: str
    table: pa.Table
    take_sizes: Sequence[int]
    blob_table: Optional[pa.Table]
    blob_indices: List[int]
    seed: int
    key: str = "s3"


def _stats(values: List[float], scale: float = 1.0) -> Outcome:
    return Outcome(statistics.median(values) * scale, [], low=min(values) * scale, high=max(values) * scale,
                   runs=len(values))


def remote_reads(fn: Callable[[], Any], check: Callable[[Any], str], remote: Remote, reads: ReadRepeat) -> Dict[str, Outcome]:
    """Times `fn` like any read (warm-up, then the pinned number of runs) and counts each call's requests."""
    sampled = sample(fn, reads.runs, check=lambda result: (check(result), remote.counts()),
                     before=lambda: remote.counts(reset=True), reads=reads)
    calls = [counts for _, counts in sampled.checked[1:]]  # the warm-up call is not reported
    time_outcome = median_ms(sampled.samples_s)
    time_outcome.extra = {"digest": sampled.checked[0][0], "checked_calls": len(sampled.checked),
                          "requests_per_call": calls}
    return {
        "time": time_outcome,
        "requests": _stats([c["requests"] for c in calls]),
        "received": _stats([c["bytes_sent_to_client"] for c in calls], 1 / 2**20),
    }


def _has_blob_api(engine: Engine) -> bool:
    return type(engine).read_blobs is not Engine.read_blobs


def run_s3_workloads(recorder: Recorder, spec: S3Spec, engine: Engine, remote: Remote, reads: ReadRepeat) -> None:
    """All S3 workloads of one engine (an :meth:`Engine.on_s3` engine)."""

    def measure(workload: str, unit: str, fn: Callable[[], Outcome], higher: bool = False):
        return recorder.measure(spec.key, spec.label, "s3", workload, engine.name, unit, fn, higher)

    def measure_read(workload: str, fn: Callable[[], Any], check: Callable[[Any], str]) -> None:
        held: Dict[str, Outcome] = {}

        def timed() -> Outcome:
            held.update(remote_reads(fn, check, remote, reads))
            return held["time"]

        result = measure(workload, "ms", timed)
        if result is not None and result.value is not None:
            measure(f"{workload}: requests", "requests", lambda: held["requests"])
            measure(f"{workload}: MiB received", "MiB", lambda: held["received"])

    def write_once(table: pa.Table, path: str, label: str) -> bool:
        def timed() -> Outcome:
            remote.counts(reset=True)
            start = time.perf_counter()
            engine.write(table, path)
            seconds = time.perf_counter() - start
            counts = remote.counts()
            return Outcome(seconds * 1e3, [seconds], {"requests": counts})

        result = measure(label, "ms", timed)
        if result is None or result.value is None:
            return False
        measure(f"{label}: requests", "requests", lambda: Outcome(result.extra["requests"]["requests"]))
        return True

    verifier = Verifier(spec.table)
    path = engine.dataset_path("", "s3-table")
    try:
        if write_once(spec.table, path, f"write ({spec.table.num_rows:,} rows, one run)"):
            measure_read("open + count_rows", lambda: engine.count_rows(engine.open(path)),
                         verifier.count(spec.table.num_rows))
            handle = engine.open(path)
            measure_read("full scan (all columns, streamed)", lambda: engine.scan_batches(handle), verifier.scan())
            for count in spec.take_sizes:
                indices = take_indices(spec.table.num_rows, count, spec.seed)
                measure_read(f"take {len(indices)} (all columns)", lambda indices=indices: engine.take(handle, indices),
                             verifier.take(indices))
            del handle
    finally:
        remote.delete_prefix(path.split("/")[-1])
    if spec.blob_table is None:
        return
    label = f"blob fetch {len(spec.blob_indices)} random, read() each"
    if not _has_blob_api(engine):
        measure(label, "ms", lambda: engine.read_blobs(None, "blob", spec.blob_indices))  # records n/a
        return
    blob_path = engine.dataset_path("", "s3-blobs")
    try:
        if write_once(spec.blob_table, blob_path, f"write blobs ({spec.blob_table.num_rows:,}, one run)"):
            blob_handle = engine.open(blob_path)
            measure_read(label, lambda: engine.read_blobs(blob_handle, "blob", spec.blob_indices),
                         Verifier(spec.blob_table).blobs("blob", spec.blob_indices))
    finally:
        remote.delete_prefix(blob_path.split("/")[-1])
