"""The same script, run with ``lance`` (pylance) and with ``pilum`` as
``lance``, gives the same results for the core dataset API."""

from __future__ import annotations

import pickle
import time

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum

lance = pytest.importorskip("lance")


def _script(mod, root):
    """Core pylance calls; returns plain Python values to compare."""
    out = {}
    uri = f"{root}/main"
    t = pa.table({"id": pa.array(range(40), pa.int64()), "name": [f"n{i % 7}" for i in range(40)],
                  "x": pa.array([i / 4 for i in range(40)], pa.float64())})
    ds = mod.write_dataset(t, uri, max_rows_per_file=15)
    out["schema"] = ds.schema
    out["versions"] = (ds.version, ds.latest_version)
    out["count"] = (ds.count_rows(), ds.count_rows("x > 3"), ds.count_rows(filter="name = 'n2'"))
    out["fragments"] = [f.count_rows() for f in ds.get_fragments()]
    out["projection"] = ds.to_table(columns=["name", "id"], filter="id >= 30").to_pydict()
    out["limit_offset"] = ds.to_table(limit=4, offset=17).to_pydict()
    out["expr_filter"] = ds.to_table(columns=["id"], filter=(pc.field("x") > 5.0) & (pc.field("name") != "n1")).to_pydict()
    out["take"] = ds.take([39, 0, 15, 15]).to_pydict()
    out["head"] = ds.head(3).to_pydict()
    out["batches"] = sum(b.num_rows for b in ds.to_batches(batch_size=8))
    out["scanner"] = ds.scanner(columns=["id"], filter="id < 3").to_table().to_pydict()
    out["reader"] = ds.scanner(columns=["id"], filter="id > 36").to_reader().read_all().to_pydict()
    out["row_id_column"] = ds.to_table(columns=["id"], with_row_id=True, filter="id < 3").column_names
    try:
        mod.write_dataset(t, uri)
        out["create_again_is_oserror"] = False
    except OSError:
        out["create_again_is_oserror"] = True
    time.sleep(0.01)
    ds2 = mod.write_dataset(t.slice(0, 5), uri, mode="append")
    out["append"] = (ds2.version, ds2.count_rows(), ds.version, ds.latest_version)
    ds = mod.dataset(uri)
    out["delete"] = (ds.delete("id < 3"), ds.version, ds.count_rows())
    out["update"] = (ds.update({"x": "x * 100"}, where="id = 10"), sorted(ds.to_table(filter="id = 10")["x"].to_pylist()))
    ds.tags.create("first", 1)
    out["tags"] = ({k: v["version"] for k, v in ds.tags.list().items()}, ds.tags.get_version("first"))
    out["checkout"] = (ds.checkout_version("first").count_rows(), ds.checkout_version(2).count_rows(),
                       mod.dataset(uri, version=1).count_rows(), mod.dataset(uri, version="first").version)
    out["version_list"] = [v["version"] for v in ds.versions()]
    ds.add_columns({"dbl": "id * 2"})
    out["add_sql"] = (ds.schema.names, ds.to_table(columns=["dbl"], filter="id = 20").to_pydict())
    ds.add_columns(pa.field("empty", pa.float32()))
    out["add_null"] = (ds.schema.names, ds.to_table(columns=["empty"], limit=2).to_pydict())
    ds.drop_columns(["dbl", "empty"])
    ds.alter_columns({"path": "name", "name": "label"})
    out["alter"] = ds.schema.names
    ds.merge(pa.table({"key": pa.array([5, 6, 99], pa.int64()), "extra": ["e5", "e6", "e99"]}), left_on="id", right_on="key")
    out["merge"] = (ds.schema.names, sorted(
        (r["id"], r["extra"]) for r in ds.to_table(columns=["id", "extra"], filter="extra IS NOT NULL").to_pylist()))
    src = ds.to_table(filter="id IN (5, 7)")
    src = src.set_column(1, "label", pa.array(["U"] * src.num_rows))
    new = pa.table({"id": pa.array([100], pa.int64()), "label": ["I"], "x": [1.0], "extra": ["new"]}, schema=ds.schema)
    result = ds.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(pa.concat_tables([src, new]))
    out["merge_insert"] = ({k: result[k] for k in ("num_inserted_rows", "num_updated_rows", "num_deleted_rows")}, sorted(
        (r["id"], r["label"]) for r in ds.to_table(columns=["id", "label"], filter="label IN ('U', 'I')").to_pylist()))
    result = ds.merge_insert("id").when_not_matched_by_source_delete("id > 35").execute(
        ds.to_table(filter="id >= 5 AND id <= 37"))
    out["merge_insert_delete"] = (result["num_deleted_rows"], ds.count_rows())
    before = sorted(ds.to_table(columns=["id"])["id"].to_pylist())
    ds.optimize.compact_files()
    out["compact"] = (len(ds.get_fragments()), sorted(ds.to_table(columns=["id"])["id"].to_pylist()) == before)
    clone = pickle.loads(pickle.dumps(ds))
    out["pickle"] = (clone.version == ds.version, clone.count_rows())
    old = ds.checkout_version(3)
    old.restore()
    latest = mod.dataset(uri)
    out["restore"] = (latest.count_rows(), latest.schema.names)
    bschema = pa.schema([pa.field("id", pa.int64()),
                         pa.field("img", pa.large_binary(), metadata={"lance-encoding:blob": "true"})])
    bt = pa.table({"id": pa.array([0, 1, 2], pa.int64()),
                   "img": pa.array([b"abc", b"hello world" * 10, b"z" * 1000], pa.large_binary())}, schema=bschema)
    bds = mod.write_dataset(bt, f"{root}/blobs")
    blobs = bds.take_blobs("img", indices=[2, 0])
    f = blobs[0]
    f.seek(990)
    out["blobs"] = (blobs[1].read(), f.read(), f.tell(), blobs[0].size())
    return out


def test_same_results_as_pylance(tmp_path):
    expected = _script(lance, str(tmp_path / "lance"))
    got = _script(pilum, str(tmp_path / "pilum"))
    assert got.keys() == expected.keys()
    mismatched = {k: (got[k], expected[k]) for k in expected if got[k] != expected[k]}
    assert not mismatched


def test_import_pilum_as_lance_aliases():
    assert pilum.LanceDataset is pilum.PilumDataset
    assert pilum.LanceScanner is pilum.PilumScanner
    assert pilum.LanceFragment is pilum.PilumFragment
    for name in ("write_dataset", "dataset"):
        assert callable(getattr(pilum, name)) and callable(getattr(lance, name))


def test_pilum_reads_what_its_lance_style_script_wrote_after_reopen(tmp_path):
    # Sanity: the compat script is not vacuous for pilum -- its results
    # reflect storage, not object state.
    out = _script(pilum, str(tmp_path / "p"))
    reopened = pilum.dataset(str(tmp_path / "p" / "main"))
    assert reopened.count_rows() == out["restore"][0] == 39
    assert out["count"] == (40, 27, 6)
    assert out["blobs"] == (b"abc", b"z" * 10, 1000, 1000)
