"""write_dataset inputs and modes; reading with to_table / to_batches /
scanner / take / head / count_rows / fragments; row ids; pickling."""

from __future__ import annotations

import os
import pathlib
import pickle

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum
from _helpers import assert_tables_equal, ids, make_table, rows


class CStreamOnly:
    """Exposes nothing but ``__arrow_c_stream__`` (like third-party libraries)."""

    def __init__(self, table: pa.Table):
        self._table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self._table.__arrow_c_stream__(requested_schema)


# ----------------------------------------------------------------------------- inputs


def _as(kind: str, table: pa.Table):
    if kind == "table":
        return table
    if kind == "reader":
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=128))
    if kind == "pandas":
        pytest.importorskip("pandas")
        return table.to_pandas()
    if kind == "polars":
        pl = pytest.importorskip("polars")
        return pl.from_arrow(table)
    if kind == "c_stream":
        return CStreamOnly(table)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["table", "reader", "pandas", "polars", "c_stream"])
def test_write_accepts_every_input_kind(kind, tmp_path):
    table = make_table(500, seed=1)
    ds = pilum.write_dataset(_as(kind, table), str(tmp_path / kind))
    assert isinstance(ds, pilum.PilumDataset)
    assert isinstance(ds, pilum.LanceDataset)
    assert ds.version == 1
    assert ds.count_rows() == 500
    got = ds.to_table()
    assert got.column_names == table.column_names
    # Pandas/polars may widen string types; the values must be identical.
    assert rows(got) == rows(table)
    # Reopening from storage gives the same content.
    again = pilum.dataset(str(tmp_path / kind))
    assert rows(again.to_table()) == rows(table)


def test_write_table_keeps_exact_schema_and_values(table, uri):
    ds = pilum.write_dataset(table, uri)
    assert ds.schema == table.schema
    assert_tables_equal(ds.to_table(), table)
    assert ds.uri == uri


def test_write_pandas_roundtrip_to_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "a": np.arange(20, dtype=np.int64),
            "b": [f"s{i}" if i % 3 else None for i in range(20)],
            "c": np.linspace(0.0, 1.0, 20),
        }
    )
    ds = pilum.write_dataset(df, str(tmp_path / "pd"))
    out = ds.to_pandas()
    assert list(out.columns) == ["a", "b", "c"]
    assert out["a"].tolist() == df["a"].tolist()
    assert out["c"].tolist() == df["c"].tolist()
    assert [None if pd.isna(v) else v for v in out["b"]] == [None if pd.isna(v) else v for v in df["b"]]


def test_schema_argument_casts_input(tmp_path):
    data = pa.table({"a": pa.array([1, 2, 3], pa.int32()), "b": ["x", "y", "z"]})
    schema = pa.schema([("a", pa.int64()), ("b", pa.large_string())])
    ds = pilum.write_dataset(data, str(tmp_path / "s"), schema=schema)
    assert ds.schema.field("a").type == pa.int64()
    assert ds.schema.field("b").type == pa.large_string()
    assert ds.to_table().to_pydict() == {"a": [1, 2, 3], "b": ["x", "y", "z"]}


def test_uri_may_be_pathlike_or_dataset(tmp_path, small_table):
    path = pathlib.Path(tmp_path) / "p"
    ds = pilum.write_dataset(small_table, path)
    assert ds.uri == os.fspath(path)
    ds2 = pilum.write_dataset(small_table, ds, mode="append")
    assert ds2.version == 2
    assert pilum.dataset(path).count_rows() == 20


def test_unknown_keyword_is_type_error_lance_only_ones_accepted(tmp_path, small_table):
    with pytest.raises(TypeError):
        pilum.write_dataset(small_table, str(tmp_path / "a"), not_an_option=1)
    ds = pilum.write_dataset(small_table, str(tmp_path / "b"), max_rows_per_group=4, data_storage_version="stable")
    assert ds.count_rows() == 10


