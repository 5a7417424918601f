"""DuckDB, Polars, pandas and Arrow interop, with pushdown checks."""

from __future__ import annotations

import ctypes

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum
from pilum.scanner import PilumScanner
from _helpers import assert_tables_equal, ids, rows

duckdb = pytest.importorskip("duckdb")
pl = pytest.importorskip("polars")


@pytest.fixture
def scans(monkeypatch):
    """Records (columns, SQL filter pushed to Pilum, residual pyarrow filter) of every scan."""
    seen = []
    original = PilumScanner.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append({"columns": self._columns, "sql": self._sql_filter, "residual": self._residual})

    monkeypatch.setattr(PilumScanner, "__init__", recording)
    return seen


# ----------------------------------------------------------------------------- duckdb


def test_duckdb_select_with_pushdown(ds, table, scans):
    got = duckdb.sql("SELECT id, name FROM ds WHERE grp = 4 AND id > 500 ORDER BY id").arrow()
    if isinstance(got, pa.RecordBatchReader):
        got = got.read_all()
    expected = table.filter((pc.field("grp") == 4) & (pc.field("id") > 500)).select(["id", "name"])
    assert got.column_names == ["id", "name"]
    assert rows(got) == rows(expected)
    assert scans, "DuckDB did not scan through PilumScanner"
    last = scans[-1]
    assert last["columns"] is not None and set(last["columns"]) <= {"id", "name", "grp"}
    assert last["sql"] is not None and '"grp" = 4' in last["sql"] and '"id" > 500' in last["sql"]
    assert last["residual"] is None


def test_duckdb_aggregates_and_nulls(ds, table):
    got = duckdb.sql(
        "SELECT grp, count(*) AS n, count(value) AS nv, sum(id) AS s FROM ds WHERE name IS NOT NULL GROUP BY grp ORDER BY grp"
    ).fetchall()
    filtered = table.filter(pc.field("name").is_valid())
    grouped = filtered.group_by("grp").aggregate([("id", "count"), ("value", "count"), ("id", "sum")]).sort_by("grp")
    expected = list(zip(grouped["grp"].to_pylist(), grouped["id_count"].to_pylist(),
                        grouped["value_count"].to_pylist(), grouped["id_sum"].to_pylist()))
    assert got == expected


def test_duckdb_in_list_and_strings(ds, table):
    got = duckdb.sql("SELECT id FROM ds WHERE name IN ('name1', 'name2') AND flag ORDER BY id").fetchall()
    expected = table.filter(pc.field("name").isin(["name1", "name2"]) & pc.field("flag"))
    assert [r[0] for r in got] == ids(expected)


def test_duckdb_sees_the_dataset_version_it_is_given(ds, uri, table):
    old = pilum.dataset(uri, version=1)
    ds.delete("id >= 10")
    assert duckdb.sql("SELECT count(*) FROM old").fetchall()[0][0] == 1000
    assert duckdb.sql("SELECT count(*) FROM ds").fetchall()[0][0] == 10


def test_duckdb_relation_as_write_input(tmp_path):
    rel = duckdb.sql("SELECT range AS id, range * 2 AS twice FROM range(100)")
    ds = pilum.write_dataset(rel.arrow(), str(tmp_path / "duck"))
    assert ds.count_rows() == 100
    assert ds.to_table(filter="id = 7").to_pylist() == [{"id": 7, "twice": 14}]


# ----------------------------------------------------------------------------- polars


def _polars_filtered(ds, table, predicate, expected_expr):
    frame = pl.scan_pyarrow_dataset(ds).filter(predicate).select(["id", "value"]).collect()
    expected = table.filter(expected_expr).select(["id", "value"])
    assert frame["id"].to_list() == ids(expected)
    assert frame["value"].to_list() == expected["value"].to_pylist()


