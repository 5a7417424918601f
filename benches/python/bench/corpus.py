"""A real text corpus assembled from documentation files found offline.

Sources, in this order, each given an equal share of what is left of the
byte budget: the Python environment's site-packages, ``/usr/share/doc``
(``.gz`` files decompressed), ``~/.cargo/registry/src`` crate docs and the
rustup toolchains' ``share/doc``. Within a source, paths are walked in
sorted order, so on one machine the corpus is always the same; across
machines it differs, and the report records what was collected. Files
whose content was already taken (e.g. two toolchains of the same Rust
release) are skipped.

One row per paragraph chunk: paragraphs (split at blank lines) are packed
into chunks of at most ``CHUNK_BYTES``. Columns: ``path`` (string),
``text`` (string), ``n_bytes`` (int64, UTF-8 bytes of ``text``).
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import os
import sysconfig
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Tuple

import pyarrow as pa

from .data import write_ipc

CHUNK_BYTES = 8 * 1024
#: Files larger than this are skipped (logs, generated dumps).
MAX_FILE_BYTES = 4 * 1024 * 1024
TEXT_SUFFIXES = (".md", ".rst", ".txt", ".html", ".htm")
DOC_NAMES = ("README", "NEWS", "CHANGELOG", "copyright", "AUTHORS")
CORPUS_SCHEMA = pa.schema([("path", pa.string()), ("text", pa.string()), ("n_bytes", pa.int64())])


@dataclass
class CorpusInfo:
    """What was collected: rows, bytes, and per-source file and byte counts."""

    rows: int = 0
    text_bytes: int = 0
    sources: Dict[str, Dict[str, int]] = field(default_factory=dict)


def default_roots() -> List[str]:
    """The documentation directories searched, in priority order."""
    home = os.path.expanduser("~")
    roots = [sysconfig.get_paths()["purelib"], "/usr/share/doc"]
    roots += sorted(glob.glob(os.path.join(home, ".cargo/registry/src/*")))
    roots += sorted(glob.glob(os.path.join(home, ".rustup/toolchains/*/share/doc")))
    return [root for root in roots if os.path.isdir(root)]


def _is_doc(name: str) -> bool:
    base = name[:-3] if name.endswith(".gz") else name
    return base.lower().endswith(TEXT_SUFFIXES) or base.startswith(DOC_NAMES)


def _walk_sorted(root: str) -> Iterator[str]:
    """Documentation files under `root`, depth-first in sorted order."""
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if _is_doc(name):
                yield os.path.join(directory, name)


def _read_text(path: str) -> str:
    """The file decoded as UTF-8 (``.gz`` decompressed); "" for binary or oversized files."""
    try:
        if os.path.islink(path) or os.path.getsize(path) > MAX_FILE_BYTES:
            return ""
        with (gzip.open if path.endswith(".gz") else open)(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError):
        return ""
    if len(raw) > MAX_FILE_BYTES or b"\x00" in raw[:8192]:
        return ""
    return raw.decode("utf-8", errors="replace")


def _chunks(text: str) -> Iterator[str]:
    """Paragraphs packed into chunks of at most ``CHUNK_BYTES`` (long paragraphs cut)."""
    current: List[str] = []
    size = 0
    for paragraph in text.split("\n\n"):
        while len(paragraph) > CHUNK_BYTES:
            yield paragraph[:CHUNK_BYTES]
            paragraph = paragraph[CHUNK_BYTES:]
        if size + len(paragraph) > CHUNK_BYTES and current:
            yield "\n\n".join(current)
            current, size = [], 0
        current.append(paragraph)
        size += len(paragraph) + 2
    if current and any(p.strip() for p in current):
        yield "\n\n".join(current)


def _collect(budget_bytes: int, info: CorpusInfo) -> Iterator[Tuple[str, str]]:
    """(path, chunk) pairs until `budget_bytes` of text are collected."""
    roots = default_roots()
    remaining = budget_bytes
    seen = set()
    for position, root in enumerate(roots):
        share = remaining // (len(roots) - position)
        stats = info.sources.setdefault(root, {"files": 0, "bytes": 0})
        for path in _walk_sorted(root):
            if stats["bytes"] >= share:
                break
            text = _read_text(path)
            digest = hashlib.sha1(text.encode("utf-8", errors="replace")).digest()
            if not text.strip() or digest in seen:
                continue
            seen.add(digest)
            stats["files"] += 1
            for chunk in _chunks(text):
                stats["bytes"] += len(chunk.encode("utf-8"))
                yield path, chunk
        remaining -= stats["bytes"]


def build_corpus(path: str, budget_bytes: int, batch_rows: int = 4096) -> CorpusInfo:
    """Writes the corpus (about `budget_bytes` of text) to an Arrow IPC file at `path`."""
    info = CorpusInfo()

    def batches() -> Iterator[pa.RecordBatch]:
        rows: List[Tuple[str, str]] = []
        for row in _collect(budget_bytes, info):
            rows.append(row)
            if len(rows) == batch_rows:
                yield _batch(rows)
                rows = []
        if rows:
            yield _batch(rows)

    info.rows = write_ipc(path, CORPUS_SCHEMA, batches())
    info.text_bytes = sum(stats["bytes"] for stats in info.sources.values())
    return info


def _batch(rows: List[Tuple[str, str]]) -> pa.RecordBatch:
    paths, texts = zip(*rows)
    sizes = [len(text.encode("utf-8")) for text in texts]
    return pa.record_batch([pa.array(paths), pa.array(texts), pa.array(sizes, pa.int64())], schema=CORPUS_SCHEMA)
