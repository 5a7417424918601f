"""SQL: ``ds.sql`` (the dataset is table ``dataset``) and ``pilum.Session``."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum
from _helpers import ids


def test_dataset_sql_aggregate_matches_pyarrow(ds, table):
    got = ds.sql(
        "SELECT grp, count(*) AS n, sum(id) AS s, count(name) AS named FROM dataset "
        "WHERE value > 0 GROUP BY grp ORDER BY grp"
    )
    assert isinstance(got, pa.Table)
    filtered = table.filter(pc.field("value") > 0)
    expected = filtered.group_by("grp").aggregate([("id", "count"), ("id", "sum"), ("name", "count")]).sort_by("grp")
    assert got["grp"].to_pylist() == expected["grp"].to_pylist()
    assert got["n"].to_pylist() == expected["id_count"].to_pylist()
    assert got["s"].to_pylist() == expected["id_sum"].to_pylist()
    assert got["named"].to_pylist() == expected["name_count"].to_pylist()


def test_dataset_sql_uses_the_object_version(ds, uri):
    old = pilum.dataset(uri, version=1)
    ds.delete("id >= 10")
    assert ds.sql("SELECT count(*) AS c FROM dataset").to_pydict() == {"c": [10]}
    assert old.sql("SELECT count(*) AS c FROM dataset").to_pydict() == {"c": [1000]}


def test_dataset_sql_returns_plain_strings_and_matches_after_filters(ds, table):
    # DataFusion works on string views inside; results keep the dataset's types.
    got = ds.sql("SELECT id, name FROM dataset WHERE name IS NOT NULL AND name >= 'name3' ORDER BY id")
    assert got.schema.field("name").type == pa.string()
    mask = pc.and_(pc.is_valid(table["name"]), pc.greater_equal(table["name"], "name3"))
    expected = table.filter(mask).sort_by("id")
    assert got["name"].to_pylist() == expected["name"].to_pylist()
    # min/max/count come from column statistics while nothing is deleted; they must match either way.
    stats = ds.sql("SELECT min(id) AS lo, max(id) AS hi, count(name) AS named FROM dataset").to_pydict()
    assert stats == {"lo": [0], "hi": [999], "named": [len(table) - table["name"].null_count]}
    ds.delete("id >= 990")
    again = ds.sql("SELECT max(id) AS hi FROM dataset").to_pydict()
    assert again == {"hi": [989]}


def test_dataset_sql_window_and_order(ds, table):
    got = ds.sql("SELECT id, row_number() OVER (ORDER BY id DESC) AS rn FROM dataset ORDER BY id LIMIT 3")
    assert got.to_pydict() == {"id": [0, 1, 2], "rn": [1000, 999, 998]}


def test_session_register_dataset_and_uri_and_join(ds, table, uri, tmp_path):
    labels = pa.table({"grp": pa.array(range(10), pa.int32()), "label": [f"L{g}" for g in range(10)]})
    labels_uri = str(tmp_path / "labels")
    pilum.write_dataset(labels, labels_uri)
    session = pilum.Session()
    session.register("items", ds)
    session.register("labels", labels_uri)
    got = session.sql(
        "SELECT i.id, l.label FROM items i JOIN labels l ON i.grp = l.grp WHERE i.id < 20 ORDER BY i.id"
    )
    assert got["id"].to_pylist() == list(range(20))
    assert got["label"].to_pylist() == [f"L{g}" for g in table["grp"].to_pylist()[:20]]


def test_session_register_version_and_replace(ds, uri):
    ds.delete("id >= 100")
    session = pilum.Session()
    session.register("t", uri, version=1)
    assert session.sql("SELECT count(*) AS c FROM t").to_pydict() == {"c": [1000]}
    session.register("t", ds)  # replaces the registration
    assert session.sql("SELECT count(*) AS c FROM t").to_pydict() == {"c": [100]}
    session.register("t", ds, version=1)
    assert session.sql("SELECT max(id) AS m FROM t").to_pydict() == {"m": [999]}
    ds.tags.create("small", 2)
    session.register("tagged", uri, version="small")
    assert session.sql("SELECT count(*) AS c FROM tagged").to_pydict() == {"c": [100]}


def test_session_errors(ds):
    session = pilum.Session()
    with pytest.raises(pilum.SqlError):
        session.sql("SELECT * FROM missing")
    session.register("t", ds)
    with pytest.raises(pilum.SqlError):
        session.sql("SELECT nope FROM t")
    with pytest.raises(pilum.DatasetNotFoundError):
        session.register("u", ds.uri + "_nothing")


def test_session_dml_commits_a_version(small_ds):
    session = pilum.Session()
    session.register("t", small_ds)
    session.sql("DELETE FROM t WHERE id < 5")
    assert pilum.dataset(small_ds.uri).count_rows() == 5


def test_to_table_columns_dict_uses_sql_expressions(ds, table):
    got = ds.to_table(columns={"id": "id", "b": "CASE WHEN flag THEN 1 ELSE 0 END"}, filter="grp = 7")
    got = got.sort_by("id")
    expected = table.filter(pc.field("grp") == 7)
    assert ids(got) == ids(expected)
    assert got["b"].to_pylist() == [1 if f else 0 for f in expected["flag"].to_pylist()]
    with pytest.raises(ValueError):
        ds.to_table(columns={"x": "id"}, with_row_id=True)
