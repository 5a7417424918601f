"""The ``pyarrow.dataset.Dataset`` / ``Scanner`` methods Pilum inherits give
pyarrow's results (they used to run pyarrow's native code on a null pointer)."""

from __future__ import annotations

import os
import pickle
import struct

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
import pytest

import pilum
from _helpers import assert_tables_equal, ids, rows, sort_by


@pytest.fixture
def other(tmp_path, table):
    right = pa.table({"id": pa.array(range(0, 1000, 3), pa.int64()), "label": [f"l{i}" for i in range(0, 1000, 3)]})
    return pilum.write_dataset(right, str(tmp_path / "other"))


def test_sort_by_matches_pyarrow(ds, table):
    for sorting in ("id", [("grp", "descending"), ("id", "ascending")], [("name", "ascending"), ("id", "descending")]):
        got = ds.sort_by(sorting)
        assert isinstance(got, pds.Dataset)
        assert_tables_equal(got.to_table(), table.sort_by(sorting))
    keys = [("value", "descending", "at_start"), ("id", "ascending", "at_end")]
    assert_tables_equal(ds.sort_by(keys).to_table(), table.sort_by(keys))
    with pytest.raises(TypeError):  # options go to pyarrow's sort, which checks them
        ds.sort_by("id", bogus=1)


def test_join_matches_pyarrow(ds, table, other):
    got = sort_by(ds.join(other, "id").to_table(), "id")
    expected = sort_by(pds.dataset(table).join(pds.dataset(other.to_table()), "id").to_table(), "id")
    assert_tables_equal(got, expected)
    inner = ds.join(other, "id", join_type="inner").to_table()
    assert sorted(ids(inner)) == list(range(0, 1000, 3))
    # A pyarrow dataset on the right works too.
    assert ds.join(pds.dataset(other.to_table()), "id", join_type="inner").count_rows() == inner.num_rows


def test_join_asof_matches_pyarrow(tmp_path):
    left = pa.table({"t": pa.array([1, 5, 10], pa.int64()), "k": [1, 1, 2], "a": [1.0, 2.0, 3.0]})
    right = pa.table({"t": pa.array([0, 4, 9], pa.int64()), "k": [1, 1, 2], "b": ["x", "y", "z"]})
    lds = pilum.write_dataset(left, str(tmp_path / "l"))
    rds = pilum.write_dataset(right, str(tmp_path / "r"))
    got = lds.join_asof(rds, on="t", by="k", tolerance=-2).to_table()
    expected = pds.dataset(left).join_asof(pds.dataset(right), on="t", by="k", tolerance=-2).to_table()
    assert rows(got.sort_by("t")) == rows(expected.sort_by("t"))


def test_filter_returns_a_filtered_view(ds, table):
    expr = (pc.field("grp") == 3) & (pc.field("id") > 100)
    view = ds.filter(expr)
    expected = table.filter(expr)
    assert isinstance(view, pds.Dataset)
    assert view.schema == ds.schema
    assert_tables_equal(view.to_table(), expected)
    assert view.count_rows() == expected.num_rows
    assert_tables_equal(view.head(4), expected.slice(0, 4))
    assert_tables_equal(view.take([3, 0]), expected.take([3, 0]))
    assert ids(view.to_table(columns=["id"], filter="id < 500")) == [i for i in ids(expected) if i < 500]
    narrower = view.filter("value IS NOT NULL")
    assert ids(narrower.to_table()) == ids(expected.filter(pc.field("value").is_valid()))
    assert sum(b.num_rows for b in view.to_batches(batch_size=7)) == expected.num_rows
    assert ids(pickle.loads(pickle.dumps(narrower)).to_table()) == ids(narrower.to_table())
    with pytest.raises(ValueError):
        view.get_fragments()


def test_filter_view_with_untranslatable_expression(ds, table):
    expr = pc.field("value") * 2 > 1  # arithmetic is applied by pyarrow
    view = ds.filter("grp < 5").filter(expr)
    expected = table.filter((pc.field("grp") < 5) & expr)
    assert ids(view.to_table()) == ids(expected)
    assert view.count_rows() == expected.num_rows


def test_filter_view_in_duckdb_and_polars(ds, table):
    duckdb = pytest.importorskip("duckdb")
    pl = pytest.importorskip("polars")
    view = ds.filter("grp = 2")
    got = duckdb.sql("SELECT id FROM view WHERE id > 500 ORDER BY id").fetchall()
    expected = ids(table.filter((pc.field("grp") == 2) & (pc.field("id") > 500)))
    assert [r[0] for r in got] == expected
    frame = pl.scan_pyarrow_dataset(view).filter(pl.col("id") > 500).select("id").collect()
    assert frame["id"].to_list() == expected


