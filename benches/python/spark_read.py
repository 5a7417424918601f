"""Spark reads of Pilum (``pilum.spark``, a Python data source) and of
Parquet (Spark's built-in reader), side by side on the same data.

Data (numpy, fixed seed), written once as a Pilum dataset and as Parquet
files with the same split (``--files`` fragments / files, one row group
each):

- ``id`` int64, 0..n shuffled (so no min/max statistics prune row groups)
- ``vec`` fixed_size_list<float32, 128>, standard normal
- ``text`` string, 5-12 words from a 1,000-word vocabulary

Queries, each run through a fresh ``spark.read`` DataFrame:

- ``count + sum(id)``: ``df.agg(count(*), sum(id))``
- ``filtered count``: ``df.filter(id < n/100).count()`` (1% of the rows;
  pushed into Pilum's scan)

Cells: ``pilum`` (``spark.read.format("pilum").load(uri)``: Spark does not
prune the columns of Python data sources, so every column crosses into the
JVM), ``pilum columns=id`` (the ``columns`` option: the column the query
needs, what Spark's Parquet reader reads by itself) and ``parquet``
(``spark.read.parquet(dir)``). Per query: one untimed warm-up per cell, then
``--reps`` timed runs round-robin over the cells; median (and min, max).
Every run's result is checked against the expected count and sum; a
mismatch exits 1 after the report is written.

Datasets are kept in ``--data-dir``/<rows>/ and reused when rows, seed,
file count, data version and the pilum version match.

    python3 benches/python/spark_read.py                   # 1M rows, 16 files, 5 reps
    python3 benches/python/spark_read.py --reps 3
    python3 benches/python/spark_read.py --rows 100000     # smoke test
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench_cells import data_dir_for, dir_bytes, exit_on_failures, latency, run_info, save_meta, versions, write_json

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
#: Bump when `generate` changes, so stored datasets are rewritten.
DATA_VERSION = 1
DIM = 128


def generate(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n).astype(np.int64)
    vec = pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * DIM, dtype=np.float32)), DIM)
    words = np.array([f"w{k:03d}" for k in range(1000)])
    lengths = rng.integers(5, 13, n)
    picks = words[rng.integers(0, 1000, int(lengths.sum()))]
    ends = np.cumsum(lengths)
    text = [" ".join(picks[e - k : e]) for e, k in zip(ends, lengths)]
    return pa.table({"id": ids, "vec": vec, "text": pa.array(text, pa.string())})


def prepare(n: int, args: argparse.Namespace, pilum_version: str) -> Tuple[Dict[str, str], Dict[str, Any]]:
    """The URIs of both copies (written unless stored) and what they hold."""
    import pilum

    path = os.path.join(args.data_dir, str(n))
    want = {"rows": n, "seed": args.seed, "files": args.files, "data_version": DATA_VERSION, "pilum": pilum_version}
    meta = data_dir_for(path, want, args.rewrite)
    uris = {"pilum": os.path.join(path, "pilum"), "parquet": os.path.join(path, "parquet")}
    rows_per_file = math.ceil(n / args.files)
    if not meta["engines"].get("done"):
        table = generate(n, args.seed)
        for uri in uris.values():
            shutil.rmtree(uri, ignore_errors=True)
        start = time.perf_counter()
        pilum.write_dataset(table, uris["pilum"], max_rows_per_file=rows_per_file)
        meta["engines"]["pilum_write_s"] = time.perf_counter() - start
        os.makedirs(uris["parquet"])
        start = time.perf_counter()
        for k, offset in enumerate(range(0, n, rows_per_file)):
            part = table.slice(offset, rows_per_file)
            pq.write_table(part, os.path.join(uris["parquet"], f"part-{k:05d}.parquet"), row_group_size=rows_per_file)
        meta["engines"]["parquet_write_s"] = time.perf_counter() - start
        meta["engines"]["done"] = True
        save_meta(path, meta)
        written = meta["engines"]
        print(f"  wrote {n} rows: pilum {written['pilum_write_s']:.1f} s, parquet {written['parquet_write_s']:.1f} s", flush=True)
    else:
        print(f"  reusing {path}", flush=True)
    info = {
        "pilum": {"fragments": len(pilum.dataset(uris["pilum"]).get_fragments()), "bytes": dir_bytes(uris["pilum"])},
        "parquet": {"files": len(os.listdir(uris["parquet"])), "bytes": dir_bytes(uris["parquet"])},
    }
    return uris, info


def spark_session(args: argparse.Namespace) -> Any:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    from pilum.spark import PilumDataSource

    spark = (
        SparkSession.builder.master(args.master)
        .appName("pilum-spark-read-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.sql.python.filterPushdown.enabled", "true")
        .config("spark.sql.shuffle.partitions", str(os.cpu_count() or 2))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.dataSource.register(PilumDataSource)
    return spark


def cells(spark: Any, uris: Dict[str, str]) -> Dict[str, Callable[[], Any]]:
    """A fresh DataFrame per run, for each cell."""
    return {
        "pilum": lambda: spark.read.format("pilum").load(uris["pilum"]),
        "pilum columns=id": lambda: spark.read.format("pilum").option("columns", "id").load(uris["pilum"]),
        "parquet": lambda: spark.read.parquet(uris["parquet"]),
    }


def queries(n: int) -> Dict[str, Tuple[Callable[[Any], Any], Any]]:
    """name: (run on a DataFrame, expected result)."""
    from pyspark.sql import functions as F

    cut = n // 100

    def aggregate(df: Any) -> Any:
        row = df.agg(F.count(F.lit(1)).alias("n"), F.sum("id").alias("s")).collect()[0]
        return (row["n"], row["s"])

    return {
        "count + sum(id)": (aggregate, (n, n * (n - 1) // 2)),
        f"filtered count (id < {cut})": (lambda df: df.filter(F.col("id") < cut).count(), cut),
    }


def run(n: int, args: argparse.Namespace, spark: Any, uris: Dict[str, str], failures: List[str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    frames = cells(spark, uris)
    for name, (query, expected) in queries(n).items():
        times: Dict[str, List[float]] = {cell: [] for cell in frames}
        for rep in range(args.reps + 1):  # rep 0: untimed warm-up
            for cell, frame in frames.items():
                start = time.perf_counter()
                got = query(frame())
                elapsed = time.perf_counter() - start
                if got != expected:
                    failures.append(f"{name} / {cell}: got {got}, expected {expected}")
                if rep:
                    times[cell].append(elapsed)
                print(f"  {name:28s} {cell:18s} {'warm-up' if rep == 0 else f'rep {rep}':8s} {elapsed:7.2f} s", flush=True)
        out[name] = {cell: {**latency(ts), "min_ms": min(ts) * 1e3, "max_ms": max(ts) * 1e3, "runs_s": ts,
                            "expected": expected} for cell, ts in times.items()}
    return out


def markdown(n: int, results: Dict[str, Any], info: Dict[str, Any]) -> str:
    names = list(next(iter(results.values())))
    lines = [f"Spark reads, {n:,} rows ({info['pilum']['fragments']} Pilum fragments, {info['parquet']['files']} Parquet files); "
             "median seconds (min–max)", "",
             "| query | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for query, row in results.items():
        cells_text = [f"{row[c]['median_ms'] / 1e3:.2f} ({row[c]['min_ms'] / 1e3:.2f}–{row[c]['max_ms'] / 1e3:.2f})" for c in names]
        lines.append(f"| {query} | " + " | ".join(cells_text) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=16, help="Pilum fragments and Parquet files")
    parser.add_argument("--reps", type=int, default=5, help="timed runs per cell and query (after one warm-up)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--data-dir", default=os.path.join(REPO, "target", "bench-data", "spark-read"))
    parser.add_argument("--rewrite", action="store_true", help="rewrite stored datasets even when they match")
    parser.add_argument("--out", default=os.path.join(HERE, "spark_read.json"))
    args = parser.parse_args()
    if args.rows < 100 or args.files < 1 or args.reps < 1:
        parser.error("--rows must be >= 100, --files and --reps >= 1")

    pkg = versions(["pilum", "pyspark", "pyarrow", "numpy"])
    uris, info = prepare(args.rows, args, pkg["pilum"])
    spark = spark_session(args)
    results: Dict[str, Any] = {
        **run_info(pkg),
        "settings": {"rows": args.rows, "files": args.files, "reps": args.reps, "seed": args.seed, "master": args.master,
                     "driver_memory": args.driver_memory, "java": spark.sparkContext._jvm.System.getProperty("java.version"),
                     "check": "count and sum(id) (or the filtered count) of every run vs the known values"},
        "datasets": info, "failures": [],
    }
    try:
        results["queries"] = run(args.rows, args, spark, uris, results["failures"])
    finally:
        spark.stop()
    write_json(args.out, results)
    print(f"\n{os.cpu_count()} cores; pilum {pkg['pilum']}, pyspark {pkg['pyspark']}; {results['command']}\n")
    print(markdown(args.rows, results["queries"], info) + "\n")
    print(f"wrote {args.out}")
    exit_on_failures(results["failures"])


if __name__ == "__main__":
    main()
