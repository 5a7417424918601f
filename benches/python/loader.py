"""Training-loader throughput, side by side on the same rows: ``pilum.torch``
against pylance 14.0.2's ``lance.torch``.

Data (numpy, fixed seed): ``id`` int64 0..n, ``vec`` 128-d float32, ``text``
(~40 B) and ``img``, an image-like blob column (``--blob-bytes`` random,
incompressible bytes per row, stored with ``lance-encoding:blob``). One
table written by ``pilum.write_dataset`` and ``lance.write_dataset`` with the
same rows per file; kept in ``--data-dir`` and reused while it matches.

Every cell consumes whole batches of ``--batch-size`` rows through one
``to_tensor_fn`` shared by both engines: ``id`` and ``vec`` become tensors,
``text`` a list, and every blob is read to bytes through the file object the
loader hands over. Cells:

- ``scan``: one epoch in storage order: ``LanceDataset(ds, batch_size)``
  with each library's default sampler.
- ``shuffle``: one globally shuffled epoch (a uniform permutation of all
  rows). Pilum: ``LanceDataset(..., shuffle=True)``. pylance has no global
  shuffle in its iterable dataset, so its cell is the same algorithm on its
  own primitives: each batch of the permutation read with ``ds.take`` and
  ``ds.take_blobs`` (an ``IterableDataset`` that shares batches across
  DataLoader workers as Pilum's does).
- pylance 14.0.2's ``LanceDataset`` passes blob v2 columns to
  ``to_tensor_fn`` as raw descriptions (and its batch sampler fails on
  them), so its ``scan`` cells read ``id, vec, text``
  with ``with_row_id=True`` and open the blobs by row id in the
  ``to_tensor_fn`` (``take_blobs(ids=...)``), as its loader intends.
- pylance's ``ShardedBatchSampler(randomize=True)`` only shuffles the
  order of consecutive batches and drops ``with_row_id``, so it cannot
  open blobs; it is not measured.

Each with ``DataLoader(num_workers=0)`` and ``num_workers=2`` (fork). Each
run is a fresh Python process (the
peak resident memory of it and its workers, sampled every 20 ms, is
recorded; torch alone takes about 600 MB); the first run of a cell follows
``sync`` and ``echo 1 > /proc/sys/vm/drop_caches`` (cold; skipped with a
note where not allowed), the next ``--reps`` are warm. Reported: time to
first batch, epoch seconds, rows/s and MB/s (bytes of the tensors and blob
bytes delivered), medians over warm runs. Every run checks that each row
arrived exactly once (a bincount of ``id``) and the blob bytes' total length.

    python3 benches/python/loader.py                       # 1M rows, 3 warm reps
    python3 benches/python/loader.py --rows 50000 --reps 1 # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List

os.environ.setdefault("LANCE_LOG", "error")

import numpy as np
import pyarrow as pa

from bench_cells import data_dir_for, dir_bytes, exit_on_failures, run_info, save_meta, versions, write_json

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA_VERSION = 1
DIM = 128
CELLS = [
    ("pilum", "scan"), ("lance", "scan"),
    ("pilum", "shuffle"), ("lance", "shuffle"),
]


def generate(n: int, blob_bytes: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    vec = pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * DIM, dtype=np.float32)), DIM)
    words = np.array([f"w{i:03d}" for i in range(1000)])
    picks = rng.integers(0, 1000, (n, 6))
    text = [" ".join(row) for row in words[picks]]
    sizes = rng.integers(blob_bytes // 2, blob_bytes * 3 // 2 + 1, n)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    payload = rng.integers(0, 256, int(offsets[-1]), dtype=np.uint8)
    img = pa.LargeBinaryArray.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(payload)])
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("vec", vec.type), pa.field("text", pa.string()),
                        pa.field("img", pa.large_binary(), metadata={"lance-encoding:blob": "true"})])
    return pa.table([pa.array(np.arange(n)), vec, pa.array(text), img], schema=schema)


# ------------------------------------------------------------------ child side

def _convert(batch: Any, **_: Any) -> Dict[str, Any]:
    """The one to_tensor_fn of every cell."""
    import torch

    vec = batch["vec"]
    vec = vec.combine_chunks() if isinstance(vec, pa.ChunkedArray) else vec
    values = vec.values.slice(vec.offset * DIM, len(vec) * DIM).to_numpy()
    ids = batch["id"]
    return {
        "id": torch.from_numpy(np.asarray(ids.to_numpy(), dtype=np.int64)),
        "vec": torch.from_numpy(values.reshape(len(vec), DIM).copy()),
        "text": batch["text"].to_pylist(),
        "img": [f.read() for f in batch["img"]],
    }


def _lance_take_loop(uri: str, batch_size: int, seed: int) -> Any:
    import lance
    import torch.utils.data

    class TakeLoop(torch.utils.data.IterableDataset):
        """pylance's primitives in Pilum's global-shuffle algorithm."""

        def __iter__(self):
            ds = lance.dataset(uri)
            n = ds.count_rows()
            order = np.random.default_rng(seed).permutation(n)
            info = torch.utils.data.get_worker_info()
            worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
            for b in range(worker, -(-n // batch_size), workers):
                idx = order[b * batch_size:(b + 1) * batch_size]
                table = ds.take(idx, columns=["id", "vec", "text"])
                batch = {name: table.column(name) for name in table.column_names}
                batch["img"] = ds.take_blobs("img", indices=idx.tolist())
                yield _convert(batch)

    return TakeLoop()


_LANCE: Dict[str, Any] = {}


def _lance_with_blobs(uri: str) -> Any:
    """pylance 14.0.2's LanceDataset hands blob v2 columns to to_tensor_fn as
    raw descriptions, so its cells read ``id, vec, text`` with row ids and
    open the blobs by row id here, as its loader means to."""

    def convert(batch: Any, **kwargs: Any) -> Dict[str, Any]:
        import lance

        ds = _LANCE.get(uri)
        if ds is None:
            ds = _LANCE[uri] = lance.dataset(uri)
        data = {name: batch[name] for name in ("id", "vec", "text")}
        data["img"] = ds.take_blobs("img", ids=batch["_rowid"].to_pylist())
        return _convert(data)

    return convert


class TreeMemory:
    """Peak resident memory of this process and its descendants (DataLoader
    workers), sampled every 20 ms. (``ru_maxrss`` would not do: Linux keeps
    it across ``exec``, so a child would report its parent's peak.)"""

    def __init__(self) -> None:
        import threading

        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _tree(pid: int) -> List[int]:
        out = [pid]
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    for child in handle.read().split():
                        out.extend(TreeMemory._tree(int(child)))
        except OSError:
            pass
        return out

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(0.02):
            total = 0
            for pid in self._tree(os.getpid()):
                try:
                    with open(f"/proc/{pid}/statm") as handle:
                        total += int(handle.read().split()[1]) * page
                except OSError:
                    pass
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def child(args: argparse.Namespace) -> None:
    import torch.utils.data

    memory = TreeMemory()

    uri = os.path.join(args.data_dir, args.engine)
    start = time.perf_counter()
    if args.engine == "pilum":
        from pilum.torch.data import LanceDataset

        shuffled = args.mode == "shuffle"
        dataset: Any = LanceDataset(uri, args.batch_size, to_tensor_fn=_convert, shuffle=shuffled, seed=1 if shuffled else 0)
    elif args.mode == "shuffle":
        dataset = _lance_take_loop(uri, args.batch_size, seed=1)
    else:
        import lance.torch.data

        dataset = lance.torch.data.LanceDataset(uri, args.batch_size, columns=["id", "vec", "text"], with_row_id=True,
                                                to_tensor_fn=_lance_with_blobs(uri))
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=args.workers)
    first = None
    counts = np.zeros(args.rows, dtype=np.int64)
    rows = blob = tensor_bytes = 0
    for batch in loader:
        if first is None:
            first = time.perf_counter() - start
        ids = batch["id"].numpy()
        np.add.at(counts, ids, 1)
        rows += ids.size
        tensor_bytes += batch["id"].nbytes + batch["vec"].nbytes + sum(len(t) for t in batch["text"])
        blob += sum(len(b) for b in batch["img"])
    seconds = time.perf_counter() - start
    peak = memory.stop()
    print(json.dumps({"seconds": seconds, "first_batch_s": first, "rows": rows, "bytes": tensor_bytes + blob,
                      "blob_bytes": blob, "exactly_once": bool(np.all(counts == 1)), "peak_rss_mb": peak / 2**20}))


