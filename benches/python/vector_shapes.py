"""Matryoshka prefix indices and multivector (MaxSim) search, measured.

1. **Prefixes** (``--part mrl``): a 256-d Gaussian mixture whose
   dimensions carry decaying variance, as matryoshka-trained embeddings put
   most of their meaning first. Pilum IVF_SQ and IVF_PQ are built on the
   first 32, 64, 128 and 256 values (``dimensions=``); each row of the table
   reports build time, index bytes on disk, recall@10 against exact search
   on the whole vectors, and single-query latency (median, p99). pylance
   14.0.2 has no prefix index; its IVF_PQ on the whole vector is the
   reference row.
2. **Multivectors** (``--part mv``): bags of 4–12 128-d vectors per row over
   shared concepts (as late-interaction token vectors), queries of 8
   vectors; recall@10 against brute-force MaxSim (cosine) and latency for
   Pilum exact, Pilum IVF_SQ and IVF_PQ, and pylance exact and IVF_PQ on
   the same table.

    python3 benches/python/vector_shapes.py --part all --out benches/python/vector-shapes.json
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


def timed(run: Callable[[], object], queries: List[np.ndarray]) -> Dict[str, float]:
    for q in queries[:5]:
        run(q)
    times = []
    for q in queries:
        start = time.perf_counter()
        run(q)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))]}


def dir_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def mrl_data(rows: int, queries: int, dim: int = 256):
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((400, dim)).astype(np.float32)
    scale = (1.0 / np.sqrt(1.0 + np.arange(dim) / 8.0)).astype(np.float32)
    data = (centres[rng.integers(0, 400, rows)] + 0.35 * rng.standard_normal((rows, dim)).astype(np.float32)) * scale
    held = (centres[rng.integers(0, 400, queries)] + 0.35 * rng.standard_normal((queries, dim)).astype(np.float32)) * scale
    return data.astype(np.float32), held.astype(np.float32)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    norms = (vectors * vectors).sum(axis=1)
    out = []
    for q in queries:
        d = norms - 2 * vectors @ q
        top = np.argpartition(d, k)[:k]
        out.append(top[np.argsort(d[top], kind="stable")])
    return np.array(out)


def recall(found: List[List[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


def run_mrl(work: str, rows: int, nq: int) -> List[Dict]:
    import lance
    import pilum

    data, queries = mrl_data(rows, nq)
    dim = data.shape[1]
    truth = exact_top(data, queries, 10)
    table = pa.table({"id": np.arange(rows), "emb": pa.FixedSizeListArray.from_arrays(pa.array(data.ravel()), dim)})
    out = []
    for kind in ["IVF_SQ", "IVF_PQ"]:
        for d in [32, 64, 128, 256]:
            path = os.path.join(work, f"p-{kind}-{d}")
            ds = pilum.write_dataset(table, path)
            start = time.perf_counter()
            extra = {"num_sub_vectors": d // 8} if kind == "IVF_PQ" else {}
            ds.create_index("emb", kind, dimensions=None if d == dim else d, **extra)
            build = time.perf_counter() - start
            search = lambda q: ds.to_table(nearest={"column": "emb", "q": q, "k": 10}, columns=["id"])
            found = [search(q)["id"].to_pylist() for q in queries]
            row = {"engine": "pilum", "kind": kind, "dimensions": d, "build_s": build,
                   "index_bytes": dir_bytes(os.path.join(path, "_indices")), "recall@10": recall(found, truth)}
            row.update(timed(search, list(queries)))
            out.append(row)
            print(row, flush=True)
            shutil.rmtree(path)
    path = os.path.join(work, "lance")
    ds = lance.write_dataset(table, path)
    parts = int(round(rows ** 0.5))
    start = time.perf_counter()
    ds.create_index("emb", "IVF_PQ", num_partitions=parts, num_sub_vectors=dim // 8)
    build = time.perf_counter() - start
    for nprobes in [20, 50]:
        search = lambda q: ds.to_table(nearest={"column": "emb", "q": q, "k": 10, "nprobes": nprobes, "refine_factor": 4}, columns=["id"])
        found = [search(q)["id"].to_pylist() for q in queries]
        row = {"engine": "lance", "kind": f"IVF_PQ nprobes={nprobes} refine=4", "dimensions": dim, "build_s": build,
               "index_bytes": dir_bytes(os.path.join(path, "_indices")), "recall@10": recall(found, truth)}
        row.update(timed(search, list(queries)))
        out.append(row)
        print(row, flush=True)
    return out


def mv_data(rows: int, nq: int, dim: int = 128):
    rng = np.random.default_rng(11)
    concepts = rng.standard_normal((2000, dim)).astype(np.float32)

    def bag(n: int, touched: np.ndarray) -> np.ndarray:
        v = concepts[touched[rng.integers(0, len(touched), n)]] + 0.5 * rng.standard_normal((n, dim)).astype(np.float32)
        return v.astype(np.float32)

    bags = [bag(int(rng.integers(4, 13)), rng.integers(0, 2000, 6)) for _ in range(rows)]
    queries = [bag(8, rng.integers(0, 2000, 3)) for _ in range(nq)]
    return bags, queries


def maxsim_truth(bags: List[np.ndarray], query: np.ndarray, k: int, flat: np.ndarray, owner: np.ndarray) -> List[int]:
    unit = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    qn = query / np.linalg.norm(query, axis=1, keepdims=True)
    sims = unit @ qn.T  # vectors × query vectors
    best = np.full((len(bags), len(query)), -np.inf, dtype=np.float32)
    np.maximum.at(best, owner, sims)
    score = best.sum(axis=1)
    order = np.argsort(-score, kind="stable")
    return order[:k].tolist()


def run_mv(work: str, rows: int, nq: int) -> List[Dict]:
    import lance
    import pilum

    bags, queries = mv_data(rows, nq)
    dim = bags[0].shape[1]
    flat = np.concatenate(bags)
    owner = np.repeat(np.arange(rows), [len(b) for b in bags])
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in bags])]).astype(np.int32)
    column = pa.ListArray.from_arrays(pa.array(offsets), pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), dim))
    table = pa.table({"id": np.arange(rows), "mv": column})
    truth = [maxsim_truth(bags, q, 10, flat, owner) for q in queries]
    out = []

    def measure(engine: str, kind: str, search, build: float, index_bytes: int) -> None:
        found = [search(q)["id"].to_pylist() for q in queries]
        row = {"engine": engine, "kind": kind, "vectors": int(len(flat)), "build_s": build, "index_bytes": index_bytes,
               "recall@10": recall(found, np.array(truth))}
        row.update(timed(search, queries))
        out.append(row)
        print(row, flush=True)

    path = os.path.join(work, "p-mv")
    ds = pilum.write_dataset(table, path)
    measure("pilum", "exact", lambda q: ds.to_table(nearest={"column": "mv", "q": q, "k": 10, "metric": "cosine"}, columns=["id"]), 0.0, 0)
    for kind in ["IVF_SQ", "IVF_PQ"]:
        start = time.perf_counter()
        ds.create_index("mv", kind, metric="cosine", replace=True)
        build = time.perf_counter() - start
        measure("pilum", kind, lambda q: ds.to_table(nearest={"column": "mv", "q": q, "k": 10}, columns=["id"]), build,
                dir_bytes(os.path.join(path, "_indices")))
    lpath = os.path.join(work, "l-mv")
    lds = lance.write_dataset(table, lpath)
    measure("lance", "exact", lambda q: lds.to_table(nearest={"column": "mv", "q": q, "k": 10, "metric": "cosine"}, columns=["id"]), 0.0, 0)
    start = time.perf_counter()
    parts = int(round(len(flat) ** 0.5))
    lds.create_index("mv", "IVF_PQ", metric="cosine", num_partitions=parts, num_sub_vectors=dim // 4)
    build = time.perf_counter() - start
    for nprobes in [20, 80]:
        measure("lance", f"IVF_PQ nprobes={nprobes} refine=4",
                lambda q: lds.to_table(nearest={"column": "mv", "q": q, "k": 10, "nprobes": nprobes, "refine_factor": 4}, columns=["id"]),
                build, dir_bytes(os.path.join(lpath, "_indices")))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["mrl", "mv", "all"], default="all")
    parser.add_argument("--mrl-rows", type=int, default=200_000)
    parser.add_argument("--mv-rows", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="pilum-shapes-")
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", "args": vars(args)}
    try:
        if args.part in ("mrl", "all"):
            result["mrl"] = run_mrl(work, args.mrl_rows, args.queries)
        if args.part in ("mv", "all"):
            result["mv"] = run_mv(work, args.mv_rows, args.queries)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
