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
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple

from .engines import NotSupported


class Fatal(Exception):
    """An error that stops the whole run instead of failing one measurement (e.g. a cache not dropped)."""


@dataclass
class Outcome:
    """What a measurement function returns: the reported value, the raw samples (seconds) and,
    for repeated measurements, the range of the value over the runs."""

    value: float
    samples_s: List[float] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict)
    low: Optional[float] = None
    high: Optional[float] = None
    runs: Optional[int] = None  # when the value is not a median of `samples_s`


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
    low: Optional[float] = None
    high: Optional[float] = None

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class ReadRepeat:
    """How often a read workload is timed. The first engine measured on a
    workload fixes the count for every engine (same repetitions for all):
    ``runs``, ``SLOW_RUNS`` when its untimed warm-up took longer than
    ``slow_run_s`` (0: never), or ``FAST_FACTOR × runs`` when it took under
    ``FAST_RUN_S`` (a millisecond-scale median of 5 is at the mercy of one
    noisy run). ``current`` is the workload being measured (set by
    :class:`Recorder`)."""

    runs: int = 5
    slow_run_s: float = 0.0
    pinned: Dict[Tuple[str, str], int] = field(default_factory=dict)
    current: Optional[Tuple[str, str]] = None

    SLOW_RUNS = 3
    FAST_RUN_S = 0.05
    FAST_FACTOR = 4

    def runs_for(self, warm_up_s: float) -> int:
        """The timed runs of the current workload; the first call per workload decides."""
        if self.current in self.pinned:
            return self.pinned[self.current]
        if self.slow_run_s and warm_up_s > self.slow_run_s:
            runs = min(self.runs, self.SLOW_RUNS)
        elif warm_up_s < self.FAST_RUN_S:
            runs = self.runs * self.FAST_FACTOR
        else:
            runs = self.runs
        if self.current is not None:
            self.pinned[self.current] = runs
        return runs


def sample(fn: Callable[[], Any], runs: int, check: Optional[Callable[[Any], Any]] = None,
           before: Optional[Callable[[], Any]] = None, reads: Optional[ReadRepeat] = None) -> "Sampled":
    """Times calls of `fn` (``time.perf_counter``): one untimed warm-up call, then
    ``reads.runs_for(warm-up time)`` timed calls (or `runs` without `reads`).

    `before` runs untimed before every call (the warm-up too), e.g. to drop
    the page cache; `check` sees every call's result, untimed, and raises if
    it is wrong. Their return values are collected.
    """
    prepared, checked = [], []

    def call() -> float:
        if before:
            prepared.append(before())
        start = time.perf_counter()
        result = fn()
        took = time.perf_counter() - start
        if check:
            checked.append(check(result))
        del result
        return took

    warm_up = call()
    timed = reads.runs_for(warm_up) if reads else runs
    return Sampled([call() for _ in range(timed)], prepared, checked)


@dataclass
class Sampled:
    """Timed samples (seconds) and what `before` and `check` returned per call (warm-up first)."""

    samples_s: List[float]
    prepared: List[Any]
    checked: List[Any]


def timed_reads(fn: Callable[[], Any], reads: ReadRepeat, check: Optional[Callable[[Any], Any]] = None,
                before: Optional[Callable[[], Any]] = None) -> Outcome:
    """Median milliseconds (min–max) of a warmed read workload, repeated as `reads` says.
    The outcome's extra holds the checked digests and what `before` returned."""
    sampled = sample(fn, reads.runs, check=check, before=before, reads=reads)
    outcome = median_ms(sampled.samples_s)
    if sampled.checked:
        distinct = sorted(set(map(str, sampled.checked)))
        outcome.extra["digest"] = distinct[0] if len(distinct) == 1 else distinct
        outcome.extra["checked_calls"] = len(sampled.checked)
    if sampled.prepared and any(p is not None for p in sampled.prepared):
        outcome.extra["before_each_call"] = [getattr(p, "as_dict", lambda p=p: p)() for p in sampled.prepared]
    return outcome


def expect_rows(expected: int) -> Callable[[Any], int]:
    """A `check` that a table (or a row count) has `expected` rows."""

    def check(result: Any) -> int:
        rows = result if isinstance(result, int) else result.num_rows
        if rows != expected:
            raise AssertionError(f"returned {rows} rows, expected {expected}")
        return rows

    return check


def median_ms(samples: List[float]) -> Outcome:
    """The median in milliseconds, with the min and max."""
    return Outcome(statistics.median(samples) * 1e3, samples, low=min(samples) * 1e3, high=max(samples) * 1e3)


class Selection:
    """The ``--only`` filter: dataset keys and workload kinds (empty = everything).

    A workload runs when its dataset is selected (or none is named) and its
    kind is selected (or none is named). "blobs" and "rss" name datasets;
    their own workload kinds run whenever the dataset does.
    """

    DATASETS = ("synthetic", "big", "corpus", "blobs", "versions", "rss", "s3")
    KINDS = ("write", "scans", "takes", "evolution", "open", "cold")
    #: The workload kinds each dataset has.
    DATASET_KINDS = {
        "synthetic": ("write", "scans", "takes", "evolution", "cold"),
        "big": ("write", "scans", "takes", "evolution", "cold"),
        "corpus": ("write", "scans", "takes"),
        "blobs": ("write", "blobs"),
        "versions": ("open",),
        "rss": ("rss",),
        "s3": ("s3",),
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

    def __init__(self, selection: Selection, reads: Optional[ReadRepeat] = None):
        self.selection = selection
        self.reads = reads
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
        if self.reads is not None:
            self.reads.current = (dataset, workload)
        try:
            outcome = fn()
            result.value, result.samples_s, result.extra = outcome.value, outcome.samples_s, outcome.extra
            result.low, result.high = outcome.low, outcome.high
            result.runs = outcome.runs or len(outcome.samples_s) or 1
            shown = f"{result.value:12.4g} {unit}"
            if outcome.low is not None and outcome.high is not None and outcome.low != outcome.high:
                shown += f" ({outcome.low:.4g}–{outcome.high:.4g})"
        except Fatal:
            raise
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
