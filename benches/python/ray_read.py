"""Ray Data reads, side by side on the same rows: ``pilum.ray.read_pilum``
(Pilum), ``ray.data.read_lance`` (pylance 14.0.2) and
``ray.data.read_parquet`` (pyarrow), each timed as ``read(...).materialize()``.

Data (numpy, fixed seed): ``id`` int64 0..n, ``vec`` 128-d float32
(standard normal), ``text`` two words out of 1,000 pseudo-words (~14 B). One
pyarrow table written three times with the same rows per file
(``--rows-per-file``): ``pilum.write_dataset`` and ``lance.write_dataset``
(``max_rows_per_file``), and one Parquet file per slice in a folder
(``pyarrow.parquet.write_table`` defaults). Stored in ``--data-dir``/<rows>/
and reused while rows, seed, data version and file size match.

Workloads: ``full`` (every column) and ``projected`` (``id, text``: the
``columns=`` argument of ``read_pilum`` and ``read_lance``, and
``select_columns``, pushed into the read, for ``read_parquet``, whose
``columns=`` Ray 2.60 deprecates). Ray
runs in this process (``ray.init(num_cpus=--cpus)``), each reader with its
defaults (its own task count). Method: one untimed warm-up per cell (worker
start-up, imports), then ``--reps`` timed runs, round-robin over the
engines; medians and min/max. Every run is checked outside the timing: row
count, sum of ``id`` and total text length exact, and for ``full`` the sum of
the vector values within 1e-6 of the source's. A mismatch is a failure
(exit 1 after the report is written).

    python3 benches/python/ray_read.py                           # 1M rows, 5 reps
    python3 benches/python/ray_read.py --rows 1000000 --reps 3
    python3 benches/python/ray_read.py --rows 50000 --reps 1     # smoke test
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from typing import Any, Callable, Dict, List, Optional

os.environ.setdefault("LANCE_LOG", "error")

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench_cells import data_dir_for, dir_bytes, exit_on_failures, run_info, save_meta, versions, write_json

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

#: Bump when `generate` changes, so stored datasets are rewritten.
DATA_VERSION = 1
DIM = 128
ENGINES = ("pilum", "lance", "parquet")
WORKLOADS: Dict[str, Optional[List[str]]] = {"full": None, "projected": ["id", "text"]}


def generate(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = pa.array(["".join(rng.choice(letters, rng.integers(3, 10))) for _ in range(1000)])
    text = pc.binary_join_element_wise(pc.take(vocab, rng.integers(0, 1000, n)), pc.take(vocab, rng.integers(0, 1000, n)), " ")
    vec = pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * DIM, dtype=np.float32)), DIM)
    return pa.table({"id": pa.array(np.arange(n, dtype=np.int64)), "vec": vec, "text": text})


def checksums(tables: List[pa.Table], columns: Optional[List[str]]) -> Dict[str, float]:
    """Rows, sum of ids, total text length and (all columns) the sum of the vector values."""
    sums = {"rows": 0, "id_sum": 0, "text_bytes": 0, "vec_sum": 0.0}
    for table in tables:
        sums["rows"] += table.num_rows
        sums["id_sum"] += pc.sum(table["id"]).as_py() or 0
        sums["text_bytes"] += pc.sum(pc.binary_length(table["text"])).as_py() or 0
        if columns is None:
            sums["vec_sum"] += float(np.sum(table["vec"].combine_chunks().flatten().to_numpy(), dtype=np.float64))
    return sums


def same(got: Dict[str, float], want: Dict[str, float]) -> bool:
    exact = all(got[k] == want[k] for k in ("rows", "id_sum", "text_bytes"))
    return exact and abs(got["vec_sum"] - want["vec_sum"]) <= 1e-6 * max(1.0, abs(want["vec_sum"]))


def prepare(engine: str, folder: str, table: Callable[[], pa.Table], meta: Dict[str, Any], rows_per_file: int) -> Dict[str, Any]:
    """`engine`'s copy of the rows, written unless a matching one is stored."""
    uri = os.path.join(folder, engine)
    info: Dict[str, Any] = {"uri": uri, "reused": True}
    if not (meta["engines"].get(engine) and os.path.isdir(uri)):
        shutil.rmtree(uri, ignore_errors=True)
        data, start = table(), time.perf_counter()
        if engine == "parquet":
            os.makedirs(uri)
            for i, offset in enumerate(range(0, data.num_rows, rows_per_file)):
                pq.write_table(data.slice(offset, rows_per_file), os.path.join(uri, f"part-{i:05d}.parquet"))
        else:
            __import__("lance" if engine == "lance" else "pilum").write_dataset(data, uri, max_rows_per_file=rows_per_file)
        info.update(reused=False, write_s=round(time.perf_counter() - start, 2))
        meta["engines"][engine] = True
    info["bytes"] = dir_bytes(uri)
    return info


def reader(engine: str, uri: str, columns: Optional[List[str]]) -> Callable[[], Any]:
    import ray.data

    if engine == "pilum":
        import pilum.ray

        return lambda: pilum.ray.read_pilum(uri, columns=columns)
    if engine == "lance":
        return lambda: ray.data.read_lance(uri, columns=columns)
    # Ray 2.60 deprecates read_parquet(columns=); select_columns is pushed into the read instead.
    return lambda: ray.data.read_parquet(uri) if columns is None else ray.data.read_parquet(uri).select_columns(columns)


