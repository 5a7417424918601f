"""Timing loops, medians and the result records every workload produces.

Each measurement is a :class:`Result`: a median (``value``) in a unit, the
raw samples, or the error that stopped it. :class:`Recorder` runs one
measurement, catches failures so one engine's error never stops the run,
and applies the ``--only`` selection.
"""

from __future__ import annotations

import statistics
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, FrozenSet, List, Optional

from .engines import NotSupported


@dataclass
class Outcome:
    """What a measurement function returns: the reported value and the raw samples (seconds)."""

    value: float
    samples_s: List[float] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    """One engine's number for one workload on one dataset."""

    dataset: str
    kind: str
    workload: str
    engine: str
    unit: str
    higher_is_better: bool
    value: Optional[float] = None
    runs: int = 0
    samples_s: List[float] = field(default_factory=list)
    error: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReadRepeat:
    """How often a read workload is timed: ``runs`` times, ``SLOW_RUNS`` times
    when its untimed warm-up run took longer than ``slow_run_s`` (0: never),
    or ``FAST_FACTOR × runs`` times when it took under ``FAST_RUN_S`` (a
    millisecond-scale median of 5 is at the mercy of one noisy run)."""

    runs: int = 5
    slow_run_s: float = 0.0

    SLOW_RUNS = 3
    FAST_RUN_S = 0.05
    FAST_FACTOR = 4


def sample(fn: Callable[[], Any], runs: int, warm: bool = True, check: Optional[Callable[[Any], None]] = None,
           slow_run_s: float = 0.0) -> List[float]:
    """Seconds per call of `fn` over `runs` calls (``time.perf_counter``).

    With `warm`, one untimed call comes first; if it took longer than
    `slow_run_s` (> 0), only ``ReadRepeat.SLOW_RUNS`` timed calls follow, and
    if it took under ``ReadRepeat.FAST_RUN_S``, ``FAST_FACTOR × runs`` do.
    `check` sees the first call's result and raises if it is wrong (e.g. a
    row count is off).
    """
    if warm:
        start = time.perf_counter()
        result = fn()
        took = time.perf_counter() - start
        if slow_run_s and took > slow_run_s:
            runs = min(runs, ReadRepeat.SLOW_RUNS)
        elif took < ReadRepeat.FAST_RUN_S:
            runs *= ReadRepeat.FAST_FACTOR
        if check:
            check(result)
    samples = []
    for run in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
        if check and run == 0 and not warm:
            check(result)
    return samples


def timed_reads(fn: Callable[[], Any], reads: ReadRepeat, check: Optional[Callable[[Any], None]] = None) -> Outcome:
    """Median milliseconds of a warmed read workload, repeated as `reads` says."""
    return median_ms(sample(fn, reads.runs, check=check, slow_run_s=reads.slow_run_s))


def expect_rows(expected: int) -> Callable[[Any], None]:
    """A `check` that a table (or a row count) has `expected` rows."""

    def check(result: Any) -> None:
        rows = result if isinstance(result, int) else result.num_rows
        if rows != expected:
            raise AssertionError(f"returned {rows} rows, expected {expected}")

    return check


def median_ms(samples: List[float]) -> Outcome:
    """The median in milliseconds."""
    return Outcome(statistics.median(samples) * 1e3, samples)


class Selection:
    """The ``--only`` filter: dataset keys and workload kinds (empty = everything).

    A workload runs when its dataset is selected (or none is named) and its
    kind is selected (or none is named). "blobs" and "rss" name datasets;
    their own workload kinds run whenever the dataset does.
    """

    DATASETS = ("synthetic", "big", "corpus", "blobs", "versions", "rss")
    KINDS = ("write", "scans", "takes", "evolution", "open")
    #: The workload kinds each dataset has.
    DATASET_KINDS = {
        "synthetic": ("write", "scans", "takes", "evolution"),
        "big": ("write", "scans", "takes", "evolution"),
        "corpus": ("write", "scans", "takes"),
        "blobs": ("write", "blobs"),
        "versions": ("open",),
        "rss": ("rss",),
    }

    def __init__(self, names: FrozenSet[str] = frozenset()):
        unknown = set(names) - set(self.DATASETS) - set(self.KINDS)
        if unknown:
            raise ValueError(f"--only: unknown {sorted(unknown)}; choose from {', '.join(self.DATASETS + self.KINDS)}")
        self.datasets = {n for n in names if n in self.DATASETS}
        self.kinds = {n for n in names if n in self.KINDS}

    def wants(self, dataset_key: str, kind: str) -> bool:
        """Whether a workload of `kind` on dataset `dataset_key` should run."""
        dataset_ok = not self.datasets or dataset_key in self.datasets
        kind_ok = not self.kinds or kind in self.kinds or (kind == dataset_key and dataset_key in self.datasets)
        return dataset_ok and kind_ok

    def wants_dataset(self, dataset_key: str) -> bool:
        """Whether any workload of dataset `dataset_key` can run."""
        return any(self.wants(dataset_key, kind) for kind in self.DATASET_KINDS[dataset_key])


class Recorder:
    """Runs measurements, prints a line each and collects the results."""

    def __init__(self, selection: Selection):
        self.selection = selection
        self.results: List[Result] = []

    def measure(
        self,
        dataset_key: str,
        dataset: str,
        kind: str,
        workload: str,
        engine: str,
        unit: str,
        fn: Callable[[], Outcome],
        higher_is_better: bool = False,
    ) -> Optional[Result]:
        """Runs `fn` if selected and records its outcome or its error; returns the result."""
        if not self.selection.wants(dataset_key, kind):
            return None
        result = Result(dataset, kind, workload, engine, unit, higher_is_better)
        try:
            outcome = fn()
            result.value, result.samples_s, result.extra = outcome.value, outcome.samples_s, outcome.extra
            result.runs = len(outcome.samples_s) or 1
            shown = f"{result.value:12.4g} {unit}"
        except NotSupported as exc:
            result.error = f"n/a: {exc}"
            shown = f"{'–':>12} ({result.error})"
        except Exception as exc:  # one engine's failure must not stop the run
            lines = str(exc).strip().splitlines() or [""]
            result.error = f"{type(exc).__name__}: {lines[0][:300]}"
            shown = f"{'–':>12} FAILED {result.error}"
            traceback.print_exc(limit=3)
        self.results.append(result)
        print(f"  {dataset:<18} {workload:<52} {engine:<20} {shown}", flush=True)
        return result
