"""Binary codes searched by Hamming distance, side by side on the same data:
Pilum (IVF_FLAT with metric "hamming", and exact search, through the
dataset API), pylance 14.0.2 (IVF_FLAT with metric "hamming", where it
builds one; exact search otherwise) and FAISS (IndexBinaryIVF and
IndexBinaryFlat, codes in memory).

Data: 256-bit codes scattered around 1,000 random centre codes (each bit
flipped with probability --flip, fixed seed); queries drawn the same way
and held out; ground truth by exact popcount in numpy (ties by id).
Reported: build time, and recall@10 with median and p99 latency of single
queries issued one at a time from Python after a warm-up pass.

    python3 benches/python/vector_hamming.py --rows 200000 --queries 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa

sys.path.insert(0, os.path.dirname(__file__))
from vector_ann import measure  # noqa: E402

BYTES = 32


def codes(rows: int, seed: int, flip: float) -> np.ndarray:
    centres = np.random.default_rng(1234).integers(0, 256, (1000, BYTES), dtype=np.uint8)
    rng = np.random.default_rng(seed)
    out = centres[rng.integers(0, 1000, rows)].copy()
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        out[start : start + n] ^= np.packbits(rng.random((n, BYTES * 8)) < flip, axis=1)
    return out


def truth_of(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    table = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(axis=1)
    rows = []
    for q in queries:
        d = table[data ^ q].sum(axis=1)
        rows.append(np.argsort(d, kind="stable")[:k])
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--flip", type=float, default=0.08)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import pilum

    data = codes(args.rows, 7, args.flip)
    queries = codes(args.queries, 99, args.flip)
    truth = truth_of(data, queries, 10)
    partitions = round(args.rows**0.5)
    table = pa.table({"id": np.arange(args.rows), "bits": pa.FixedSizeListArray.from_arrays(pa.array(data.ravel()), BYTES)})
    root = tempfile.mkdtemp(prefix="hamming-bench-")
    results = {"rows": args.rows, "bytes": BYTES, "flip": args.flip, "partitions": partitions,
               "machine": platform.platform(), "cpus": os.cpu_count(), "builds": {}, "points": []}

    def record(engine: str, setting: str, m: dict) -> None:
        results["points"].append({"engine": engine, "setting": setting, **m})
        print(f"{engine:8s} {setting:28s} recall {m['recall']:.3f}  p50 {m['p50_ms']:.3f} ms  p99 {m['p99_ms']:.3f} ms", flush=True)

    ds = pilum.write_dataset(table, os.path.join(root, "pilum"))
    search = lambda q, **kw: ds.to_table(  # noqa: E731
        columns=["id"], nearest={"column": "bits", "q": q, "k": 10, "metric": "hamming", **kw})["id"].to_pylist()
    record("pilum", "exact", measure(lambda q: search(q, use_index=False), queries[:50], truth[:50], 10))
    start = time.perf_counter()
    ds.create_index("bits", "IVF_FLAT", metric="hamming", num_partitions=partitions)
    results["builds"]["pilum IVF_FLAT hamming"] = time.perf_counter() - start
    stats = ds.index_statistics("bits_idx")
    print(f"pilum build {results['builds']['pilum IVF_FLAT hamming']:.1f} s, default nprobes {stats['default_nprobes']}")
    record("pilum", "defaults", measure(search, queries, truth, 10))
    for nprobes in (4, 8, 16, 32):
        record("pilum", f"nprobes={nprobes}", measure(lambda q: search(q, nprobes=nprobes), queries, truth, 10))

    try:
        import lance

        lds = lance.write_dataset(table, os.path.join(root, "lance"))
        lsearch = lambda q, **kw: lds.to_table(  # noqa: E731
            columns=["id"], nearest={"column": "bits", "q": q, "k": 10, "metric": "hamming", **kw})["id"].to_pylist()
        record("lance", "exact", measure(lambda q: lsearch(q, use_index=False), queries[:50], truth[:50], 10))
        try:
            start = time.perf_counter()
            lds.create_index("bits", "IVF_FLAT", metric="hamming", num_partitions=partitions)
            results["builds"]["lance IVF_FLAT hamming"] = time.perf_counter() - start
            record("lance", "defaults", measure(lsearch, queries, truth, 10))
            for nprobes in (4, 8, 16, 32):
                record("lance", f"nprobes={nprobes}", measure(lambda q: lsearch(q, nprobes=nprobes), queries, truth, 10))
        except Exception as e:  # noqa: BLE001 - recorded as the result
            results["lance_index_error"] = f"{type(e).__name__}: {e}"
            print("lance index:", results["lance_index_error"][:300])
    except ImportError:
        results["lance_index_error"] = "pylance not installed"

    import faiss

    faiss.omp_set_num_threads(1)
    flat = faiss.IndexBinaryFlat(BYTES * 8)
    flat.add(data)
    record("faiss", "flat", measure(lambda q: flat.search(q[None, :], 10)[1][0].tolist(), queries[:50], truth[:50], 10))
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    quantizer = faiss.IndexBinaryFlat(BYTES * 8)
    ivf = faiss.IndexBinaryIVF(quantizer, BYTES * 8, partitions)
    start = time.perf_counter()
    ivf.train(data)
    ivf.add(data)
    results["builds"]["faiss IndexBinaryIVF"] = time.perf_counter() - start
    faiss.omp_set_num_threads(1)
    for nprobes in (4, 8, 16, 32):
        ivf.nprobe = nprobes
        record("faiss", f"IVF nprobes={nprobes}", measure(lambda q: ivf.search(q[None, :], 10)[1][0].tolist(), queries, truth, 10))
    print("builds", {k: round(v, 2) for k, v in results["builds"].items()})
    shutil.rmtree(root, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
