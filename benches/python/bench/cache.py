"""Dropping a dataset's files from the OS page cache, and proving it.

:func:`drop` flushes dirty pages (``os.sync``), asks the kernel to drop
clean caches globally (``/proc/sys/vm/drop_caches``) where this process may
(root outside a container), and in any case calls
``posix_fadvise(POSIX_FADV_DONTNEED)`` on every file of the dataset. It then
measures how many bytes of those files are still resident, with util-linux
``fincore`` when installed and ``mincore(2)`` through ctypes otherwise, and
raises :class:`CacheNotDropped` if any are: a "cold" number measured on a
warm cache would be a lie.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

from .timing import Fatal

DROP_CACHES = "/proc/sys/vm/drop_caches"


class CacheNotDropped(Fatal):
    """Bytes of a dataset stayed in the page cache after the drop."""


@dataclass
class DropRecord:
    """One drop: resident bytes of the dataset before and after, and how it was done."""

    files: int
    size_bytes: int
    cached_before: int
    cached_after: int
    method: str
    checker: str

    def as_dict(self) -> Dict[str, object]:
        return asdict(self)


def dataset_files(path: str) -> List[str]:
    """Every non-empty regular file of the dataset at `path` (a file or a directory tree)."""
    if os.path.isfile(path):
        return [path] if os.path.getsize(path) else []
    found = []
    for directory, _, names in os.walk(path):
        for name in sorted(names):
            full = os.path.join(directory, name)
            if os.path.isfile(full) and os.path.getsize(full):
                found.append(full)
    return sorted(found)


def _fincore_bytes(files: List[str]) -> int:
    """Resident bytes of `files` according to util-linux ``fincore``."""
    total = 0
    for start in range(0, len(files), 256):
        chunk = files[start:start + 256]
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES,FILE", *chunk],
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.strip():
                total += int(line.split(maxsplit=1)[0])
    return total


_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        _LIBC = libc
    return _LIBC


def _mincore_bytes(files: List[str]) -> int:
    """Resident bytes of `files` from ``mincore(2)`` on a read-only shared mapping of each."""
    libc, page = _libc(), mmap.PAGESIZE
    total = 0
    for name in files:
        size = os.path.getsize(name)
        fd = os.open(name, os.O_RDONLY)
        try:
            address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
            if address in (None, ctypes.c_void_p(-1).value):
                raise OSError(ctypes.get_errno(), f"mmap {name}")
            try:
                pages = (size + page - 1) // page
                vector = (ctypes.c_ubyte * pages)()
                if libc.mincore(address, size, vector) != 0:
                    raise OSError(ctypes.get_errno(), f"mincore {name}")
                resident = sum(1 for flag in vector if flag & 1)
                total += min(resident * page, size) if resident < pages else size
            finally:
                libc.munmap(address, size)
        finally:
            os.close(fd)
    return total


def checker_name() -> str:
    """``fincore`` where installed, else ``mincore``."""
    return "fincore" if shutil.which("fincore") else "mincore"


def resident_bytes(files: List[str]) -> int:
    """How many bytes of `files` are in the page cache now."""
    return _fincore_bytes(files) if checker_name() == "fincore" else _mincore_bytes(files)


def _global_drop() -> Optional[str]:
    """Writes 1 to drop_caches; the reason when that is not allowed, else None."""
    try:
        with open(DROP_CACHES, "w") as handle:
            handle.write("1\n")
        return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"


class CacheDropper:
    """Drops datasets from the page cache; remembers whether the global drop is allowed."""

    def __init__(self, use_global: bool = True):
        self.use_global = use_global
        self.global_refused: Optional[str] = None if use_global else "disabled (--no-global-drop)"

    def drop(self, path: str) -> DropRecord:
        """Evicts every file of the dataset at `path`; raises :class:`CacheNotDropped` if any byte stays."""
        files = dataset_files(path)
        if not files:
            raise CacheNotDropped(f"no files under {path}")
        size = sum(os.path.getsize(f) for f in files)
        before = resident_bytes(files)
        os.sync()
        methods = []
        if self.global_refused is None:
            refused = _global_drop()
            if refused is None:
                methods.append("drop_caches")
            else:
                self.global_refused = refused
        for name in files:
            fd = os.open(name, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
        methods.append("fadvise")
        after = resident_bytes(files)
        record = DropRecord(len(files), size, before, after, "+".join(methods), checker_name())
        if after:
            raise CacheNotDropped(f"{after:,} of {size:,} bytes of {path} still cached after {record.method} "
                                  f"({record.checker}); cold numbers would be warm")
        return record

    def warm_record(self, path: str) -> DropRecord:
        """Resident bytes of the dataset at `path` without dropping anything (for warm runs)."""
        files = dataset_files(path)
        cached = resident_bytes(files)
        return DropRecord(len(files), sum(os.path.getsize(f) for f in files), cached, cached, "none", checker_name())
