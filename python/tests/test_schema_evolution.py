"""add_columns / drop_columns / alter_columns: schema changes without
rewriting existing data files."""

from __future__ import annotations

import pyarrow as pa
import pytest

import pilum
from _helpers import assert_tables_equal, ids, sort_by


def _files(ds):
    return {f.fragment_id: list(f.data_files()) for f in ds.get_fragments()}


def test_add_columns_sql_adds_one_file_per_fragment(ds, table, uri):
    before = _files(ds)
    ds.add_columns({"twice": "id * 2", "label": "concat('g', CAST(grp AS VARCHAR))"})
    assert ds.version == 2
    assert ds.schema.names == table.column_names + ["twice", "label"]
    got = ds.to_table()
    assert got["twice"].to_pylist() == [2 * i for i in range(1000)]
    assert got["label"].to_pylist() == [f"g{g}" for g in table["grp"].to_pylist()]
    assert_tables_equal(got.select(table.column_names), table)
    after = _files(ds)
    assert set(after) == set(before)
    for fid, files in before.items():
        # The old file is untouched; exactly one new file holds the new columns.
        assert after[fid][: len(files)] == files
        assert len(after[fid]) == len(files) + 1
    # Filters and projections on the new column work.
    assert ids(ds.to_table(columns=["id"], filter="twice < 10")) == [0, 1, 2, 3, 4]
    # Version 1 is unchanged.
    assert pilum.dataset(uri, version=1).schema == table.schema


def test_add_columns_nulls_from_field_list_and_schema(small_ds, small_table):
    before = _files(small_ds)
    small_ds.add_columns(pa.field("f1", pa.float32()))
    small_ds.add_columns([pa.field("f2", pa.string()), pa.field("f3", pa.list_(pa.int64()))])
    small_ds.add_columns(pa.schema([pa.field("f4", pa.int16())]))
    assert small_ds.version == 4
    assert small_ds.schema.names == ["id", "name", "x", "f1", "f2", "f3", "f4"]
    assert small_ds.schema.field("f1").type == pa.float32()
    assert small_ds.schema.field("f3").type == pa.list_(pa.int64())
    got = small_ds.to_table()
    for name in ["f1", "f2", "f3", "f4"]:
        assert got[name].null_count == 10
    assert _files(small_ds) == before  # metadata only
    # The new columns can then be filled with update.
    small_ds.update({"f4": "CAST(id AS SMALLINT)"})
    assert sort_by(small_ds.to_table(), "id")["f4"].to_pylist() == list(range(10))


def test_add_columns_rejects_bad_input(small_ds):
    with pytest.raises(TypeError):
        small_ds.add_columns(["not", "fields"])
    with pytest.raises(pilum.SchemaMismatchError):
        small_ds.add_columns({"id": "1"})
    with pytest.raises(pilum.ColumnNotFoundError):
        small_ds.add_columns({"y": "nope + 1"})
    with pytest.raises(pilum.InvalidFilterError):
        small_ds.add_columns({"y": "id +"})
    assert small_ds.version == 1


def test_drop_columns_is_metadata_only(ds, table, uri):
    before = _files(ds)
    ds.drop_columns(["value", "flag"])
    assert ds.schema.names == ["id", "grp", "name"]
    assert_tables_equal(ds.to_table(), table.select(["id", "grp", "name"]))
    assert _files(ds) == before
    with pytest.raises(pilum.ColumnNotFoundError):
        ds.to_table(columns=["value"])
    with pytest.raises(pilum.ColumnNotFoundError):
        ds.drop_columns(["value"])
    with pytest.raises(pilum.InvalidArgumentError):
        ds.drop_columns(["id", "grp", "name"])
    # The old version still has the dropped columns.
    assert pilum.dataset(uri, version=1).to_table(columns=["value"]).equals(table.select(["value"]))
    # A dropped name can be added again, fresh.
    ds.add_columns({"value": "grp + 0.5"})
    assert ds.to_table()["value"].to_pylist() == [g + 0.5 for g in table["grp"].to_pylist()]


def test_alter_columns_rename_nullable_and_cast(small_ds, small_table, uri):
    small_ds.alter_columns(
        {"path": "name", "name": "label"},
        {"path": "x", "data_type": pa.float32()},
        {"path": "id", "nullable": False},
    )
    schema = small_ds.schema
    assert schema.names == ["id", "label", "x"]
    assert schema.field("x").type == pa.float32()
    assert not schema.field("id").nullable
    got = small_ds.to_table()
    assert got["label"].to_pylist() == small_table["name"].to_pylist()
    assert got["x"].to_pylist() == [i / 2 for i in range(10)]  # exact in float32
    assert ids(small_ds.to_table(columns=["id"], filter="label = 'n3'")) == [3]
    # Appends now use the altered schema.
    new_rows = pa.table(
        {"id": pa.array([10], pa.int64()), "label": ["n10"], "x": pa.array([5.0], pa.float32())},
        schema=schema,
    )
    pilum.write_dataset(new_rows, uri, mode="append")
    assert pilum.dataset(uri).count_rows() == 11
    with pytest.raises(pilum.SchemaMismatchError):
        pilum.write_dataset(small_table, uri, mode="append")


def test_alter_columns_cast_int_narrowing_and_errors(small_ds):
    small_ds.alter_columns({"path": "id", "data_type": pa.int32()})
    assert small_ds.schema.field("id").type == pa.int32()
    assert small_ds.to_table()["id"].to_pylist() == list(range(10))
    with pytest.raises(ValueError):
        small_ds.alter_columns({"path": "id", "bogus": 1})
    with pytest.raises(ValueError):
        small_ds.alter_columns({"name": "no_path"})
    with pytest.raises(pilum.ColumnNotFoundError):
        small_ds.alter_columns({"path": "nope", "name": "x2"})
    with pytest.raises(pilum.PilumError):
        small_ds.alter_columns({"path": "name", "data_type": pa.int64()})  # 'n0' is not a number


def test_alter_nullable_false_rejected_when_nulls_present(ds):
    with pytest.raises(pilum.InvalidArgumentError):
        ds.alter_columns({"path": "value", "nullable": False})
    assert ds.schema.field("value").nullable


def test_alter_columns_rename_onto_existing_name_is_rejected(small_ds):
    with pytest.raises(pilum.PilumError):
        small_ds.alter_columns({"path": "id", "name": "name"})
    assert small_ds.schema.names == ["id", "name", "x"]


def test_schema_evolution_with_deletes_and_time_travel(ds, table, uri):
    ds.delete("id >= 500")
    ds.add_columns({"neg": "-id"})
    ds.alter_columns({"path": "neg", "name": "minus"})
    ds.drop_columns(["name"])
    got = ds.to_table(columns=["id", "minus"], filter="id % 100 = 0")
    assert got.to_pydict() == {"id": [0, 100, 200, 300, 400], "minus": [0, -100, -200, -300, -400]}
    assert [v["operation"] for v in ds.versions()][1:] == ["delete", "add_columns", "alter_columns", "drop_columns"]
    v3 = pilum.dataset(uri, version=3)
    assert v3.schema.names == table.column_names + ["neg"]
    assert v3.count_rows("neg < -400") == 99