def run(engine: str, uri: str, columns: Optional[List[str]], want: Dict[str, float]) -> Dict[str, Any]:
    """One timed ``materialize()``, checked afterwards (untimed)."""
    import ray

    start = time.perf_counter()
    done = reader(engine, uri, columns)().materialize()
    seconds = time.perf_counter() - start
    got = checksums(ray.get(done.to_arrow_refs()), columns)
    blocks = done.num_blocks()
    del done
    return {"s": seconds, "ok": same(got, want), "got": got, "blocks": blocks}


def markdown(n: int, cells: Dict[str, Dict[str, Any]], sizes: Dict[str, Any]) -> str:
    head = ["workload", *(f"{e} s" for e in ENGINES), "lance / pilum", "parquet / pilum"]
    lines = [f"### {n:,} rows, `materialize()` median seconds (min–max)", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for workload in WORKLOADS:
        row = [workload + ("" if WORKLOADS[workload] is None else f" (`{', '.join(WORKLOADS[workload])}`)")]
        medians = {}
        for engine in ENGINES:
            cell = cells[f"{engine} {workload}"]
            medians[engine] = cell["median_s"]
            row.append(f"{cell['median_s']:.2f} ({cell['min_s']:.2f}–{cell['max_s']:.2f})" + ("" if cell["ok"] else " ✗"))
        row += [f"{medians['lance'] / medians['pilum']:.2f}", f"{medians['parquet'] / medians['pilum']:.2f}"]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Ratio above 1: Pilum faster. ✗: a run's contents differed from the source.", "",
              "On disk: " + ", ".join(f"{e} {sizes[e]['bytes'] / 2**20:.0f} MiB" for e in ENGINES)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5, help="timed runs per cell (after one warm-up)")
    parser.add_argument("--rows-per-file", type=int, default=131_072, help="rows per fragment / Parquet file")
    parser.add_argument("--cpus", type=int, default=os.cpu_count(), help="ray.init(num_cpus=...)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", default=os.path.join(REPO, "target", "bench-data", "ray_read"))
    parser.add_argument("--rewrite", action="store_true", help="rewrite stored datasets even when they match")
    parser.add_argument("--out", default=os.path.join(HERE, "ray_read.json"))
    args = parser.parse_args()
    if args.rows < 1 or args.reps < 1:
        parser.error("--rows and --reps must be >= 1")

    import ray

    pkg = versions(["pilum", "pylance", "ray", "pyarrow", "numpy"])
    folder = os.path.join(args.data_dir, str(args.rows))
    meta = data_dir_for(folder, {"rows": args.rows, "seed": args.seed, "data_version": DATA_VERSION,
                                 "rows_per_file": args.rows_per_file}, args.rewrite)
    cache: Dict[str, pa.Table] = {}
    table = lambda: cache.setdefault("t", generate(args.rows, args.seed))  # noqa: E731
    sizes = {engine: prepare(engine, folder, table, meta, args.rows_per_file) for engine in ENGINES}
    save_meta(folder, meta)
    source = table()
    want = {name: checksums([source], columns) for name, columns in WORKLOADS.items()}
    del source, cache["t"]

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    runs: Dict[str, List[Dict[str, Any]]] = {f"{e} {w}": [] for w in WORKLOADS for e in ENGINES}
    for workload, columns in WORKLOADS.items():
        for engine in ENGINES:  # warm-up, untimed
            run(engine, sizes[engine]["uri"], columns, want[workload])
        for _ in range(args.reps):
            for engine in ENGINES:
                runs[f"{engine} {workload}"].append(run(engine, sizes[engine]["uri"], columns, want[workload]))
                print(f"  {engine:8} {workload:10} {runs[f'{engine} {workload}'][-1]['s']:.2f} s", flush=True)
    ray.shutdown()

    cells: Dict[str, Dict[str, Any]] = {}
    failures: List[str] = []
    for name, series in runs.items():
        seconds = [r["s"] for r in series]
        cells[name] = {"median_s": statistics.median(seconds), "min_s": min(seconds), "max_s": max(seconds),
                       "runs_s": seconds, "blocks": series[-1]["blocks"], "ok": all(r["ok"] for r in series)}
        failures += [f"{name}: got {r['got']}, want {want[name.split()[1]]}" for r in series if not r["ok"]]
    results = {**run_info(pkg),
               "settings": {"rows": args.rows, "reps": args.reps, "rows_per_file": args.rows_per_file, "cpus": args.cpus,
                            "seed": args.seed, "workloads": WORKLOADS,
                            "check": "rows, sum(id), total text bytes exact; sum of vector values within 1e-6 (full)"},
               "datasets": sizes, "expected": want, "cells": cells, "failures": failures}
    write_json(args.out, results)
    print(f"\n{os.cpu_count()} cores; pilum {pkg['pilum']}, pylance {pkg['pylance']}, ray {pkg['ray']}; {results['command']}\n")
    print(markdown(args.rows, cells, sizes) + "\n")
    print(f"wrote {args.out}")
    exit_on_failures(failures)


if __name__ == "__main__":
    main()
