"""Synthetic benchmark data from a fixed seed, staged as Arrow IPC files.

Tables are generated batch by batch; batch ``k`` is seeded with
``(seed, k)``, so a subprocess that calls :func:`synthetic_table` with the
same arguments gets byte-identical data. Sources are written once to an
Arrow IPC file and read back memory-mapped (:func:`load_ipc`), so every
engine writes from the same zero-copy table without holding a second copy
in anonymous memory.
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Columns of the main synthetic table (1M rows in full mode).
MAIN_COLUMNS = ("id", "value", "category", "text", "vec128", "vec768", "vec16")
#: Columns of the big synthetic table (10M rows in full mode).
BIG_COLUMNS = ("id", "value", "category", "text", "vec128")
#: Scalar columns of the 10-row batches appended to make versions.
APPEND_COLUMNS = ("id", "value", "category", "text")

#: Rows per generated batch (also the IPC record batch size).
BATCH_ROWS = 16_384
#: Distinct values of the low-cardinality ``category`` column.
CATEGORIES = 16
VOCABULARY_SIZE = 5_000
TEXT_TARGET_BYTES = 200

#: Approximate Arrow bytes per row of each column, for disk estimates.
COLUMN_BYTES = {
    "id": 8, "value": 8, "category": 8, "text": TEXT_TARGET_BYTES + 4,
    "vec128": 128 * 4, "vec768": 768 * 4, "vec16": 128 * 2,
}

BLOB_MIN_BYTES = 50_000
BLOB_MAX_BYTES = 1_000_000
BLOB_FIELD_METADATA = {"lance-encoding:blob": "true"}


def schema_for(columns: Sequence[str]) -> pa.Schema:
    """The Arrow schema of a synthetic table with `columns`."""
    types = {
        "id": pa.int64(),
        "value": pa.float64(),
        "category": pa.int64(),
        "text": pa.string(),
        "vec128": pa.list_(pa.float32(), 128),
        "vec768": pa.list_(pa.float32(), 768),
        "vec16": pa.list_(pa.float16(), 128),
    }
    return pa.schema([pa.field(name, types[name]) for name in columns])


class TextGenerator:
    """Random sentences of ~200 bytes over a Zipf-distributed vocabulary.

    The vocabulary is ``VOCABULARY_SIZE`` distinct pseudo-words (2–12
    letters); shorter words get the frequent ranks, as in natural text, so
    the column compresses like prose rather than like a 16-word toy.
    """

    def __init__(self, seed: int):
        rng = np.random.default_rng([seed, 0xC0FFEE])
        words: set = set()
        while len(words) < VOCABULARY_SIZE:
            length = int(rng.integers(2, 13))
            words.add(bytes(rng.integers(ord("a"), ord("z") + 1, length, dtype=np.uint8)).decode())
        ordered = sorted(words)
        rng.shuffle(ordered)
        ordered.sort(key=len)  # stable: shuffled within each length
        self.vocabulary = pa.array(ordered, pa.string())
        weights = 1.0 / np.arange(1, VOCABULARY_SIZE + 1)
        self.cdf = np.cumsum(weights / weights.sum())
        mean_word = float(np.dot(weights / weights.sum(), [len(w) + 1 for w in ordered]))
        self.words_per_row = max(1, round(TEXT_TARGET_BYTES / mean_word))

    def strings(self, rng: np.random.Generator, count: int) -> pa.Array:
        """`count` sentences, vectorized (no Python loop per row)."""
        spread = max(1, self.words_per_row // 5)
        lengths = rng.integers(self.words_per_row - spread, self.words_per_row + spread + 1, count)
        offsets = np.zeros(count + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        ranks = np.searchsorted(self.cdf, rng.random(int(offsets[-1])))
        ranks = np.minimum(ranks, VOCABULARY_SIZE - 1)
        words = self.vocabulary.take(pa.array(ranks))
        return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), words), " ")


def _vectors(rng: np.random.Generator, rows: int, dim: int, dtype) -> pa.Array:
    values = rng.standard_normal(rows * dim, dtype=np.float32).astype(dtype, copy=False)
    return pa.FixedSizeListArray.from_arrays(pa.array(values), dim)


def _column(name: str, rng: np.random.Generator, start: int, count: int, text: "TextGenerator") -> pa.Array:
    """One synthetic column for rows ``start .. start + count``."""
    if name == "id":
        return pa.array(np.arange(start, start + count, dtype=np.int64))
    if name == "value":
        return pa.array(rng.standard_normal(count))
    if name == "category":
        return pa.array(rng.integers(0, CATEGORIES, count, dtype=np.int64))
    if name == "text":
        return text.strings(rng, count)
    if name == "vec16":
        return _vectors(rng, count, 128, np.float16)
    dim = {"vec128": 128, "vec768": 768}[name]
    return _vectors(rng, count, dim, np.float32)


def synthetic_batches(rows: int, seed: int, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """The synthetic table as record batches of ``BATCH_ROWS`` rows."""
    text = TextGenerator(seed)
    schema = schema_for(columns)
    for index, start in enumerate(range(0, rows, BATCH_ROWS)):
        count = min(BATCH_ROWS, rows - start)
        rng = np.random.default_rng([seed, index])
        yield pa.record_batch([_column(name, rng, start, count, text) for name in columns], schema=schema)


def synthetic_table(rows: int, seed: int, columns: Sequence[str]) -> pa.Table:
    """The whole synthetic table in memory (used by the RSS subprocesses)."""
    return pa.Table.from_batches(list(synthetic_batches(rows, seed, columns)), schema=schema_for(columns))


def blob_batches(count: int, seed: int, per_batch: int = 32) -> Iterator[pa.RecordBatch]:
    """``count`` incompressible blobs, sizes log-uniform in 50 KB–1 MB.

    Log-uniform makes ~100–300 KB blobs typical (median ≈ 224 KB, mean ≈ 317 KB)
    while still covering the whole 50 KB–1 MB range.
    """
    rng = np.random.default_rng([seed, 0xB10B])
    log_sizes = rng.uniform(math.log(BLOB_MIN_BYTES), math.log(BLOB_MAX_BYTES), count)
    sizes = np.exp(log_sizes).astype(np.int64)
    schema = blob_schema()
    for start in range(0, count, per_batch):
        chunk = sizes[start : start + per_batch]
        offsets = np.zeros(len(chunk) + 1, dtype=np.int64)
        np.cumsum(chunk, out=offsets[1:])
        payload = rng.bytes(int(offsets[-1]))
        blobs = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), len(chunk), [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(payload)]
        )
        ids = pa.array(np.arange(start, start + len(chunk), dtype=np.int64))
        yield pa.record_batch([ids, blobs], schema=schema)


def blob_schema() -> pa.Schema:
    """``id`` plus a large-binary ``blob`` column marked for out-of-line blob storage."""
    return pa.schema([pa.field("id", pa.int64()), pa.field("blob", pa.large_binary(), metadata=BLOB_FIELD_METADATA)])


def mean_blob_bytes() -> float:
    """Expected size of one blob under the log-uniform distribution."""
    return (BLOB_MAX_BYTES - BLOB_MIN_BYTES) / math.log(BLOB_MAX_BYTES / BLOB_MIN_BYTES)


def write_ipc(path: str, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> int:
    """Streams `batches` into an Arrow IPC file at `path`; returns the row count."""
    rows = 0
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def load_ipc(path: str) -> pa.Table:
    """The IPC file at `path` as a zero-copy, memory-mapped table."""
    return pa.ipc.open_file(pa.memory_map(path, "r")).read_all()
