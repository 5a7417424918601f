"""pilum.ray: Ray Data reads (pushdown, pinned version, one task per fragment
group), distributed writes committed once by the driver, and add_columns
computing new columns per fragment on Ray tasks. Every result is compared
with pyarrow on the source rows, not only counted."""

from __future__ import annotations

import datetime
import hashlib
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import ray
import ray.data
from ray.data.expressions import col

import pilum
import pilum.ray as pray
from pilum.errors import (ColumnNotFoundError, CommitConflictError, DatasetAlreadyExistsError, DatasetNotFoundError,
                          InvalidFilterError, VersionNotFoundError)

ROWS, PER_FILE = 4000, 800  # five fragments


def _rows(start: int, count: int) -> pa.Table:
    ids = np.arange(start, start + count, dtype=np.int64)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(np.repeat(ids, 4).astype(np.float32) / 4), 4)
    return pa.table({"id": ids, "x": ids * 0.5, "name": pa.array([f"row-{i}" for i in ids]), "vec": vectors})


def _collect(dataset: "ray.data.Dataset") -> pa.Table:
    """Every row of a Ray dataset, ordered by id."""
    tables = [t for t in ray.get(dataset.to_arrow_refs()) if t.num_rows]
    return pa.concat_tables(tables).sort_by("id")


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    # Workers cannot import this test module: ship its sink classes and functions by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Version 1: ROWS rows in five fragments; version 2 appends 500 rows."""
    uri = str(tmp_path_factory.mktemp("ray") / "source")
    pilum.write_dataset(_rows(0, ROWS), uri, max_rows_per_file=PER_FILE)
    pilum.write_dataset(_rows(ROWS, 500), uri, mode="append")
    return uri


# --- reading ----------------------------------------------------------------------------------


def test_read_all_rows_match_the_source(source):
    got = _collect(pray.read_pilum(source))
    assert got.equals(pa.concat_tables([_rows(0, ROWS), _rows(ROWS, 500)]))


def test_columns_and_filters_run_in_the_scan(source):
    want = _rows(0, ROWS + 500)
    got = _collect(pray.read_pilum(source, columns=["name", "id"], filter="id % 7 = 0 AND x < 900"))
    ids, xs = want["id"].to_numpy(), want["x"].to_numpy()
    expected = want.filter(pa.array((ids % 7 == 0) & (xs < 900))).select(["name", "id"])
    assert got.schema.names == ["name", "id"] and got.equals(expected)
    arrow_filter = (pc.field("x") >= 2100.0) & pc.field("name").isin(["row-4201", "row-4400", "row-9"])
    got = _collect(pray.read_pilum(source, filter=arrow_filter, columns=["id", "vec"]))
    assert got["id"].to_pylist() == [4201, 4400]
    assert got["vec"].to_pylist()[0] == [4201 / 4] * 4


def test_read_of_an_old_version_and_the_version_is_pinned_at_call(source, tmp_path):
    assert _collect(pray.read_pilum(source, version=1)).equals(_rows(0, ROWS))
    uri = str(tmp_path / "ds")
    pilum.write_dataset(_rows(0, 1000), uri, max_rows_per_file=400)
    lazy = pray.read_pilum(uri, columns=["id"])
    pilum.write_dataset(_rows(1000, 10), uri, mode="append")  # after the call, before the read
    assert _collect(lazy)["id"].to_pylist() == list(range(1000))
    assert _collect(pray.read_pilum(uri, columns=["id"])).num_rows == 1010


def test_read_tasks_follow_the_fragment_grouping(source):
    reader = pray.PilumDatasource(source, version=1)
    sizes = {f.fragment_id: f.count_rows() for f in pilum.dataset(source, version=1).get_fragments()}
    assert len(sizes) == 5
    grouped = {1: [[0, 1, 2, 3, 4]], 2: [[0, 1], [2, 3, 4]], 3: [[0], [1, 2], [3, 4]], 200: [[0], [1], [2], [3], [4]]}
    for parallelism, groups in grouped.items():
        tasks = reader.get_read_tasks(parallelism)
        assert [t.metadata.num_rows for t in tasks] == [PER_FILE * len(g) for g in groups]
        assert all(t.metadata.size_bytes >= PER_FILE * len(g) * (8 + 8 + 16) for t, g in zip(tasks, groups))
        assert [len(t.metadata.input_files) for t in tasks] == [len(g) for g in groups]
    two = pray.PilumDatasource(source, version=1, fragments_per_task=2).get_read_tasks(1)
    assert [t.metadata.num_rows for t in two] == [2 * PER_FILE, 2 * PER_FILE, PER_FILE]
    rows = pa.concat_tables([b for t in two for b in t()]).sort_by("id")
    assert rows.equals(_rows(0, ROWS))
    # With a filter the row count is unknown until read.
    assert pray.PilumDatasource(source, filter="id < 10").get_read_tasks(2)[0].metadata.num_rows is None
    assert pray.read_pilum(source, version=1, override_num_blocks=2).materialize().num_blocks() == 2
    assert pray.read_pilum(source, version=1, fragments_per_task=1).materialize().num_blocks() == 5
    small = pray.PilumDatasource(source, version=1, scanner_options={"batch_size": 100}).get_read_tasks(1)[0]
    assert {block.num_rows for block in small()} == {100}