def test_polars_scan_pyarrow_dataset_pushdown(ds, table, scans):
    _polars_filtered(
        ds, table,
        (pl.col("grp") == 2) & (pl.col("value") > 0.25),
        (pc.field("grp") == 2) & (pc.field("value") > 0.25),
    )
    assert scans
    last = scans[-1]
    assert last["sql"] is not None and '"grp" = 2' in last["sql"] and '"value" > 0.25' in last["sql"]
    assert last["residual"] is None
    assert last["columns"] is not None and "name" not in last["columns"] and "flag" not in last["columns"]


def test_polars_whole_number_float_literal_results_correct(ds, table):
    # Polars sends `value > 0.0` as a double literal printed "0" next to an
    # int64 literal for the int32 column; results must be right either way.
    _polars_filtered(
        ds, table,
        (pl.col("grp") == 2) & (pl.col("value") > 0.0),
        (pc.field("grp") == 2) & (pc.field("value") > 0.0),
    )


def test_polars_whole_number_float_literal_is_pushed_down(ds, table, scans):
    _polars_filtered(
        ds, table,
        (pl.col("grp") == 2) & (pl.col("value") > 0.0),
        (pc.field("grp") == 2) & (pc.field("value") > 0.0),
    )
    assert scans[-1]["sql"] is not None


def test_polars_is_in_and_null_filters(ds, table):
    frame = (
        pl.scan_pyarrow_dataset(ds)
        .filter(pl.col("name").is_in(["name5", "name6"]) | pl.col("value").is_null())
        .select("id")
        .collect()
    )
    expected = table.filter(pc.field("name").isin(["name5", "name6"]) | pc.field("value").is_null())
    assert sorted(frame["id"].to_list()) == ids(expected)


def test_polars_head_and_len(ds, table):
    assert pl.scan_pyarrow_dataset(ds).head(5).collect()["id"].to_list() == [0, 1, 2, 3, 4]
    got = pl.scan_pyarrow_dataset(ds).filter(pl.col("id") > 900).head(3).select("id").collect()
    assert got["id"].to_list() == [901, 902, 903]
    assert pl.scan_pyarrow_dataset(ds).select(pl.len()).collect().item() == 1000


def test_polars_dataframe_in_and_out(tmp_path):
    df = pl.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"], "c": [0.5, 1.5, None]})
    ds = pilum.write_dataset(df, str(tmp_path / "pl"))
    back = pl.from_arrow(ds.to_table())
    assert back.equals(df)
    back2 = pl.DataFrame(ds.scanner(filter="a > 1").to_reader())
    assert back2["a"].to_list() == [2, 3]


# ----------------------------------------------------------------------------- arrow


def _capsule_name(capsule) -> bytes:
    getter = ctypes.pythonapi.PyCapsule_GetName
    getter.restype = ctypes.c_char_p
    getter.argtypes = [ctypes.py_object]
    return getter(capsule)


def test_arrow_c_stream_exports(ds, table):
    scanner = ds.scanner(columns=["id", "name"], filter="grp = 1")
    capsule = scanner.__arrow_c_stream__()
    assert _capsule_name(capsule) == b"arrow_array_stream"
    reader = pa.RecordBatchReader.from_stream(ds.scanner(columns=["id", "name"], filter="grp = 1"))
    expected = table.filter(pc.field("grp") == 1).select(["id", "name"])
    assert_tables_equal(reader.read_all(), expected)
    # Readers and tables handed out export the interface too.
    native_reader = ds.scanner().to_reader()
    assert hasattr(native_reader, "__arrow_c_stream__")
    assert_tables_equal(pa.RecordBatchReader.from_stream(native_reader).read_all(), table)
    assert hasattr(ds.to_table(), "__arrow_c_stream__")
    assert _capsule_name(ds.__arrow_c_stream__()) == b"arrow_array_stream"
    # A requested schema is honoured (cast on export).
    wanted = pa.schema([("id", pa.int64()), ("name", pa.large_string())])
    cast = pa.RecordBatchReader.from_stream(ds.scanner(columns=["id", "name"]), schema=wanted)
    assert cast.schema == wanted
    assert cast.read_all()["name"].to_pylist() == table["name"].to_pylist()