def test_empty_table_creates_dataset_with_schema(tmp_path):
    schema = pa.schema([("a", pa.int64()), ("b", pa.string())])
    ds = pilum.write_dataset(schema.empty_table(), str(tmp_path / "e"))
    assert ds.count_rows() == 0
    assert ds.schema == schema
    assert ds.to_table().num_rows == 0
    ds2 = pilum.write_dataset(pa.table({"a": [1], "b": ["x"]}, schema=schema), str(tmp_path / "e"), mode="append")
    assert ds2.to_table().to_pydict() == {"a": [1], "b": ["x"]}


def test_nested_and_vector_types_roundtrip(tmp_path):
    table = pa.table(
        {
            "id": pa.array([0, 1, 2, 3], pa.int64()),
            "tags": pa.array([["a", "b"], [], None, ["c"]], pa.list_(pa.string())),
            "emb": pa.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]], pa.list_(pa.float32(), 2)),
            "pt": pa.array([{"x": 1, "y": "a"}, None, {"x": 3, "y": None}, {"x": 4, "y": "d"}],
                           pa.struct([("x", pa.int64()), ("y", pa.string())])),
            "ts": pa.array([0, 1_000_000, None, 3], pa.timestamp("us", tz="UTC")),
            "d": pa.array([1, 2, 3, None], pa.date32()),
        }
    )
    ds = pilum.write_dataset(table, str(tmp_path / "n"))
    assert ds.schema == table.schema
    assert_tables_equal(ds.to_table(), table)
    assert_tables_equal(ds.take([3, 0], columns=["emb", "pt"]), table.take([3, 0]).select(["emb", "pt"]))


# ----------------------------------------------------------------------------- modes


def test_modes_create_append_overwrite(table, uri):
    first = pilum.write_dataset(table.slice(0, 100), uri)
    assert (first.version, first.count_rows()) == (1, 100)
    with pytest.raises(pilum.DatasetAlreadyExistsError):
        pilum.write_dataset(table.slice(0, 10), uri, mode="create")
    appended = pilum.write_dataset(table.slice(100, 50), uri, mode="append")
    assert (appended.version, appended.count_rows()) == (2, 150)
    assert ids(appended.to_table(columns=["id"])) == list(range(150))
    other = pa.table({"other": pa.array(["a", "b"])})
    over = pilum.write_dataset(other, uri, mode="overwrite")
    assert over.version == 3
    assert over.schema == other.schema
    assert over.to_table().to_pydict() == {"other": ["a", "b"]}
    # Older versions stay readable with their own schema and rows.
    assert pilum.dataset(uri, version=2).count_rows() == 150
    assert pilum.dataset(uri, version=2).schema == table.schema
    assert [v["operation"] for v in over.versions()][0] == "create"


def test_append_creates_missing_dataset_and_overwrite_too(tmp_path, small_table):
    a = pilum.write_dataset(small_table, str(tmp_path / "a"), mode="append")
    assert a.count_rows() == 10
    o = pilum.write_dataset(small_table, str(tmp_path / "o"), mode="overwrite")
    assert o.count_rows() == 10


def test_invalid_mode_is_value_error(small_table, tmp_path):
    with pytest.raises(ValueError):
        pilum.write_dataset(small_table, str(tmp_path / "m"), mode="upsert")
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


def test_insert_method_appends_and_moves_handle(small_ds, small_table):
    small_ds.insert(small_table.slice(0, 3))
    assert small_ds.version == 2
    assert small_ds.count_rows() == 13
    small_ds.insert(small_table.slice(0, 2), mode="overwrite")
    assert small_ds.count_rows() == 2


def test_max_rows_per_file_splits_fragments(table, uri):
    ds = pilum.write_dataset(table, uri, max_rows_per_file=300)
    frags = ds.get_fragments()
    assert [f.count_rows() for f in frags] == [300, 300, 300, 100]
    assert sum(f.physical_rows for f in frags) == 1000
    for f in frags:
        assert f.num_deletions == 0
        assert f.deletion_file() is None
        for path, size in zip(f.data_files(), f.data_file_sizes()):
            full = os.path.join(uri, path)
            assert path.startswith("data/")
            assert os.path.getsize(full) == size
    assert_tables_equal(ds.to_table(), table)


