"""Peak memory (RSS) of a write and of a full scan, each in a fresh subprocess.

Method (Linux): the child imports everything and, for a write, generates
the table in its own memory from the same seed as the parent. It then
records the baseline (``VmRSS``), resets the kernel's peak-RSS counter by
writing ``5`` to ``/proc/self/clear_refs``, runs the operation once, and
reads the peak (``VmHWM``) from ``/proc/self/status``. "peak − baseline"
is the engine's own overhead: for a write, memory beyond the input table;
for a scan (batches streamed and dropped), what the reader holds. Where
``clear_refs`` cannot be written, the peak falls back to
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which also covers data
generation; the result says which method was used.

Run as ``python -m bench.rss '<json spec>'`` by :func:`run_child`.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Sequence

from .timing import Outcome, Recorder

RESULT_PREFIX = "RSS_RESULT "
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_peak() -> bool:
    """Resets VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _child(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Runs one operation and returns baseline and peak RSS in MiB."""
    import gc

    from .data import synthetic_table
    from .engines import make_engine

    engine = make_engine(spec["engine"])
    table = synthetic_table(spec["rows"], spec["seed"], spec["columns"]) if spec["op"] == "write" else None
    gc.collect()
    baseline_kib = _status_kib("VmRSS")
    exact = _reset_peak()
    start = time.perf_counter()
    if spec["op"] == "write":
        engine.write(table, spec["path"])
    else:
        rows = engine.scan_stream(engine.open(spec["path"]))
        if rows != spec["rows"]:
            raise AssertionError(f"scan returned {rows} rows, expected {spec['rows']}")
    seconds = time.perf_counter() - start
    peak_kib = _status_kib("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "baseline_mib": baseline_kib / 1024,
        "peak_mib": peak_kib / 1024,
        "delta_mib": (peak_kib - baseline_kib) / 1024,
        "seconds": seconds,
        "method": "VmHWM after clear_refs reset" if exact else "ru_maxrss (includes data generation)",
    }


def run_child(op: str, engine: str, path: str, rows: int, seed: int, columns: Sequence[str], timeout_s: float) -> Dict[str, Any]:
    """Runs `op` ("write" or "scan") for `engine` in a fresh Python process; returns its RSS numbers."""
    spec = {"op": op, "engine": engine, "path": path, "rows": rows, "seed": seed, "columns": list(columns)}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")])))
    env.setdefault("LANCE_LOG", "error")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.rss", json.dumps(spec)],
        capture_output=True, text=True, env=env, timeout=timeout_s, cwd=PACKAGE_PARENT,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    raise RuntimeError(f"child exited {proc.returncode}: {tail}")


def record_rss(recorder: Recorder, label: str, op: str, engine_name: str, run: Callable[[], Dict[str, Any]]) -> None:
    """Records "peak" and "peak − baseline" of one child run as two results."""
    outcome: Dict[str, Any] = {}

    def absolute() -> Outcome:
        outcome.update(run())
        return Outcome(outcome["peak_mib"], extra=outcome)

    def overhead() -> Outcome:
        if not outcome:
            raise RuntimeError("the child run failed (see the peak row)")
        return Outcome(outcome["delta_mib"], extra=outcome)

    recorder.measure("rss", label, "rss", f"{op}: peak RSS", engine_name, "MiB", absolute)
    recorder.measure("rss", label, "rss", f"{op}: peak RSS − baseline", engine_name, "MiB", overhead)


if __name__ == "__main__":
    print(RESULT_PREFIX + json.dumps(_child(json.loads(sys.argv[1]))), flush=True)
