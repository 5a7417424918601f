"""Branches and cleanup under contention: a writer whose handle fell behind
a cleanup, handles on deleted or re-created branches, and spawned processes
appending, branching and cloning while cleanup runs in a loop (the
behaviour tests are in ``test_branches.py``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import traceback
from pathlib import Path

import pyarrow as pa
import pytest

import pilum
from test_branches import ZERO, _rows, _state


# ----------------------------------------------------------------------------- stale handles


def test_stale_writer_does_not_claim_a_version_cleanup_freed(tmp_path):
    """A version kept by cleanup (here a fork point) between a stale handle's
    version and the latest must not let the stale handle's commit reuse a
    deleted version number: that commit would land beside the history."""
    uri = str(tmp_path / "ds")
    ds = pilum.write_dataset(_rows(0, 5), uri)  # v1
    ds.insert(_rows(5, 1))  # v2
    stale = pilum.dataset(uri)  # at v2
    other = pilum.dataset(uri)
    for i in range(3):
        other.insert(_rows(10 + i, 1))  # v3, v4, v5
    ds.create_branch("fork", 3)  # keeps v3
    ds.cleanup_old_versions(older_than=ZERO)  # deletes v1, v2, v4
    assert [v["version"] for v in pilum.dataset(uri).versions()] == [3, 5]
    try:
        result = stale.update({"v": "v + 1"}, where="id = 0")
    except pilum.CommitConflictError:
        return  # refused: fine
    assert result == {"num_rows_updated": 1}
    latest = pilum.dataset(uri)
    # The update reported success, so it must be in the latest version.
    assert stale.version == latest.version, (stale.version, latest.version, [v["version"] for v in latest.versions()])
    assert latest.count_rows("v = 1") == 1


@pytest.mark.parametrize(
    "operation",
    ["insert", "overwrite", "delete", "update", "add_columns", "checkout_latest", "latest_version", "cleanup"],
)
def test_handle_of_deleted_branch_reports_branch_not_found(tmp_path, operation):
    uri = str(tmp_path / "ds")
    ds = pilum.write_dataset(_rows(0, 10), uri)
    exp = ds.create_branch("exp")
    exp.insert(_rows(100, 2))
    exp.insert(_rows(200, 2))
    ds.branches.delete("exp")
    act = {
        "insert": lambda: exp.insert(_rows(300, 1)),
        "overwrite": lambda: pilum.write_dataset(_rows(300, 1), exp, mode="overwrite"),
        "delete": lambda: exp.delete("id = 0"),
        "update": lambda: exp.update({"v": "1"}, where="id = 0"),
        "add_columns": lambda: exp.add_columns({"w": "id * 2"}),
        "checkout_latest": lambda: exp.checkout_latest(),
        "latest_version": lambda: exp.latest_version,
        "cleanup": lambda: exp.cleanup_old_versions(older_than=ZERO),
    }[operation]
    with pytest.raises(pilum.BranchNotFoundError):
        act()
    # Nothing was written into the deleted branch's directory.
    tree = tmp_path / "ds" / "tree"
    assert not [p for p in tree.rglob("*") if p.is_file()] if tree.exists() else True
    assert _state(pilum.dataset(uri)) == (None, 1, 10)


def test_handle_of_recreated_branch_does_not_write_into_the_new_one(tmp_path):
    uri = str(tmp_path / "ds")
    ds = pilum.write_dataset(_rows(0, 10), uri)
    old = ds.create_branch("exp")
    ds.branches.delete("exp")
    ds.create_branch("exp")
    with pytest.raises(pilum.BranchNotFoundError):
        old.insert(_rows(100, 1))
    assert _state(pilum.dataset(uri, branch="exp")) == ("exp", 1, 10)


# ----------------------------------------------------------------------------- processes


def _signal_ready_and_wait(ready, go) -> None:
    ready.set()
    if not go.wait(60):
        raise RuntimeError("no go signal")


def _report(out: str, result: dict) -> None:
    with open(out + ".tmp", "w") as f:
        json.dump(result, f)
    os.replace(out + ".tmp", out)


def _writer(uri: str, worker: int, rounds: int, out: str, ready, go) -> None:
    """Appends `rounds` batches of 3 rows (w=worker, k=round) to main,
    reopening and retrying on CommitConflictError; reports each append that
    succeeded with the version number it committed."""
    result = {"done": [], "versions": [], "conflicts": 0}
    try:
        _signal_ready_and_wait(ready, go)
        for k in range(rounds):
            table = pa.table({"w": pa.array([worker] * 3, pa.int64()), "k": pa.array([k] * 3, pa.int64())})
            while True:
                try:
                    ds = pilum.dataset(uri)
                    ds.insert(table)
                    break
                except pilum.CommitConflictError:
                    result["conflicts"] += 1
                    if result["conflicts"] > 500:
                        raise
            result["done"].append(k)
            result["versions"].append(ds.version)
    except BaseException:
        result["error"] = traceback.format_exc()
    _report(out, result)


def _brancher(uri: str, root: str, count: int, out: str, ready, go) -> None:
    result = {"branches": {}, "clones": {}, "refused": []}
    try:
        _signal_ready_and_wait(ready, go)
        for i in range(count):
            ds = pilum.dataset(uri)
            version, rows = ds.version, ds.count_rows()
            name = f"b{i}"
            try:
                branch = ds.create_branch(name, version)
            except pilum.VersionNotFoundError as e:  # cleanup got there first: withdrawn
                result["refused"].append(f"{name}@{version}: {e}")
            else:
                branch.insert(pa.table({"w": pa.array([-1], pa.int64()), "k": pa.array([i], pa.int64())}))
                result["branches"][name] = [version, rows + 1]
            target = os.path.join(root, f"clone{i}")
            try:
                ds.shallow_clone(target, version)
            except pilum.VersionNotFoundError as e:
                result["refused"].append(f"{target}@{version}: {e}")
            else:
                result["clones"][target] = [version, rows]
            time.sleep(0.05)
    except BaseException:
        result["error"] = traceback.format_exc()
    _report(out, result)


@pytest.mark.subprocess
def test_processes_append_branch_and_clone_while_cleanup_runs(tmp_path):
    uri = str(tmp_path / "ds")
    schema = pa.schema([("w", pa.int64()), ("k", pa.int64())])
    pilum.write_dataset(schema.empty_table(), uri)
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    rounds, branch_count = 60, 15
    jobs = [
        (_writer, (uri, 0, rounds)),
        (_writer, (uri, 1, rounds)),
        (_brancher, (uri, str(tmp_path), branch_count)),
    ]
    procs, readies, outs = [], [], []
    for i, (target, args) in enumerate(jobs):
        out = str(tmp_path / f"result{i}.json")
        ready = ctx.Event()
        proc = ctx.Process(target=target, args=(*args, out, ready, go))
        proc.start()
        procs.append(proc)
        readies.append(ready)
        outs.append(out)
    cleanups, compactions = 0, []
    try:
        for ready, proc in zip(readies, procs):
            assert ready.wait(60), "a worker did not start"
        go.set()
        deadline = time.time() + 40
        while any(p.is_alive() for p in procs):
            assert time.time() < deadline, "workers did not finish"
            pilum.dataset(uri).cleanup_old_versions(older_than=ZERO)
            cleanups += 1
            if cleanups % 8 == 0:  # rewrite files so that cleanup has files to delete
                try:
                    compacting = pilum.dataset(uri)
                    before = compacting.version
                    compacting.optimize.compact_files()
                    if compacting.version != before:
                        compactions.append(compacting.version)
                except pilum.CommitConflictError:
                    pass
    finally:
        for proc in procs:
            proc.join(30)
            if proc.is_alive():  # pragma: no cover
                proc.kill()
                proc.join()
    results = [json.loads(Path(out).read_text()) for out in outs]
    for result in results:
        assert "error" not in result, result["error"]
    assert all(p.exitcode == 0 for p in procs)
    pilum.dataset(uri).cleanup_old_versions(older_than=ZERO)
    assert cleanups >= 3

    # Every branch and clone that was created reads in full.
    made = results[2]
    assert made["branches"] and made["clones"], made
    assert sorted(pilum.dataset(uri).branches.list()) == sorted(made["branches"])
    for name, (version, rows) in made["branches"].items():
        branch = pilum.dataset(uri, branch=name)
        assert (branch.version, branch.to_table().num_rows) == (version + 1, rows), name
        assert branch.checkout_version(version).to_table().num_rows == rows - 1, name
    for target, (version, rows) in made["clones"].items():
        clone = pilum.dataset(target)
        assert clone.to_table().num_rows == rows, target

    # Every append a writer reported is in the latest main version, once;
    # no version number was acknowledged to two commits (a commit may not
    # claim a number that cleanup freed: it would land beside the history).
    committed = [v for result in results[:2] for v in result["versions"]] + compactions
    twice = sorted({v for v in committed if committed.count(v) > 1})
    latest = pilum.dataset(uri)
    got = sorted((r["w"], r["k"]) for r in latest.to_table().to_pylist())
    reported = sorted((w, k) for w, result in enumerate(results[:2]) for k in result["done"] for _ in range(3))
    assert len(reported) == 2 * rounds * 3
    missing = sorted(set(reported) - set(got))
    assert not missing and not twice, f"appends lost: {missing}; version numbers committed twice: {twice}"
    assert got == reported
