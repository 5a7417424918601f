"""Datasets on S3, against a local moto server.

Skipped when moto is not installed, unless PILUM_REQUIRE_S3=1 (then a
missing or broken moto is a failure).
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum
from _helpers import assert_tables_equal, ids

pytestmark = pytest.mark.s3

REQUIRED = os.environ.get("PILUM_REQUIRE_S3") == "1"


def _skip_or_fail(message):
    if REQUIRED:
        pytest.fail(f"PILUM_REQUIRE_S3=1 but {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def moto_endpoint():
    try:
        import moto.server  # noqa: F401
    except ImportError:
        _skip_or_fail("moto[server] is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    _skip_or_fail("moto server did not start")
                time.sleep(0.1)
        # Create the bucket with a raw PUT (moto does not check signatures).
        request = urllib.request.Request(f"{endpoint}/pilum-test", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


@pytest.fixture
def s3(moto_endpoint):
    options = {
        "aws_access_key_id": "x",
        "aws_secret_access_key": "x",
        "aws_region": "us-east-1",
        "aws_endpoint": moto_endpoint,
        "aws_allow_http": "true",
    }
    return f"s3://pilum-test/{uuid.uuid4().hex}", options


def test_s3_write_read_time_travel(s3, table):
    uri, options = s3
    with pytest.raises(pilum.DatasetNotFoundError):
        pilum.dataset(uri, storage_options=options)
    ds = pilum.write_dataset(table, uri, max_rows_per_file=300, storage_options=options)
    assert ds.uri == uri
    assert len(ds.get_fragments()) == 4
    assert_tables_equal(ds.to_table(), table)
    with pytest.raises(pilum.DatasetAlreadyExistsError):
        pilum.write_dataset(table.slice(0, 1), uri, storage_options=options)
    ds.delete("id < 100")
    pilum.write_dataset(table.slice(0, 10), uri, mode="append", storage_options=options)
    latest = pilum.dataset(uri, storage_options=options)
    assert (latest.version, latest.count_rows()) == (3, 910)
    assert pilum.dataset(uri, version=1, storage_options=options).count_rows() == 1000
    assert ids(latest.to_table(columns=["id"], filter="grp = 3", limit=5)) == ids(
        table.slice(100).filter(pc.field("grp") == 3).slice(0, 5)
    )
    assert_tables_equal(latest.take([0, 899], columns=["id"]), pa.table({"id": pa.array([100, 999], pa.int64())}))
    # Pickles keep the storage options.
    clone = pickle.loads(pickle.dumps(latest))
    assert (clone.version, clone.count_rows()) == (3, 910)
    stamps = [v["timestamp"] for v in latest.versions()]
    assert pilum.dataset(uri, asof=stamps[1], storage_options=options).version == 2


def test_s3_tags_maintenance_and_evolution(s3, table):
    uri, options = s3
    ds = pilum.write_dataset(table, uri, max_rows_per_file=250, storage_options=options)
    ds.delete("id % 2 = 0")
    ds.tags.create("odd", 2)
    ds.add_columns({"twice": "id * 2"})
    metrics = ds.optimize.compact_files()
    assert metrics.fragments_removed == 4 and metrics.fragments_added == 1
    stats = ds.cleanup_old_versions(older_than=dt.timedelta(0))
    assert stats.old_versions == 2  # 1 and 3; 2 is tagged, 4 is latest
    assert [v["version"] for v in ds.versions()] == [2, 4]
    assert pilum.dataset(uri, version="odd", storage_options=options).count_rows() == 500
    got = pilum.dataset(uri, storage_options=options).to_table(columns=["id", "twice"], filter="id < 6")
    assert got.to_pydict() == {"id": [1, 3, 5], "twice": [2, 6, 10]}


def test_s3_blobs_and_session(s3):
    uri, options = s3
    field = pa.field("b", pa.large_binary(), metadata={"lance-encoding:blob": "true"})
    payload = bytes(range(256)) * 100
    table = pa.table({"id": pa.array([0, 1], pa.int64()), "b": pa.array([payload, b"tiny"], pa.large_binary())},
                     schema=pa.schema([pa.field("id", pa.int64()), field]))
    ds = pilum.write_dataset(table, uri, storage_options=options)
    big, tiny = ds.take_blobs("b", indices=[0, 1])
    big.seek(1000)
    assert big.read(10) == payload[1000:1010]
    assert tiny.read() == b"tiny"
    session = pilum.Session()
    session.register("t", uri, storage_options=options)
    assert session.sql("SELECT count(*) AS c FROM t").to_pydict() == {"c": [2]}


def test_s3_concurrent_appends_through_separate_handles(s3):
    import threading

    uri, options = s3
    schema = pa.schema([("w", pa.int64())])
    pilum.write_dataset(schema.empty_table(), uri, storage_options=options)
    errors = []

    def work(w):
        try:
            pilum.write_dataset(pa.table({"w": pa.array([w] * 5, pa.int64())}), uri, mode="append",
                                storage_options=options)
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    ds = pilum.dataset(uri, storage_options=options)
    assert ds.version == 5
    assert sorted(ds.to_table()["w"].to_pylist()) == sorted([w for w in range(4) for _ in range(5)])


def test_s3_missing_bucket_is_storage_or_not_found_error(moto_endpoint):
    options = {
        "aws_access_key_id": "x",
        "aws_secret_access_key": "x",
        "aws_region": "us-east-1",
        "aws_endpoint": moto_endpoint,
        "aws_allow_http": "true",
    }
    with pytest.raises((pilum.StorageError, pilum.DatasetNotFoundError)):
        pilum.dataset("s3://no-such-bucket-pilum/x", storage_options=options)
