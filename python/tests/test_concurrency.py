"""Several writers at once: processes and threads committing to one
dataset. Every commit lands; conflicting commits are either rebased (with
the right result) or raise CommitConflictError."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

import pyarrow as pa
import pytest

import pilum

pytestmark = pytest.mark.subprocess

_WORKER_PRELUDE = """
import json, os, sys, time
import pyarrow as pa
import pilum
from pilum.errors import CommitConflictError
uri, go, worker, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
open(go + f".ready{worker}", "w").close()
deadline = time.time() + 60
while not os.path.exists(go):  # start together once everyone has imported pilum
    if time.time() > deadline:
        sys.exit("no go signal")
    time.sleep(0.005)
"""


def _run_workers(tmp_path, uri, body, n_workers, rounds):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER_PRELUDE + textwrap.dedent(body))
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), uri, str(go), str(w), str(rounds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(n_workers)
    ]
    try:
        deadline = time.time() + 60
        while not all(os.path.exists(f"{go}.ready{w}") for w in range(n_workers)):
            assert time.time() < deadline, "workers did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
            time.sleep(0.01)
        go.write_text("go")
        results = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


def _empty(uri):
    schema = pa.schema([("w", pa.int64()), ("k", pa.int64()), ("i", pa.int64())])
    return pilum.write_dataset(schema.empty_table(), uri)


def test_concurrent_appends_from_processes_all_land(tmp_path):
    uri = str(tmp_path / "ds")
    _empty(uri)
    body = """
    for k in range(rounds):
        t = pa.table({"w": pa.array([worker] * 10, pa.int64()), "k": pa.array([k] * 10, pa.int64()),
                      "i": pa.array(range(10), pa.int64())})
        ds = pilum.write_dataset(t, uri, mode="append")
    print(json.dumps({"worker": worker}))
    """
    n_workers, rounds = 4, 5
    _run_workers(tmp_path, uri, body, n_workers, rounds)
    ds = pilum.dataset(uri)
    assert ds.count_rows() == n_workers * rounds * 10
    assert ds.version == 1 + n_workers * rounds
    assert [v["version"] for v in ds.versions()] == list(range(1, 2 + n_workers * rounds))
    counts = Counter((r["w"], r["k"]) for r in ds.to_table().to_pylist())
    assert counts == {(w, k): 10 for w in range(n_workers) for k in range(rounds)}
    # Each append is its own version holding exactly its rows.
    sizes = [v["num_rows"] for v in ds.versions()]
    assert sizes == [10 * n for n in range(0, n_workers * rounds + 1)]


def test_concurrent_read_modify_write_is_rebased_or_conflicts(tmp_path):
    uri = str(tmp_path / "ctr")
    pilum.write_dataset(pa.table({"id": pa.array(range(20), pa.int64()), "c": pa.array([0] * 20, pa.int64())}), uri)
    body = """
    ok = conflicts = 0
    for round_ in range(rounds):
        ds = pilum.dataset(uri)
        try:
            ds.update({"c": "c + 1"}, where="id = 0")
            ok += 1
        except CommitConflictError:
            conflicts += 1
        if round_ == 1:
            # Each worker deletes its own row, concurrently with the others' updates.
            for _attempt in range(50):
                try:
                    pilum.dataset(uri).delete(f"id = {19 - worker}")
                    break
                except CommitConflictError:
                    continue
    print(json.dumps({"ok": ok, "conflicts": conflicts}))
    """
    n_workers, rounds = 3, 4
    results = _run_workers(tmp_path, uri, body, n_workers, rounds)
    successes = sum(r["ok"] for r in results)
    assert successes + sum(r["conflicts"] for r in results) == n_workers * rounds
    ds = pilum.dataset(uri)
    counter = ds.to_table(filter="id = 0")["c"].to_pylist()
    # No lost update: every successful increment is visible exactly once.
    assert counter == [successes]
    assert successes >= 1
    # Each worker's delete of its own row landed; the rest of the rows are intact.
    assert sorted(r["id"] for r in ds.to_table(columns=["id"]).to_pylist()) == list(range(20 - n_workers))
    assert ds.count_rows("c <> 0") == 1


def test_stale_compaction_conflicts_and_stale_delete_is_rebased(tmp_path):
    uri = str(tmp_path / "stale")
    table = pa.table({"id": pa.array(range(100), pa.int64()), "v": pa.array([0] * 100, pa.int64())})
    pilum.write_dataset(table, uri, max_rows_per_file=10)
    first, second, third = pilum.dataset(uri), pilum.dataset(uri), pilum.dataset(uri)
    first.optimize.compact_files()
    # A delete prepared against the pre-compaction version is rebased onto it.
    assert second.delete("id < 10") == {"num_deleted_rows": 10}
    latest = pilum.dataset(uri)
    assert latest.count_rows() == 90 and latest.count_rows("id < 10") == 0
    # A second compaction of the same, already rewritten fragments conflicts.
    with pytest.raises(pilum.CommitConflictError) as info:
        third.optimize.compact_files()
    assert isinstance(info.value, OSError)
    assert pilum.dataset(uri).count_rows() == 90
    assert [v["operation"] for v in pilum.dataset(uri).versions()] == ["create", "compact", "delete"]


def test_stale_update_after_concurrent_delete(tmp_path):
    uri = str(tmp_path / "ud")
    table = pa.table({"id": pa.array(range(10), pa.int64()), "v": ["x"] * 10})
    pilum.write_dataset(table, uri)
    a, b = pilum.dataset(uri), pilum.dataset(uri)
    a.delete("id = 3")
    try:
        b.update({"v": "'y'"}, where="id >= 3")
    except pilum.CommitConflictError:
        rows = pilum.dataset(uri).to_table().to_pylist()
        assert sorted((r["id"], r["v"]) for r in rows) == [(i, "x") for i in range(10) if i != 3]
    else:
        rows = pilum.dataset(uri).to_table().to_pylist()
        # The deleted row must not come back.
        assert sorted((r["id"], r["v"]) for r in rows) == [(i, "x" if i < 3 else "y") for i in range(10) if i != 3]


def test_concurrent_appends_from_threads(tmp_path):
    uri = str(tmp_path / "threads")
    _empty(uri)
    errors = []

    def work(w):
        try:
            for k in range(5):
                t = pa.table({"w": pa.array([w] * 7, pa.int64()), "k": pa.array([k] * 7, pa.int64()),
                              "i": pa.array(range(7), pa.int64())})
                pilum.write_dataset(t, uri, mode="append")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    ds = pilum.dataset(uri)
    assert ds.count_rows() == 4 * 5 * 7
    assert ds.version == 21
    counts = Counter((r["w"], r["k"]) for r in ds.to_table().to_pylist())
    assert set(counts.values()) == {7} and len(counts) == 20


def test_readers_see_consistent_snapshots_while_writing(tmp_path):
    uri = str(tmp_path / "snap")
    _empty(uri)
    stop = threading.Event()
    bad = []

    def reader():
        while not stop.is_set():
            ds = pilum.dataset(uri)
            n = ds.count_rows()
            if n % 10 != 0 or ds.to_table().num_rows != n:
                bad.append((ds.version, n))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for k in range(15):
            t = pa.table({"w": pa.array([0] * 10, pa.int64()), "k": pa.array([k] * 10, pa.int64()),
                          "i": pa.array(range(10), pa.int64())})
            pilum.write_dataset(t, uri, mode="append")
    finally:
        stop.set()
        thread.join(30)
    assert not bad
    assert pilum.dataset(uri).count_rows() == 150
