"""Checksums of returned data, so every engine is shown to return the same values.

Each row gets a 64-bit hash from its values (bit patterns, not types: an
int32 and an int64 with the same value hash alike, as do string and
large_string), mixed with a per-column constant from the column's name.
A result's digest is then either

- *ordered* (takes, blob fetches: rows must come back in request order):
  BLAKE2b over the row hashes in order, or
- *unordered* (scans, where no engine promises an order): the row count,
  the sum and the xor of the row hashes (a multiset hash).

Strings and binaries are hashed with pandas' vectorised SipHash
(``pandas.util.hash_array``, fixed key), numbers and vector elements with
the splitmix64 finaliser in numpy (vectors: a random odd
multiplier per 64-bit word, summed, then finalised).
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Iterable, List, Sequence, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pandas.util import hash_array

M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
NULL_HASH = np.uint64(0x6A09E667F3BCC909)
#: Rows hashed at a time (bounds the temporary memory of wide vector columns).
CHUNK_ROWS = 8192

Data = Union[pa.Table, pa.RecordBatch]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64."""
    x = x ^ (x >> np.uint64(30))
    x = x * M1
    x = x ^ (x >> np.uint64(27))
    x = x * M2
    return x ^ (x >> np.uint64(31))


def _as_words(values: np.ndarray) -> np.ndarray:
    """Fixed-width values as uint64 (their bit pattern, zero-extended)."""
    width = values.dtype.itemsize
    return np.ascontiguousarray(values).view(f"u{width}").astype(np.uint64)


def _column_hashes(array: pa.Array) -> np.ndarray:
    """One uint64 per row of `array`."""
    kind = array.type
    if pa.types.is_fixed_size_list(kind):
        dim = kind.list_size
        flat = array.flatten() if array.null_count == 0 else pc.list_flatten(array.fill_null([0] * dim))
        values = np.ascontiguousarray(flat.to_numpy(zero_copy_only=False))
        row_bytes = dim * values.dtype.itemsize
        words = values.view(np.uint64) if row_bytes % 8 == 0 else _as_words(values)
        words = words.reshape(len(array), -1)
        # A random odd multiplier per word position, summed (a matrix-vector product mod 2**64).
        multipliers = _mix(np.arange(1, words.shape[1] + 1, dtype=np.uint64)) | np.uint64(1)
        hashed = _mix(words @ multipliers)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind) \
            or pa.types.is_large_binary(kind):
        values = array.to_numpy(zero_copy_only=False)
        values = np.array([b"" if v is None else v for v in values], dtype=object) if array.null_count else values
        hashed = hash_array(values, categorize=False).astype(np.uint64)
    elif pa.types.is_boolean(kind):
        hashed = _mix(array.fill_null(False).to_numpy(zero_copy_only=False).astype(np.uint64) + np.uint64(1))
    elif pa.types.is_primitive(kind):
        filled = array.fill_null(0) if array.null_count else array
        hashed = _mix(_as_words(filled.to_numpy(zero_copy_only=False)))
    else:
        raise TypeError(f"no checksum for column type {kind}")
    if array.null_count:
        hashed = np.where(array.is_null().to_numpy(zero_copy_only=False), NULL_HASH, hashed)
    return hashed


def _column_key(name: str) -> np.uint64:
    return _mix(np.array([zlib.crc32(name.encode()) + 1], dtype=np.uint64))[0]


def row_hashes(data: Data) -> np.ndarray:
    """One uint64 per row of `data`, from all its columns (by name)."""
    total = np.zeros(data.num_rows, dtype=np.uint64)
    for name in sorted(data.schema.names):
        column = data.column(name)
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        parts = []
        for chunk in chunks:
            for start in range(0, len(chunk), CHUNK_ROWS):
                parts.append(_column_hashes(chunk.slice(start, CHUNK_ROWS)))
        hashed = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
        total += _mix(hashed ^ _column_key(name))
    return total


def ordered(pieces: Iterable[Data]) -> str:
    """Digest of rows whose order matters (take results)."""
    digest, rows = hashlib.blake2b(digest_size=16), 0
    for piece in pieces:
        hashed = row_hashes(piece)
        digest.update(hashed.tobytes())
        rows += len(hashed)
    return f"o{rows}:{digest.hexdigest()}"


def unordered(pieces: Iterable[Data]) -> str:
    """Digest of rows in any order (scan results)."""
    rows, total, xor = 0, np.zeros(1, np.uint64), np.zeros(1, np.uint64)
    for piece in pieces:
        hashed = row_hashes(piece)
        rows += len(hashed)
        total += hashed.sum(dtype=np.uint64)
        xor ^= np.bitwise_xor.reduce(hashed, initial=np.uint64(0))
    return f"u{rows}:{int(total[0]):016x}{int(xor[0]):016x}"


def blobs(values: Sequence[bytes]) -> str:
    """Digest of blob contents in request order."""
    digest = hashlib.blake2b(digest_size=16)
    for value in values:
        digest.update(len(value).to_bytes(8, "little"))
        digest.update(value)
    return f"b{len(values)}:{digest.hexdigest()}"


def rows_of(digest: str) -> int:
    """The row (or blob) count a digest covers."""
    return int(digest[1:].split(":", 1)[0])


def table_pieces(data: Union[Data, List[pa.RecordBatch]]) -> List[Data]:
    """`data` as a list of tables/batches for :func:`ordered` and :func:`unordered`."""
    return list(data) if isinstance(data, list) else [data]