def test_stream_is_lazy_and_batched(tmp_path):
    table = pa.table({"id": pa.array(range(20_000), pa.int64())})
    ds = pilum.write_dataset(table, str(tmp_path / "lazy"), max_rows_per_file=5_000)
    reader = pa.RecordBatchReader.from_stream(ds.scanner(batch_size=1000))
    first = reader.read_next_batch()
    assert first.num_rows <= 1000
    assert first["id"][0].as_py() == 0
    rest = reader.read_all()
    assert first.num_rows + rest.num_rows == 20_000


def test_pyarrow_dataset_protocol(ds, table):
    import pyarrow.dataset as pds

    assert isinstance(ds, pds.Dataset)
    scanner = ds.scanner(columns=["id"], filter=pc.field("grp") == 0)
    assert isinstance(scanner, pds.Scanner)
    assert ids(scanner.to_table()) == ids(table.filter(pc.field("grp") == 0))
    assert ds.count_rows(filter=pc.field("grp") == 0) == table.filter(pc.field("grp") == 0).num_rows
    assert_tables_equal(ds.head(3), table.slice(0, 3))
    assert_tables_equal(scanner.take([1, 0]), table.filter(pc.field("grp") == 0).select(["id"]).take([1, 0]))


def test_pandas_out(ds, table):
    df = ds.to_pandas()
    assert list(df.columns) == table.column_names
    assert df["id"].tolist() == list(range(1000))
    assert df["value"].isna().sum() == table["value"].null_count
    df2 = ds.to_table(columns=["id"], filter="grp = 9").to_pandas()
    assert df2["id"].tolist() == ids(table.filter(pc.field("grp") == 9))


# ----------------------------------------------------------------------------- dataset to dataset


def test_write_from_materialized_pilum_table(ds, table, tmp_path):
    copy = pilum.write_dataset(ds.to_table(filter="grp = 1"), str(tmp_path / "copy"))
    assert ids(copy.to_table()) == ids(table.filter(pc.field("grp") == 1))




@pytest.mark.parametrize("source", ["dataset", "scanner", "reader"])
def test_write_dataset_from_pilum_stream(ds, table, tmp_path, source):
    data = {
        "dataset": lambda: ds,
        "scanner": lambda: ds.scanner(filter="grp = 1"),
        "reader": lambda: ds.scanner(filter="grp = 1").to_reader(),
    }[source]()
    copy = pilum.write_dataset(data, str(tmp_path / "copy"))
    expected = table if source == "dataset" else table.filter(pc.field("grp") == 1)
    assert ids(copy.to_table()) == ids(expected)


def test_overwrite_dataset_from_its_own_scan(ds, table):
    new = pilum.write_dataset(ds.scanner(filter="id >= 500"), ds.uri, mode="overwrite")
    assert ids(new.to_table()) == list(range(500, 1000))


def test_merge_insert_from_pilum_reader(ds, tmp_path, table):
    other = pilum.write_dataset(table.slice(0, 10), str(tmp_path / "other"))
    other.update({"name": "'changed'"})
    result = ds.merge_insert("id").when_matched_update_all().execute(other.scanner().to_reader())
    assert result["num_updated_rows"] == 10


def test_lance_and_pilum_consume_each_others_scans(ds, table, tmp_path):
    lance = pytest.importorskip("lance")
    lds = lance.write_dataset(ds.scanner(filter="grp = 2"), str(tmp_path / "to_lance"))
    assert lds.count_rows() == table.filter(pc.field("grp") == 2).num_rows
    back = pilum.write_dataset(lds.scanner(columns=["id"], filter="id < 50"), str(tmp_path / "from_lance"))
    assert ids(back.to_table()) == [i for i in ids(table.filter(pc.field("grp") == 2)) if i < 50]
