"""Runs every phase: stage data, then each engine in turn, one copy on disk at a time.

Phases (datasets): the main synthetic table (with the RSS measurements),
the big synthetic table (full mode), the documentation corpus, the blob
table, the versions table and (``--s3``) the S3 tables. Each phase writes
its source once as an Arrow IPC file; then, per engine, the copy is
written, measured (with ``--cold``, also warm and cold open-then-read) and
deleted before the next engine writes (unless ``--keep``).
"""

from __future__ import annotations

import collections
import os
import shutil
import tempfile
import time
from typing import Any, Dict, List, Tuple

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as pds

from . import corpus, data
from .config import Config, estimate_disk_bytes
from .engines import Engine, LanceApiEngine, Predicate, make_engine
from .extras import BlobSpec, run_blob_workloads, run_version_workloads
from .rss import record_rss, run_child
from .cache import CacheDropper
from .cold import run_cold_workloads
from .s3 import Remote
from .s3work import S3Spec, run_s3_workloads
from .timing import ReadRepeat, Recorder
from .workloads import TableSpec, remove, run_table_workloads, write_untimed

SYNTHETIC_FILTER = Predicate(
    "category = 3 AND value > 1.0",
    "category = 3 AND value > 1.0",
    (pc.field("category") == 3) & (pc.field("value") > 1.0),
)
COLUMN_NOTES = {
    "id": "id int64", "value": "value float64", "category": f"category int64 ({data.CATEGORIES} values)",
    "text": f"text ~{data.TEXT_TARGET_BYTES} B (Zipf over {data.VOCABULARY_SIZE:,} words)",
    "vec128": "vec128 128-d f32", "vec768": "vec768 768-d f32", "vec16": "vec16 128-d f16",
}