def test_max_bytes_per_file_splits_fragments(tmp_path):
    table = pa.table({"id": pa.array(range(5000), pa.int64()), "s": [f"str{i:06d}" for i in range(5000)]})
    one = pilum.write_dataset(table, str(tmp_path / "one"))
    assert len(one.get_fragments()) == 1
    ds = pilum.write_dataset(table, str(tmp_path / "many"), max_bytes_per_file=20_000)
    assert len(ds.get_fragments()) > 1
    assert_tables_equal(ds.to_table(), table)


# ----------------------------------------------------------------------------- reading


@pytest.mark.parametrize(
    "sql, expr",
    [
        ("id < 17", pc.field("id") < 17),
        ("value > 0.5 AND grp IN (1, 2)", (pc.field("value") > 0.5) & pc.field("grp").isin([1, 2])),
        ("name IS NULL", pc.field("name").is_null()),
        ("name = 'name3' OR flag", (pc.field("name") == "name3") | pc.field("flag")),
        ("NOT flag", ~pc.field("flag")),
        ("name = 'it''s \"quoted\"'", pc.field("name") == "it's \"quoted\""),
        ("grp * 2 + 1 = 7", pc.field("grp") * 2 + 1 == 7),
        ("name LIKE 'name1%'", pc.starts_with(pc.field("name"), "name1")),
    ],
)
def test_sql_filter_matches_pyarrow_oracle(ds, table, sql, expr):
    expected = table.filter(expr)
    got = ds.to_table(filter=sql)
    assert_tables_equal(got, expected)
    assert ds.count_rows(filter=sql) == expected.num_rows
    assert ds.count_rows(sql) == expected.num_rows


def test_projection_filter_limit_offset(ds, table):
    expected = table.filter(pc.field("grp") == 4).select(["name", "id"]).slice(5, 7)
    got = ds.to_table(columns=["name", "id"], filter="grp = 4", limit=7, offset=5)
    assert_tables_equal(got, expected)
    assert ds.to_table(limit=3).num_rows == 3
    assert ds.to_table(limit=0).num_rows == 0
    assert ds.to_table(offset=995).num_rows == 5
    assert ds.to_table(offset=5000).num_rows == 0
    assert ids(ds.to_table(columns=["id"], offset=299, limit=3)) == [299, 300, 301]
    with pytest.raises(ValueError):
        ds.to_table(limit=-1)
    with pytest.raises(ValueError):
        ds.to_table(offset=-1)


def test_column_order_follows_request(ds, table):
    got = ds.to_table(columns=["flag", "id"])
    assert got.column_names == ["flag", "id"]
    assert_tables_equal(got, table.select(["flag", "id"]))


def test_columns_as_sql_expressions(ds, table):
    got = ds.to_table(columns={"twice": "id * 2", "up": "upper(name)", "g": "grp"}, filter="grp = 3")
    assert got.column_names == ["twice", "up", "g"]
    expected = table.filter(pc.field("grp") == 3)
    # Compare as multisets: the SQL path need not preserve order (see the
    # separate ordering test below).
    want = sorted(
        zip(pc.multiply(expected["id"], 2).to_pylist(), pc.utf8_upper(expected["name"]).to_pylist(),
            expected["grp"].to_pylist()),
        key=repr,
    )
    have = sorted(zip(got["twice"].to_pylist(), got["up"].to_pylist(), got["g"].to_pylist()), key=repr)
    assert have == want
    assert ds.scanner(columns={"twice": "id * 2"}).projected_schema.names == ["twice"]


def test_columns_as_sql_expressions_keep_scan_order_and_limit_offset(tmp_path):
    table = pa.table({"id": pa.array(range(2000), pa.int64())})
    ds = pilum.write_dataset(table, str(tmp_path / "o"), max_rows_per_file=100)
    for _ in range(3):
        assert ds.to_table(columns={"x": "id"}, filter="id % 3 = 0")["x"].to_pylist() == list(range(0, 2000, 3))
        assert ds.to_table(columns={"x": "id"}, limit=5, offset=1000)["x"].to_pylist() == [1000, 1001, 1002, 1003, 1004]
        assert ds.to_table(columns={"x": "id"}, filter="id % 3 = 0", limit=3, offset=100)["x"].to_pylist() == [
            300, 303, 306,
        ]


