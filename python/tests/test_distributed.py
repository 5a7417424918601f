"""Distributed writes with pylance's names: workers in separate processes
write fragments without committing, their metadata pickles back, and one
commit lands them all."""

from __future__ import annotations

import json
import multiprocessing
import pickle

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum
import pilum as lance
from pilum.fragment import FragmentMetadata, write_fragments


def _rows(start: int, count: int) -> pa.Table:
    ids = pa.array(range(start, start + count), pa.int64())
    return pa.table({"id": ids, "name": pc.cast(ids, pa.string()), "x": pc.multiply(pc.cast(ids, pa.float64()), 0.5)})


def _worker(args):
    uri, start = args
    written = write_fragments(_rows(start, 250), uri, max_rows_per_file=100)
    return pickle.dumps(written)


@pytest.mark.subprocess
def test_workers_in_processes_write_and_one_commit_lands_them_all(tmp_path):
    uri = str(tmp_path / "ds")
    base = pilum.write_dataset(_rows(0, 10), uri)
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        results = pool.map(_worker, [(uri, 1000 * w) for w in (1, 2, 3)])
    fragments = [f for r in results for f in pickle.loads(r)]
    assert len(fragments) == 9 and sum(f.num_rows for f in fragments) == 750
    assert all(f.files and f.files[0].startswith("data/") for f in fragments)
    # Nothing is visible before the commit.
    assert pilum.dataset(uri).count_rows() == 10
    committed = lance.LanceDataset.commit(uri, lance.LanceOperation.Append(fragments), read_version=base.version)
    assert committed.version == base.version + 1
    got = sorted(committed.to_table(columns=["id"]).column("id").to_pylist())
    want = sorted(list(range(10)) + [i for w in (1, 2, 3) for i in range(1000 * w, 1000 * w + 250)])
    assert got == want
    row = committed.to_table(filter="id = 2003")
    assert row.column("name").to_pylist() == ["2003"] and row.column("x").to_pylist() == [1001.5]


def test_commit_rebases_over_a_concurrent_append(tmp_path):
    uri = str(tmp_path / "ds")
    base = pilum.write_dataset(_rows(0, 10), uri)
    fragments = write_fragments(_rows(100, 20), uri)
    pilum.write_dataset(_rows(500, 5), uri, mode="append")
    committed = pilum.LanceDataset.commit(uri, pilum.LanceOperation.Append(fragments), read_version=base.version)
    assert committed.count_rows() == 35
    assert committed.version == 3


def test_overwrite_creates_and_replaces(tmp_path):
    uri = str(tmp_path / "new")
    fragments = write_fragments(_rows(0, 30), uri, mode="create")
    schema = _rows(0, 1).schema
    ds = pilum.LanceDataset.commit(uri, pilum.LanceOperation.Overwrite(schema, fragments))
    assert (ds.version, ds.count_rows()) == (1, 30)
    one = pilum.LanceFragment.create(uri, _rows(7, 3), mode="overwrite")
    ds = pilum.LanceDataset.commit(uri, pilum.LanceOperation.Overwrite(schema, [one]))
    assert (ds.version, ds.to_table().column("id").to_pylist()) == (2, [7, 8, 9])
    other = pa.schema([pa.field("other", pa.int64())])
    with pytest.raises(ValueError, match="new_schema"):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.Overwrite(other, [one]))


def test_metadata_round_trips_and_bad_input_is_refused(tmp_path):
    uri = str(tmp_path / "ds")
    pilum.write_dataset(_rows(0, 10), uri)
    (fragment,) = write_fragments(_rows(100, 20), uri)
    assert pickle.loads(pickle.dumps(fragment)) == fragment
    assert FragmentMetadata.from_json(json.dumps(fragment.to_json())) == fragment
    damaged = bytearray(fragment._payload)
    damaged[len(damaged) // 2] ^= 0x10
    with pytest.raises(pilum.errors.CorruptFileError):
        FragmentMetadata(bytes(damaged))
    with pytest.raises(ValueError):
        FragmentMetadata.from_json({"something": "else"})
    with pytest.raises(TypeError, match="FragmentMetadata"):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.Append(["not a fragment"]))
    with pytest.raises(NotImplementedError, match="Rewrite"):
        pilum.LanceOperation.Rewrite([fragment], None)
    with pytest.raises(NotImplementedError, match="detached"):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.Append([fragment]), detached=True)
    with pytest.raises(TypeError, match="unexpected keyword"):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.Append([fragment]), nope=1)
    with pytest.raises(NotImplementedError, match="fragment_id"):
        pilum.LanceFragment.create(uri, _rows(0, 1), fragment_id=3)
    # Appending needs the dataset; fragments cleaned up before their commit are refused.
    with pytest.raises(pilum.errors.DatasetNotFoundError):
        write_fragments(_rows(0, 5), str(tmp_path / "missing"))
    pilum.dataset(uri).cleanup_old_versions(older_than=__import__("datetime").timedelta(0), delete_unverified=True)
    with pytest.raises(ValueError, match="does not exist"):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.Append([fragment]))
    assert pilum.dataset(uri).count_rows() == 10


