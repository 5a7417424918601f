"""What the filter benchmarks ``scalar.py`` and ``regex_code.py`` share: Pilum and
pylance datasets on disk (writing, reusing, index builds), the measured cells
(engine x idx/scan), the cold-then-warm measurement of one query with every
result checked against reference ids, latency figures, and the plumbing of the
JSON and markdown reports.

Imported by its siblings as ``bench_cells`` (they are run as
``python3 benches/python/<script>.py``, which puts this folder on the path).
Engines are imported on first use, so the scripts set ``LANCE_LOG`` first.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import pyarrow as pa

MODES = ("idx", "scan")


# ---------------------------------------------------------------- datasets

def engine_module(engine: str) -> Any:
    return __import__("lance" if engine == "lance" else "pilum")


def parse_engines(parser: Any, text: str) -> List[str]:
    """The engines of ``--engines``; an unknown one is a usage error."""
    engines = [e.strip() for e in text.split(",") if e.strip()]
    if unknown := [e for e in engines if e not in ("pilum", "lance")]:
        parser.error(f"--engines: unknown {unknown} (pilum, lance)")
    return engines


def dir_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def data_dir_for(path: str, want: Dict[str, Any], rewrite: bool) -> Dict[str, Any]:
    """The metadata of the datasets stored in `path`; the folder is cleared when its ``meta.json``
    differs from `want` (or `rewrite`), and created."""
    meta: Dict[str, Any] = {}
    try:
        with open(os.path.join(path, "meta.json")) as handle:
            meta = json.load(handle)
    except (OSError, ValueError):
        pass
    if rewrite or {k: meta.get(k) for k in want} != want:
        shutil.rmtree(path, ignore_errors=True)
        meta = {**want, "engines": {}}
    os.makedirs(path, exist_ok=True)
    return meta


def save_meta(path: str, meta: Dict[str, Any]) -> None:
    with open(os.path.join(path, "meta.json"), "w") as handle:
        json.dump(meta, handle, indent=1)


def prepare_dataset(engine: str, data_dir: str, table: Callable[[], pa.Table], meta: Dict[str, Any], version: str,
                    rows_per_file: int) -> Dict[str, Any]:
    """Writes `engine`'s copy (of ``table()``, called only then) unless a matching one is stored;
    drops any indices a stored copy has."""
    module, uri = engine_module(engine), os.path.join(data_dir, engine)
    info: Dict[str, Any] = {"uri": uri}
    stored = meta["engines"].get(engine)
    if stored and stored.get("version") == version and os.path.isdir(uri):
        ds = module.dataset(uri)
        dropped = [ix["name"] for ix in ds.list_indices()]
        for name in dropped:
            ds.drop_index(name)
        if dropped:
            try:
                ds.cleanup_old_versions(older_than=dt.timedelta(0))
            except Exception as exc:  # noqa: BLE001 - only disk space is at stake
                print(f"  {engine}: cleanup_old_versions failed ({type(exc).__name__}: {exc}); old index files kept", flush=True)
        info.update(reused=True, dropped_indices=dropped)
        print(f"  {engine}: reusing {uri}" + (f", dropped {len(dropped)} indices" if dropped else ""), flush=True)
    else:
        shutil.rmtree(uri, ignore_errors=True)
        data = table()
        start = time.perf_counter()
        module.write_dataset(data, uri, max_rows_per_file=rows_per_file)
        info.update(reused=False, write_s=time.perf_counter() - start)
        meta["engines"][engine] = {"version": version}
        print(f"  {engine}: wrote {uri} in {info['write_s']:.1f} s", flush=True)
    info["data_bytes"] = dir_bytes(uri) - dir_bytes(os.path.join(uri, "_indices"))
    info["fragments"] = len(module.dataset(uri).get_fragments())
    return info


def build_index(engine: str, ds: Any, uri: str, column: str, kind: str, error_prefix: str = "") -> Dict[str, Any]:
    """One ``create_scalar_index`` on the open dataset `ds` (at `uri`), timed, with the bytes it added
    under ``_indices``. Pilum raising NotImplementedError ends the run (exit 2, a stale build); another
    Pilum error is raised; a Lance error is recorded (other than NotImplementedError, after `error_prefix`)."""
    before = dir_bytes(os.path.join(uri, "_indices"))
    start = time.perf_counter()
    try:
        ds.create_scalar_index(column, index_type=kind)
    except NotImplementedError as exc:
        if engine == "pilum":
            print(f"pilum: create_scalar_index({column!r}, index_type={kind!r}) raised NotImplementedError: {exc}",
                  file=sys.stderr, flush=True)
            sys.exit(2)
        out: Dict[str, Any] = {"error": f"unsupported: NotImplementedError: {exc}"[:500]}
    except Exception as exc:  # noqa: BLE001 - Lance: recorded; Pilum: re-raised
        if engine == "pilum":
            raise
        out = {"error": f"{error_prefix}{type(exc).__name__}: {exc}"[:500]}
    else:
        out = {"seconds": time.perf_counter() - start, "bytes": dir_bytes(os.path.join(uri, "_indices")) - before}
    shown = out.get("error") or f"{out['seconds']:.2f} s, {out['bytes'] / 2**20:.1f} MiB"
    print(f"  {engine}: {kind}({column}): {shown}", flush=True)
    return out


# ---------------------------------------------------------------- measuring

@dataclass(eq=False)
class Cell:
    """One engine's dataset read with its scalar indices (mode ``idx``) or without (``scan``)."""
    engine: str
    mode: str  # "idx" or "scan"
    uri: str
    ds: Any = field(default=None, init=False)

    @property
    def name(self) -> str:
        return f"{self.engine} {self.mode}"

    @property
    def kwargs(self) -> Dict[str, Any]:
        return {} if self.mode == "idx" else {"use_scalar_index": False}

    def header(self) -> Dict[str, Any]:
        """What a cell's result starts with."""
        return {}

    def reopen(self) -> float:
        start = time.perf_counter()
        self.ds = engine_module(self.engine).dataset(self.uri)
        return time.perf_counter() - start

    def ids(self, sql: str) -> np.ndarray:
        return self.ds.to_table(columns=["id"], filter=sql, **self.kwargs).column("id").to_numpy()

    def count(self, sql: str) -> int:
        return self.ds.count_rows(filter=sql, **self.kwargs)

    def plan(self, sql: str) -> Optional[str]:
        try:
            return self.ds.scanner(columns=["id"], filter=sql, **self.kwargs).explain_plan(True)
        except Exception:  # noqa: BLE001 - Pilum has no explain_plan; Lance rejects some spellings
            return None


