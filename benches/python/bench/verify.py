"""Checked results: every timed read's content against the source data, and engines against each other.

A workload's expected digest is computed once from the Arrow source (the
same rows every engine wrote) and cached under a content key (e.g. "take
<indices hash>"). :meth:`Verifier.check` gives the `check` callable the
timing loop runs, untimed, on every call's result. After the run,
:func:`disagreements` compares the digests recorded per workload across
engines; any mismatch fails the run.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Dict, List, Sequence

import pyarrow as pa

from . import digest
from .engines import Predicate
from .timing import Result


class ChecksumMismatch(AssertionError):
    """An engine returned different content than the source holds."""


def indices_key(indices: Sequence[int]) -> str:
    """A short key for a list of row positions (order matters)."""
    return hashlib.blake2b(repr(list(indices)).encode(), digest_size=8).hexdigest()


def digest_of(result: Any, in_order: bool) -> str:
    """The digest of what an engine returned: a table, a list of batches, blobs (bytes) or a count."""
    if isinstance(result, int):
        return f"n{result}"
    if isinstance(result, list) and (not result or isinstance(result[0], (bytes, bytearray, memoryview))):
        return digest.blobs([bytes(b) for b in result])
    pieces = digest.table_pieces(result)
    return digest.ordered(pieces) if in_order else digest.unordered(pieces)


class Verifier:
    """Expected digests of one source table, computed lazily and cached."""

    def __init__(self, source: pa.Table):
        self.source = source
        self.expected: Dict[str, str] = {}

    def _expect(self, key: str, compute: Callable[[], str]) -> str:
        if key not in self.expected:
            self.expected[key] = compute()
        return self.expected[key]

    def _checker(self, key: str, compute: Callable[[], str], in_order: bool) -> Callable[[Any], str]:
        def check(result: Any) -> str:
            want = self._expect(key, compute)
            got = digest_of(result, in_order)
            if got != want:
                raise ChecksumMismatch(f"content differs from the source: got {got}, expected {want} ({key})")
            return got

        return check

    def scan(self, columns: Sequence[str] = (), predicate: Predicate = None) -> Callable[[Any], str]:
        """Check of a scan (any row order) of `columns` (all when empty) matching `predicate`."""
        key = f"scan {','.join(columns) or '*'} where {predicate.label if predicate else '-'}"

        def compute() -> str:
            table = self.source.select(list(columns)) if columns else self.source
            if predicate is not None:
                table = self.source.filter(predicate.arrow)
                table = table.select(list(columns)) if columns else table
            return digest.unordered(digest.table_pieces(table))

        return self._checker(key, compute, in_order=False)

    def take(self, indices: Sequence[int], columns: Sequence[str] = ()) -> Callable[[Any], str]:
        """Check of a take of `indices`, rows in request order."""
        key = f"take {len(indices)} {indices_key(indices)} {','.join(columns) or '*'}"

        def compute() -> str:
            table = self.source.take(pa.array(indices, pa.int64()))
            return digest.ordered([table.select(list(columns)) if columns else table])

        return self._checker(key, compute, in_order=True)

    def blobs(self, column: str, indices: Sequence[int]) -> Callable[[Any], str]:
        """Check of a blob fetch: the blobs' bytes in request order."""
        key = f"blobs {column} {indices_key(indices)}"

        def compute() -> str:
            return digest.blobs(self.source.column(column).take(pa.array(indices, pa.int64())).to_pylist())

        return self._checker(key, compute, in_order=True)

    def count(self, rows: int) -> Callable[[Any], str]:
        """Check of a row count."""
        return self._checker(f"count {rows}", lambda: f"n{rows}", in_order=True)


def disagreements(results: List[Result]) -> List[str]:
    """Workloads where engines recorded different digests, or one failed its checksum."""
    found: List[str] = []
    by_workload: Dict[tuple, Dict[str, Any]] = {}
    for result in results:
        if result.error and "ChecksumMismatch" in result.error:
            found.append(f"{result.dataset} / {result.workload} / {result.engine}: {result.error}")
        got = result.extra.get("digest") if result.extra else None
        if got is not None:
            by_workload.setdefault((result.dataset, result.workload), {})[result.engine] = got
    for (dataset, workload), digests in by_workload.items():
        if len({str(d) for d in digests.values()}) > 1:
            found.append(f"{dataset} / {workload}: engines disagree: {digests}")
    return found
