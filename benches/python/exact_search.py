"""Exact (brute-force) vector search, side by side: Pilum, pylance without an
index, FAISS ``IndexFlat`` and numpy, on the same vectors and queries.

Every engine answers the same queries; the ids of the k nearest are checked
to agree across engines (ties aside, which random floats do not have)
before anything is reported. Pilum and Lance read the vectors from their
datasets on local disk (warm page cache) on each query, as a search does;
FAISS and numpy search vectors already in memory, the best case of a
separate vector library.

    python3 benches/python/exact_search.py --rows 200000 --dim 128 --queries 20 --k 10
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import tempfile
import time

import numpy as np
import pyarrow as pa


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--metric", default="l2", choices=["l2", "cosine", "dot"])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import faiss
    import lance
    import pilum

    rng = np.random.default_rng(args.seed)
    vectors = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
    queries = rng.standard_normal((args.queries, args.dim)).astype(np.float32)
    table = pa.table({"id": np.arange(args.rows), "emb": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), args.dim)})
    work = tempfile.mkdtemp(prefix="exact-search-")
    try:
        pds = pilum.write_dataset(table, f"{work}/p")
        lds = lance.write_dataset(table, f"{work}/l")

        if args.metric == "l2":
            index = faiss.IndexFlatL2(args.dim)
            base = vectors
        else:
            index = faiss.IndexFlatIP(args.dim)
            base = vectors / np.linalg.norm(vectors, axis=1, keepdims=True) if args.metric == "cosine" else vectors
        index.add(base)

        def numpy_search(q):
            if args.metric == "l2":
                d = ((vectors - q) ** 2).sum(axis=1)
            elif args.metric == "cosine":
                d = -(base @ (q / np.linalg.norm(q)))
            else:
                d = -(vectors @ q)
            top = np.argpartition(d, args.k)[: args.k]
            return top[np.argsort(d[top])].tolist()

        def faiss_search(q):
            qq = q / np.linalg.norm(q) if args.metric == "cosine" else q
            return index.search(qq.reshape(1, -1), args.k)[1][0].tolist()

        def nearest(q):
            return {"column": "emb", "q": q, "k": args.k, "metric": args.metric}

        engines = {
            "pilum": lambda q: pds.to_table(nearest=nearest(q), columns=["id"])["id"].to_pylist(),
            "lance (no index)": lambda q: lds.to_table(nearest=nearest(q), columns=["id"])["id"].to_pylist(),
            "faiss IndexFlat": faiss_search,
            "numpy": numpy_search,
        }
        results = {}
        for name, search in engines.items():
            answers = [search(q) for q in queries]  # warm-up, and the answers checked below
            samples = []
            for q in queries:
                start = time.perf_counter()
                search(q)
                samples.append(time.perf_counter() - start)
            results[name] = (answers, samples)
        reference = results["numpy"][0]
        for name, (answers, _) in results.items():
            agree = sum(a == r for a, r in zip(answers, reference))
            if agree != len(reference):
                raise SystemExit(f"{name}: {len(reference) - agree} of {len(reference)} queries disagree with numpy")
        print(f"exact search, {args.rows:,} × {args.dim}-d f32, {args.metric}, k={args.k}, {args.queries} queries "
              f"({platform.processor() or platform.machine()}); every engine returned numpy's ids for every query\n")
        print("| engine | median ms per query | min–max ms | Pilum vs engine (above 1: Pilum faster) |")
        print("|---|---:|---:|---:|")
        pilum_median = statistics.median(results["pilum"][1])
        for name, (_, samples) in results.items():
            median = statistics.median(samples)
            print(f"| {name} | {median * 1e3:.2f} | {min(samples) * 1e3:.2f}–{max(samples) * 1e3:.2f} | {median / pilum_median:.2f}× |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
