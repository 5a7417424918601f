"""``pilum.spark``: Pilum datasets read and written through Spark's Python
data source API, on one local Spark session for the whole module. Results
are checked against pyarrow (rows sorted by id); PySpark must be installed,
as a missing PySpark fails these tests."""

from __future__ import annotations

import datetime as dt
import glob
import math
import os
import sys
import time
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import datasource as sds
from pyspark.sql.types import LongType, StringType, StructField, StructType

import pilum
from pilum._spark_filters import filter_to_sql, filters_to_sql
from pilum.spark import PilumDataSource, spark_schema

pytestmark = pytest.mark.subprocess  # Spark starts a JVM and Python workers

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
D0 = dt.date(2024, 1, 1)


@pytest.fixture(scope="module")
def spark():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYSPARK_PYTHON", sys.executable)  # workers run this interpreter
        session = (
            SparkSession.builder.master("local[2]")
            .appName("pilum-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.python.filterPushdown.enabled", "true")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        session.dataSource.register(PilumDataSource)
        yield session
        session.stop()


def _table(n: int = 200, start: int = 0) -> pa.Table:
    """Rows start..start+n: every type Spark reads, nulls, NaN and -0.0."""
    ids = np.arange(start, start + n)
    val = [None if i % 11 == 0 else math.nan if i % 17 == 0 else -0.0 if i % 19 == 0 else (i % 40) / 40 for i in ids]
    vec = pa.FixedSizeListArray.from_arrays(pa.array(np.repeat(ids, 4).astype(np.float32) / 8), 4)
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "val": pa.array(val, pa.float64()),
            "name": pa.array([None if i % 7 == 0 else f"n{i}" for i in ids]),
            "vec": vec,
            "ts": pa.array([T0 + dt.timedelta(minutes=int(i)) for i in ids], pa.timestamp("us", tz="UTC")),
            "d": pa.array([D0 + dt.timedelta(days=int(i)) for i in ids], pa.date32()),
            "flag": pa.array([None if i % 13 == 0 else bool(i % 3 == 0) for i in ids]),
            "small": pa.array(ids % 256, pa.uint8()),
            "blob": pa.array([bytes([i % 256, 1]) for i in ids], pa.binary()),
        }
    )


@pytest.fixture
def uri(tmp_path) -> str:
    """A dataset of `_table()` in 4 fragments."""
    path = str(tmp_path / "ds")
    pilum.write_dataset(_table(), path, max_rows_per_file=50)
    return path


