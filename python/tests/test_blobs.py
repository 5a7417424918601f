"""Blob columns: stored out of line, opened lazily as file-like objects."""

from __future__ import annotations

import io

import pyarrow as pa
import pytest

import pilum

try:
    from PIL import Image
except ImportError:  # pragma: no cover - pillow is a test dependency
    Image = None


def _png(width: int, height: int, seed: int) -> bytes:
    if Image is None:
        # Without pillow: deterministic bytes of a similar size.
        return bytes((seed * 31 + k * 7) % 256 for k in range(width * height * 3 + 60))
    image = Image.new("RGB", (width, height))
    image.putdata([((x * 7 + seed * 31) % 256, (y * 13 + seed) % 256, (x * y + seed) % 256)
                   for y in range(height) for x in range(width)])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


BLOB_FIELD = pa.field("img", pa.large_binary(), metadata={"lance-encoding:blob": "true"})
SCHEMA = pa.schema([pa.field("id", pa.int64()), BLOB_FIELD])


@pytest.fixture
def images():
    return [_png(16 + i, 9 + 2 * i, i) for i in range(4)]


@pytest.fixture
def blob_ds(tmp_path, images):
    # Row 2 has a null image.
    values = [images[0], images[1], None, images[2], images[3]]
    table = pa.table({"id": pa.array(range(5), pa.int64()), "img": pa.array(values, pa.large_binary())}, schema=SCHEMA)
    return pilum.write_dataset(table, str(tmp_path / "blobs"), max_rows_per_file=3)


def test_blob_schema_keeps_marker(blob_ds):
    field = blob_ds.schema.field("img")
    assert field.type == pa.large_binary()
    assert field.metadata == {b"lance-encoding:blob": b"true"}


def test_take_blobs_open_with_pil(blob_ds, images):
    pytest.importorskip("PIL")
    blobs = blob_ds.take_blobs("img", indices=[0, 1, 3, 4])
    assert len(blobs) == 4
    for i, blob in enumerate(blobs):
        assert isinstance(blob, pilum.BlobFile)
        assert isinstance(blob, io.RawIOBase)
        expected = Image.open(io.BytesIO(images[i]))
        with Image.open(blob) as got:
            assert got.size == (16 + i, 9 + 2 * i) == expected.size
            assert got.mode == "RGB"
            assert got.tobytes() == expected.tobytes()


def test_null_blob_is_none_and_order_follows_indices(blob_ds, images):
    blobs = blob_ds.take_blobs("img", indices=[4, 2, 0])
    assert blobs[1] is None
    assert blobs[0].read() == images[3]
    assert blobs[2].read() == images[0]


def test_blob_file_protocol(blob_ds, images):
    data = images[1]
    (blob,) = blob_ds.take_blobs("img", indices=[1])
    assert blob.size() == len(data)
    assert blob.readable() and blob.seekable()
    assert blob.tell() == 0
    assert blob.read(10) == data[:10]
    assert blob.tell() == 10
    assert blob.read(5) == data[10:15]
    assert blob.seek(3) == 3
    assert blob.read(4) == data[3:7]
    assert blob.seek(2, io.SEEK_CUR) == 9
    assert blob.read(1) == data[9:10]
    assert blob.seek(-6, io.SEEK_END) == len(data) - 6
    assert blob.read() == data[-6:]
    assert blob.read() == b""  # at the end
    assert blob.read(100) == b""
    blob.seek(0)
    buffer = bytearray(8)
    assert blob.readinto(buffer) == 8
    assert bytes(buffer) == data[:8]
    assert blob.tell() == 8
    blob.seek(len(data) - 3)
    big = bytearray(10)
    assert blob.readinto(big) == 3
    assert bytes(big[:3]) == data[-3:]
    blob.seek(0)
    assert blob.readall() == data
    # Buffered wrapping works too.
    blob.seek(0)
    assert io.BufferedReader(blob).read() == data
    with pytest.raises(ValueError):
        blob.seek(-1)  # negative absolute position
    blob.close()
    with pytest.raises(ValueError):
        blob.read()


def test_take_blobs_by_row_id_survives_deletes(blob_ds, images):
    row_ids = blob_ds.to_table(columns=["id"], with_row_id=True)["_rowid"].to_pylist()
    blob_ds.delete("id = 0")
    # Positions shifted: position 0 is now id 1.
    assert blob_ds.take_blobs("img", indices=[0])[0].read() == images[1]
    # Row ids did not.
    by_id = blob_ds.take_blobs("img", ids=[row_ids[4], row_ids[1], row_ids[2]])
    assert by_id[0].read() == images[3]
    assert by_id[1].read() == images[1]
    assert by_id[2] is None


def test_take_blobs_argument_errors(blob_ds):
    with pytest.raises(ValueError):
        blob_ds.take_blobs("img")
    with pytest.raises(ValueError):
        blob_ds.take_blobs("img", ids=[0], indices=[0])
    with pytest.raises(pilum.InvalidArgumentError):
        blob_ds.take_blobs("id", indices=[0])
    with pytest.raises(pilum.ColumnNotFoundError):
        blob_ds.take_blobs("nope", indices=[0])
    with pytest.raises(pilum.RowNotFoundError):
        blob_ds.take_blobs("img", indices=[5])
    with pytest.raises(IndexError):
        blob_ds.take_blobs("img", indices=[-1])


def test_pilum_blob_marker_and_large_blob_partial_read(tmp_path):
    field = pa.field("payload", pa.large_binary(), metadata={"pilum:blob": "true"})
    big = bytes(range(256)) * 4096  # 1 MiB
    table = pa.table({"id": pa.array([0, 1], pa.int64()), "payload": pa.array([b"small", big], pa.large_binary())},
                     schema=pa.schema([pa.field("id", pa.int64()), field]))
    ds = pilum.write_dataset(table, str(tmp_path / "big"))
    small, large = ds.take_blobs("payload", indices=[0, 1])
    assert small.read() == b"small"
    assert large.size() == len(big)
    large.seek(500_000)
    assert large.read(1000) == big[500_000:501_000]


def test_blob_columns_in_scans_and_other_columns(blob_ds, images):
    assert blob_ds.to_table(columns=["id"]).to_pydict() == {"id": [0, 1, 2, 3, 4]}
    assert blob_ds.take([3], columns=["id"]).to_pydict() == {"id": [3]}
    table = blob_ds.to_table()
    column = table["img"]
    expected = [images[0], images[1], None, images[2], images[3]]
    if pa.types.is_struct(column.type):
        # Lance-style (position, size) descriptions.
        sizes = [None if v is None else v["size"] for v in column.to_pylist()]
        assert sizes == [None if e is None else len(e) for e in expected]
    else:
        assert column.to_pylist() == expected
