"""Tables whose fragment list lives in fragment pages (dataset format 1.4),
through the Python API, on local disk and on S3 (moto): every read and
write agrees with a pyarrow model, appends share the pages they do not
change, time travel and cleanup keep what retained versions need, branches
and clones work, and damaged pages are reported as corruption.

The page size is set small (``pilum.fragments_per_page``) so that tables of
a few dozen fragments span many pages.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum
from _stores import _LocalStore, store  # noqa: F401  (the local/S3 store fixture)
from test_branches import _open
from test_s3 import moto_endpoint  # noqa: F401  (the session's moto server fixture)

ZERO = dt.timedelta(0)
SMALL = {"max_rows_per_file": 10}


def _rows(start: int, n: int) -> pa.Table:
    ids = pa.array(range(start, start + n), pa.int64())
    return pa.table({"id": ids, "v": pc.multiply(ids, 2), "tag": pa.array([f"t{i % 7}" for i in range(start, start + n)])})


def _sorted(table: pa.Table) -> pa.Table:
    return table.select(["id", "v", "tag"]).sort_by("id")


def _paged(store, name: str, fragments: int = 30, per_page: int = 4):
    ds = pilum.write_dataset(_rows(0, 10 * fragments), store.uri(name), storage_options=store.options, **SMALL)
    ds.update_config({"pilum.fragments_per_page": str(per_page)})
    return _open(store, name)


def _pages(store, name: str) -> set:
    return {f for f in store.files(name) if f.startswith("_fragments/")}


def test_every_read_and_write_agrees_with_a_model(store):
    ds = _paged(store, "t")
    model = _rows(0, 300)
    next_id = 300
    for step in range(6):
        pilum.write_dataset(_rows(next_id, 25), ds, mode="append", **SMALL)
        model = pa.concat_tables([model, _rows(next_id, 25)])
        next_id += 25
        ds = _open(store, "t")
        ds.delete(f"id % 9 = {step}")
        ids = model["id"].to_numpy()
        model = model.filter(pa.array(ids % 9 != step))
        ds.update({"v": "v + 1"}, where=f"id % 5 = {step % 5}")
        bump = pa.array(model["id"].to_numpy() % 5 == step % 5)
        model = model.set_column(1, "v", pc.if_else(bump, pc.add(model["v"], 1), model["v"]))
        if step % 2:
            ds.optimize.compact_files(target_rows_per_fragment=40)
        fresh = _open(store, "t")
        assert fresh.count_rows() == model.num_rows
        assert _sorted(fresh.to_table()).equals(_sorted(model))
        low, high = 100 + 10 * step, 160 + 10 * step
        keep = pc.and_(pc.greater_equal(model["id"], low), pc.less(model["id"], high))
        got = fresh.to_table(filter=f"id >= {low} AND id < {high}")
        assert _sorted(got).equals(_sorted(model.filter(keep)))
        assert fresh.count_rows("tag = 't3'") == pc.sum(pc.equal(model["tag"], "t3")).as_py()
        fragments = fresh.get_fragments()
        assert sum(f.count_rows() for f in fragments) == model.num_rows
    assert len(_pages(store, "t")) > 1


def test_appends_write_one_page_and_old_versions_keep_reading(store):
    ds = _paged(store, "a", fragments=24, per_page=4)
    first = ds.version
    before = _pages(store, "a")
    for i in range(5):
        pilum.write_dataset(_rows(1000 + 10 * i, 10), ds, mode="append", **SMALL)
        after = _pages(store, "a")
        assert len(after - before) == 1, "an append writes one new page"
        before = after
    latest = _open(store, "a")
    assert latest.count_rows() == 290
    old = latest.checkout_version(first)
    assert _sorted(old.to_table()).equals(_sorted(_rows(0, 240)))
    assert [v["version"] for v in latest.versions()][-1] == latest.version


def test_cleanup_keeps_exactly_the_pages_retained_versions_use(store):
    ds = _paged(store, "c", fragments=16, per_page=4)
    for i in range(4):
        pilum.write_dataset(_rows(500 + 10 * i, 10), ds, mode="append", **SMALL)
    ds = _open(store, "c")
    ds.delete("id = 3")
    ds = _open(store, "c")
    expected = _sorted(ds.to_table())
    pages_before = _pages(store, "c")
    ds.cleanup_old_versions(older_than=ZERO, delete_unverified=True)
    pages_after = _pages(store, "c")
    assert pages_after < pages_before, "pages only old versions used are gone"
    assert len(pages_after) >= len(ds.get_fragments()) // 4
    reopened = _open(store, "c")
    assert _sorted(reopened.to_table()).equals(expected)
    assert [v["version"] for v in reopened.versions()] == [reopened.version]


def test_branches_and_clones_of_a_paged_table(store):
    ds = _paged(store, "b", fragments=12, per_page=4)
    branch = ds.create_branch("exp")
    pilum.write_dataset(_rows(9000, 10), branch, mode="append", **SMALL)
    on_branch = _open(store, "b", branch="exp")
    assert on_branch.count_rows() == 130
    assert _open(store, "b").count_rows() == 120
    assert any(p.startswith("tree/") for p in store.files("b") if "/_fragments/" in p)
    clone = ds.shallow_clone(store.uri("b-clone"), ds.version, storage_options=store.options)
    assert _sorted(clone.to_table()).equals(_sorted(_rows(0, 120)))
    pilum.write_dataset(_rows(7000, 10), clone, mode="append", **SMALL)
    assert _open(store, "b-clone").count_rows() == 130
    assert _open(store, "b").count_rows() == 120


def test_a_damaged_page_is_a_corrupt_file_error_naming_it(tmp_path):
    local = _LocalStore(tmp_path)
    _paged(local, "d", fragments=8, per_page=2)
    page = sorted(_pages(local, "d"))[0]
    path = tmp_path / "d" / page
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x20
    path.write_bytes(bytes(data))
    pilum.clear_metadata_cache()
    ds = _open(local, "d")
    assert ds.count_rows() == 80  # from the manifest's page summaries
    with pytest.raises(pilum.CorruptFileError, match=page.split("/")[-1]):
        ds.to_table()


@pytest.mark.parametrize("bad", ["1", "0", "lots"])
def test_a_bad_page_size_is_refused_naming_the_key(tmp_path, bad):
    ds = pilum.write_dataset(_rows(0, 10), str(tmp_path / "k"))
    with pytest.raises(pilum.InvalidArgumentError, match="pilum.fragments_per_page"):
        ds.update_config({"pilum.fragments_per_page": bad})
    assert pilum.dataset(str(tmp_path / "k")).version == 1