def _add_double(args):
    uri, version, fragment_id = args
    fragment = pilum.dataset(uri, version=version).get_fragment(fragment_id)
    metadata, schema = fragment.merge_columns(lambda b: {"doubled": pc.multiply(b.column("id"), 2)}, columns=["id"])
    return pickle.dumps((metadata, schema))


@pytest.mark.subprocess
def test_workers_add_a_column_to_every_fragment_in_one_commit(tmp_path):
    uri = str(tmp_path / "ds")
    ds = pilum.write_dataset(_rows(0, 900), uri, max_rows_per_file=300)
    ds.delete("id % 5 = 1")
    ds = pilum.dataset(uri)
    ids = [f.fragment_id for f in ds.get_fragments()]
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        results = [pickle.loads(r) for r in pool.map(_add_double, [(uri, ds.version, i) for i in ids])]
    fragments = [m for m, _ in results]
    schema = results[0][1]
    assert schema.names == ["id", "name", "x", "doubled"]
    assert sorted(f.fragment_id for f in fragments) == sorted(ids)
    committed = lance.LanceDataset.commit(uri, lance.LanceOperation.Merge(fragments, schema), read_version=ds.version)
    table = committed.to_table(columns=["id", "doubled"])
    assert table.num_rows == 720
    assert table.column("doubled").to_pylist() == [i * 2 for i in table.column("id").to_pylist()]


def test_merge_refuses_mismatched_parts(tmp_path):
    uri = str(tmp_path / "ds")
    ds = pilum.write_dataset(_rows(0, 20), uri)
    fragment = ds.get_fragments()[0]
    metadata, schema = fragment.merge_columns(lambda b: pa.table({"y": pc.add(b.column("id"), 1)}))
    assert metadata.fragment_id == fragment.fragment_id and "new columns" in repr(metadata)
    with pytest.raises(ValueError, match="rows"):
        fragment.merge_columns(lambda b: {"y": [1]})
    with pytest.raises(TypeError, match="must come from write_fragments"):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.Append([metadata]))
    with pytest.raises(ValueError, match="schema"):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.Merge([metadata], pa.schema([("z", pa.int64())])))
    with pytest.raises(ValueError, match="read_version"):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.Merge([metadata], schema), read_version=ds.version + 1)
    # A row change since the base version is a conflict; nothing is committed.
    pilum.write_dataset(_rows(100, 5), uri, mode="append")
    with pytest.raises(pilum.errors.CommitConflictError):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.Merge([metadata], schema))
    assert "y" not in pilum.dataset(uri).schema.names


def test_fragments_written_for_an_older_schema_are_refused(tmp_path):
    uri = str(tmp_path / "ds")
    pilum.write_dataset(_rows(0, 10), uri)
    written = write_fragments(_rows(100, 20), uri)
    pilum.dataset(uri).add_columns({"y": "x * 2"})
    with pytest.raises(pilum.errors.SchemaMismatchError):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.Append(written))
    assert pilum.dataset(uri).count_rows() == 10


def _slow_rows(uri):
    """Writes fragments forever (the test kills it mid-write)."""

    def batches():
        start = 0
        while True:
            yield _rows(start, 5000).to_batches()[0]
            start += 5000

    reader = pa.RecordBatchReader.from_batches(_rows(0, 1).schema, batches())
    write_fragments(reader, uri, max_rows_per_file=20_000)


@pytest.mark.subprocess
def test_a_worker_killed_mid_write_leaves_nothing_visible_and_the_job_retries(tmp_path):
    import os
    import signal
    import time
    from datetime import timedelta

    uri = str(tmp_path / "ds")
    pilum.write_dataset(_rows(0, 10), uri)
    worker = multiprocessing.get_context("spawn").Process(target=_slow_rows, args=(uri,))
    worker.start()
    data = os.path.join(uri, "data")
    deadline = time.monotonic() + 60
    while len(os.listdir(data)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    assert len(os.listdir(data)) >= 3, "the worker wrote files before it died"
    ds = pilum.dataset(uri)
    assert ds.count_rows() == 10 and ds.version == 1
    # The retry commits; a plain cleanup keeps the dead worker's files (they
    # could belong to a write in flight); one of unverified files removes them only.
    ds = pilum.LanceDataset.commit(uri, pilum.LanceOperation.Append(write_fragments(_rows(100, 50), uri)), read_version=1)
    ds.cleanup_old_versions(older_than=timedelta(0))
    assert len(os.listdir(data)) > len([p for f in ds.get_fragments() for p in f.data_files()])
    ds.cleanup_old_versions(older_than=timedelta(0), delete_unverified=True)
    assert ds.count_rows() == 60 and sorted(ds.to_table().column("id").to_pylist()) == list(range(10)) + list(range(100, 150))
    assert len(os.listdir(data)) == len([p for f in ds.get_fragments() for p in f.data_files()])
