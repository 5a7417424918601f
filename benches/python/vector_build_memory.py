"""Peak memory of vector index builds as the table grows: Pilum's
in-memory build, Pilum's streamed (bounded-memory) builds (IVF_SQ, IVF_PQ, IVF_HNSW_SQ), and pylance
14.0.2, each in a fresh process on the same table.

Data: a 128-d Gaussian mixture written in 100,000-row batches (the writer
never holds the table). Each build runs in its own Python process, which
opens the dataset, records its resident set (``VmRSS``), resets the peak
(``/proc/self/clear_refs``), builds, and reports the peak resident set
during the build (``VmHWM``) and the wall time; it then measures recall@10
of 20 held-out queries against exact search (Pilum's unindexed scan), after
the peak was taken.

    python3 benches/python/vector_build_memory.py --rows 500000 2000000 \
        --out benches/python/vector-build-memory.json
    python3 benches/python/vector_build_memory.py --rows 500000 2000000 \
        --kinds IVF_HNSW_SQ --out benches/python/vector-build-memory-hnsw.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow as pa

DIM = 128


def batches(rows: int, seed: int):
    centres = np.random.default_rng(1234).standard_normal((1000, DIM)).astype(np.float32)
    rng = np.random.default_rng(seed)
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        v = centres[rng.integers(0, 1000, n)] + 0.4 * rng.standard_normal((n, DIM)).astype(np.float32)
        yield pa.record_batch(
            [pa.array(np.arange(start, start + n)), pa.FixedSizeListArray.from_arrays(pa.array(v.ravel()), DIM)],
            names=["id", "emb"],
        )


def write(engine: str, path: str, rows: int) -> None:
    schema = next(batches(1, 0)).schema
    reader = pa.RecordBatchReader.from_batches(schema, batches(rows, 7))
    if engine == "lance":
        import lance

        lance.write_dataset(reader, path, max_rows_per_file=1 << 22)
    else:
        import pilum

        pilum.write_dataset(reader, path)


BUILD = r"""
import json, resource, sys, time
import numpy as np
engine, path, kind, limit, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if engine == "lance":
    import lance as lib
    ds = lib.dataset(path)
else:
    import pilum as lib
    ds = lib.dataset(path)
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
opened_peak = status("VmHWM")
before = status("VmRSS")
# Reset the peak so it measures the build alone (Linux: clear_refs 5).
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
start = time.perf_counter()
parts = int(round(rows ** 0.5))
if engine == "lance":
    ds.create_index("emb", kind, num_partitions=parts, num_sub_vectors=16)
else:
    ds.create_index("emb", kind, memory_limit=limit, replace=True)
build = time.perf_counter() - start
peak = status("VmHWM")
centres = np.random.default_rng(1234).standard_normal((1000, 128)).astype(np.float32)
rng = np.random.default_rng(99)
queries = centres[rng.integers(0, 1000, 20)] + 0.4 * rng.standard_normal((20, 128)).astype(np.float32)
import pilum
exact_ds = pilum.dataset(path) if engine != "lance" else None
hits = 0
for q in queries:
    if engine == "lance":
        got = ds.to_table(nearest={"column": "emb", "q": q, "k": 10, "nprobes": 40, "refine_factor": 4}, columns=["id"])["id"].to_pylist()
        truth = ds.to_table(nearest={"column": "emb", "q": q, "k": 10, "use_index": False}, columns=["id"])["id"].to_pylist()
    else:
        got = ds.to_table(nearest={"column": "emb", "q": q, "k": 10}, columns=["id"])["id"].to_pylist()
        truth = exact_ds.to_table(nearest={"column": "emb", "q": q, "k": 10, "use_index": False}, columns=["id"])["id"].to_pylist()
    hits += len(set(got) & set(truth))
print(json.dumps({"build_s": build, "open_peak_mb": opened_peak, "rss_before_mb": before, "peak_rss_mb": peak, "build_mb": peak - before, "recall@10": hits / 200}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[500_000, 2_000_000])
    parser.add_argument("--out", default=None)
    parser.add_argument("--kinds", nargs="*", default=None, help="only these index kinds (e.g. IVF_HNSW_SQ)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="pilum-build-mem-")
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", "rows": args.rows, "runs": []}
    configs = [
        ("pilum", "IVF_SQ", 1 << 40, "in memory (memory_limit 1 TiB)"),
        ("pilum", "IVF_SQ", 256 << 20, "streamed (memory_limit 256 MiB)"),
        ("pilum", "IVF_PQ", 256 << 20, "streamed (memory_limit 256 MiB)"),
        ("pilum", "IVF_HNSW_SQ", 256 << 20, "streamed (memory_limit 256 MiB)"),
        ("lance", "IVF_PQ", 0, "pylance defaults, sqrt(n) partitions, 16 sub-vectors"),
    ]
    if args.kinds:
        configs = [c for c in configs if c[1] in args.kinds]
    try:
        for rows in args.rows:
            paths = {}
            for engine in sorted({c[0] for c in configs}):
                paths[engine] = os.path.join(work, f"{engine}-{rows}")
                write(engine, paths[engine], rows)
            for engine, kind, limit, label in configs:
                path = paths[engine]
                out = subprocess.run(
                    [sys.executable, "-c", BUILD, engine, path, kind, str(limit), str(rows)],
                    check=True, capture_output=True, text=True, env={**os.environ, "RUST_LOG": "error"},
                )
                row = {"rows": rows, "column_mb": rows * DIM * 4 / 2**20, "engine": engine, "kind": kind, "mode": label}
                row.update(json.loads(out.stdout.strip().splitlines()[-1]))
                results["runs"].append(row)
                print(row, flush=True)
            for path in paths.values():
                shutil.rmtree(path, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
