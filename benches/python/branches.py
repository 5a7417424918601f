"""Forks at scale: creating a branch and a shallow clone of a table with many
fragments, opening the fork, and committing a small append on it; Pilum
against Lance (pylance), on local disk and on S3 (moto behind the counting
proxy of ``bench/s3.py``, which reports requests per call).

    PYTHONPATH=python/python python3 benches/python/branches.py --fragments 10000 --reps 5

Each engine gets the same table (``fragments`` fragments of 10 rows, then one
appended fragment), written by that engine. Every fork is checked: its row
count must equal the source version's, and the append must be visible on the
fork only. Times are medians over ``reps`` forks (each with a fresh name);
requests (S3) are the medians per call.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lance  # noqa: E402

import pilum  # noqa: E402
from bench.s3 import Remote  # noqa: E402

ROWS_PER_FRAGMENT = 10


def table(start: int, rows: int) -> pa.Table:
    ids = pa.array(range(start, start + rows), pa.int64())
    return pa.table({"id": ids, "value": pa.compute.multiply(ids, 3), "text": pa.array([f"row {i}" for i in range(start, start + rows)])})


class Engine:
    """One library's calls, given a root URI and storage options."""

    def __init__(self, name: str, module: Any, options: Dict[str, str]):
        self.name, self.module, self.options = name, module, options

    def write(self, uri: str, fragments: int) -> Any:
        kw = {"storage_options": self.options} if self.options else {}
        self.module.write_dataset(table(0, fragments * ROWS_PER_FRAGMENT), uri, max_rows_per_file=ROWS_PER_FRAGMENT, **kw)
        return self.module.write_dataset(table(10**9, ROWS_PER_FRAGMENT), uri, mode="append", **kw)

    def open(self, uri: str) -> Any:
        return self.module.dataset(uri, storage_options=self.options or None)

    def append(self, fork: Any, rows: pa.Table) -> Any:
        kw = {"storage_options": self.options} if self.options else {}
        if self.name == "pilum":
            fork.insert(rows)
            return fork
        # pylance appends to a branch through the branch's own directory.
        return lance.write_dataset(rows, fork.uri, mode="append", **kw)


def timed(call: Callable[[], Any]) -> (float, Any):
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def run_backend(label: str, engines: List[Engine], root: str, fragments: int, reps: int, remote: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for engine in engines:
        uri = f"{root}/{engine.name}-src"
        start = time.perf_counter()
        engine.write(uri, fragments)
        build_s = time.perf_counter() - start
        source = engine.open(uri)
        expected = source.count_rows()
        assert len(source.get_fragments()) == fragments + 1, len(source.get_fragments())
        cells: Dict[str, List[float]] = {"create_branch": [], "open_branch": [], "append_on_branch": [], "shallow_clone": [],
                                         "open_clone": []}
        requests: Dict[str, List[int]] = {key: [] for key in cells}

        def measure(key: str, call: Callable[[], Any]) -> Any:
            if remote:
                remote.counts(reset=True)
            seconds, result = timed(call)
            cells[key].append(seconds)
            if remote:
                requests[key].append(remote.counts()["requests"])
            return result

        for rep in range(reps):
            name = f"fork{rep}"
            fork = measure("create_branch", lambda: source.create_branch(name, source.version))
            assert fork.count_rows() == expected
            reopened = measure("open_branch", lambda: source.checkout_version((name, None)))
            assert reopened.count_rows() == expected
            appended = measure("append_on_branch", lambda: engine.append(fork, table(2 * 10**9 + rep * 100, 100)))
            assert engine.open(uri).checkout_version((name, None)).count_rows() == expected + 100
            target = f"{root}/{engine.name}-clone{rep}"
            clone = measure("shallow_clone", lambda: source.shallow_clone(target, source.version, **({"storage_options": engine.options} if engine.options else {})))
            assert clone.count_rows() == expected
            reopened_clone = measure("open_clone", lambda: engine.open(target))
            assert reopened_clone.count_rows() == expected
            del appended
        assert engine.open(uri).count_rows() == expected, "forks never change the source"
        out[engine.name] = {
            "build_s": build_s,
            "rows": expected,
            **{f"{key}_ms": 1000 * statistics.median(values) for key, values in cells.items()},
            **({f"{key}_requests": statistics.median(values) for key, values in requests.items()} if remote else {}),
        }
        print(label, engine.name, json.dumps(out[engine.name]), flush=True)
    return out


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fragments", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument("--s3-latency-ms", type=float, default=0.0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "branches.json"))
    args = parser.parse_args(argv)
    results: Dict[str, Any] = {"fragments": args.fragments, "reps": args.reps, "command": " ".join(["benches/python/branches.py", *argv])}
    local_root = tempfile.mkdtemp(prefix="pilum-branches-")
    try:
        engines = [Engine("pilum", pilum, {}), Engine("lance", lance, {})]
        results["local"] = run_backend("local", engines, local_root, args.fragments, args.reps, None)
    finally:
        shutil.rmtree(local_root, ignore_errors=True)
    if not args.no_s3:
        with Remote(args.s3_latency_ms) as remote:
            engines = [Engine("pilum", pilum, remote.storage_options), Engine("lance", lance, remote.storage_options)]
            results["s3"] = run_backend("s3", engines, f"s3://{remote.bucket}/forks", args.fragments, args.reps, remote)
            results["s3_latency_ms"] = args.s3_latency_ms
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
