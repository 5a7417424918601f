"""datafusion-python 55 queries Pilum datasets through ``__datafusion_table_provider__``."""

from __future__ import annotations

import datafusion
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum


def _register(ds, name="t"):
    ctx = datafusion.SessionContext()
    ctx.register_table(name, ds)
    return ctx


def _query(ctx, sql: str) -> pa.Table:
    return ctx.sql(sql).to_arrow_table()


def test_scan_filter_and_aggregate_match_pyarrow(uri, table):
    ds = pilum.write_dataset(table, uri, max_rows_per_file=300)
    ctx = _register(ds)
    got = _query(ctx, "SELECT id, name FROM t WHERE grp = 3 AND value > 0 ORDER BY id")
    mask = pc.and_(pc.equal(table["grp"], 3), pc.greater(table["value"], 0))
    want = table.filter(mask).select(["id", "name"])
    assert got["id"].to_pylist() == want["id"].to_pylist()
    assert got["name"].to_pylist() == want["name"].to_pylist()
    counts = _query(ctx, "SELECT grp, count(*) AS n, count(value) AS nv FROM t GROUP BY grp ORDER BY grp")
    for row in counts.to_pylist():
        rows = table.filter(pc.equal(table["grp"], row["grp"]))
        assert row["n"] == rows.num_rows
        assert row["nv"] == rows.num_rows - rows["value"].null_count


def test_deleted_rows_stay_hidden_and_version_is_pinned(uri, table):
    ds = pilum.write_dataset(table, uri)
    ds.delete("id < 100")
    ctx = _register(ds)
    assert _query(ctx, "SELECT min(id) AS m, count(*) AS n FROM t").to_pylist() == [{"m": 100, "n": 900}]
    old = ds.checkout_version(1)
    ctx.register_table("old", old)
    assert _query(ctx, "SELECT count(*) AS n FROM old").to_pylist() == [{"n": 1000}]


def test_join_with_a_datafusion_table(uri, table):
    ds = pilum.write_dataset(table, uri)
    ctx = _register(ds)
    ctx.from_pydict({"grp": [1, 2], "label": ["one", "two"]}, name="labels")
    got = _query(ctx, "SELECT label, count(*) AS n FROM t JOIN labels USING (grp) GROUP BY label ORDER BY label")
    want = [
        {"label": label, "n": table.filter(pc.equal(table["grp"], g)).num_rows}
        for g, label in [(1, "one"), (2, "two")]
    ]
    assert got.to_pylist() == want


def test_insert_into_commits_one_version(uri, table):
    ds = pilum.write_dataset(table.slice(0, 10), uri)
    ctx = _register(ds)
    _query(ctx, "INSERT INTO t SELECT id + 1000, grp, value, name, flag FROM t WHERE id < 3")
    latest = pilum.dataset(uri)
    assert latest.version == ds.version + 1
    assert sorted(latest.to_table(columns=["id"])["id"].to_pylist()) == list(range(10)) + [1000, 1001, 1002]


def test_bad_session_argument_is_a_type_error(uri, table):
    ds = pilum.write_dataset(table, uri)
    with pytest.raises(TypeError):
        ds.__datafusion_table_provider__(object())


def test_sql_errors_surface_as_datafusion_errors(uri, table):
    ds = pilum.write_dataset(table, uri)
    ctx = _register(ds)
    with pytest.raises(Exception, match="no_such_column"):
        _query(ctx, "SELECT no_such_column FROM t")


def test_projection_filter_and_limit_are_pushed_into_the_scan(uri, table):
    ds = pilum.write_dataset(table, uri)
    ctx = _register(ds)
    plans = {r["plan_type"]: r["plan"] for r in _query(ctx, "EXPLAIN SELECT id FROM t WHERE grp = 1 LIMIT 5").to_pylist()}
    scan = plans["logical_plan"].splitlines()[-1]
    assert "projection=[id]" in scan and "full_filters=[t.grp = " in scan and "fetch=5" in scan
    assert "PilumScanExec" in plans["physical_plan"]
    got = _query(ctx, "SELECT id FROM t WHERE grp = 1 LIMIT 5")["id"].to_pylist()
    assert len(got) == 5 and set(got) <= set(table.filter(pc.equal(table["grp"], 1))["id"].to_pylist())