def test_empty_datasets_read_and_write(tmp_path):
    schema = pa.schema([("id", pa.int64()), ("name", pa.string())])
    uri = str(tmp_path / "empty")
    created = pray.write_pilum(ray.data.from_arrow(schema.empty_table()), uri, schema=schema)
    assert created.version == 1 and created.count_rows() == 0 and created.schema.equals(schema)
    rows = pray.read_pilum(uri)
    assert rows.count() == 0 and rows.schema().names == ["id", "name"]
    assert pray.write_pilum(ray.data.from_arrow(schema.empty_table()), uri, mode="append") is None
    assert pilum.dataset(uri).version == 1  # an empty append commits nothing
    with pytest.raises(ValueError, match="schema="):
        pray.write_pilum(ray.data.from_arrow(schema.empty_table()), str(tmp_path / "none"))


def test_ray_projection_predicate_and_limit_are_pushed_down(source):
    reader = pray.PilumDatasource(source, columns=["id", "x", "name"])
    narrowed = reader.apply_projection({"name": "name", "id": "id"}).apply_predicate(col("id") < 30)
    assert reader.get_current_predicate() is None  # hooks return copies
    got = pa.concat_tables([b for t in narrowed.get_read_tasks(3) for b in t()]).sort_by("id")
    assert got.schema.names == ["name", "id"] and got.equals(_rows(0, 30).select(["name", "id"]))
    pipeline = pray.read_pilum(source).filter(expr=(col("id") >= 4490) & (col("x") < 2247.0)).select_columns(["vec", "id"])
    assert _collect(pipeline).equals(_rows(4490, 4).select(["vec", "id"]))
    assert pray.read_pilum(source).limit(7).count() == 7


def test_missing_column_version_or_dataset_raise_clear_errors(source, tmp_path):
    with pytest.raises(ColumnNotFoundError, match="nope"):
        pray.read_pilum(source, columns=["id", "nope"])
    with pytest.raises(ColumnNotFoundError, match="nope"):
        pray.read_pilum(source, filter="nope > 1")
    with pytest.raises(InvalidFilterError, match="nope"):
        pray.read_pilum(source, filter=pc.field("nope") > 1)
    with pytest.raises(InvalidFilterError):
        pray.read_pilum(source, filter="id >")
    with pytest.raises(VersionNotFoundError, match="99"):
        pray.read_pilum(source, version=99)
    with pytest.raises(DatasetNotFoundError):
        pray.read_pilum(str(tmp_path / "missing"))