# ------------------------------------------------------------------ parent side

def drop_caches() -> bool:
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("1\n")
        return True
    except OSError:
        return False


def run_cell(args: argparse.Namespace, engine: str, mode: str, workers: int, cold: bool) -> Dict[str, Any]:
    dropped = drop_caches() if cold else False
    command = [sys.executable, os.path.abspath(__file__), "--child", "--engine", engine, "--mode", mode,
               "--workers", str(workers), "--rows", str(args.rows), "--batch-size", str(args.batch_size),
               "--data-dir", args.data_dir]
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["cold"] = cold
    result["caches_dropped"] = dropped
    return result


def summarize(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    warm = [r for r in runs if not r.get("cold") and "error" not in r]
    cold = [r for r in runs if r.get("cold") and "error" not in r]
    out: Dict[str, Any] = {"runs": runs}
    if warm:
        med = statistics.median(r["seconds"] for r in warm)
        out.update(
            warm_s=med,
            rows_per_s=statistics.median(r["rows"] / r["seconds"] for r in warm),
            mb_per_s=statistics.median(r["bytes"] / r["seconds"] / 1e6 for r in warm),
            first_batch_s=statistics.median(r["first_batch_s"] for r in warm),
            peak_rss_mb=max(r["peak_rss_mb"] for r in warm),
        )
    if cold:
        out.update(cold_s=cold[0]["seconds"], cold_first_batch_s=cold[0]["first_batch_s"],
                   cold_rows_per_s=cold[0]["rows"] / cold[0]["seconds"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--blob-bytes", type=int, default=2048)
    parser.add_argument("--rows-per-file", type=int, default=131_072)
    parser.add_argument("--workers", default="0,2")
    parser.add_argument("--cells", default=",".join(f"{e}:{m}" for e, m in CELLS))
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=os.path.join(HERE, "loader.json"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.data_dir is None:
        args.data_dir = os.path.join(REPO, "target", "bench-data", "loader", str(args.rows))
    if args.child:
        args.workers = int(args.workers)
        child(args)
        return
    want = {"rows": args.rows, "blob_bytes": args.blob_bytes, "rows_per_file": args.rows_per_file, "data_version": DATA_VERSION}
    meta = data_dir_for(args.data_dir, want, rewrite=False)
    import lance
    import pilum

    table = None
    for engine, module in (("pilum", pilum), ("lance", lance)):
        uri = os.path.join(args.data_dir, engine)
        if meta["engines"].get(engine) != want or not os.path.isdir(uri):
            table = table if table is not None else generate(args.rows, args.blob_bytes)
            start = time.perf_counter()
            module.write_dataset(table, uri, max_rows_per_file=args.rows_per_file, mode="overwrite")
            print(f"{engine}: wrote {args.rows} rows in {time.perf_counter() - start:.1f} s", flush=True)
            meta["engines"][engine] = want
            save_meta(args.data_dir, meta)
    report: Dict[str, Any] = run_info(versions(["pilum", "pylance", "torch", "numpy", "pyarrow"]))
    report.update(rows=args.rows, batch_size=args.batch_size, blob_bytes=args.blob_bytes,
                  bytes_on_disk={e: dir_bytes(os.path.join(args.data_dir, e)) for e in ("pilum", "lance")}, cells={})
    failures: List[str] = []
    for cell in args.cells.split(","):
        engine, mode = cell.split(":")
        for workers in (int(w) for w in args.workers.split(",")):
            name = f"{engine}:{mode}:w{workers}"
            runs = [run_cell(args, engine, mode, workers, cold=i == 0) for i in range(args.reps + 1)]
            for run in runs:
                if "error" in run:
                    failures.append(f"{name}: {run['error']}")
                elif not run["exactly_once"] or run["rows"] != args.rows:
                    failures.append(f"{name}: rows not delivered exactly once ({run['rows']} rows)")
            summary = summarize(runs)
            report["cells"][name] = summary
            print(f"{name:28s} warm {summary.get('warm_s', float('nan')):7.2f} s  "
                  f"{summary.get('rows_per_s', float('nan')):10.0f} rows/s  {summary.get('mb_per_s', float('nan')):7.1f} MB/s  "
                  f"first {summary.get('first_batch_s', float('nan')):5.2f} s  cold {summary.get('cold_s', float('nan')):7.2f} s  "
                  f"rss {summary.get('peak_rss_mb', float('nan')):6.0f} MB", flush=True)
            write_json(args.out, report)
    exit_on_failures(failures)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
