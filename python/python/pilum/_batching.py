"""Re-cutting a stream of record batches to exact sizes."""

from __future__ import annotations

from typing import Iterator, List

import pyarrow as pa

__all__ = ["exact_batches", "RowWindow"]


def exact_batches(reader: pa.RecordBatchReader, size: int) -> pa.RecordBatchReader:
    """`reader`'s rows in batches of exactly `size` rows (the last may be shorter)."""
    if size <= 0:
        raise ValueError("batch_size must be positive")
    schema = reader.schema

    def batches() -> Iterator[pa.RecordBatch]:
        pending: List[pa.RecordBatch] = []
        held = 0
        for batch in reader:
            pending.append(batch)
            held += batch.num_rows
            if held < size:
                continue
            table = pa.Table.from_batches(pending, schema)
            whole = held - held % size
            yield from table.slice(0, whole).combine_chunks().to_batches(max_chunksize=size)
            pending = table.slice(whole).to_batches()
            held -= whole
        if held:
            yield pa.Table.from_batches(pending, schema).combine_chunks().to_batches()[0]

    return pa.RecordBatchReader.from_batches(schema, batches())


class RowWindow:
    """Rows `offset` to `offset + limit` of a stream cut into pieces: skips
    the first `offset` rows, then passes at most `limit` (all when ``None``)."""

    def __init__(self, offset: int, limit: "int | None") -> None:
        self.skip, self.left = offset, limit

    @property
    def done(self) -> bool:
        """Whether the window has passed all its rows."""
        return self.left == 0

    def cut(self, piece):
        """The part of `piece` (a batch or table) inside the window."""
        if self.skip:
            dropped = min(self.skip, piece.num_rows)
            piece, self.skip = piece.slice(dropped), self.skip - dropped
        if self.left is not None:
            piece = piece.slice(0, self.left)
            self.left -= piece.num_rows
        return piece
