"""No argument is silently ignored: each is honoured, a documented no-op, or
rejected with an error naming it."""

from __future__ import annotations

import datetime as dt
import inspect
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
import pytest

import pilum
from pilum import _args
from pilum.errors import InvalidArgumentError
from _helpers import assert_tables_equal, ids

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def _read_calls(ds):
    """Every read call, as f(**kwargs)."""
    fragment = ds.get_fragments()[0]
    return {
        "scanner": lambda **kw: ds.scanner(**kw).to_table(),
        "to_table": ds.to_table,
        "to_batches": lambda **kw: list(ds.to_batches(**kw)),
        "head": lambda **kw: ds.head(3, **kw),
        "count_rows": ds.count_rows,
        "take": lambda **kw: ds.take([0, 1], **kw),
        "to_pandas": ds.to_pandas,
        "view": lambda **kw: ds.filter("id > 3").to_table(**kw),
        "fragment.scanner": lambda **kw: fragment.scanner(**kw).to_table(),
        "fragment.to_table": fragment.to_table,
        "fragment.to_batches": lambda **kw: list(fragment.to_batches(**kw)),
        "fragment.head": lambda **kw: fragment.head(2, **kw),
    }


@pytest.mark.parametrize("call", [
    "scanner", "to_table", "to_batches", "head", "count_rows", "take", "to_pandas", "view",
    "fragment.scanner", "fragment.to_table", "fragment.to_batches", "fragment.head",
])
def test_read_calls_reject_unknown_and_unsupported_arguments(ds, call):
    run = _read_calls(ds)[call]
    with pytest.raises(TypeError, match="bogus"):
        run(bogus=1)
    # Full-text search runs, and says why it cannot here (no inverted index;
    # a fragment's scan cannot search).
    with pytest.raises((InvalidArgumentError, NotImplementedError), match="inverted index|full_text_query"):
        run(full_text_query="cat")
    unsupported = {
        "include_deleted_rows": True,
        "scan_stats_callback": print,
        "index_segments": ["seg"],
        "row_addr_allowlist": b"\x00",
        "blob_handling": "all_descriptions",
        "disable_scoring_autoprojection": True,
        "fragment_scan_options": pds.ParquetFragmentScanOptions(),
    }
    for name, value in unsupported.items():
        with pytest.raises(NotImplementedError, match=name):
            run(**{name: value})
    # Honoured search arguments make no sense without a search.
    with pytest.raises(ValueError, match="fast_search"):
        run(fast_search=True)


def test_scan_noops_change_nothing(ds, table):
    noops = dict(
        batch_readahead=1, fragment_readahead=1, use_threads=False, cache_metadata=False,
        memory_pool=pa.default_memory_pool(), io_buffer_size=4096, scan_in_order=False, use_stats=False,
        batch_size_bytes=1024,
    )
    assert set(noops) == _args.SCAN_NOOPS
    assert_tables_equal(ds.to_table(filter="grp = 3", **noops), table.filter(pc.field("grp") == 3))
    assert ds.count_rows(filter="grp = 3", **noops) == table.filter(pc.field("grp") == 3).num_rows
    # Arguments meaning "feature off" are accepted too.
    off = dict(nearest=None, full_text_query=None, prefilter=None, fast_search=False, include_deleted_rows=False,
               blob_handling="all_binary", fragment_scan_options=None, late_materialization=["name"])
    assert_tables_equal(ds.to_table(**off), table)


def test_duckdb_and_polars_scanner_arguments(ds, table):
    scanner = ds.scanner(
        columns=["id", "grp"], filter=pc.field("grp") == 2, batch_size=64, batch_readahead=4,
        fragment_readahead=2, fragment_scan_options=None, use_threads=True, cache_metadata=True, memory_pool=None,
    )
    assert ids(scanner.to_table()) == ids(table.filter(pc.field("grp") == 2))
    # Every pyarrow Dataset read method takes pyarrow's own defaults.
    for name in ("to_table", "to_batches", "head", "count_rows", "take", "scanner"):
        params = inspect.signature(getattr(pds.Dataset, name)).parameters.values()
        defaults = {p.name: p.default for p in params if p.default is not p.empty and p.name not in ("columns", "filter")}
        args = {"head": (3,), "take": ([1, 0],)}.get(name, ())
        result = getattr(ds, name)(*args, **defaults)
        if name == "to_batches":
            assert sum(b.num_rows for b in result) == 1000
        elif name == "scanner":
            assert result.count_rows() == 1000


