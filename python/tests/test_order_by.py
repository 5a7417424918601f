"""``order_by`` on scans, checked against pyarrow's sort (and pylance's)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum
from pilum import ColumnOrdering
from _helpers import assert_tables_equal, ids

# (order_by, the equivalent pyarrow sort keys); "id" (unique) breaks every tie.
ORDERINGS = [
    (["value", "id"], [("value", "ascending", "at_end"), ("id", "ascending", "at_end")]),
    ([ColumnOrdering("value", ascending=False, nulls_first=True), "id"],
     [("value", "descending", "at_start"), ("id", "ascending", "at_end")]),
    ([ColumnOrdering("name", nulls_first=True), ColumnOrdering("id", ascending=False)],
     [("name", "ascending", "at_start"), ("id", "descending", "at_end")]),
    ([("grp", "descending"), ColumnOrdering("flag", ascending=False), "id"],
     [("grp", "descending", "at_end"), ("flag", "descending", "at_end"), ("id", "ascending", "at_end")]),
]


def pyarrow_sorted(table: pa.Table, keys) -> pa.Table:
    return table.take(pc.sort_indices(table, sort_keys=keys))


@pytest.mark.parametrize("order_by, keys", ORDERINGS)
def test_full_order_matches_pyarrow(ds, table, order_by, keys):
    assert_tables_equal(ds.to_table(order_by=order_by), pyarrow_sorted(table, keys))


@pytest.mark.parametrize("order_by, keys", ORDERINGS)
def test_order_with_columns_filter_limit_offset(ds, table, order_by, keys):
    expected = pyarrow_sorted(table.filter(pc.field("grp") > 2), keys).select(["id", "name"])
    for filter in ("grp > 2", pc.field("grp") > 2):
        got = ds.to_table(columns=["id", "name"], filter=filter, order_by=order_by, limit=25, offset=10)
        assert_tables_equal(got, expected.slice(10, 25))
        assert_tables_equal(ds.to_table(columns=["id", "name"], filter=filter, order_by=order_by, offset=700), expected.slice(700))
    assert_tables_equal(ds.head(7, columns=["id", "name"], filter="grp > 2", order_by=order_by), expected.slice(0, 7))
    scanner = ds.scanner(columns=["id", "name"], filter="grp > 2", order_by=order_by, limit=50)
    assert scanner.count_rows() == 50
    assert_tables_equal(scanner.take([49, 0, 3]), expected.take([49, 0, 3]))
    assert_tables_equal(scanner.head(5), expected.slice(0, 5))
    batches = list(ds.to_batches(columns=["id", "name"], filter="grp > 2", order_by=order_by, batch_size=16))
    assert max(b.num_rows for b in batches) <= 16
    assert_tables_equal(pa.Table.from_batches(batches), expected)


def test_ties_keep_each_key_group(ds, table):
    got = ds.to_table(columns=["grp", "id"], order_by=[ColumnOrdering("grp", ascending=False)])
    assert got["grp"].to_pylist() == sorted(table["grp"].to_pylist(), reverse=True)
    for grp in range(10):
        in_group = [i for g, i in zip(got["grp"].to_pylist(), ids(got)) if g == grp]
        assert sorted(in_group) == ids(table.filter(pc.field("grp") == grp))
    top = ds.to_table(columns=["grp"], order_by=["grp"], limit=30)
    assert top["grp"].to_pylist() == sorted(table["grp"].to_pylist())[:30]


def test_order_by_forms(ds, table):
    expected = ids(pyarrow_sorted(table, [("value", "ascending", "at_end"), ("id", "ascending", "at_end")]))
    assert ids(ds.to_table(columns=["id"], order_by=["value", "id"])) == expected
    assert ids(ds.to_table(columns=["id"], order_by=("id", "descending"))) == list(range(999, -1, -1))
    assert ids(ds.to_table(columns=["id"], order_by="id", limit=3)) == [0, 1, 2]
    assert ids(ds.to_table(columns=["id"], order_by=ColumnOrdering("id", False), limit=2)) == [999, 998]
    assert_tables_equal(ds.to_table(order_by=[]), table)


def test_order_by_on_views_expressions_and_fragments_free_scans(ds, table):
    view = ds.filter("grp = 4")
    expected = table.filter(pc.field("grp") == 4).sort_by([("id", "descending")])
    assert ids(view.to_table(columns=["id"], order_by=[ColumnOrdering("id", False)], limit=5)) == ids(expected)[:5]
    got = ds.to_table(columns={"twice": "id * 2"}, filter="grp = 4", order_by=[ColumnOrdering("id", False)], limit=3)
    assert got["twice"].to_pylist() == [2 * i for i in ids(expected)[:3]]
    empty = ds.to_table(columns=[], order_by=["id"], limit=4)
    assert empty.num_columns == 0 and empty.num_rows == 4


def test_order_by_keeps_stored_types(tmp_path):
    table = pa.table({"k": pa.array([3, 1, 2], pa.int32()), "s": pa.array(["c", None, "b"], pa.large_string()),
                      "b": pa.array([b"x", b"y", None], pa.binary())})
    ds = pilum.write_dataset(table, str(tmp_path / "types"))
    got = ds.to_table(order_by=["k"])
    assert got.schema == ds.schema
    assert_tables_equal(got, table.sort_by("k"))


def test_order_by_combinations_it_cannot_run_raise(ds):
    for kwargs, name in (
        ({"with_row_id": True}, "with_row_id"),
        ({"with_row_address": True}, "with_row_address"),
        ({"fragments": [0]}, "fragments"),
        ({"filter": pc.field("value") * 2 > 1}, "SQL string"),
    ):
        with pytest.raises(NotImplementedError, match=name):
            ds.to_table(order_by=["id"], **kwargs)
    with pytest.raises(NotImplementedError, match="order_by"):
        ds.get_fragments()[0].to_table(order_by=["id"])
    with pytest.raises(NotImplementedError, match="scan_batches"):
        ds.scanner(order_by=["id"]).scan_batches()
    with pytest.raises(pilum.ColumnNotFoundError, match="nope"):
        ds.to_table(order_by=["nope"])
    with pytest.raises(TypeError, match="order_by"):
        ds.to_table(order_by=[42])


def test_order_by_matches_pylance(ds, table, tmp_path):
    lance = pytest.importorskip("lance")
    from lance.dataset import ColumnOrdering as LanceOrdering

    lds = lance.write_dataset(table, str(tmp_path / "lance"))
    for ordering in (LanceOrdering("value", ascending=False, nulls_first=False), LanceOrdering("name", nulls_first=True)):
        order_by = [ordering, LanceOrdering("id")]
        want = lds.to_table(columns=["id", "value", "name"], order_by=order_by, limit=40, offset=5)
        got = ds.to_table(columns=["id", "value", "name"], order_by=order_by, limit=40, offset=5)
        assert_tables_equal(got, want)