def test_bad_arguments_are_rejected_by_name(source):
    table = ray.data.from_arrow(_rows(0, 10))
    cases = [
        (TypeError, "colums", lambda: pray.read_pilum(source, colums=["id"])),
        (TypeError, "columns", lambda: pray.read_pilum(source, columns="id")),
        (TypeError, "filter", lambda: pray.read_pilum(source, filter=3)),
        (ValueError, "fragments_per_task", lambda: pray.read_pilum(source, fragments_per_task=0)),
        (ValueError, "override_num_blocks", lambda: pray.read_pilum(source, fragments_per_task=2, override_num_blocks=2)),
        (TypeError, "nearest", lambda: pray.read_pilum(source, scanner_options={"nearest": {}})),
        (ValueError, "mode", lambda: pray.write_pilum(table, source, mode="upsert")),
        (TypeError, "ray_dataset", lambda: pray.write_pilum(_rows(0, 3), source, mode="append")),
        (TypeError, "bogus", lambda: pray.write_pilum(table, source, mode="append", bogus=1)),
        (ValueError, "max_rows_per_file", lambda: pray.write_pilum(table, source, mode="append", max_rows_per_file=0)),
        (TypeError, "schema", lambda: pray.write_pilum(table, source, mode="append", schema={"id": "int64"})),
        (TypeError, "fn", lambda: pray.add_columns(source, "id * 2")),
        (ValueError, "concurrency", lambda: pray.add_columns(source, lambda b: b, concurrency=0)),
        (ColumnNotFoundError, "nope", lambda: pray.add_columns(source, lambda b: b, read_columns=["nope"])),
        (TypeError, "num_workers", lambda: pray.add_columns(source, lambda b: b, num_workers=2)),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()
    assert pilum.dataset(source).version == 2  # nothing was written


# --- writing ----------------------------------------------------------------------------------


def test_write_create_append_overwrite(tmp_path):
    uri = str(tmp_path / "out")
    first = pray.write_pilum(ray.data.from_arrow(_rows(0, 1500)).repartition(3), uri, max_rows_per_file=400)
    assert first.version == 1 and pilum.dataset(uri).to_table().sort_by("id").equals(_rows(0, 1500))
    assert max(f.count_rows() for f in first.get_fragments()) <= 400
    with pytest.raises(DatasetAlreadyExistsError, match="mode='create'"):
        pray.write_pilum(ray.data.from_arrow(_rows(0, 5)), uri)
    second = pray.write_pilum(ray.data.from_arrow(_rows(1500, 300)), uri, mode="append")
    assert second.version == 2 and second.to_table().sort_by("id").equals(_rows(0, 1800))
    other = pa.table({"k": pa.array(["a", "b", "c"]), "n": pa.array([1, 2, 3], pa.int32())})
    with pytest.raises(pilum.errors.SchemaMismatchError):
        pray.write_pilum(ray.data.from_arrow(other), uri, mode="append")
    assert pilum.dataset(uri).version == 2
    third = pray.write_pilum(ray.data.from_arrow(other), uri, mode="overwrite")
    assert third.version == 3 and pilum.dataset(uri).to_table().sort_by("n").equals(other)
    assert pilum.dataset(uri, version=2).count_rows() == 1800  # old versions stay readable


def test_write_casts_to_schema_batches_rows_and_keeps_vectors(tmp_path):
    uri = str(tmp_path / "vectors")
    numpy_rows = ray.data.range(1000, override_num_blocks=10).map_batches(
        lambda b: {"id": b["id"], "emb": np.stack([b["id"], -b["id"]], axis=1).astype(np.float32)})
    schema = pa.schema([("id", pa.int32()), ("emb", pa.list_(pa.float32(), 2))])
    out = pray.write_pilum(numpy_rows, uri, schema=schema, min_rows_per_file=400)
    assert out.schema.equals(schema)
    table = out.to_table().sort_by("id")
    assert table["id"].to_pylist() == list(range(1000))
    assert table["emb"].to_pylist()[7] == [7.0, -7.0]
    assert all(f.count_rows() >= 200 for f in out.get_fragments()) and len(out.get_fragments()) <= 5
    # Without a schema, numpy vectors still land as fixed-size lists.
    plain = pray.write_pilum(numpy_rows, str(tmp_path / "plain"))
    assert plain.schema.field("emb").type == pa.list_(pa.float32(), 2)
    # Append to a missing dataset creates it, as write_dataset does.
    created = pray.write_pilum(ray.data.from_arrow(_rows(0, 20)), str(tmp_path / "new"), mode="append")
    assert created.version == 1 and created.count_rows() == 20


class _FailingSink(pray.PilumDatasink):
    """Writes its fragments, then fails in the second write task."""

    def write(self, blocks, ctx):
        written = super().write(blocks, ctx)
        if ctx.task_idx == 1:
            raise RuntimeError("write task failed on purpose")
        return written


class _RacedSink(pray.PilumDatasink):
    """Another writer appends between the write tasks and this commit."""

    def on_write_complete(self, write_result):
        pilum.write_dataset(_rows(10_000, 25), self._uri, mode="append")
        super().on_write_complete(write_result)


def _file_digests(uri: str) -> dict:
    folder = os.path.join(uri, "data")
    return {name: hashlib.sha256(open(os.path.join(folder, name), "rb").read()).hexdigest() for name in os.listdir(folder)}


def test_a_failed_write_commits_nothing_and_cleanup_removes_its_files(tmp_path):
    uri = str(tmp_path / "ds")
    base = pilum.write_dataset(_rows(0, 1000), uri, max_rows_per_file=500)
    before = _file_digests(uri)
    with pytest.raises(RuntimeError, match="on purpose"):
        ray.data.from_arrow(_rows(1000, 800)).repartition(4).write_datasink(_FailingSink(uri, mode="append"))
    now = pilum.dataset(uri)
    assert now.version == base.version and now.to_table().sort_by("id").equals(_rows(0, 1000))
    assert set(_file_digests(uri)) > set(before)  # written, never committed
    now.cleanup_old_versions(older_than=datetime.timedelta(0), delete_unverified=True)
    assert _file_digests(uri) == before


def test_a_concurrent_append_before_the_commit_is_kept(tmp_path):
    uri = str(tmp_path / "ds")
    base = pilum.write_dataset(_rows(0, 100), uri)
    sink = _RacedSink(uri, mode="append")
    ray.data.from_arrow(_rows(500, 200)).repartition(2).write_datasink(sink)
    assert sink.dataset.version == base.version + 2  # the racing append, then ours rebased over it
    ids = pilum.dataset(uri).to_table(columns=["id"])["id"].to_pylist()
    assert sorted(ids) == list(range(100)) + list(range(500, 700)) + list(range(10_000, 10_025))


# --- add_columns ------------------------------------------------------------------------------


def _embed(batch: pa.RecordBatch) -> pa.RecordBatch:
    ids = batch.column("id").to_numpy()
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(np.repeat(ids, 3).astype(np.float32)), 3)
    return pa.RecordBatch.from_arrays([pc.multiply(batch.column("id"), 2), vectors], ["doubled", "embedding"])


