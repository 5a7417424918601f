"""Blob fetch and open-after-many-versions workloads.

Blobs live in their own table (``id``, ``blob``), count-limited: a blob
column on the 1M-row table would be ~100 GB at ~100 KB a row. The fetch
opens random blobs as file-like objects (``take_blobs(..., indices=)``) and
reads each one whole; the bytes are checked against the source. Versions are made by appending 10 rows per commit;
the measurement is opening the latest version plus ``count_rows()``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, List

import pyarrow as pa
import pyarrow.compute as pc

from .engines import Engine, NotSupported, dir_size
from .timing import Outcome, ReadRepeat, Recorder, expect_rows, median_ms, timed_reads
from .verify import Verifier
from .workloads import remove, write_throughput, write_untimed


@dataclass
class BlobSpec:
    """The blob table, which blobs to fetch, and how often to write it."""

    label: str
    table: pa.Table
    fetch_indices: List[int]
    write_runs: int

    def fetch_bytes(self) -> int:
        """Total size of the blobs at ``fetch_indices``."""
        lengths = pc.binary_length(self.table.column("blob")).take(pa.array(self.fetch_indices))
        return int(pc.sum(lengths).as_py())


def run_blob_workloads(recorder: Recorder, spec: BlobSpec, engine: Engine, path: str, reads: ReadRepeat) -> None:
    """Write throughput, size and random blob fetch on `engine`'s copy of the blob table at `path`."""

    def measure(kind: str, workload: str, unit: str, fn: Callable[[], Outcome], higher: bool = False):
        return recorder.measure("blobs", spec.label, kind, workload, engine.name, unit, fn, higher)

    written = measure("write", "write", "MiB/s",
                      lambda: write_throughput(engine, spec.table, path, spec.write_runs, in_bytes=True), True)
    if written is None:
        if not recorder.selection.wants("blobs", "blobs") or not write_untimed(engine, spec.table, path):
            return
    elif written.error:
        return
    measure("write", "size on disk", "MiB", lambda: Outcome(dir_size(path) / 2**20))
    expected = spec.fetch_bytes()
    check = Verifier(spec.table).blobs("blob", spec.fetch_indices)

    def fetch() -> Outcome:
        handle = engine.open(path)
        return timed_reads(lambda: engine.read_blobs(handle, "blob", spec.fetch_indices), reads, check)

    label = f"blob fetch {len(spec.fetch_indices)} random, read() each ({expected / 2**20:.0f} MiB)"
    measure("blobs", label, "ms", fetch)


def run_version_workloads(
    recorder: Recorder, engine: Engine, path: str, small: pa.Table, versions: int, reads: ReadRepeat
) -> None:
    """Commits `versions` versions of `small`-sized appends, then times opening the latest one."""
    if not recorder.selection.wants("versions", "open"):
        return
    label = f"versions-{versions}"

    def measure(workload: str, fn: Callable[[], Outcome]) -> None:
        recorder.measure("versions", label, "open", workload, engine.name, "ms", fn)

    def unsupported() -> Outcome:
        raise NotSupported("no versioned appends")

    append_label = f"append {small.num_rows} rows (one commit each)"
    open_label = f"open + count_rows after {versions} versions"
    if not engine.versioned:
        measure(append_label, unsupported)
        measure(open_label, unsupported)
        return

    def build() -> Outcome:
        remove(path)
        engine.write(small, path)
        samples = []
        for _ in range(versions - 1):
            start = time.perf_counter()
            engine.append(small, path)
            samples.append(time.perf_counter() - start)
        return median_ms(samples)

    def open_latest() -> Outcome:
        return timed_reads(lambda: engine.count_rows(engine.open(path)), reads, expect_rows(small.num_rows * versions))

    measure(append_label, build)
    measure(open_label, open_latest)
