"""Metadata at scale: opening the latest version, counting rows, a filtered
scan touching 1% of the fragments, and committing a 100-row append, on tables
of 10^3 to 10^6 fragments (and, with ``--versions``, after that many
commits); Pilum against Lance (pylance), on local disk and, with ``--s3``, on
S3 (moto behind the counting proxy of ``bench/s3.py``, which reports the
requests of each call; ``--s3-latency-ms`` adds latency per request).

    PYTHONPATH=python/python python3 benches/python/metadata_scale.py \\
        --fragments 1000,10000,100000,1000000 --reps 5

Each engine writes the same table itself: ``fragments`` fragments of 10 rows
(``id`` 0.., ``value`` = id * 3), one data file each. The filter
``id >= a AND id < b`` keeps the rows of 1% of the fragments, in the middle of
the table; every answer is checked (row count and the ids' sum), and so is
every count and every append. Times are medians over ``reps`` runs, each on
a new dataset object opened after the process-wide metadata caches were
cleared where the library has one (Pilum's ``clear_metadata_cache``), so they
include reading the manifest (and Pilum's fragment pages) from disk; the OS
page cache is warm. ``--versions N`` first commits N small metadata updates
(Pilum's ``update_config``, Lance's ``update_config``) so the latest version
is N + 1; Lance then keeps N full copies of its fragment list.
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
import pyarrow.compute as pc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lance  # noqa: E402

import pilum  # noqa: E402
from bench.s3 import Remote  # noqa: E402

ROWS_PER_FRAGMENT = 10


def table(start: int, rows: int) -> pa.Table:
    ids = pa.array(range(start, start + rows), pa.int64())
    return pa.table({"id": ids, "value": pc.multiply(ids, 3)})


def timed(fn: Callable[[], Any]) -> tuple:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median_ms(samples: List[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def clear_caches(name: str) -> None:
    if name == "pilum":
        pilum.clear_metadata_cache()


def run_engine(
    name: str, module: Any, root: str, fragments: int, versions: int, reps: int, remote: Any = None
) -> Dict[str, Any]:
    uri = f"{root}/{name}-{fragments}"
    local = remote is None
    if local:
        shutil.rmtree(uri, ignore_errors=True)
    options = remote.storage_options if remote else None
    kw = {"storage_options": options} if options else {}

    def open_():
        return module.dataset(uri, **kw)

    rows = fragments * ROWS_PER_FRAGMENT
    write_s, _ = timed(
        lambda: module.write_dataset(
            table(0, rows), uri, max_rows_per_file=ROWS_PER_FRAGMENT, max_rows_per_group=ROWS_PER_FRAGMENT, **kw
        )
    )
    for v in range(versions):
        open_().update_config({"bench.step": str(v)})
    latest = open_().version
    requests: Dict[str, List[int]] = {"open": [], "count_rows": [], "filtered_scan_1pct": [], "append_100_rows": []}

    def measure(key: str, samples: List[float], call: Callable[[], Any]) -> Any:
        if remote:
            remote.counts(reset=True)
        seconds, result = timed(call)
        samples.append(seconds)
        if remote:
            requests[key].append(remote.counts()["requests"])
        return result

    span = max(1, fragments // 100) * ROWS_PER_FRAGMENT
    low = rows // 2
    high = low + span
    expected_sum = sum(range(low, high))
    out: Dict[str, Any] = {"write_s": round(write_s, 2), "latest_version": latest}
    opens, counts, scans, appends = [], [], [], []
    total = rows
    for _ in range(reps):
        clear_caches(name)
        ds = measure("open", opens, open_)
        n = measure("count_rows", counts, lambda: ds.count_rows())
        assert n == total, (name, n, total)
        clear_caches(name)
        fresh = open_()
        result = measure(
            "filtered_scan_1pct",
            scans,
            lambda: fresh.to_table(columns=["id", "value"], filter=f"id >= {low} AND id < {high}"),
        )
        assert result.num_rows == high - low, (name, result.num_rows)
        assert pc.sum(result["id"]).as_py() == expected_sum
        clear_caches(name)
        target = open_()
        batch = table(10**9 + total, 100)
        if name == "pilum":
            measure("append_100_rows", appends, lambda: pilum.write_dataset(batch, target, mode="append"))
        else:
            measure("append_100_rows", appends, lambda: lance.write_dataset(batch, uri, mode="append", **kw))
        total += 100
        assert open_().count_rows() == total
    out.update(
        open_ms=median_ms(opens),
        count_rows_ms=median_ms(counts),
        filtered_scan_1pct_ms=median_ms(scans),
        append_100_rows_ms=median_ms(appends),
    )
    if remote:
        out.update({f"{key}_requests": statistics.median(v) for key, v in requests.items()})
        remote.delete_prefix(uri.split("/", 3)[3])
        return out
    versions_dir = os.path.join(uri, "_versions")
    manifests = [f for f in os.listdir(versions_dir) if f.endswith(".manifest")]
    newest = max(manifests, key=lambda f: os.path.getmtime(os.path.join(versions_dir, f)))
    out["latest_manifest_bytes"] = os.path.getsize(os.path.join(versions_dir, newest))
    pages = os.path.join(uri, "_fragments")
    if os.path.isdir(pages):
        out["fragment_pages_on_disk"] = len(os.listdir(pages))
    shutil.rmtree(uri, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fragments", default="1000,10000,100000")
    parser.add_argument("--versions", type=int, default=0)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--engines", default="pilum,lance")
    parser.add_argument("--lance-max-fragments", type=int, default=10**6, help="skip Lance above this size")
    parser.add_argument("--root", default=None)
    parser.add_argument("--s3", action="store_true", help="on S3 (moto) instead of local disk")
    parser.add_argument("--s3-latency-ms", type=float, default=0.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    root = args.root or tempfile.mkdtemp(prefix="pilum-metadata-scale-")
    engines = {"pilum": pilum, "lance": lance}
    results: Dict[str, Any] = {
        "command": " ".join(sys.argv),
        "rows_per_fragment": ROWS_PER_FRAGMENT,
        "reps": args.reps,
        "versions": args.versions,
        "cpus": os.cpu_count(),
        "lance": lance.__version__,
        "runs": [],
    }
    remote = Remote(args.s3_latency_ms).__enter__() if args.s3 else None
    if remote:
        root = f"s3://{remote.bucket}/scale"
        results["s3_latency_ms"] = args.s3_latency_ms
    try:
        for fragments in [int(f) for f in args.fragments.split(",")]:
            for name in args.engines.split(","):
                if name == "lance" and fragments > args.lance_max_fragments:
                    continue
                row = {"engine": name, "fragments": fragments, "store": "s3" if remote else "local"}
                row.update(run_engine(name, engines[name], root, fragments, args.versions, args.reps, remote))
                print(json.dumps(row), flush=True)
                results["runs"].append(row)
    finally:
        if remote:
            remote.__exit__(None, None, None)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    if not remote:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
