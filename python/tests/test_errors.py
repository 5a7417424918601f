"""Rust errors arrive as specific ``pilum.errors`` classes that also derive
from the natural built-in exceptions; nothing crashes the interpreter."""

from __future__ import annotations

import datetime as dt
import glob
import os
import textwrap

import pyarrow as pa
import pytest

import pilum
from pilum import errors
from _helpers import run_python


def test_error_hierarchy():
    expected = {
        "DatasetNotFoundError": FileNotFoundError,
        "DatasetAlreadyExistsError": FileExistsError,
        "ObjectNotFoundError": FileNotFoundError,
        "CommitConflictError": OSError,
        "SchemaMismatchError": ValueError,
        "InvalidFilterError": ValueError,
        "ColumnNotFoundError": ValueError,
        "VersionNotFoundError": ValueError,
        "TagNotFoundError": ValueError,
        "TagAlreadyExistsError": ValueError,
        "InvalidTagNameError": ValueError,
        "InvalidArgumentError": ValueError,
        "UnsupportedVersionError": ValueError,
        "CorruptFileError": OSError,
        "RowNotFoundError": IndexError,
        "StorageError": OSError,
        "ExecutionError": RuntimeError,
        "SqlError": ValueError,
        "PilumInternalError": RuntimeError,
    }
    for name, builtin in expected.items():
        cls = getattr(errors, name)
        assert issubclass(cls, errors.PilumError), name
        assert issubclass(cls, builtin), name
        assert getattr(pilum, name) is cls  # re-exported at top level
        assert name in errors.__all__
    assert issubclass(errors.PilumError, Exception)


def _write(uri, n=100):
    table = pa.table({"id": pa.array(range(n), pa.int64()), "s": [f"s{i}" for i in range(n)]})
    return pilum.write_dataset(table, uri)


@pytest.mark.parametrize(
    "action, cls, builtin",
    [
        (lambda ds, uri: pilum.dataset(uri + "_missing"), pilum.DatasetNotFoundError, FileNotFoundError),
        (lambda ds, uri: _write(uri), pilum.DatasetAlreadyExistsError, FileExistsError),
        (lambda ds, uri: pilum.write_dataset(pa.table({"id": [1.5]}), uri, mode="append"),
         pilum.SchemaMismatchError, ValueError),
        (lambda ds, uri: pilum.write_dataset(pa.table({"id": pa.array([1], pa.int32()), "s": ["x"]}), uri, mode="append"),
         pilum.SchemaMismatchError, ValueError),
        (lambda ds, uri: pilum.write_dataset(pa.table({"s": ["x"], "id": pa.array([1], pa.int64()), "z": [1]}), uri, mode="append"),
         pilum.SchemaMismatchError, ValueError),
        (lambda ds, uri: ds.to_table(filter="id >>> 3"), pilum.InvalidFilterError, ValueError),
        (lambda ds, uri: ds.count_rows("id +"), pilum.InvalidFilterError, ValueError),
        (lambda ds, uri: ds.to_table(filter="id + 1"), pilum.InvalidFilterError, ValueError),
        (lambda ds, uri: ds.delete("id >"), pilum.InvalidFilterError, ValueError),
        (lambda ds, uri: ds.update({"s": "'x'"}, where="(("), pilum.InvalidFilterError, ValueError),
        (lambda ds, uri: ds.to_table(filter="nope > 1"), pilum.ColumnNotFoundError, ValueError),
        (lambda ds, uri: ds.to_table(columns=["nope"]), pilum.ColumnNotFoundError, ValueError),
        (lambda ds, uri: ds.take([0], columns=["nope"]), pilum.ColumnNotFoundError, ValueError),
        (lambda ds, uri: ds.drop_columns(["nope"]), pilum.ColumnNotFoundError, ValueError),
        (lambda ds, uri: ds.checkout_version(7), pilum.VersionNotFoundError, ValueError),
        (lambda ds, uri: pilum.dataset(uri, version=0), pilum.VersionNotFoundError, ValueError),
        (lambda ds, uri: pilum.dataset(uri, asof=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)),
         pilum.VersionNotFoundError, ValueError),
        (lambda ds, uri: ds.checkout_version("nope"), pilum.TagNotFoundError, ValueError),
        (lambda ds, uri: ds.tags.delete("nope"), pilum.TagNotFoundError, ValueError),
        (lambda ds, uri: ds.take([100]), pilum.RowNotFoundError, IndexError),
        (lambda ds, uri: ds.take([2**63]), pilum.RowNotFoundError, IndexError),
        (lambda ds, uri: ds.take_rows([12345]), pilum.RowNotFoundError, IndexError),
        (lambda ds, uri: ds.sql("SELEC 1"), pilum.SqlError, ValueError),
        (lambda ds, uri: ds.sql("SELECT nope FROM dataset"), pilum.SqlError, ValueError),
        (lambda ds, uri: pilum.dataset("foo://bucket/x"), pilum.InvalidArgumentError, ValueError),
        (lambda ds, uri: pilum.write_dataset(pa.table({"a": [1]}), uri + "_z", max_rows_per_file=0),
         pilum.InvalidArgumentError, ValueError),
        (lambda ds, uri: ds.count_rows("id = 'abc'"), pilum.PilumError, Exception),
    ],
)
def test_errors_map_to_specific_classes(uri, action, cls, builtin):
    ds = _write(uri)
    with pytest.raises(cls) as info:
        action(ds, uri)
    assert isinstance(info.value, builtin)
    assert isinstance(info.value, pilum.PilumError)
    assert not isinstance(info.value, pilum.PilumInternalError)
    assert str(info.value)  # a message, not an empty error


