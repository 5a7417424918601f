"""Pre-filtered search on wide vectors through Pilum's IVF_PQ (the case
where quantized estimates cannot order the passing rows): recall@10
against exact search over the passing rows, and median latency, without a
filter and at 10% and 1% selectivity.

Data: the Gaussian mixture of vector_ann.py (rows / 1,000 centres, spread
0.5), 768-d, IVF_PQ with rows / 1,000 partitions and 96 sub-vectors;
50 held-out queries. The dataset is written once under --uri and reused.

    python3 benches/python/vector_filtered_wide.py --rows 200000
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pyarrow as pa

sys.path.insert(0, os.path.dirname(__file__))
from vector_ann import mixture  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--uri", default="/tmp/pilum-filtered-wide")
    args = parser.parse_args()
    import pilum

    rows, dim = args.rows, args.dim
    centres = max(rows // 1000, 1)
    x = mixture(rows, dim, centres, 7, 0.5)
    queries = mixture(50, dim, centres, 99, 0.5)
    grp = np.arange(rows) % 100
    if not os.path.exists(args.uri):
        table = pa.table({"id": np.arange(rows), "grp": grp,
                          "emb": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), dim)})
        ds = pilum.write_dataset(table, args.uri)
        start = time.time()
        ds.create_index("emb", "IVF_PQ", num_partitions=max(rows // 1000, 1), num_sub_vectors=dim // 8)
        print(f"build {time.time() - start:.1f} s")
    ds = pilum.dataset(args.uri)
    for name, sql, mask in [("none", None, np.ones(rows, bool)), ("10%", "grp < 10", grp < 10), ("1%", "grp = 7", grp == 7)]:
        idx = np.nonzero(mask)[0]
        recalls, times = [], []
        for q in queries:
            truth = set(idx[np.argsort(((x[idx] - q) ** 2).sum(1))[:10]].tolist())
            start = time.perf_counter()
            got = ds.to_table(columns=["id"], nearest={"column": "emb", "q": q, "k": 10}, filter=sql, prefilter=True)
            times.append(time.perf_counter() - start)
            recalls.append(len(truth & set(got["id"].to_pylist())) / 10)
        print(f"filter {name:5s} recall {np.mean(recalls):.3f}  p50 {1000 * np.median(times):.2f} ms")


if __name__ == "__main__":
    main()