def test_strict_batch_size(ds):
    batches = list(ds.to_batches(batch_size=70, strict_batch_size=True, filter="id < 500"))
    assert [b.num_rows for b in batches] == [70] * 7 + [10]
    assert ids(pa.Table.from_batches(batches)) == list(range(500))
    with pytest.raises(ValueError, match="strict_batch_size"):
        ds.to_table(strict_batch_size=True)


def test_take_and_take_rows_arguments(ds, table):
    assert_tables_equal(ds.take([5, 1], columns=["id"], filter="grp = 1"), table.filter(pc.field("grp") == 1).select(["id"]).take([5, 1]))
    assert_tables_equal(ds.take([2], columns={"twice": "id * 2"}), pa.table({"twice": pa.array([4], pa.int64())}))
    row_ids = ds.to_table(columns=["id"], with_row_id=True)["_rowid"].to_pylist()
    assert ids(ds.take_rows(row_ids[:3], columns=["id"], ignore_deletions=True)) == [0, 1, 2]
    with pytest.raises(TypeError, match="bogus"):
        ds.take_rows([0], bogus=1)
    with pytest.raises(NotImplementedError, match="take_rows"):
        ds._take_rows([0], columns={"x": "id"})


def test_take_blobs_arguments(ds):
    with pytest.raises(TypeError, match="bogus"):
        ds.take_blobs("name", indices=[0], bogus=1)
    with pytest.raises(NotImplementedError, match="addresses"):
        ds.take_blobs("name", addresses=[0])


def test_open_arguments(ds, uri):
    opened = pilum.dataset(uri, index_cache_size=10, metadata_cache_size_bytes=1 << 20, block_size=4096,
                           read_params={"x": 1}, session=None, default_scan_options=None)
    assert opened.count_rows() == 1000
    with pytest.raises(TypeError, match="bogus"):
        pilum.dataset(uri, bogus=1)
    with pytest.raises(NotImplementedError, match="default_scan_options"):
        pilum.dataset(uri, default_scan_options={"with_row_id": True})
    with pytest.raises(NotImplementedError, match="namespace_client"):
        pilum.PilumDataset(uri, namespace_client=object())


def test_write_and_insert_arguments(ds, table, tmp_path):
    with pytest.raises(NotImplementedError, match="commit_message"):
        pilum.write_dataset(table, str(tmp_path / "w"), commit_message="hello")
    with pytest.raises(TypeError, match="bogus"):
        ds.insert(table.slice(0, 1), bogus=1)
    with pytest.raises(NotImplementedError, match="auto_cleanup_options"):
        ds.insert(table.slice(0, 1), auto_cleanup_options={"interval": 1})
    ds.insert(table.slice(0, 2), max_rows_per_group=8, session=None, external_blob_mode="reference")
    assert ds.count_rows() == 1002


def test_compaction_arguments(ds):
    with pytest.raises(TypeError, match="bogus"):
        ds.optimize.compact_files(bogus=1)
    with pytest.raises(NotImplementedError, match="max_bytes_per_file"):
        ds.optimize.compact_files(max_bytes_per_file=1 << 20)
    metrics = ds.optimize.compact_files(num_threads=2, batch_size=64, compaction_mode="reencode", target_rows_per_fragment=None)
    assert metrics.fragments_removed == 4 and metrics.fragments_added == 1


