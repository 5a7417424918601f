"""The workloads on one table: write, size, scans, random takes, add column.

:func:`run_table_workloads` writes one engine's copy of a table and
measures it; the copy is left on disk for the caller (the RSS scan uses it)
to delete. Read workloads are warmed once untimed; every call's result is
checked against the source's digest (untimed, :mod:`bench.verify`); the
reported value is the median of the timed runs (see
:class:`~bench.timing.ReadRepeat`).
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import pyarrow as pa

from .engines import Engine, Predicate, dir_size
from .timing import Outcome, ReadRepeat, Recorder, Result, median_ms, timed_reads
from .verify import Verifier

ADDED_COLUMN = ("id2", "id * 2")


@dataclass
class TableSpec:
    """A table to benchmark and the workloads that apply to it."""

    key: str  # dataset key for --only: synthetic, big, corpus
    label: str  # report heading, e.g. "synthetic-1M"
    table: pa.Table  # memory-mapped source rows
    projected: Sequence[str]
    predicates: Sequence[Predicate]
    take_sizes: Sequence[int]
    write_runs: int
    write_in_bytes: bool = False  # write throughput in MiB/s of Arrow data instead of M rows/s
    add_column_runs: int = 0  # 0: no add-column workload
    expected_matches: Dict[str, int] = field(default_factory=dict)  # predicate label -> rows
    verifier: Optional[Verifier] = None  # expected digests from `table` (built on first use)

    def checks(self) -> Verifier:
        """The verifier of this table's read results."""
        if self.verifier is None:
            self.verifier = Verifier(self.table)
        return self.verifier


def remove(path: str) -> None:
    """Deletes a dataset directory or file, if present."""
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def take_indices(rows: int, count: int, seed: int) -> List[int]:
    """`count` distinct random row positions (unsorted) from a fixed seed."""
    rng = np.random.default_rng([seed, 0x7A4E, count])
    return rng.choice(rows, size=min(count, rows), replace=False).tolist()


def time_writes(engine: Engine, table: pa.Table, path: str, runs: int) -> List[float]:
    """Seconds per write of `table` to a fresh dataset at `path`, `runs` times (the last copy stays)."""
    samples = []
    for _ in range(runs):
        remove(path)
        start = time.perf_counter()
        engine.write(table, path)
        samples.append(time.perf_counter() - start)
    return samples


def write_untimed(engine: Engine, table: pa.Table, path: str) -> bool:
    """One write when the write workload is not selected; False (and a message) if it fails."""
    try:
        time_writes(engine, table, path, 1)
        return True
    except Exception as exc:  # reported, and the engine's other workloads on this table skipped
        print(f"  {engine.name}: untimed write to {path} failed: {type(exc).__name__}: {exc}", flush=True)
        return False


def write_throughput(engine: Engine, table: pa.Table, path: str, runs: int, in_bytes: bool) -> Outcome:
    """Median write throughput: MiB/s of Arrow data with `in_bytes`, else million rows/s."""
    samples = time_writes(engine, table, path, runs)
    amount = table.nbytes / 2**20 if in_bytes else table.num_rows / 1e6
    return Outcome(amount / statistics.median(samples), samples, low=amount / max(samples), high=amount / min(samples))


def _add_column_outcome(engine: Engine, path: str, runs: int) -> Outcome:
    """Median time of adding ``id2 = id * 2`` after one untimed warm-up run;
    the column is dropped (untimed) after each run."""
    handle = engine.open(path)
    name, expression = ADDED_COLUMN
    samples = []
    for run in range(runs + 1):
        start = time.perf_counter()
        engine.add_sql_column(handle, name, expression)
        if run:
            samples.append(time.perf_counter() - start)
        if name not in handle.schema.names:
            raise AssertionError(f"{name} missing after add_columns")
        engine.drop_column(handle, name)
    return median_ms(samples)


def run_table_workloads(recorder: Recorder, spec: TableSpec, engine: Engine, path: str, reads: ReadRepeat,
                        seed: int) -> bool:
    """Writes `engine`'s copy of `spec` at `path` and measures it; False if the write failed."""
    rows = spec.table.num_rows

    def measure(kind: str, workload: str, unit: str, fn: Callable[[], Outcome], higher: bool = False) -> Optional[Result]:
        return recorder.measure(spec.key, spec.label, kind, workload, engine.name, unit, fn, higher)

    checks = spec.checks()

    write_unit = "MiB/s" if spec.write_in_bytes else "M rows/s"
    written = measure("write", "write", write_unit,
                      lambda: write_throughput(engine, spec.table, path, spec.write_runs, spec.write_in_bytes), True)
    if written is None:
        if not write_untimed(engine, spec.table, path):
            return False
    elif written.error:
        return False
    measure("write", "size on disk", "MiB", lambda: Outcome(dir_size(path) / 2**20))

    opened: Dict[str, object] = {}

    def handle() -> object:
        """The dataset, opened on first use (inside a measurement, so a failure is recorded)."""
        if "handle" not in opened:
            opened["handle"] = engine.open(path)
        return opened["handle"]

    measure("scans", "full scan (all columns, streamed)", "ms",
            lambda: timed_reads(lambda: engine.scan_batches(handle()), reads, checks.scan()))
    measure("scans", f"projected scan ({', '.join(spec.projected)})", "ms",
            lambda: timed_reads(lambda: engine.scan(handle(), columns=spec.projected), reads, checks.scan(spec.projected)))
    for predicate in spec.predicates:
        measure("scans", f"filtered scan {predicate.label}", "ms",
                lambda: timed_reads(lambda: engine.scan(handle(), predicate=predicate), reads,
                                    checks.scan(predicate=predicate)))
    for count in spec.take_sizes:
        unsorted = take_indices(rows, count, seed)
        orders = [("unsorted", unsorted), ("sorted", sorted(unsorted))] if len(unsorted) > 1 else [("", unsorted)]
        for order, indices in orders:
            measure("takes", " ".join(filter(None, ["take", str(len(indices)), order, "(all columns)"])), "ms",
                    lambda: timed_reads(lambda: engine.take(handle(), indices), reads, checks.take(indices)))
    if spec.add_column_runs:
        name, expression = ADDED_COLUMN
        measure("evolution", f"add column {name} = {expression} (SQL)", "ms",
                lambda: _add_column_outcome(engine, path, spec.add_column_runs))
    return True
