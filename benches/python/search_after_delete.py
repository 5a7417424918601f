"""Search latency and recall before and after deleting rows, side by side.

Deleting rows is routine (retention, GDPR erasure, re-embedding by delete
and append), and a deleted row must never come back from an index. This
measures what deletions cost each engine's searches: a Gaussian mixture
(same generator as ``vector_ann.py``) indexed once, then top-10 queries
before any delete and after deleting 10% and then 30% of the rows
(``id % 10 = 3``, then also ``id % 10 in (5, 7)``), with exact ground truth
over the surviving rows. Pilum and Lance delete through their dataset APIs
(deletion files; indices untouched); FAISS removes the ids from its index
(``remove_ids``). Single queries from Python, one warm-up pass each, same
queries and repetitions for every engine.

    python3 benches/python/search_after_delete.py --rows 200000 --dim 128 \
        --out benches/python/search-after-delete.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vector_ann import exact_top, measure, mixture, table_of  # noqa: E402

#: Deletion stages: the name and the residues of `id % 10` each deletes (cumulative).
STAGES = [("none", ()), ("10%", (3,)), ("30%", (5, 7))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--engines", default="pilum-hnsw,pilum-pq4,lance,faiss")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="after-delete-")
    try:
        results = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


def run(args: argparse.Namespace, work: str) -> Dict[str, Any]:
    """Builds every engine's index in `work`, then measures each stage."""
    k, rows, dim = 10, args.rows, args.dim
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    data = mixture(rows + args.queries, dim, 1000, 7, 0.5)
    vectors, queries = data[:rows], data[rows:]
    parts, m = round(rows**0.5), dim // 4
    table = table_of(vectors)
    alive = np.ones(rows, dtype=bool)
    ids = np.arange(rows)
    results: Dict[str, Any] = {
        "command": shlex.join([sys.executable] + sys.argv),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor()},
        "rows": rows, "dim": dim, "queries": args.queries, "builds": {}, "stages": [],
    }
    searches: Dict[str, Callable[[np.ndarray], List[int]]] = {}
    deleters: Dict[str, Callable[[str], None]] = {}

    if "pilum-hnsw" in engines or "pilum-pq4" in engines:
        import pilum

        for engine, label, kind, extra, settings in (
            ("pilum-hnsw", "pilum IVF_HNSW_SQ ef=20 refine=1", "IVF_HNSW_SQ", {}, {"ef": 20, "refine_factor": 1}),
            ("pilum-pq4", "pilum IVF_PQ 4-bit defaults", "IVF_PQ",
             {"num_bits": 4, "num_partitions": parts, "num_sub_vectors": 2 * m}, {}),
        ):
            if engine not in engines:
                continue
            ds = pilum.write_dataset(table, f"{work}/{engine}")
            start = time.perf_counter()
            ds.create_index("emb", kind, **extra)
            results["builds"][engine] = time.perf_counter() - start

            def pilum_run(q, ds=ds, settings=settings):
                return ds.to_table(nearest={"column": "emb", "q": q, "k": k, **settings}, columns=["id"]).column(0).to_pylist()

            def delete(sql, ds=ds):
                ds.delete(sql)

            searches[label] = pilum_run
            deleters[engine] = delete
    if "lance" in engines:
        import lance

        lds = lance.write_dataset(table, f"{work}/lance")
        start = time.perf_counter()
        lds.create_index("emb", "IVF_PQ", num_partitions=parts, num_sub_vectors=m)
        results["builds"]["lance"] = time.perf_counter() - start

        def lance_run(q):
            return lds.to_table(nearest={"column": "emb", "q": q, "k": k, "nprobes": 8, "refine_factor": 8},
                                columns=["id"]).column("id").to_pylist()

        def lance_delete(sql):
            lds.delete(sql)

        searches["lance IVF_PQ nprobes=8 refine=8"] = lance_run
        deleters["lance"] = lance_delete
    if "faiss" in engines:
        import faiss

        start = time.perf_counter()
        fast = faiss.index_factory(dim, f"IVF{parts},PQ{dim // 2}x4fs,RFlat")
        fast.train(vectors)
        fast.add(vectors)
        results["builds"]["faiss"] = time.perf_counter() - start
        # IndexRefineFlat has no remove_ids: deleted ids are excluded at
        # search time by a selector (FAISS's way for such indices).
        faiss_state: Dict[str, Any] = {}

        def faiss_params(deleted: np.ndarray) -> Any:
            ivf = faiss.SearchParametersIVF(nprobe=8)
            if deleted.size:
                # Held here: the parameters do not keep their selectors alive.
                faiss_state["batch"] = faiss.IDSelectorBatch(deleted.astype(np.int64))
                faiss_state["not"] = faiss.IDSelectorNot(faiss_state["batch"])
                ivf.sel = faiss_state["not"]
            faiss_state["ivf"] = ivf
            return faiss.IndexRefineSearchParameters(k_factor=8, base_index_params=ivf)

        faiss_state["params"] = faiss_params(np.array([], dtype=np.int64))

        def faiss_run(q):
            _, found = fast.search(q.reshape(1, -1), k, params=faiss_state["params"])
            return found[0].tolist()

        def faiss_delete(_sql):
            faiss_state["params"] = faiss_params(ids[~alive])

        searches["faiss IVF-PQ4fs+RFlat nprobes=8 refine=8"] = faiss_run
        deleters["faiss"] = faiss_delete
    print(f"builds: {results['builds']}", flush=True)

    for stage, residues in STAGES:
        if residues:
            alive &= ~np.isin(ids % 10, residues)
            sql = " OR ".join(f"id % 10 = {r}" for r in residues)
            for delete in deleters.values():
                delete(sql)
        truth = exact_top(vectors, queries, k, allow=alive)
        for name, search in searches.items():
            row = {"stage": stage, "engine": name, "live_rows": int(alive.sum()), **measure(search, queries, truth, k)}
            # A deleted row must never come back.
            row["deleted_returned"] = sum(int(not alive[i]) for q in queries[:50] for i in search(q) if 0 <= i < rows)
            results["stages"].append(row)
            print(json.dumps(row), flush=True)
    return results


if __name__ == "__main__":
    main()
