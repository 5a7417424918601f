"""Side-by-side benchmark: Pilum vs Lance (pylance) vs Parquet (pyarrow), one run, same data.

    python benches/python/compare.py --quick          # ~200k rows, a few minutes
    python benches/python/compare.py --rows 1000000   # bigger

Data comes from a fixed seed. Every workload runs on each engine in turn,
repeated; the report gives medians and Pilum's ratio to each other engine
(ratio > 1: Pilum is faster / smaller). Results go to stdout as a Markdown
table and to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from typing import Callable, Dict, List

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import pilum

try:
    import lance
except ImportError:  # pragma: no cover
    lance = None


def make_table(rows: int, seed: int = 42) -> pa.Table:
    rng = np.random.default_rng(seed)
    words = np.array("the quick brown fox jumps over lazy dog image caption model data vector table".split())
    text = [" ".join(rng.choice(words, size=36)) for _ in range(min(rows, 10_000))]
    texts = pa.array([text[i % len(text)] for i in range(rows)])
    vec = rng.standard_normal(rows * 128, dtype=np.float32)
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64)),
            "value": pa.array(rng.standard_normal(rows)),
            "category": pa.array(rng.integers(0, 16, rows, dtype=np.int64)),
            "text": texts,
            "vec": pa.FixedSizeListArray.from_arrays(pa.array(vec), 128),
        }
    )


def make_blobs(count: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(50_000, 1_000_000, count)
    blobs = [rng.integers(0, 255, int(s), dtype=np.uint8).tobytes() for s in sizes]
    field = pa.field("blob", pa.large_binary(), metadata={"lance-encoding:blob": "true"})
    return pa.table([pa.array(np.arange(count, dtype=np.int64)), pa.array(blobs, pa.large_binary())],
                    schema=pa.schema([pa.field("id", pa.int64()), field]))


def dir_size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


class Engine:
    name = ""

    def write(self, table: pa.Table, path: str) -> None: ...
    def open(self, path: str): ...


class PilumEngine(Engine):
    name = "pilum"

    def write(self, table, path):
        pilum.write_dataset(table, path, mode="overwrite")

    def open(self, path):
        return pilum.dataset(path)

    def scan(self, ds, columns=None, filter=None):
        return ds.to_table(columns=columns, filter=filter)

    def take(self, ds, idx, columns=None):
        return ds.take(idx, columns=columns)

    def blobs(self, ds, idx):
        return [b.read() for b in ds.take_blobs("blob", indices=idx)]

    def add_column(self, ds):
        ds.add_columns({"id2": "id * 2"})


class LanceEngine(PilumEngine):
    name = "lance"

    def __init__(self, version: str):
        self.version = version
        self.name = f"lance-{version}"

    def write(self, table, path):
        lance.write_dataset(table, path, mode="overwrite", data_storage_version=self.version)

    def open(self, path):
        return lance.dataset(path)

class ParquetEngine(Engine):
    def __init__(self, tuned: bool):
        self.tuned = tuned
        self.name = "parquet-small-pages" if tuned else "parquet"

    def write(self, table, path):
        if self.tuned:
            pq.write_table(table, path, data_page_size=8 * 1024, row_group_size=64 * 1024, write_page_index=True)
        else:
            pq.write_table(table, path)

    def open(self, path):
        return pq.ParquetFile(path)


def run(rows: int, repeat: int, blob_count: int, versions: int, workdir: str) -> List[Dict]:
    import pyarrow.compute as pc
    import pyarrow.dataset as pds

    table = make_table(rows)
    results: List[Dict] = []

    def record(workload: str, engine: str, value: float, unit: str) -> None:
        results.append({"workload": workload, "engine": engine, "value": value, "unit": unit})
        print(f"  {workload:<34} {engine:<20} {value:12.4f} {unit}", flush=True)

    engines: List = [PilumEngine()]
    if lance is not None:
        engines += [LanceEngine("2.2"), LanceEngine("stable")]
    parquet_engines = [ParquetEngine(False), ParquetEngine(True)]
    rng = np.random.default_rng(1)
    takes = {n: rng.choice(rows, size=n, replace=False).tolist() for n in (1, 100, 1000)}

    for engine in engines + parquet_engines:
        path = os.path.join(workdir, engine.name + (".parquet" if isinstance(engine, ParquetEngine) else ""))
        shutil.rmtree(path, ignore_errors=True)
        w = timed(lambda: engine.write(table, path), 1)
        record("write", engine.name, rows / w / 1e6, "M rows/s")
        record("size on disk", engine.name, dir_size(path) / 2**20, "MiB")
        if isinstance(engine, ParquetEngine):
            scan = lambda cols=None, flt=None: pds.dataset(path, format="parquet").to_table(columns=cols, filter=flt)
            take = lambda idx, cols=None: pds.dataset(path, format="parquet").take(pa.array(idx), columns=cols)
        else:
            ds = engine.open(path)
            scan = lambda cols=None, flt=None, ds=ds: ds.to_table(columns=cols, filter=flt)
            take = lambda idx, cols=None, ds=ds: ds.take(idx, columns=cols)
        record("full scan", engine.name, timed(lambda: scan(), repeat) * 1e3, "ms")
        record("projected scan (id, value)", engine.name, timed(lambda: scan(["id", "value"]), repeat) * 1e3, "ms")
        flt = (pc.field("category") == 3) & (pc.field("value") > 1.0)
        record("filtered scan (~1%)", engine.name, timed(lambda: scan(None, flt), repeat) * 1e3, "ms")
        for n, idx in takes.items():
            record(f"take {n} unsorted", engine.name, timed(lambda: take(idx), repeat) * 1e3, "ms")
            record(f"take {n} sorted", engine.name, timed(lambda: take(sorted(idx)), repeat) * 1e3, "ms")

    blobs = make_blobs(blob_count)
    idx = np.random.default_rng(3).choice(blob_count, size=min(1000, blob_count), replace=False).tolist()
    for engine in engines:
        path = os.path.join(workdir, engine.name + "-blobs")
        engine.write(blobs, path)
        ds = engine.open(path)
        record(f"blob fetch {len(idx)}", engine.name, timed(lambda: engine.blobs(ds, idx), repeat) * 1e3, "ms")

    for engine in engines:
        path = os.path.join(workdir, engine.name + "-evolve")
        engine.write(table, path)
        ds = engine.open(path)
        record("add SQL column id*2", engine.name, timed(lambda: engine.add_column(ds), 1) * 1e3, "ms")

    small = table.slice(0, 10)
    for engine in engines:
        path = os.path.join(workdir, engine.name + "-versions")
        engine.write(small, path)
        for _ in range(versions - 1):
            if engine.name == "pilum":
                pilum.write_dataset(small, path, mode="append")
            else:
                lance.write_dataset(small, path, mode="append")
        record(f"open after {versions} versions", engine.name, timed(lambda: engine.open(path).count_rows(), repeat) * 1e3, "ms")
    return results


def report(results: List[Dict], args, out: str) -> None:
    lower_is_better = lambda unit: unit in ("ms", "MiB")
    by_workload: Dict[str, Dict[str, Dict]] = {}
    for r in results:
        by_workload.setdefault(r["workload"], {})[r["engine"]] = r
    engines = sorted({r["engine"] for r in results}, key=lambda e: (e != "pilum", e))
    print("\n| workload | unit | " + " | ".join(engines) + " | pilum vs best other |")
    print("|---|---|" + "---|" * len(engines) + "---|")
    for workload, row in by_workload.items():
        unit = next(iter(row.values()))["unit"]
        cells = [f"{row[e]['value']:.3g}" if e in row else "–" for e in engines]
        others = [row[e]["value"] for e in row if e != "pilum"]
        ratio = ""
        if "pilum" in row and others:
            p = row["pilum"]["value"]
            best = min(others) if lower_is_better(unit) else max(others)
            ratio = f"{(best / p if lower_is_better(unit) else p / best):.2f}×"
        print(f"| {workload} | {unit} | " + " | ".join(cells) + f" | {ratio} |")
    meta = {
        "rows": args.rows, "repeat": args.repeat, "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(), "pilum": pilum.__version__, "lance": getattr(lance, "__version__", None),
        "pyarrow": pa.__version__,
    }
    with open(out, "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    print(f"\n{meta}\nresults written to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200k rows, 300 blobs, 100 versions")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--blobs", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--out", default="bench-results.json")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.blobs, args.versions, args.repeat = 200_000, 300, 100, 5
    workdir = args.workdir or tempfile.mkdtemp(prefix="pilum-bench-")
    os.makedirs(workdir, exist_ok=True)
    try:
        report(run(args.rows, args.repeat, args.blobs, args.versions, workdir), args, args.out)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