def latency(seconds: List[float]) -> Dict[str, float]:
    ordered = sorted(seconds)
    return {"median_ms": statistics.median(ordered) * 1e3,
            "p99_ms": ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)] * 1e3,
            "runs": len(ordered)}


def uses_index(plan: Optional[str]) -> Optional[bool]:
    return None if plan is None else any(s in plan for s in ("ScalarIndexQuery", "MaterializeIndex", "ScalarIndexExec"))


def measure_query(cells: Sequence[Cell], sql_of: Callable[[Cell], str], expected: np.ndarray,
                  reps: Union[int, Callable[[List[Dict[str, Any]]], int]]) -> Dict[str, Dict[str, Any]]:
    """Cold run per cell, then warm to_table and count_rows runs round-robin; every result checked
    against `expected` (sorted ids). Each cell runs the filter ``sql_of(cell)``. `reps`: warm runs per
    cell, or a function of the results of the cells whose cold run succeeded that gives it."""
    out: Dict[str, Dict[str, Any]] = {c.name: c.header() for c in cells}
    live: List[Cell] = []

    def check(cell: Cell, got: np.ndarray) -> None:
        if "mismatch" not in out[cell.name] and not np.array_equal(np.sort(got), expected):
            got_set, want_set = set(got.tolist()), set(expected.tolist())
            out[cell.name]["mismatch"] = {"rows": int(len(got)), "expected_rows": int(len(expected)),
                                          "missing": sorted(want_set - got_set)[:10], "extra": sorted(got_set - want_set)[:10],
                                          "duplicates": int(len(got) - len(got_set))}

    def guarded(cell: Cell, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - recorded in the cell
            out[cell.name]["error"] = f"{type(exc).__name__}: {exc}"[:500]
            if cell in live:
                live.remove(cell)

    def cold(cell: Cell) -> None:
        out[cell.name]["open_ms"] = cell.reopen() * 1e3
        start = time.perf_counter()
        got = cell.ids(sql_of(cell))
        out[cell.name]["cold_ms"] = (time.perf_counter() - start) * 1e3
        check(cell, got)
        live.append(cell)

    for cell in cells:
        guarded(cell, lambda: cold(cell))
    if callable(reps):
        reps = reps([out[c.name] for c in live])
    table_s: Dict[str, List[float]] = {c.name: [] for c in cells}
    count_s: Dict[str, List[float]] = {c.name: [] for c in cells}

    def warm_table(cell: Cell) -> None:
        start = time.perf_counter()
        got = cell.ids(sql_of(cell))
        table_s[cell.name].append(time.perf_counter() - start)
        check(cell, got)

    def warm_count(cell: Cell) -> None:
        start = time.perf_counter()
        got = cell.count(sql_of(cell))
        count_s[cell.name].append(time.perf_counter() - start)
        if got != len(expected):
            out[cell.name].setdefault("count_mismatch", {"count": int(got), "expected": int(len(expected))})

    for step in (warm_table, warm_count):
        for _ in range(reps):
            for cell in list(live):
                guarded(cell, lambda: step(cell))
    for cell in cells:
        if table_s[cell.name] and "error" not in out[cell.name]:
            out[cell.name]["to_table"] = latency(table_s[cell.name])
            out[cell.name]["count_rows"] = latency(count_s[cell.name])
        if cell.ds is not None:
            plan = cell.plan(sql_of(cell))
            out[cell.name].update(plan=plan, uses_index=uses_index(plan))
        cell.ds = None
    return out


def failures_of(engine: str, cell: Dict[str, Any]) -> List[str]:
    """What makes a cell a failure: any wrong result; an error only for Pilum."""
    found = [k for k in ("mismatch", "count_mismatch") if k in cell]
    if engine == "pilum" and "error" in cell:
        found.append("error")
    return found


def record_query(name: str, matches: str, failure_prefix: str, cells: Dict[str, Dict[str, Any]],
                 failures: List[str]) -> None:
    """Adds the failing cells of query `name` to `failures` (as ``<failure_prefix>, <cell>: <what>``) and
    prints them, then a line ``<name> (<matches>): <cell> <median ms>, ...``."""
    shown = []
    for cell_name, cell in cells.items():
        bad = failures_of(cell_name.split()[0], cell)
        if bad:
            failures.append(f"{failure_prefix}, {cell_name}: {', '.join(bad)}")
            print(f"  !!! {name} {cell_name}: {'; '.join(f'{k}: {cell[k]}' for k in bad)}", flush=True)
        shown.append(f"{cell_name} {cell_text(cell)}")
    print(f"  {name} ({matches}): " + ", ".join(shown), flush=True)


# ---------------------------------------------------------------- report

def cell_text(cell: Optional[Dict[str, Any]], key: str = "median_ms") -> str:
    """A cell's to_table `key` in ms for a table, or what went wrong."""
    if cell is None:
        return "–"
    if "mismatch" in cell or "count_mismatch" in cell:
        return "MISMATCH"
    if "error" in cell:
        return "error"
    value = cell.get("to_table", {}).get(key)
    return "–" if value is None else f"{value:.2f}"


def build_text(build: Dict[str, Any]) -> str:
    """An index build for a table: seconds (MiB), or its error."""
    if "error" in build:
        return build["error"][:60]
    return f"{build['seconds']:.2f} ({build['bytes'] / 2**20:.1f})" if build else "–"


def versions(names: List[str]) -> Dict[str, str]:
    """Installed package versions, where found."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_info(pkg: Dict[str, str]) -> Dict[str, Any]:
    """The first keys of a report: the command line, the machine and the package versions `pkg`."""
    return {
        "command": shlex.join([sys.executable] + sys.argv),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
                    "python": platform.python_version()},
        "versions": pkg,
    }


def write_json(path: str, results: Dict[str, Any]) -> None:
    with open(path, "w") as handle:
        json.dump(results, handle, indent=1)


def exit_on_failures(failures: List[str]) -> None:
    """Lists `failures` on stderr and exits 1, when there are any."""
    if failures:
        print(f"\nFAILED: {len(failures)} cells with wrong results or Pilum errors:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        sys.exit(1)
