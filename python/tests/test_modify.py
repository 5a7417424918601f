"""Row changes and maintenance: delete, update, merge_insert, compaction,
cleanup of old versions."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum
from _helpers import assert_tables_equal, ids, rows, sort_by


# ----------------------------------------------------------------------------- delete


def test_delete_sql_predicate(ds, table, uri):
    result = ds.delete("grp = 3 OR value > 1.5")
    # A row whose predicate is NULL (null value, grp != 3) is kept.
    keep = table.filter(
        pc.invert(pc.fill_null(pc.or_kleene(pc.equal(table["grp"], 3), pc.greater(table["value"], 1.5)), False))
    )
    assert result == {"num_deleted_rows": 1000 - keep.num_rows}
    assert ds.version == 2
    assert_tables_equal(ds.to_table(), keep)
    assert ds.count_rows("value IS NULL") == keep.filter(pc.field("value").is_null()).num_rows > 0
    # The old version still has every row.
    assert pilum.dataset(uri, version=1).count_rows() == 1000
    assert ds.versions()[-1]["operation"] == "delete"


def test_delete_with_pyarrow_expression(ds, table):
    result = ds.delete(pc.field("id") < 100)
    assert result["num_deleted_rows"] == 100
    assert ids(ds.to_table(columns=["id"])) == list(range(100, 1000))


def test_delete_matching_nothing(ds):
    assert ds.delete("id < 0")["num_deleted_rows"] == 0
    assert ds.count_rows() == 1000


def test_delete_everything_then_append(ds, table, uri):
    ds.delete("true")
    assert ds.count_rows() == 0
    assert ds.to_table().num_rows == 0
    pilum.write_dataset(table.slice(0, 5), uri, mode="append")
    assert ids(pilum.dataset(uri).to_table()) == [0, 1, 2, 3, 4]


# ----------------------------------------------------------------------------- update


def test_update_with_where(ds, table):
    result = ds.update({"value": "value * 10", "name": "'changed'"}, where="grp = 2")
    mask = pc.equal(table["grp"], 2)
    assert result == {"num_rows_updated": pc.sum(mask).as_py()}
    expected = table.set_column(2, "value", pc.if_else(mask, pc.multiply(table["value"], 10), table["value"]))
    expected = expected.set_column(3, "name", pc.if_else(mask, pa.scalar("changed"), expected["name"]))
    assert rows(sort_by(ds.to_table(), "id")) == rows(expected)


def test_update_all_rows_and_expression_over_other_columns(small_ds):
    assert small_ds.update({"x": "id * 100 + x"}) == {"num_rows_updated": 10}
    got = sort_by(small_ds.to_table(), "id")
    assert got["x"].to_pylist() == [i * 100 + i / 2 for i in range(10)]
    assert small_ds.version == 2


def test_update_with_expression_where(small_ds):
    small_ds.update({"name": "'z'"}, where=pc.field("id") >= 8)
    got = sort_by(small_ds.to_table(), "id")
    assert got["name"].to_pylist() == [f"n{i}" for i in range(8)] + ["z", "z"]


def test_update_requires_values(small_ds):
    with pytest.raises(ValueError):
        small_ds.update({})


def test_update_with_uncastable_value_fails_and_commits_nothing(small_ds):
    with pytest.raises(pilum.PilumError):
        small_ds.update({"id": "'abc'"}, where="id = 1")
    assert small_ds.version == 1
    assert small_ds.count_rows("id IS NULL") == 0


# ----------------------------------------------------------------------------- merge_insert


@pytest.fixture
def kv(tmp_path):
    table = pa.table({"id": pa.array(range(6), pa.int64()), "v": [f"a{i}" for i in range(6)]})
    return pilum.write_dataset(table, str(tmp_path / "kv"))


def _pairs(ds):
    return sorted((r["id"], r["v"]) for r in ds.to_table().to_pylist())


def test_merge_insert_upsert(kv):
    src = pa.table({"id": pa.array([4, 5, 6, 7], pa.int64()), "v": ["b4", "b5", "b6", "b7"]})
    result = kv.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(src)
    assert result == {"num_inserted_rows": 2, "num_updated_rows": 2, "num_deleted_rows": 0}
    assert _pairs(kv) == [(0, "a0"), (1, "a1"), (2, "a2"), (3, "a3"), (4, "b4"), (5, "b5"), (6, "b6"), (7, "b7")]
    assert kv.version == 2


def test_merge_insert_insert_only_and_update_only(kv):
    src = pa.table({"id": pa.array([1, 9], pa.int64()), "v": ["new1", "new9"]})
    r = kv.merge_insert("id").when_not_matched_insert_all().execute(src)
    assert r == {"num_inserted_rows": 1, "num_updated_rows": 0, "num_deleted_rows": 0}
    assert (1, "a1") in _pairs(kv) and (9, "new9") in _pairs(kv)
    r = kv.merge_insert("id").when_matched_update_all().execute(pa.table({"id": pa.array([2, 77], pa.int64()), "v": ["u2", "u77"]}))
    assert r == {"num_inserted_rows": 0, "num_updated_rows": 1, "num_deleted_rows": 0}
    assert (2, "u2") in _pairs(kv) and 77 not in [i for i, _ in _pairs(kv)]


def test_merge_insert_conditional_update_and_delete_by_source(kv):
    src = pa.table({"id": pa.array([2, 3], pa.int64()), "v": ["c2", "0"]})
    result = (
        kv.merge_insert("id")
        .when_matched_update_all(condition="source.v > target.v")
        .when_not_matched_by_source_delete("id < 2")
        .execute(src)
    )
    # id 2: 'c2' > 'a2' -> updated; id 3: '0' < 'a3' -> kept; ids 0, 1 deleted.
    assert result == {"num_inserted_rows": 0, "num_updated_rows": 1, "num_deleted_rows": 2}
    assert _pairs(kv) == [(2, "c2"), (3, "a3"), (4, "a4"), (5, "a5")]


def test_merge_insert_delete_all_not_in_source(kv):
    src = pa.table({"id": pa.array([1, 3, 10], pa.int64()), "v": ["x", "y", "z"]})
    result = kv.merge_insert("id").when_not_matched_by_source_delete().execute(src)
    assert result == {"num_inserted_rows": 0, "num_updated_rows": 0, "num_deleted_rows": 4}
    assert _pairs(kv) == [(1, "a1"), (3, "a3")]


def test_merge_insert_without_clauses_changes_nothing(kv):
    src = pa.table({"id": pa.array([1, 100], pa.int64()), "v": ["x", "y"]})
    result = kv.merge_insert("id").execute(src)
    assert result == {"num_inserted_rows": 0, "num_updated_rows": 0, "num_deleted_rows": 0}
    assert _pairs(kv) == [(i, f"a{i}") for i in range(6)]


def test_merge_insert_compound_key_and_pandas_source(tmp_path):
    pd = pytest.importorskip("pandas")

    table = pa.table({"a": pa.array([1, 1, 2], pa.int64()), "b": ["x", "y", "x"], "v": pa.array([1, 2, 3], pa.int64())})
    ds = pilum.write_dataset(table, str(tmp_path / "ck"))
    src = pd.DataFrame({"a": [1, 2], "b": ["y", "y"], "v": [20, 40]})
    result = ds.merge_insert(["a", "b"]).when_matched_update_all().when_not_matched_insert_all().execute(
        src, schema=table.schema
    )
    assert result == {"num_inserted_rows": 1, "num_updated_rows": 1, "num_deleted_rows": 0}
    got = sorted((r["a"], r["b"], r["v"]) for r in ds.to_table().to_pylist())
    assert got == [(1, "x", 1), (1, "y", 20), (2, "x", 3), (2, "y", 40)]


def test_merge_insert_rejects_duplicate_source_keys_and_wrong_schema(kv):
    dup = pa.table({"id": pa.array([1, 1], pa.int64()), "v": ["a", "b"]})
    with pytest.raises(pilum.PilumError):
        kv.merge_insert("id").when_matched_update_all().execute(dup)
    with pytest.raises(pilum.SchemaMismatchError):
        kv.merge_insert("id").when_not_matched_insert_all().execute(pa.table({"id": pa.array([9], pa.int64())}))
    with pytest.raises(pilum.ColumnNotFoundError):
        kv.merge_insert("nope").when_not_matched_insert_all().execute(pa.table({"id": pa.array([9], pa.int64()), "v": ["q"]}))
    assert kv.version == 1


# ----------------------------------------------------------------------------- merge (columns)


def test_merge_adds_columns_joined_on_key(small_ds):
    extra = pa.table({"key": pa.array([1, 3, 99], pa.int64()), "extra": ["a", "b", "c"]})
    small_ds.merge(extra, left_on="id", right_on="key")
    assert small_ds.schema.names == ["id", "name", "x", "extra"]
    got = sort_by(small_ds.to_table(), "id")
    assert got["extra"].to_pylist() == [None, "a", None, "b", None, None, None, None, None, None]
    assert small_ds.version == 2
    # right_on defaults to left_on.
    small_ds.merge(pa.table({"id": pa.array([0, 9], pa.int64()), "more": pa.array([1.5, 2.5])}), left_on="id")
    got = sort_by(small_ds.to_table(), "id")
    assert got["more"].to_pylist() == [1.5] + [None] * 8 + [2.5]
    with pytest.raises(pilum.SchemaMismatchError):
        small_ds.merge(pa.table({"k": ["a"], "e": [1]}), left_on="id", right_on="k")


# ----------------------------------------------------------------------------- compaction


def _fragmented(uri, table):
    """Written with 50-row files, appended twice, some rows deleted."""
    pilum.write_dataset(table.slice(0, 400), uri, max_rows_per_file=50)
    pilum.write_dataset(table.slice(400, 300), uri, mode="append", max_rows_per_file=50)
    ds = pilum.write_dataset(table.slice(700, 300), uri, mode="append", max_rows_per_file=50)
    ds.delete("id % 10 = 0")
    return ds


def test_compact_files_merges_fragments_and_materializes_deletions(table, uri):
    ds = _fragmented(uri, table)
    before_version = ds.version
    assert len(ds.get_fragments()) == 20
    before = ds.to_table(with_row_id=True)
    calls = []
    metrics = ds.optimize.compact_files(progress=lambda *a: calls.append(a))
    assert isinstance(metrics, pilum.CompactionMetrics)
    assert metrics.fragments_removed == 20 and metrics.fragments_added == 1
    assert metrics.files_removed >= 20 and metrics.files_added == 1
    assert ds.version == before_version + 1
    frags = ds.get_fragments()
    assert len(frags) == 1
    assert frags[0].num_deletions == 0 and frags[0].deletion_file() is None
    after = ds.to_table(with_row_id=True)
    assert rows(after) == rows(before)  # same rows, same order, same row ids
    picked = before.filter(pc.field("id").isin([999, 1, 455]))
    assert ids(ds.take_rows(picked["_rowid"].to_pylist(), columns=["id"])) == ids(picked)
    assert ds.versions()[-1]["operation"] == "compact"
    # Older versions stay readable until cleanup.
    assert pilum.dataset(uri, version=before_version).count_rows() == 900
    # A second compaction has nothing to do and commits nothing.
    again = ds.optimize.compact_files()
    assert (again.fragments_removed, again.fragments_added) == (0, 0)
    assert ds.version == before_version + 1
    assert calls and all(len(c) == 3 and isinstance(c[0], str) for c in calls)


def test_compact_target_rows_per_fragment(table, uri):
    ds = _fragmented(uri, table)
    ds.optimize.compact_files(target_rows_per_fragment=200)
    sizes = [f.count_rows() for f in ds.get_fragments()]
    assert sum(sizes) == 900
    assert len(sizes) > 1
    assert all(s <= 200 for s in sizes)
    assert ids(ds.to_table(columns=["id"])) == [i for i in range(1000) if i % 10]


# ----------------------------------------------------------------------------- cleanup


def _data_files(uri):
    return set(os.listdir(os.path.join(uri, "data")))


def test_cleanup_old_versions(table, uri):
    ds = _fragmented(uri, table)  # versions 1..4
    ds.tags.create("keep", 2)
    ds.optimize.compact_files()  # version 5
    files_before = _data_files(uri)
    # The default (14 days) removes nothing this young.
    stats = ds.cleanup_old_versions()
    assert stats == pilum.CleanupStats(0, 0, 0)
    assert [v["version"] for v in ds.versions()] == [1, 2, 3, 4, 5]

    stats = ds.cleanup_old_versions(older_than=dt.timedelta(0))
    assert isinstance(stats, pilum.CleanupStats)
    assert stats.old_versions == 3  # 1, 3, 4 (2 is tagged, 5 is latest)
    assert stats.files_removed > 0 and stats.bytes_removed > 0
    assert [v["version"] for v in ds.versions()] == [2, 5]
    files_after = _data_files(uri)
    assert files_after < files_before
    with pytest.raises(pilum.VersionNotFoundError):
        pilum.dataset(uri, version=1)
    # The tagged version and the latest still read correctly.
    assert pilum.dataset(uri, version="keep").count_rows() == 700
    assert ids(pilum.dataset(uri).to_table(columns=["id"])) == [i for i in range(1000) if i % 10]