def test_partition_expression_and_replace_schema(ds):
    assert ds.partition_expression.equals(pc.scalar(True))
    with pytest.raises(NotImplementedError, match="replace_schema"):
        ds.replace_schema(ds.schema)
    with pytest.raises(NotImplementedError, match="__setstate__"):
        ds.__setstate__({})


def test_scan_batches_tags_each_batch_with_its_fragment(ds, table):
    scanner = ds.scanner(columns=["id"], filter="grp = 1", batch_size=50)
    tagged = list(scanner.scan_batches())
    assert all(isinstance(t, pds.TaggedRecordBatch) for t in tagged)
    assert ids(pa.Table.from_batches([t.record_batch for t in tagged])) == ids(scanner.to_table())
    for t in tagged:
        assert isinstance(t.fragment, pilum.PilumFragment)
        assert set(ids(pa.table(t.record_batch))) <= set(ids(t.fragment.to_table(columns=["id"])))
    limited = ds.scanner(columns=["id"], limit=40, offset=280)
    got = pa.Table.from_batches([t.record_batch for t in limited.scan_batches()])
    assert ids(got) == list(range(280, 320))
    assert {t.fragment.fragment_id for t in limited.scan_batches()} == {f.fragment_id for f in ds.get_fragments()[:2]}


def test_scanner_methods(ds, table):
    expected = table.filter(pc.field("grp") == 4).select(["id", "name"])
    scanner = ds.scanner(columns=["id", "name"], filter="grp = 4")
    assert scanner.dataset_schema == ds.schema
    assert scanner.projected_schema == expected.schema
    assert_tables_equal(scanner.to_reader().read_all(), expected)
    assert_tables_equal(scanner.head(5), expected.slice(0, 5))
    assert_tables_equal(scanner.take([7, 2, 7]), expected.take([7, 2, 7]))
    assert scanner.count_rows() == expected.num_rows
    assert ds.scanner(filter="grp = 4", limit=10, offset=3).count_rows() == 10
    assert ds.scanner(filter="grp = 4", offset=expected.num_rows - 2).count_rows() == 2
    assert_tables_equal(pickle.loads(pickle.dumps(scanner)).to_table(), expected)
    with pytest.raises(IndexError):
        scanner.take([expected.num_rows])


def test_scanner_static_constructors(ds, table):
    scanner = pilum.PilumScanner.from_dataset(ds, columns=["id"], filter=pc.field("id") < 5)
    assert ids(scanner.to_table()) == [0, 1, 2, 3, 4]
    fragment = ds.get_fragments()[1]
    assert ids(pilum.PilumScanner.from_fragment(fragment, columns=["id"]).to_table()) == ids(fragment.to_table(columns=["id"]))
    plain = pilum.PilumScanner.from_batches(table.to_reader())
    assert_tables_equal(plain.to_table(), table)


def test_get_fragments_with_filter(ds, table):
    assert [f.fragment_id for f in ds.get_fragments(filter="id >= 650")] == [f.fragment_id for f in ds.get_fragments()[2:]]
    assert ds.get_fragments(filter=pc.field("id") < 0) == []


def test_data_storage_version_is_the_files_format_version(ds):
    versions = set()
    for fragment in ds.get_fragments():
        for path in fragment.data_files():
            with open(os.path.join(ds.uri, path), "rb") as f:
                f.seek(-8, os.SEEK_END)
                major, minor, magic = struct.unpack("<HH4s", f.read(8))
            assert magic == b"PILM"
            versions.add((major, minor))
    assert ds.data_storage_version == "{}.{}".format(*max(versions))


def test_datafusion_registers_it_as_a_pyarrow_dataset(ds, table):
    datafusion = pytest.importorskip("datafusion")
    ctx = datafusion.SessionContext()
    ctx.register_dataset("d", ds)  # scans fragment by fragment through PilumFragment.scanner
    got = pa.Table.from_batches(ctx.sql("SELECT count(*) AS n, sum(id) AS s FROM d WHERE grp = 5").collect())
    expected = table.filter(pc.field("grp") == 5)
    assert got.to_pylist() == [{"n": expected.num_rows, "s": pc.sum(expected["id"]).as_py()}]
    with pytest.raises(NotImplementedError, match="schema"):
        ds.get_fragments()[0].scanner(pa.schema([("other", pa.int8())]))
