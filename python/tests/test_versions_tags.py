"""Versions, time travel (version / tag / asof), restore and tags."""

from __future__ import annotations

import datetime as dt
import time

import pyarrow as pa
import pytest

import pilum
from _helpers import ids


def _history(uri: str):
    """Three versions, at least 30 ms apart: 10 rows, 7 rows, 7 rows + column."""
    table = pa.table({"id": pa.array(range(10), pa.int64())})
    ds = pilum.write_dataset(table, uri)
    time.sleep(0.03)
    ds.delete("id >= 7")
    time.sleep(0.03)
    ds.add_columns({"sq": "id * id"})
    return ds


def test_versions_listing(uri):
    ds = _history(uri)
    versions = ds.versions()
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert [v["operation"] for v in versions] == ["create", "delete", "add_columns"]
    assert [v["num_rows"] for v in versions] == [10, 7, 7]
    stamps = [v["timestamp"] for v in versions]
    assert all(isinstance(t, dt.datetime) and t.tzinfo is not None for t in stamps)
    assert stamps[0] < stamps[1] < stamps[2]
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - stamps[-1]).total_seconds()) < 60
    assert all(isinstance(v["metadata"], dict) for v in versions)
    assert ds.version == 3 and ds.latest_version == 3


def test_open_and_checkout_by_number(uri):
    ds = _history(uri)
    v1 = pilum.dataset(uri, version=1)
    assert (v1.version, v1.count_rows(), v1.schema.names) == (1, 10, ["id"])
    v2 = ds.checkout_version(2)
    assert (v2.version, v2.count_rows()) == (2, 7)
    assert ds.version == 3  # checkout returns a new object
    assert ids(v2.to_table()) == list(range(7))
    assert v1.latest_version == 3
    assert v1.checkout_latest().version == 3
    with pytest.raises(pilum.VersionNotFoundError):
        ds.checkout_version(42)
    with pytest.raises(pilum.VersionNotFoundError):
        pilum.dataset(uri, version=42)


def test_stale_handle_sees_latest_version_number(uri, small_table):
    a = pilum.write_dataset(small_table, uri)
    b = pilum.dataset(uri)
    pilum.write_dataset(small_table, uri, mode="append")
    assert (b.version, b.latest_version, b.count_rows()) == (1, 2, 10)
    assert pilum.dataset(uri).count_rows() == 20
    assert a.version == 1


def test_asof_aware_datetimes(uri):
    ds = _history(uri)
    stamps = [v["timestamp"] for v in ds.versions()]
    for k, ts in enumerate(stamps, start=1):
        assert pilum.dataset(uri, asof=ts).version == k
        # The same instant written in another time zone.
        other = ts.astimezone(dt.timezone(dt.timedelta(hours=-7, minutes=-30)))
        assert pilum.dataset(uri, asof=other).version == k
    # Between two versions: the older one.
    middle = stamps[0] + (stamps[1] - stamps[0]) / 2
    assert pilum.dataset(uri, asof=middle).version == 1
    just_before = stamps[1] - dt.timedelta(microseconds=1)
    assert pilum.dataset(uri, asof=just_before).version == 1
    assert pilum.dataset(uri, asof=stamps[2] + dt.timedelta(days=1)).version == 3
    with pytest.raises(pilum.VersionNotFoundError):
        pilum.dataset(uri, asof=stamps[0] - dt.timedelta(seconds=1))
    # Pandas timestamps and ISO strings work too.
    pd = pytest.importorskip("pandas")

    assert pilum.dataset(uri, asof=pd.Timestamp(middle)).version == 1
    assert pilum.dataset(uri, asof=stamps[1].isoformat()).version == 2


@pytest.fixture
def local_tz_plus_0530(monkeypatch):
    """Local time is UTC+05:30 (POSIX TZ strings have the sign inverted)."""
    monkeypatch.setenv("TZ", "XYZ-05:30")
    time.tzset()
    yield dt.timezone(dt.timedelta(hours=5, minutes=30))
    monkeypatch.undo()
    time.tzset()


def test_asof_naive_datetime_is_local_time(uri, local_tz_plus_0530):
    ds = _history(uri)
    stamps = [v["timestamp"] for v in ds.versions()]
    for k, ts in enumerate(stamps, start=1):
        naive_local = ts.astimezone(local_tz_plus_0530).replace(tzinfo=None)
        assert pilum.dataset(uri, asof=naive_local).version == k
    # A naive *UTC* wall time read as local (UTC+05:30) is 5.5 hours earlier,
    # before the dataset existed.
    naive_utc = stamps[2].astimezone(dt.timezone.utc).replace(tzinfo=None)
    with pytest.raises(pilum.VersionNotFoundError):
        pilum.dataset(uri, asof=naive_utc)


def test_restore_commits_old_version_as_latest(uri):
    ds = _history(uri)
    old = ds.checkout_version(1)
    old.restore()
    assert old.version == 4
    latest = pilum.dataset(uri)
    assert latest.version == 4
    assert latest.count_rows() == 10
    assert latest.schema.names == ["id"]
    assert latest.versions()[-1]["operation"] == "restore"
    # Version 3 is still there.
    assert pilum.dataset(uri, version=3).schema.names == ["id", "sq"]


def test_tags_lifecycle(uri):
    ds = _history(uri)
    tags = ds.tags
    assert tags.list() == {}
    tags.create("first", 1)
    tags.create("latest")  # the latest version
    tags.create("alias", "first")  # another tag
    listed = tags.list()
    assert {k: v["version"] for k, v in listed.items()} == {"first": 1, "latest": 3, "alias": 1}
    assert all(isinstance(v["timestamp"], dt.datetime) for v in listed.values())
    assert tags.get_version("first") == 1

    assert pilum.dataset(uri, version="first").count_rows() == 10
    assert ds.checkout_version("latest").version == 3

    tags.update("first", 2)
    assert tags.get_version("first") == 2
    assert pilum.dataset(uri, version="first").count_rows() == 7

    with pytest.raises(pilum.TagAlreadyExistsError):
        tags.create("first", 1)
    with pytest.raises(pilum.TagNotFoundError):
        tags.update("missing", 1)
    with pytest.raises(pilum.VersionNotFoundError):
        tags.create("nowhere", 99)
    with pytest.raises(pilum.InvalidTagNameError):
        tags.create("bad/name", 1)
    with pytest.raises(pilum.InvalidTagNameError):
        tags.create("a..b", 1)

    tags.delete("alias")
    assert set(tags.list()) == {"first", "latest"}
    with pytest.raises(pilum.TagNotFoundError):
        tags.get_version("alias")
    with pytest.raises(pilum.TagNotFoundError):
        tags.delete("alias")
    with pytest.raises(pilum.TagNotFoundError):
        ds.checkout_version("alias")
    with pytest.raises(pilum.TagNotFoundError):
        pilum.dataset(uri, version="alias")
    # Deleting a tag keeps its version.
    assert pilum.dataset(uri, version=1).count_rows() == 10
    # Tags are visible from another handle.
    assert pilum.dataset(uri).tags.get_version("first") == 2


def test_version_type_checked(uri, small_table):
    pilum.write_dataset(small_table, uri)
    with pytest.raises(TypeError):
        pilum.dataset(uri, version=1.5)