def _rows(table: pa.Table) -> list:
    """Rows sorted by id, NaN made comparable."""
    rows = table.sort_by("id").to_pylist()
    return [{k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]


def _ids(table: pa.Table) -> list:
    return sorted(table.column("id").to_pylist())


def _plan(df) -> str:
    return df._jdf.queryExecution().executedPlan().toString()


def _spark_filters(df) -> list:
    """The lines of Spark's own Filter nodes in the plan."""
    return [line for line in _plan(df).splitlines() if "Filter (" in line]


def _load(spark, uri: str, **options):
    return spark.read.format("pilum").options(**options).load(uri)


def _data_files(uri: str) -> set:
    return {os.path.relpath(p, uri) for p in glob.glob(os.path.join(uri, "data", "*"))}


def _committed_files(uri: str) -> set:
    return {path for f in pilum.dataset(uri).get_fragments() for path in f.data_files()}


# ------------------------------------------------------------------------------------- reads


def test_reads_every_column_of_every_fragment_as_pyarrow_does(spark, uri):
    df = _load(spark, uri)
    assert df.schema == spark_schema(pilum.dataset(uri).schema)
    assert df.schema["small"].dataType.simpleString() == "smallint"  # uint8 widened
    assert df.schema["vec"].dataType.simpleString() == "array<float>"
    assert _rows(df.toArrow()) == _rows(_table())
    # The path may also come as an option.
    assert spark.read.format("pilum").option("path", uri).load().count() == 200


def test_one_partition_per_fragment_or_group_of_fragments(spark, uri):
    fragments = len(pilum.dataset(uri).get_fragments())
    assert fragments == 4
    assert _load(spark, uri).rdd.getNumPartitions() == fragments
    assert _load(spark, uri, fragments_per_partition="3").rdd.getNumPartitions() == 2


def test_reads_only_the_columns_asked_for(spark, uri, monkeypatch):
    expected = _rows(_table().select(["id", "name"]))
    by_option = _load(spark, uri, columns="id, name")
    by_schema = spark.read.schema("id BIGINT, name STRING").format("pilum").load(uri)
    for df in (by_option, by_schema):
        assert df.columns == ["id", "name"]
        assert _rows(df.toArrow()) == expected
        scan = next(line for line in _plan(df).splitlines() if "BatchScan" in line)
        assert "id#" in scan and "name#" in scan and "vec#" not in scan
    # The reader asks Pilum's scanner for those columns only.
    asked = []
    scanner = pilum.PilumDataset.scanner

    def recording(self, *args, **kwargs):
        asked.append(kwargs.get("columns"))
        return scanner(self, *args, **kwargs)

    monkeypatch.setattr(pilum.PilumDataset, "scanner", recording)
    reader = PilumDataSource({"path": uri}).reader(StructType([StructField("name", StringType()), StructField("id", LongType())]))
    batches = [b for p in reader.partitions() for b in reader.read(p)]
    assert asked == [["name", "id"]] * 4
    assert all(b.schema.names == ["name", "id"] for b in batches) and sum(b.num_rows for b in batches) == 200


WHERE = [
    ("id > 150", lambda t: pc.greater(t["id"], 150)),
    ("id >= 10 AND id < 20", lambda t: pc.and_(pc.greater_equal(t["id"], 10), pc.less(t["id"], 20))),
    ("id IN (1, 5, 7, 500)", lambda t: pc.is_in(t["id"], pa.array([1, 5, 7, 500]))),
    ("NOT (id = 3)", lambda t: pc.not_equal(t["id"], 3)),
    ("id <=> 5", lambda t: pc.equal(t["id"], 5)),
    ("name IS NULL", lambda t: pc.is_null(t["name"])),
    ("name LIKE 'n1%'", lambda t: pc.starts_with(t["name"], "n1")),
    ("name LIKE '%7'", lambda t: pc.ends_with(t["name"], "7")),
    ("name LIKE '%3%'", lambda t: pc.match_substring(t["name"], "3")),
    ("name = 'n42'", lambda t: pc.equal(t["name"], "n42")),
    # Spark's NaN: equal to itself and above every number; -0.0 = 0.0.
    ("val > 0.5", lambda t: pc.or_(pc.greater(t["val"], 0.5), pc.is_nan(t["val"]))),
    ("val = double('NaN')", lambda t: pc.is_nan(t["val"])),
    ("val = 0.0", lambda t: pc.equal(t["val"], 0.0)),
    ("flag", lambda t: pc.equal(t["flag"], True)),
    ("NOT flag", lambda t: pc.equal(t["flag"], False)),
    ("d >= DATE'2024-06-01'", lambda t: pc.greater_equal(t["d"], pa.scalar(dt.date(2024, 6, 1)))),
    ("ts < TIMESTAMP'2024-01-01 01:00:00'", lambda t: pc.less(t["ts"], pa.scalar(T0 + dt.timedelta(hours=1)))),
]


@pytest.mark.parametrize("where,expected", WHERE, ids=[w for w, _ in WHERE])
def test_pushed_filters_run_in_pilum_and_match_pyarrow(spark, uri, where, expected):
    df = _load(spark, uri).filter(where).select("id")
    # Every predicate was pushed: no Filter is left in Spark's plan.
    assert _spark_filters(df) == [], _plan(df)
    table = _table()
    assert _ids(df.toArrow()) == _ids(table.filter(expected(table)))


def test_filters_pilum_cannot_translate_stay_with_spark(spark, uri):
    table = _table()
    where = "id > 100 AND blob = X'6E01' AND name LIKE 'n1%'"
    df = _load(spark, uri).filter(where).select("id")
    (filter_line,) = _spark_filters(df)
    assert "blob#" in filter_line and "id#" not in filter_line and "name#" not in filter_line, filter_line
    expected = table.filter(pc.and_(pc.greater(table["id"], 100), pc.starts_with(table["name"], "n1")))
    expected = expected.filter(pc.equal(expected["blob"], pa.scalar(b"\x6e\x01")))
    assert _ids(df.toArrow()) == _ids(expected) == [110]
    # Without pushdown Spark filters every row itself, with the same result.
    assert _ids(_load(spark, uri, push_filters="false").filter(where).select("id").toArrow()) == [110]


def test_filter_translation_accepts_exact_forms_only():
    schema = _table().schema.append(pa.field("dec", pa.decimal128(10, 2))).append(pa.field("ntz", pa.timestamp("us")))
    cases = [
        (sds.EqualTo(("id",), 3), '("id" = 3)'),
        (sds.Not(sds.GreaterThan(("val",), 0.5)), '(NOT ("val" > 0.5))'),
        (sds.LessThanOrEqual(("val",), math.inf), "(\"val\" <= CAST('Infinity' AS DOUBLE))"),
        (sds.In(("name",), ("a", "it's")), "(\"name\" IN ('a', 'it''s'))"),
        (sds.EqualNullSafe(("name",), None), '("name" IS NULL)'),
        (sds.EqualNullSafe(("name",), "a"), "COALESCE(\"name\" = 'a', FALSE)"),
        (sds.StringContains(("name",), "%_"), "contains(\"name\", '%_')"),
        (sds.GreaterThan(("d",), D0), "(\"d\" > DATE '2024-01-01')"),
        (sds.LessThan(("ts",), T0), "(\"ts\" < TIMESTAMP '2024-01-01T00:00:00Z')"),
        (sds.LessThan(("ntz",), dt.datetime(2024, 1, 1, 5)), "(\"ntz\" < TIMESTAMP '2024-01-01T05:00:00')"),
        (sds.EqualTo(("dec",), Decimal("1.50")), "(\"dec\" = CAST('1.50' AS DECIMAL(10, 2)))"),
    ]
    for spark_filter, sql in cases:
        assert filter_to_sql(spark_filter, schema) == sql
    rejected = [
        sds.EqualTo(("blob",), b"n\x01"),  # binary literal
        sds.EqualTo(("vec",), [1.0, 2.0, 3.0, 4.0]),  # array literal
        sds.EqualTo(("missing",), 1),
        sds.EqualTo(("name", "inner"), "x"),  # nested field
        sds.In(("id",), (1, None)),
        sds.StringStartsWith(("id",), "1"),
        sds.EqualTo(("name",), 1),  # literal of another type
        sds.LessThan(("ts",), dt.datetime(2024, 1, 1)),  # wall clock vs instant
        sds.EqualTo(("dec",), Decimal("1.505")),  # more digits than the column keeps
        sds.Not(sds.EqualTo(("blob",), b"x")),
    ]
    assert [filter_to_sql(f, schema) for f in rejected] == [None] * len(rejected)
    sql, left = filters_to_sql([cases[0][0], rejected[0], cases[1][0]], schema)
    assert sql == f"{cases[0][1]} AND {cases[1][1]}" and left[0] is rejected[0] and len(left) == 1
    assert filters_to_sql(rejected[:1], schema) == (None, rejected[:1])


def test_a_loaded_dataframe_reads_its_pinned_version(spark, uri):
    df = _load(spark, uri)
    pilum.write_dataset(_table(10, start=1000), uri, mode="append")
    assert df.count() == 200  # loaded at version 1
    assert _load(spark, uri).count() == 210
    pilum.dataset(uri).tags.create("first", 1)
    pilum.write_dataset(_table(5, start=2000), uri, mode="append")
    assert _load(spark, uri, version="1").count() == 200
    assert _load(spark, uri, version="2").count() == 210
    assert _load(spark, uri, version="first").count() == 200
    assert _load(spark, uri).filter("id >= 1000").count() == 15


# ------------------------------------------------------------------------------------ writes


def test_writes_a_new_dataset_then_appends_and_overwrites(spark, tmp_path):
    target = str(tmp_path / "new")
    table = _table(120)
    df = spark.createDataFrame(table.drop_columns(["vec", "small"])).repartition(3)
    df.write.format("pilum").mode("append").save(target)  # append creates a missing dataset
    ds = pilum.dataset(target)
    assert ds.version == 1 and len(ds.get_fragments()) == 3
    assert ds.schema.field("name").type == pa.string() and ds.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert _rows(ds.to_table()) == _rows(table.drop_columns(["vec", "small"]))
    df.write.format("pilum").mode("append").save(target)
    assert pilum.dataset(target).version == 2 and pilum.dataset(target).count_rows() == 240
    df.filter("id < 10").write.format("pilum").mode("overwrite").option("path", target).save()
    ds = pilum.dataset(target)
    assert ds.version == 3 and _ids(ds.to_table()) == list(range(10))
    assert pilum.dataset(target, version=2).count_rows() == 240


def test_writes_keep_the_stored_arrow_types(spark, uri):
    df = _load(spark, uri)
    df.selectExpr("id + 1000 AS id", "* EXCEPT (id)").write.format("pilum").mode("append").save(uri)
    ds = pilum.dataset(uri)
    assert ds.version == 2 and ds.schema == _table().schema
    shifted = _table().set_column(0, "id", pc.add(_table()["id"], 1000))
    assert _rows(ds.to_table()) == _rows(pa.concat_tables([_table(), shifted]))
    df.filter("id < 50").write.format("pilum").mode("overwrite").save(uri)
    ds = pilum.dataset(uri)
    assert ds.version == 3 and ds.schema == _table().schema  # fixed_size_list and uint8 kept
    assert _rows(ds.to_table()) == _rows(_table(50))


def test_append_rebases_over_a_commit_made_during_the_job(spark, uri):
    extra = _table(7, start=5000)

    def append_meanwhile(batches):
        pilum.write_dataset(extra, uri, mode="append")  # after the write was planned on version 1
        yield from batches

    source = _load(spark, uri).filter("id < 30").selectExpr("id + 3000 AS id", "* EXCEPT (id)").coalesce(1)
    source.mapInArrow(append_meanwhile, source.schema).write.format("pilum").mode("append").save(uri)
    ds = pilum.dataset(uri)
    assert ds.version == 3 and [v["operation"] for v in ds.versions()] == ["create", "append", "append"]
    assert pilum.dataset(uri, version=2).count_rows() == 207  # the other append landed first
    assert _ids(ds.to_table(columns=["id"])) == list(range(200)) + list(range(3000, 3030)) + list(range(5000, 5007))


def test_a_failed_job_commits_nothing_and_cleanup_removes_its_files(spark, uri):
    before = _data_files(uri)

    def fail_after_the_other_task_wrote(batches):
        for batch in batches:
            if pc.any(pc.equal(batch["id"], 39)).as_py():
                deadline = time.monotonic() + 60
                while len(glob.glob(os.path.join(uri, "data", "*"))) == len(before) and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(0.5)
                raise RuntimeError("task failed on purpose")
            yield batch

    df = spark.range(0, 40, numPartitions=2).selectExpr("id", "'x' AS name")
    with pytest.raises(Exception, match="task failed on purpose"):
        df.mapInArrow(fail_after_the_other_task_wrote, df.schema).write.format("pilum").mode("overwrite").save(uri)
    ds = pilum.dataset(uri)
    assert ds.version == 1 and _rows(ds.to_table()) == _rows(_table())
    assert len(_data_files(uri) - before) == 1  # the other task's fragment, never committed
    ds.cleanup_old_versions(older_than=dt.timedelta(0), delete_unverified=True)
    assert _data_files(uri) == _committed_files(uri) == before
    assert _rows(pilum.dataset(uri).to_table()) == _rows(_table())


def test_an_empty_overwrite_leaves_an_empty_dataset(spark, uri):
    _load(spark, uri).filter("id < 0").write.format("pilum").mode("overwrite").save(uri)
    assert pilum.dataset(uri).count_rows() == 0 and pilum.dataset(uri).version == 2
    assert _load(spark, uri).count() == 0


# ------------------------------------------------------------------------------------ errors


def test_options_and_paths_are_checked(spark, uri, tmp_path):
    with pytest.raises(Exception, match="unknown option.*fragment_per_partition"):
        _load(spark, uri, fragment_per_partition="2").count()
    with pytest.raises(Exception, match="unknown option.*version"):
        spark.range(3).write.format("pilum").mode("append").option("version", "1").save(uri)
    with pytest.raises(Exception, match="no path"):
        spark.read.format("pilum").load().count()
    with pytest.raises(Exception, match="DatasetNotFoundError"):
        _load(spark, str(tmp_path / "missing")).count()
    with pytest.raises(Exception, match="fragments_per_partition must be"):
        _load(spark, uri, fragments_per_partition="0").count()
    with pytest.raises(Exception, match="no column 'nope'"):
        _load(spark, uri, columns="id,nope").count()
    with pytest.raises(Exception, match="missing .*'vec'"):
        spark.range(3).write.format("pilum").mode("append").save(uri)
    # The same errors are typed in Python.
    with pytest.raises(pilum.errors.InvalidArgumentError, match="unknown option"):
        PilumDataSource({"path": uri, "colums": "id"}).schema()
    with pytest.raises(pilum.errors.InvalidArgumentError, match="no path"):
        PilumDataSource({}).writer(StructType([StructField("id", LongType())]), False)
    assert PilumDataSource({"path": uri, "storage.timeout": "30s"}).schema() == spark_schema(pilum.dataset(uri).schema)