def short_count(n: int) -> str:
    """1000000 -> "1M", 200000 -> "200k"."""
    for factor, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= factor and n % (factor // 10) == 0:
            return f"{n / factor:g}{suffix}"
    return str(n)


class Runner:
    """Holds the run's state: config, engines, recorder, and what the report needs to say."""

    def __init__(self, config: Config):
        self.config = config
        self.reads = ReadRepeat(config.repeat, config.slow_run_s)
        self.recorder = Recorder(config.selection, self.reads)
        self.dropper = CacheDropper(config.global_drop) if config.cold else None
        self.engines: List[Engine] = []
        self.datasets: Dict[str, str] = {}  # label -> description
        self.sizes: Dict[str, str] = {}  # label -> size in words, for chart titles
        self.notes: List[str] = []
        self.context: Dict[str, Any] = {}
        self.workdir = config.workdir or tempfile.mkdtemp(prefix="pilum-bench-")
        os.makedirs(self.workdir, exist_ok=True)

    # --- setup -----------------------------------------------------------------------------------

    def setup(self) -> None:
        """Builds the engines, prints the plan and checks the disk budget."""
        for name in self.config.engines:
            try:
                self.engines.append(make_engine(name))
            except ImportError as exc:
                self.notes.append(f"{name} skipped: {exc}")
                print(f"engine {name} skipped: {exc}")
        self.context["engines"] = {engine.name: engine.settings() for engine in self.engines}
        self._check_lance_versions()
        need = estimate_disk_bytes(self.config)
        free = shutil.disk_usage(self.workdir).free
        print(f"workdir {self.workdir}; estimated disk need {need['peak'] / 2**30:.1f} GiB "
              f"({', '.join(f'{k} {v / 2**30:.1f}' for k, v in need.items() if k != 'peak')} GiB), "
              f"free {free / 2**30:.1f} GiB", flush=True)
        self.context["disk"] = {"estimated_need_gib": need["peak"] / 2**30, "free_gib": free / 2**30}
        if need["peak"] > free:
            raise SystemExit("not enough disk: pass --workdir on a larger disk, or smaller --big-rows/--rows")

    def _check_lance_versions(self) -> None:
        """Records the file format each Lance engine really writes (pylance resolves "stable")."""
        small = data.synthetic_table(10, self.config.seed, data.APPEND_COLUMNS)
        resolved = {}
        for engine in self.engines:
            if isinstance(engine, LanceApiEngine) and engine.module.__name__ == "lance":
                path = engine.dataset_path(self.workdir, "format-probe")
                remove(path)
                try:
                    engine.write(small, path)
                    resolved[engine.name] = engine.storage_version(path)
                except Exception as exc:  # the workloads will record the failure
                    resolved[engine.name] = f"unknown ({type(exc).__name__}: {exc})"
                remove(path)
        if resolved:
            self.context["lance_storage_versions"] = resolved
            self.notes.append("Lance file format actually written: "
                              + ", ".join(f"{k} → {v}" for k, v in resolved.items()) + ".")

    def _stage(self, name: str, schema, batches) -> str:
        path = os.path.join(self.workdir, f"source-{name}.arrow")
        start = time.perf_counter()
        rows = data.write_ipc(path, schema, batches)
        print(f"staged {name}: {rows:,} rows, {os.path.getsize(path) / 2**20:,.0f} MiB Arrow IPC "
              f"in {time.perf_counter() - start:.1f} s", flush=True)
        return path

    def _discard(self, path: str) -> None:
        if not self.config.keep:
            remove(path)

    # --- phases ----------------------------------------------------------------------------------

    def run(self) -> None:
        """All selected phases, in order; the temporary workdir is removed at the end."""
        config, wants = self.config, self.config.selection.wants_dataset
        phases = [
            ("synthetic", wants("synthetic") or wants("rss"),
             lambda: self._synthetic("synthetic", config.rows, data.MAIN_COLUMNS, config.write_repeat, rss=True)),
            ("big", config.big_rows > 0 and wants("big"),
             lambda: self._synthetic("big", config.big_rows, data.BIG_COLUMNS, config.big_write_repeat, rss=False)),
            ("corpus", config.corpus_mb > 0 and wants("corpus"), self._corpus),
            ("blobs", config.blobs > 0 and wants("blobs"), self._blobs),
            ("versions", wants("versions"), self._versions),
            ("s3", config.s3 and wants("s3"), self._s3),
        ]
        timings = self.context.setdefault("phase_seconds", {})
        try:
            self.setup()
            for name, selected, phase in phases:
                if selected:
                    start = time.perf_counter()
                    phase()
                    timings[name] = round(time.perf_counter() - start, 1)
                    print(f"phase {name} done in {timings[name]:.1f} s", flush=True)
        finally:
            if self.config.workdir is None and not self.config.keep:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _synthetic(self, key: str, rows: int, columns, write_runs: int, rss: bool) -> None:
        config = self.config
        label = f"synthetic-{short_count(rows)}"
        if label in self.datasets:  # main and big table of the same size
            label += f" ({key})"
        source = self._stage(key, data.schema_for(columns), data.synthetic_batches(rows, config.seed, columns))
        table = data.load_ipc(source)
        predicate, matches = _with_selectivity(table, SYNTHETIC_FILTER)
        self.sizes[label] = f"{rows:,} rows"
        self.datasets[label] = (f"{rows:,} rows, Arrow {table.nbytes / 2**20:,.0f} MiB: "
                                + ", ".join(COLUMN_NOTES[c] for c in columns))
        spec = TableSpec(key, label, table, ("id", "value"), [predicate], (1, 100, 1000), write_runs,
                         add_column_runs=max(config.write_repeat, config.repeat), expected_matches={predicate.label: matches})
        rss_label = f"rss ({label})"
        measure_rss = rss and config.selection.wants("rss", "rss")
        for engine in self.engines:
            path = engine.dataset_path(self.workdir, key)
            if config.selection.wants_dataset(key) and not run_table_workloads(
                    self.recorder, spec, engine, path, self.reads, config.seed):
                self._discard(path)
                continue
            if self.dropper and config.selection.wants(key, "cold") and (
                    os.path.exists(path) or write_untimed(engine, table, path)):
                run_cold_workloads(self.recorder, spec, engine, path, self.reads, config.seed, self.dropper)
            if measure_rss:
                if os.path.exists(path) or write_untimed(engine, table, path):
                    record_rss(self.recorder, rss_label, "full scan", engine.name,
                               lambda: run_child("scan", engine.name, path, rows, config.seed, columns,
                                                 config.rss_timeout_s))
                remove(path)
                record_rss(self.recorder, rss_label, "write", engine.name,
                           lambda: run_child("write", engine.name, path, rows, config.seed, columns, config.rss_timeout_s))
            self._discard(path)
        if measure_rss:
            self.sizes[rss_label] = f"{rows:,} rows"
            self.datasets[rss_label] = f"peak RSS of one write and one streamed full scan of {label}, fresh process each"
        del table
        self._discard(source)

    def _corpus(self) -> None:
        path = os.path.join(self.workdir, "source-corpus.arrow")
        start = time.perf_counter()
        info = corpus.build_corpus(path, int(self.config.corpus_mb * 2**20))
        print(f"staged corpus: {info.rows:,} rows, {info.text_bytes / 2**20:,.0f} MiB text "
              f"in {time.perf_counter() - start:.1f} s", flush=True)
        self.context["corpus_sources"] = info.sources
        table = data.load_ipc(path)
        threshold = int(pc.quantile(table.column("n_bytes"), 0.99)[0].as_py())
        prefix = _prefix_with_share(table.column("path").to_pylist(), 0.01)
        quoted = prefix.replace("'", "''")
        predicates, expected = [], {}
        for bare in (
            Predicate(f"n_bytes > {threshold}", f"n_bytes > {threshold}", pc.field("n_bytes") > threshold),
            Predicate(f"path starts with '{prefix}'", f"starts_with(path, '{quoted}')",
                      pc.starts_with(pc.field("path"), pattern=prefix)),
        ):
            predicate, matches = _with_selectivity(table, bare)
            predicates.append(predicate)
            expected[predicate.label] = matches
        self.sizes["corpus"] = f"{info.rows:,} rows, {info.text_bytes / 2**20:,.0f} MiB text"
        self.datasets["corpus"] = (f"{info.rows:,} paragraph chunks (≤ 8 KiB) of {info.text_bytes / 2**20:,.0f} MiB of "
                                   f"documentation text found offline: path string, text string, n_bytes int64")
        spec = TableSpec("corpus", "corpus", table, ("path", "n_bytes"), predicates, (100,), self.config.write_repeat,
                         write_in_bytes=True, expected_matches=expected)
        for engine in self.engines:
            target = engine.dataset_path(self.workdir, "corpus")
            run_table_workloads(self.recorder, spec, engine, target, self.reads, self.config.seed)
            self._discard(target)
        del table
        self._discard(path)

    def _blobs(self) -> None:
        config = self.config
        source = self._stage("blobs", data.blob_schema(), data.blob_batches(config.blobs, config.seed))
        table = data.load_ipc(source)
        indices = np.random.default_rng([config.seed, 0xB1]).choice(config.blobs, config.blob_fetch, replace=False).tolist()
        spec = BlobSpec("blobs", table, indices, config.write_repeat)
        self.sizes["blobs"] = f"{config.blobs:,} blobs, {table.nbytes / 2**20:,.0f} MiB"
        self.datasets["blobs"] = (f"{config.blobs:,} random (incompressible) blobs, log-uniform 50 KB–1 MB, "
                                  f"{table.nbytes / 2**20:,.0f} MiB, own table (id int64, blob large_binary)")
        for engine in self.engines:
            path = engine.dataset_path(self.workdir, "blobs")
            run_blob_workloads(self.recorder, spec, engine, path, self.reads)
            self._discard(path)
        del table
        self._discard(source)

    def _versions(self) -> None:
        config = self.config
        small = data.synthetic_table(10, config.seed, data.APPEND_COLUMNS)
        self.sizes[f"versions-{config.versions}"] = f"{config.versions:,} versions of 10 rows"
        self.datasets[f"versions-{config.versions}"] = (
            f"one write of 10 rows, then {config.versions - 1} appends of 10 rows (one version each)")
        for engine in self.engines:
            path = engine.dataset_path(self.workdir, "versions")
            run_version_workloads(self.recorder, engine, path, small, config.versions, self.reads)
            self._discard(path)


    def _s3(self) -> None:
        config = self.config
        columns = data.BIG_COLUMNS
        source = self._stage("s3", data.schema_for(columns), data.synthetic_batches(config.s3_rows, config.seed, columns))
        table = data.load_ipc(source)
        blob_source, blob_table, indices = None, None, []
        if config.s3_blobs:
            blob_source = self._stage("s3-blobs", data.blob_schema(), data.blob_batches(config.s3_blobs, config.seed))
            blob_table = data.load_ipc(blob_source)
            indices = np.random.default_rng([config.seed, 0x53B1]).choice(
                config.s3_blobs, config.s3_blob_fetch, replace=False).tolist()
        label = f"s3-{short_count(config.s3_rows)} (+{config.s3_latency_ms:g} ms per request)"
        self.sizes[label] = f"{config.s3_rows:,} rows on S3"
        self.datasets[label] = (
            f"moto S3 server on 127.0.0.1 behind a counting proxy adding {config.s3_latency_ms:g} ms per request; "
            f"{config.s3_rows:,} rows ({', '.join(COLUMN_NOTES[c] for c in columns)}), Arrow "
            f"{table.nbytes / 2**20:,.0f} MiB" + (f"; blob table {config.s3_blobs:,} blobs, "
                                                  f"{blob_table.nbytes / 2**20:,.0f} MiB" if blob_table else ""))
        spec = S3Spec(label, table, (1, 100, 1000), blob_table, indices, config.seed)
        with Remote(config.s3_latency_ms) as remote:
            self.context["s3"] = {"endpoint": remote.endpoint, "latency_ms": config.s3_latency_ms,
                                  "server": "python -m moto.server", "proxy": "python -m bench.s3proxy"}
            for engine in self.engines:
                run_s3_workloads(self.recorder, spec, engine.on_s3(remote), remote, self.reads)
        del table, blob_table
        self._discard(source)
        if blob_source:
            self._discard(blob_source)

def _with_selectivity(table, predicate: Predicate) -> Tuple[Predicate, int]:
    """`predicate` with its selectivity on `table` appended to the label, and its match count."""
    matches = pds.dataset(table).count_rows(filter=predicate.arrow)
    share = matches / max(1, table.num_rows)
    return Predicate(f"{predicate.label} ({share:.1%})", predicate.sql, predicate.arrow), matches


def _prefix_with_share(paths: List[str], share: float) -> str:
    """A directory prefix (ending in "/") matching about `share` of `paths`.

    The shallowest prefix matching between half and twice the target,
    closest to it; failing that, the closest of all.
    """
    counts: collections.Counter = collections.Counter()
    for path in paths:
        parts = path.split("/")
        for end in range(2, len(parts)):
            counts["/".join(parts[:end]) + "/"] += 1
    target = share * len(paths)
    near = [prefix for prefix, n in counts.items() if target / 2 <= n <= target * 2]
    if near:
        return min(sorted(near), key=lambda prefix: (prefix.count("/"), abs(counts[prefix] - target)))
    return min(sorted(counts), key=lambda prefix: abs(counts[prefix] - target))