def test_to_batches_respects_batch_size(ds, table):
    batches = list(ds.to_batches(batch_size=128))
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    assert all(b.num_rows <= 128 for b in batches)
    assert sum(b.num_rows for b in batches) == 1000
    assert_tables_equal(pa.Table.from_batches(batches), table)
    filtered = pa.Table.from_batches(list(ds.to_batches(columns=["id"], filter="grp = 2")), schema=pa.schema([("id", pa.int64())]))
    assert ids(filtered) == ids(table.filter(pc.field("grp") == 2))


def test_scanner_to_table_reader_and_counts(ds, table):
    scanner = ds.scanner(columns=["id", "value"], filter="value > 1.0", limit=10, offset=2)
    assert isinstance(scanner, pilum.PilumScanner)
    expected = table.filter(pc.field("value") > 1.0).select(["id", "value"]).slice(2, 10)
    assert_tables_equal(scanner.to_table(), expected)
    reader = scanner.to_reader()
    assert isinstance(reader, pa.RecordBatchReader)
    assert reader.schema == expected.schema
    assert_tables_equal(reader.read_all(), expected)
    assert scanner.count_rows() == 10
    assert scanner.projected_schema == expected.schema
    assert scanner.dataset_schema == table.schema
    assert ds.scanner(filter="value > 1.0").count_rows() == table.filter(pc.field("value") > 1.0).num_rows
    # head() of a scanner that already has a limit.
    assert_tables_equal(ds.scanner(columns=["id"], limit=10).head(4), table.select(["id"]).slice(0, 4))


def test_scanner_head_without_limit(ds, table):
    assert_tables_equal(ds.scanner(columns=["id"]).head(4), table.select(["id"]).slice(0, 4))


def test_take_positions_in_order(ds, table):
    idx = [999, 0, 300, 299, 0, 512]
    assert_tables_equal(ds.take(idx), table.take(idx))
    assert_tables_equal(ds.take(np.array(idx), columns=["name", "id"]), table.take(idx).select(["name", "id"]))
    assert_tables_equal(ds.take(pa.array(idx, pa.uint64()), columns=["id"]), table.take(idx).select(["id"]))
    assert ds.take([]).num_rows == 0


def test_take_skips_deleted_rows(ds, table):
    ds.delete("id % 2 = 0")
    # Position 0 is now the first live row, id 1.
    assert ids(ds.take([0, 1, 499], columns=["id"])) == [1, 3, 999]
    with pytest.raises(pilum.RowNotFoundError):
        ds.take([500])


def test_head(ds, table):
    assert_tables_equal(ds.head(5), table.slice(0, 5))
    assert_tables_equal(ds.head(3, columns=["id"], filter="grp = 1"), table.filter(pc.field("grp") == 1).select(["id"]).slice(0, 3))
    assert ds.head(5000).num_rows == 1000


def test_row_ids_are_stable_and_take_rows(ds, table):
    with_ids = ds.to_table(columns=["id"], with_row_id=True)
    assert with_ids.column_names == ["id", "_rowid"]
    assert with_ids.schema.field("_rowid").type == pa.uint64()
    id_to_rowid = dict(zip(ids(with_ids), with_ids["_rowid"].to_pylist()))
    assert len(set(id_to_rowid.values())) == 1000
    ds.delete("id < 500")
    after = ds.to_table(columns=["id"], with_row_id=True)
    assert ids(after) == list(range(500, 1000))
    for i, r in zip(ids(after), after["_rowid"].to_pylist()):
        assert id_to_rowid[i] == r
    picked = [id_to_rowid[900], id_to_rowid[501]]
    assert ids(ds.take_rows(picked, columns=["id"])) == [900, 501]
    assert ids(ds._take_rows(picked)) == [900, 501]
    with pytest.raises(pilum.RowNotFoundError):
        ds.take_rows([id_to_rowid[3]])  # deleted
    addr = ds.to_table(columns=["id"], with_row_address=True)
    assert "_rowaddr" in addr.column_names and addr.num_rows == 500


