"""progress= on writes, compaction and cleanup."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

import pilum



def _table(n=2500):
    return pa.table({"id": pa.array(range(n), pa.int64()), "s": [f"v{i}" for i in range(n)]})


def test_progress_callable_gets_row_counts_summing_to_total(tmp_path):
    table = _table()
    chunks = pa.Table.from_batches(table.to_batches(max_chunksize=300))
    seen = []
    ds = pilum.write_dataset(chunks, str(tmp_path / "a"), progress=seen.append)
    assert ds.count_rows() == 2500
    assert sum(seen) == 2500
    assert len(seen) >= 2  # reported as the rows stream in, not once at the end
    assert all(isinstance(n, int) and n > 0 for n in seen)


def test_progress_callable_with_reader_and_append(tmp_path):
    table = _table(1000)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=100))
    seen = []
    pilum.write_dataset(table.slice(0, 10), str(tmp_path / "b"))
    ds = pilum.write_dataset(reader, str(tmp_path / "b"), mode="append", progress=lambda n: seen.append(n))
    assert sum(seen) == 1000
    assert ds.count_rows() == 1010


def test_progress_tqdm_object_is_advanced(tmp_path):
    pytest.importorskip("tqdm")
    from tqdm import tqdm as Tqdm

    import io

    sink = io.StringIO()
    bar = Tqdm(total=2500, file=sink)
    pilum.write_dataset(_table(), str(tmp_path / "c"), progress=bar)
    assert bar.n == 2500
    bar.close()


def test_progress_true_prints_a_bar(tmp_path, capsys):
    pytest.importorskip("tqdm")
    pilum.write_dataset(_table(), str(tmp_path / "d"), progress=True)
    err = capsys.readouterr().err
    assert "write" in err
    assert "2.50k/2.50k" in err or "2500/2500" in err
    assert "100%" in err  # the total is known for a Table


def test_progress_false_and_none_print_nothing(tmp_path, capsys):
    pilum.write_dataset(_table(10), str(tmp_path / "e"), progress=False)
    pilum.write_dataset(_table(10), str(tmp_path / "f"), progress=None)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_bad_value_is_type_error(tmp_path):
    with pytest.raises(TypeError):
        pilum.write_dataset(_table(10), str(tmp_path / "g"), progress="yes")


def test_failing_progress_callback_fails_the_write_cleanly(tmp_path):
    def boom(n):
        raise RuntimeError("stop")

    with pytest.raises(Exception):
        pilum.write_dataset(_table(10), str(tmp_path / "h"), progress=boom)
    with pytest.raises(pilum.DatasetNotFoundError):
        pilum.dataset(str(tmp_path / "h"))


def _fragmented(uri):
    pilum.write_dataset(_table(600), uri, max_rows_per_file=100)
    ds = pilum.write_dataset(_table(600), uri, mode="append", max_rows_per_file=100)
    ds.delete("id % 5 = 0")
    return ds


def test_compaction_progress_callable(tmp_path):
    ds = _fragmented(str(tmp_path / "c1"))
    calls = []
    metrics = ds.optimize.compact_files(progress=lambda stage, done, total: calls.append((stage, done, total)))
    assert metrics.fragments_removed == 12
    assert calls
    for stage, done, total in calls:
        assert isinstance(stage, str) and stage
        assert 0 <= done <= total
    # The last report of each stage is complete.
    last = {}
    for stage, done, total in calls:
        last[stage] = (done, total)
    assert all(done == total for done, total in last.values())


def test_compaction_progress_true_prints_bar(tmp_path, capsys):
    pytest.importorskip("tqdm")
    ds = _fragmented(str(tmp_path / "c2"))
    ds.optimize.compact_files(progress=True)
    assert "compaction" in capsys.readouterr().err


def test_cleanup_progress_callable_and_bar(tmp_path, capsys):
    ds = _fragmented(str(tmp_path / "c3"))
    ds.optimize.compact_files()
    calls = []
    stats = ds.cleanup_old_versions(older_than=dt.timedelta(0), progress=lambda *a: calls.append(a))
    assert stats.old_versions == 3
    assert calls
    assert all(len(c) == 3 and 0 <= c[1] <= c[2] for c in calls)
    final = {}
    for stage, done, total in calls:
        final[stage] = (done, total)
    assert all(done == total for done, total in final.values())
    # progress=True draws a bar on stderr.
    pytest.importorskip("tqdm")
    pilum.write_dataset(_table(10), ds.uri, mode="append")
    ds2 = pilum.dataset(ds.uri)
    ds2.cleanup_old_versions(older_than=dt.timedelta(0), progress=True)
    assert "cleanup" in capsys.readouterr().err
