"""Cold reads: open-then-take and open-then-scan with the dataset out of the page cache.

Each workload runs twice, as adjacent rows of the report: "warm" (the
dataset's files cached; the resident bytes are recorded before every call)
and "cold" (before every call, untimed, :class:`~bench.cache.CacheDropper`
evicts the dataset's files and verifies with fincore/mincore that none of
their bytes stay cached; the run stops if any do). A call opens the dataset
afresh and then takes or scans, so no engine keeps metadata from an earlier
call. Both variants run the same number of times for every engine, and
every result is checked against the source's digest.
"""

from __future__ import annotations

from typing import Callable, List, Tuple

from .cache import CacheDropper
from .engines import Engine
from .timing import Outcome, ReadRepeat, Recorder, timed_reads
from .workloads import TableSpec, take_indices


def cold_workloads(spec: TableSpec, engine: Engine, path: str, seed: int) -> List[Tuple[str, Callable, Callable]]:
    """(label, read, check) per cold/warm workload: open + take 1/100/1000, open + full and projected scan."""
    checks = spec.checks()
    rows = spec.table.num_rows
    found = []
    for count in spec.take_sizes:
        indices = take_indices(rows, count, seed)
        found.append((f"open + take {len(indices)} (all columns)",
                      lambda indices=indices: engine.take(engine.open(path), indices), checks.take(indices)))
    found.append(("open + full scan (all columns, streamed)",
                  lambda: engine.scan_batches(engine.open(path)), checks.scan()))
    found.append((f"open + projected scan ({', '.join(spec.projected)})",
                  lambda: engine.scan(engine.open(path), columns=spec.projected), checks.scan(spec.projected)))
    return found


def _cache_summary(outcome: Outcome) -> Outcome:
    """Adds the smallest and largest cached-byte counts seen before and after the drops."""
    records = outcome.extra.get("before_each_call", [])
    if records:
        outcome.extra["cached_before_bytes"] = [min(r["cached_before"] for r in records),
                                                max(r["cached_before"] for r in records)]
        outcome.extra["cached_after_bytes"] = [min(r["cached_after"] for r in records),
                                               max(r["cached_after"] for r in records)]
        outcome.extra["dataset_bytes"] = records[0]["size_bytes"]
    return outcome


def run_cold_workloads(recorder: Recorder, spec: TableSpec, engine: Engine, path: str, reads: ReadRepeat,
                       seed: int, dropper: CacheDropper) -> None:
    """Warm and cold open-then-read workloads on `engine`'s copy at `path` (already written)."""
    for label, read, check in cold_workloads(spec, engine, path, seed):
        for state, before in (("warm", lambda: dropper.warm_record(path)), ("cold", lambda: dropper.drop(path))):
            recorder.measure(spec.key, spec.label, "cold", f"{label}, {state}", engine.name, "ms",
                             lambda read=read, check=check, before=before:
                             _cache_summary(timed_reads(read, reads, check, before)))