def test_fragments_api(ds, table):
    frags = ds.get_fragments()
    assert len(frags) == 4
    assert all(isinstance(f, pilum.PilumFragment) for f in frags)
    start = 0
    for f in frags:
        n = f.count_rows()
        assert_tables_equal(f.to_table(), table.slice(start, n))
        assert_tables_equal(f.to_table(columns=["id"], filter="grp = 5"),
                            table.slice(start, n).filter(pc.field("grp") == 5).select(["id"]))
        assert f.count_rows("grp = 5") == table.slice(start, n).filter(pc.field("grp") == 5).num_rows
        assert ids(f.take([0, n - 1], columns=["id"])) == [start, start + n - 1]
        assert ds.get_fragment(f.fragment_id).fragment_id == f.fragment_id
        start += n
    second = frags[1]
    got = ds.scanner(fragments=[second], columns=["id"]).to_table()
    assert ids(got) == list(range(300, 600))
    got = ds.to_table(fragments=[frags[3].fragment_id, frags[0].fragment_id], columns=["id"])
    assert sorted(ids(got)) == list(range(0, 300)) + list(range(900, 1000))
    with pytest.raises(IndexError):
        frags[3].take([100])
    ds.delete("id = 301")
    f1 = ds.get_fragment(second.fragment_id)
    assert f1.num_deletions == 1 and f1.count_rows() == 299
    assert f1.deletion_file() is not None
    assert os.path.exists(os.path.join(ds.uri, f1.deletion_file()))


def test_dataset_is_pyarrow_dataset_and_exports_stream(ds, table):
    import pyarrow.dataset as pds

    assert isinstance(ds, pds.Dataset)
    assert_tables_equal(pa.RecordBatchReader.from_stream(ds).read_all(), table)
    assert_tables_equal(pa.table(ds.to_table()), table)


# ----------------------------------------------------------------------------- pickling


def test_pickle_roundtrip_keeps_version(ds, table, uri):
    ds.delete("id >= 100")
    assert ds.version == 2
    clone = pickle.loads(pickle.dumps(ds))
    assert isinstance(clone, pilum.PilumDataset)
    assert (clone.uri, clone.version) == (uri, 2)
    assert clone.count_rows() == 100
    pilum.write_dataset(table, uri, mode="append")
    old = pickle.loads(pickle.dumps(ds))
    assert old.version == 2
    assert old.count_rows() == 100
    assert old.latest_version == 3
    v1 = pickle.loads(pickle.dumps(ds.checkout_version(1)))
    assert (v1.version, v1.count_rows()) == (1, 1000)


def test_repr_mentions_uri_and_version(small_ds, uri):
    text = repr(small_ds)
    assert uri in text and "version=1" in text


def test_unicode_names_timestamps_and_struct_filters(tmp_path):
    import datetime as dt

    table = pa.table({
        "id": pa.array(range(10), pa.int64()),
        "ünï côl": [f"s{i}" for i in range(10)],
        "ts": pa.array([dt.datetime(2024, 1, 1) + dt.timedelta(days=i) for i in range(10)], pa.timestamp("us")),
        "pt": pa.array([{"x": i, "y": str(i)} for i in range(10)], pa.struct([("x", pa.int64()), ("y", pa.string())])),
    })
    ds = pilum.write_dataset(table, str(tmp_path / "u"), max_rows_per_file=4)
    assert ids(ds.to_table(filter="\"ünï côl\" = 's3'")) == [3]
    assert ids(ds.to_table(filter=pc.field("ünï côl") == "s3")) == [3]
    assert ids(ds.to_table(filter="ts > TIMESTAMP '2024-01-05 00:00:00'")) == [5, 6, 7, 8, 9]
    assert ids(ds.to_table(filter="pt.x > 7")) == [8, 9]
    assert ds.to_table(columns=["ünï côl"], limit=2).to_pydict() == {"ünï côl": ["s0", "s1"]}
    # An empty projection still counts rows.
    assert ds.to_table(columns=[]).num_rows == 10
    ds.alter_columns({"path": "pt.x", "name": "xx"})
    assert ds.schema.field("pt").type == pa.struct([("xx", pa.int64()), ("y", pa.string())])
    assert ds.to_table(columns=["pt"], filter="id = 2")["pt"].to_pylist() == [{"xx": 2, "y": "2"}]
