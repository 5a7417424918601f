"""Metadata caching on object storage: open and take(100) cold, with warm
metadata (a new dataset object in the same process), and fully warm (the
same object again); Pilum against Lance (pylance), on S3 served by moto
behind the counting proxy of ``bench/s3.py`` (requests per call).

    PYTHONPATH=python/python python3 benches/python/read_cache.py --fragments 1000 --reps 5

Cold: Pilum's process-wide cache is cleared (``pilum.clear_metadata_cache``);
Lance gets a new ``lance.Session``. Warm metadata: a new dataset object
takes the same rows, Pilum's process cache kept, Lance given the session of
the cold open (its way to share metadata between dataset objects). Fully
warm: the warm object takes them again. No engine caches data pages. Every take is checked against the rows
it asked for. Open = ``dataset(uri)`` + ``count_rows()``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

import numpy as np
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lance  # noqa: E402

import pilum  # noqa: E402
from bench.s3 import Remote  # noqa: E402

DIM = 128


def table(rows: int) -> pa.Table:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((rows, DIM), dtype=np.float32)
    ids = pa.array(np.arange(rows, dtype=np.int64))
    return pa.table({
        "id": ids,
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), DIM),
        "text": pa.array([f"document {i} about topic {i % 97}" for i in range(rows)]),
    })


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fragments", type=int, default=1000)
    parser.add_argument("--rows-per-fragment", type=int, default=100)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--s3-latency-ms", type=float, default=0.0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "read_cache.json"))
    args = parser.parse_args(argv)
    rows = args.fragments * args.rows_per_fragment
    data = table(rows)
    results: Dict[str, Any] = {"fragments": args.fragments, "rows": rows, "reps": args.reps,
                               "s3_latency_ms": args.s3_latency_ms,
                               "command": " ".join(["benches/python/read_cache.py", *argv])}
    with Remote(args.s3_latency_ms) as remote:
        options = remote.storage_options
        for name in ("pilum", "lance"):
            module = pilum if name == "pilum" else lance
            uri = f"s3://{remote.bucket}/cache/{name}"
            module.write_dataset(data, uri, max_rows_per_file=args.rows_per_fragment, storage_options=options)
            cells: Dict[str, List[float]] = {}
            requests: Dict[str, List[int]] = {}

            def measure(key: str, call: Callable[[], Any]) -> Any:
                remote.counts(reset=True)
                start = time.perf_counter()
                result = call()
                cells.setdefault(key, []).append(1000 * (time.perf_counter() - start))
                requests.setdefault(key, []).append(remote.counts()["requests"])
                return result

            def opener(session: Any) -> Callable[[], Any]:
                def run() -> Any:
                    if name == "pilum":
                        ds = pilum.dataset(uri, storage_options=options)
                    else:
                        ds = lance.dataset(uri, storage_options=options, session=session)
                    assert ds.count_rows() == rows
                    return ds
                return run

            def take(ds: Any, indices: List[int]) -> None:
                got = ds.take(indices, columns=["id", "vector", "text"])
                assert got.column("id").to_pylist() == indices, "take returned other rows"

            rng = random.Random(11)
            for _ in range(args.reps):
                session = None
                if name == "pilum":
                    pilum.clear_metadata_cache()
                else:
                    session = lance.Session()
                indices = sorted(rng.sample(range(rows), 100))
                cold = measure("open cold", opener(session))
                measure("take(100) cold", lambda: take(cold, indices))
                warm = measure("open warm metadata", opener(session))
                measure("take(100) warm metadata", lambda: take(warm, indices))
                measure("take(100) fully warm", lambda: take(warm, indices))
            results[name] = {key: {"ms": statistics.median(values), "requests": statistics.median(requests[key])}
                             for key, values in cells.items()}
            print(name, json.dumps(results[name]), flush=True)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