def test_add_columns_commits_once_and_keeps_the_data_files(tmp_path):
    uri = str(tmp_path / "ds")
    pilum.write_dataset(_rows(0, 2000), uri, max_rows_per_file=450)
    pilum.dataset(uri).delete("id % 9 = 4")
    base = pilum.dataset(uri)
    before_files = {f.fragment_id: f.data_files() for f in base.get_fragments()}
    before, history = _file_digests(uri), len(base.versions())
    out = pray.add_columns(uri, _embed, read_columns=["id"], concurrency=2, batch_size=128)
    assert out.version == base.version + 1 and len(out.versions()) == history + 1
    assert out.versions()[-1]["operation"] == "add_columns"
    assert out.schema.names == ["id", "x", "name", "vec", "doubled", "embedding"]
    table = out.to_table().sort_by("id")
    kept = _rows(0, 2000).filter(pa.array(np.arange(2000) % 9 != 4))
    assert table.select(["id", "x", "name", "vec"]).equals(kept)
    assert table["doubled"].to_pylist() == [2 * i for i in kept["id"].to_pylist()]
    assert table["embedding"].to_pylist()[5] == [float(kept["id"][5].as_py())] * 3
    after = _file_digests(uri)
    assert all(after[name] == digest for name, digest in before.items())  # not rewritten
    for fragment in out.get_fragments():
        old = before_files[fragment.fragment_id]
        assert fragment.data_files()[: len(old)] == old and len(fragment.data_files()) == len(old) + 1
    assert pilum.dataset(uri, version=base.version).schema.names == ["id", "x", "name", "vec"]


def test_add_columns_failures_commit_nothing(tmp_path):
    uri = str(tmp_path / "ds")
    pilum.write_dataset(_rows(0, 900), uri, max_rows_per_file=300)

    def breaks(batch):
        if pc.max(batch.column("id")).as_py() >= 600:
            raise KeyError("no embedding for this batch")
        return {"y": batch.column("id")}

    with pytest.raises(KeyError, match="no embedding"):
        pray.add_columns(uri, breaks)
    with pytest.raises(pilum.errors.SchemaMismatchError, match="already exists"):
        pray.add_columns(uri, lambda b: {"x": b.column("id")})
    assert pilum.dataset(uri).version == 1
    old = pray.add_columns(uri, lambda b: {"y": pc.add(b.column("id"), 1)}, version=1)
    assert old.version == 2 and old.to_table(filter="id = 5")["y"].to_pylist() == [6]
    # Columns computed on version 1 conflict with a delete committed since.
    pilum.dataset(uri).delete("id < 10")
    with pytest.raises(CommitConflictError):
        pray.add_columns(uri, lambda b: {"z": b.column("id")}, version=2)
