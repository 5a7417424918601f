"""Blob values as read-only, seekable binary files."""

from __future__ import annotations

import io
from typing import Any

__all__ = ["BlobFile"]


class BlobFile(io.RawIOBase):
    """One blob, read lazily: each ``read`` fetches only the bytes asked for.

    A standard binary file object (``read``, ``readinto``, ``seek``,
    ``tell``, ``readable``, ``seekable``), so PIL, PyAV, ``zipfile`` and
    friends open it directly; wrap it in ``io.BufferedReader`` to batch
    small reads.
    """

    def __init__(self, native: Any):
        super().__init__()
        self._native = native

    def size(self) -> int:
        """Size of the blob in bytes."""
        return self._native.size()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._native.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        return self._native.seek(offset, whence)

    def read(self, size: int = -1) -> bytes:
        self._check_open()
        return self._native.read(-1 if size is None else size)

    def readall(self) -> bytes:
        return self.read(-1)

    def write(self, data: Any) -> int:
        raise io.UnsupportedOperation("write: a BlobFile is read-only")

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed blob file")

    def __repr__(self) -> str:
        return f"BlobFile(size={self.size()})"