def test_cleanup_arguments(ds, table):
    with pytest.raises(TypeError, match="bogus"):
        ds.cleanup_old_versions(bogus=1)
    for name, value in (("retain_versions", 2), ("versions", [1])):
        with pytest.raises(NotImplementedError, match=name):
            ds.cleanup_old_versions(**{name: value})
    with pytest.raises(TypeError, match="delete_unverified"):
        ds.cleanup_old_versions(delete_unverified="yes")
    ds.delete("id < 10")
    ds.tags.create("first", 1)
    with pytest.raises(ValueError, match="first"):
        ds.cleanup_old_versions(older_than=dt.timedelta(0), error_if_tagged_old_versions=True)
    stats = ds.cleanup_old_versions(older_than=dt.timedelta(0), delete_rate_limit=5, delete_concurrency=2)
    assert stats.old_versions == 0  # version 1 is tagged, version 2 the latest
    assert pilum.dataset(ds.uri, version="first").count_rows() == 1000


def test_add_columns_arguments(ds):
    with pytest.raises(NotImplementedError, match="read_columns"):
        ds.add_columns({"twice": "id * 2"}, read_columns=["id"])
    ds.add_columns({"twice": "id * 2"}, batch_size=16)
    assert ds.to_table(columns=["twice"], limit=2)["twice"].to_pylist() == [0, 2]


def test_every_pylance_argument_name_is_known(ds, uri, tmp_path):
    lance = pytest.importorskip("lance")
    from lance.dataset import DatasetOptimizer, LanceDataset
    from lance.fragment import LanceFragment

    def defaults(func, skip=()):
        params = inspect.signature(func).parameters.values()
        return {p.name: p.default for p in params if p.default is not p.empty and p.name not in skip and p.name != "self"}

    fragment = ds.get_fragments()[0]
    checks = [
        (LanceDataset.scanner, lambda **kw: ds.scanner(**kw).to_table()),
        (LanceDataset.to_table, ds.to_table),
        (LanceDataset.to_batches, lambda **kw: list(ds.to_batches(**kw))),
        (LanceDataset.to_pandas, ds.to_pandas),
        (LanceDataset.count_rows, ds.count_rows),
        (LanceDataset.take, lambda **kw: ds.take([0], **kw)),
        (LanceDataset._take_rows, lambda **kw: ds._take_rows([0], **kw)),
        (LanceDataset.get_fragments, ds.get_fragments),
        (LanceFragment.scanner, lambda **kw: fragment.scanner(**kw).to_table()),
        (LanceFragment.to_table, fragment.to_table),
        (LanceFragment.to_batches, lambda **kw: list(fragment.to_batches(**kw))),
        (lance.dataset, lambda **kw: pilum.dataset(uri, **kw)),
        (LanceDataset.__init__, lambda **kw: pilum.PilumDataset(uri, **kw)),
        (DatasetOptimizer.compact_files, ds.optimize.compact_files),
        (LanceDataset.cleanup_old_versions, ds.cleanup_old_versions),
    ]
    for lance_func, pilum_call in checks:
        pilum_call(**defaults(lance_func, skip=("uri", "asof", "version")))
    write = defaults(lance.write_dataset, skip=("uri", "schema", "mode", "progress"))
    pilum.write_dataset(pa.table({"a": [1]}), str(tmp_path / "w"), **write)


def test_noops_are_documented():
    readme = open(README, encoding="utf-8").read()
    docs = {
        "SCAN_NOOPS": pilum.PilumDataset.scanner.__doc__,
        "OPEN_NOOPS": pilum.dataset.__doc__,
        "WRITE_NOOPS": pilum.write_dataset.__doc__,
        "COMPACT_NOOPS": pilum.DatasetOptimizer.compact_files.__doc__,
        "CLEANUP_NOOPS": pilum.PilumDataset.cleanup_old_versions.__doc__,
        "TAKE_ROWS_NOOPS": pilum.PilumDataset._take_rows.__doc__,
        "TAKE_BLOBS_NOOPS": pilum.PilumDataset.take_blobs.__doc__,
    }
    for constant, doc in docs.items():
        for name in getattr(_args, constant):
            assert f"``{name}``" in doc or f"`{name}`" in doc, (constant, name)
            assert f"`{name}`" in readme, (constant, name)