def test_invalid_mode_is_plain_value_error(uri):
    with pytest.raises(ValueError):
        pilum.write_dataset(pa.table({"a": [1]}), uri, mode="replace")
    with pytest.raises(pilum.DatasetNotFoundError):
        pilum.dataset(uri)


def test_failed_operations_commit_nothing(uri):
    ds = _write(uri)
    for bad in (lambda: ds.delete("nope = 1"), lambda: ds.update({"nope": "1"}),
                lambda: ds.add_columns({"x": "nope"}), lambda: ds.alter_columns({"path": "nope", "name": "y"})):
        with pytest.raises(pilum.PilumError):
            bad()
    assert ds.version == 1 and ds.latest_version == 1 and len(ds.versions()) == 1


# ----------------------------------------------------------------------------- damaged storage


def _corrupt_every_data_file(uri, how):
    files = glob.glob(os.path.join(uri, "data", "*"))
    assert files
    for path in files:
        data = bytearray(open(path, "rb").read())
        if how == "flip":
            for i in range(0, len(data), 7):
                data[i] ^= 0xFF
        elif how == "head":
            for i in range(min(200, len(data))):
                data[i] ^= 0x5A
        elif how == "truncate":
            data = data[: len(data) // 2]
        with open(path, "wb") as f:
            f.write(bytes(data))


@pytest.mark.parametrize("how", ["flip", "head", "truncate"])
def test_corrupt_data_file_take_and_count(uri, how):
    _write(uri)
    _corrupt_every_data_file(uri, how)
    ds = pilum.dataset(uri)  # the manifest is intact
    # Flipped bytes that land on the footer's version or feature fields read
    # as a file from a newer writer: the footer has no checksum of its own, so
    # that is indistinguishable from a future file, and just as typed.
    expected = (pilum.CorruptFileError, pilum.UnsupportedVersionError) if how == "flip" else pilum.CorruptFileError
    with pytest.raises(expected):
        ds.take([3])
    with pytest.raises(expected):
        ds.count_rows("id > 3")


@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_corrupt_data_file_scan_raises_pilum_error(uri, how):
    _write(uri)
    _corrupt_every_data_file(uri, how)
    with pytest.raises(pilum.PilumError):
        pilum.dataset(uri).to_table()


def test_corrupt_data_file_scan_raises_not_crashes(uri):
    _write(uri)
    _corrupt_every_data_file(uri, "flip")
    with pytest.raises(Exception) as info:
        pilum.dataset(uri).to_table()
    assert "corrupt" in str(info.value).lower()


def test_missing_data_file(uri):
    _write(uri)
    for path in glob.glob(os.path.join(uri, "data", "*")):
        os.remove(path)
    with pytest.raises(pilum.ObjectNotFoundError) as info:
        pilum.dataset(uri).take([0])
    assert isinstance(info.value, FileNotFoundError)


def test_missing_data_file_scan(uri):
    _write(uri)
    for path in glob.glob(os.path.join(uri, "data", "*")):
        os.remove(path)
    with pytest.raises(pilum.ObjectNotFoundError):
        pilum.dataset(uri).to_table()


def test_runtime_evaluation_error_in_scan_is_execution_error(uri):
    ds = _write(uri)
    with pytest.raises(pilum.ExecutionError):
        ds.to_table(filter="id / 0 > 1")


def test_corrupt_manifest(uri):
    _write(uri)
    manifests = glob.glob(os.path.join(uri, "_versions", "*.manifest"))
    assert len(manifests) == 1
    with open(manifests[0], "r+b") as f:
        data = bytearray(f.read())
        for i in range(0, len(data), 3):
            data[i] ^= 0x5A
        f.seek(0)
        f.write(bytes(data))
    with pytest.raises(pilum.CorruptFileError):
        pilum.dataset(uri)


# ----------------------------------------------------------------------------- no panics


def test_hostile_inputs_never_crash_the_interpreter(tmp_path):
    """Odd inputs raise Python exceptions (never PilumInternalError), and the
    process survives to the end."""
    code = textwrap.dedent(
        f"""
        import datetime as dt, pyarrow as pa, pilum, sys
        uri = {str(tmp_path / "h")!r}
        t = pa.table({{"id": pa.array(range(50), pa.int64()), "s": [str(i) for i in range(50)]}})
        ds = pilum.write_dataset(t, uri, max_rows_per_file=7)
        calls = [
            lambda: ds.take([2**64]),
            lambda: ds.take([2**63 - 1]),
            lambda: ds.to_table(limit=2**62),
            lambda: ds.to_table(offset=2**62),
            lambda: ds.to_table(filter=""),
            lambda: ds.to_table(filter="1; DROP TABLE x"),
            lambda: ds.to_table(filter="sum(id) > 1"),
            lambda: ds.to_table(filter="id IN (SELECT 1)"),
            lambda: ds.to_table(filter="s = 'ü\\u0000'"),
            lambda: ds.to_table(filter="id / 0 > 1"),
            lambda: ds.to_table(filter="CAST(s AS INT) > 3"),
            lambda: ds.update({{"id": "sum(id)"}}),
            lambda: ds.add_columns({{"z": "count(*)"}}),
            lambda: ds.add_columns({{}}),
            lambda: ds.drop_columns([]),
            lambda: ds.alter_columns({{"path": "id", "data_type": pa.list_(pa.int8())}}),
            lambda: ds.merge(pa.table({{"k": ["a"]}}), left_on="id", right_on="k"),
            lambda: ds.merge_insert("id").when_matched_update_all().execute(pa.table({{"id": [1]}})),
            lambda: pilum.dataset(uri, version=-1),
            lambda: pilum.dataset(uri, asof=dt.datetime(1, 1, 2, tzinfo=dt.timezone.utc)),
            lambda: pilum.dataset(uri, asof=dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc)),
            lambda: ds.tags.create("", 1),
            lambda: ds.tags.create("x" * 500, 1),
            lambda: ds.take_blobs("s", indices=[0]),
            lambda: ds.sql("SELECT * FROM nope"),
            lambda: ds.sql(""),
            lambda: ds.optimize.compact_files(target_rows_per_fragment=0),
            lambda: ds.cleanup_old_versions(older_than=dt.timedelta(days=-1)),
            lambda: pilum.write_dataset(pa.table({{}}), uri + "_nocols"),
            lambda: ds.to_batches(batch_size=0),
            lambda: list(ds.to_batches(batch_size=1))[:2],
            lambda: ds.scanner(fragments=[999]).to_table(),
        ]
        for i, call in enumerate(calls):
            try:
                result = call()
                if hasattr(result, "__iter__") and not isinstance(result, (str, bytes, dict)):
                    list(result)
            except pilum.PilumInternalError as e:
                print("INTERNAL", i, e)
                sys.exit(3)
            except Exception:
                pass
        print("SURVIVED", ds.count_rows(), pilum.dataset(uri).count_rows() >= 0)
        """
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SURVIVED" in proc.stdout
    assert "panicked" not in proc.stderr


@pytest.mark.parametrize("read", ["scan", "take", "count"])
def test_a_damaged_chunk_is_corruption_naming_the_file(uri, read):
    """One flipped byte inside the data region: every read path reports
    CorruptFileError (not a ValueError-like error) and names the damaged file."""
    ds = pilum.write_dataset(
        pa.table({"id": pa.array(range(5000), pa.int64()), "s": [f"value {i}" for i in range(5000)]}), uri
    )
    (path,) = glob.glob(os.path.join(uri, "data", "*"))
    data = bytearray(open(path, "rb").read())
    data[len(data) // 4] ^= 0x01  # inside a page, far from header and footer
    open(path, "wb").write(bytes(data))
    ds = pilum.dataset(uri)
    with pytest.raises(pilum.CorruptFileError) as info:
        if read == "scan":
            ds.to_table()
        elif read == "take":
            ds.take(list(range(0, 5000, 50)))
        else:
            ds.count_rows("id % 2 = 0 AND s <> 'x'")
    assert os.path.basename(path) in str(info.value), str(info.value)
