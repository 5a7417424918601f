"""Command line, quick/full sizes and the disk budget.

``--quick`` (the default) and ``--full`` set every size; the explicit size
flags (``--rows``, ``--big-rows``, ...) override a mode's value, which is
how the harness is tested end to end with tiny data.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .data import BIG_COLUMNS, COLUMN_BYTES, MAIN_COLUMNS, mean_blob_bytes
from .engines import ENGINE_NAMES
from .timing import Selection

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # benches/python

#: Per-mode sizes. big_rows = 0 skips the big table.
MODES: Dict[str, Dict[str, float]] = {
    "quick": {"rows": 200_000, "big_rows": 0, "blobs": 600, "blob_fetch": 300, "versions": 100, "corpus_mb": 30,
              "s3_rows": 50_000, "s3_blobs": 60, "s3_blob_fetch": 30},
    "full": {"rows": 1_000_000, "big_rows": 10_000_000, "blobs": 2_000, "blob_fetch": 1_000, "versions": 1_000,
             "corpus_mb": 200, "s3_rows": 500_000, "s3_blobs": 200, "s3_blob_fetch": 100},
}


@dataclass
class Config:
    """Everything a run needs, resolved from the command line."""

    mode: str
    rows: int
    big_rows: int
    blobs: int
    blob_fetch: int
    versions: int
    corpus_mb: float
    repeat: int
    slow_run_s: float
    write_repeat: int
    big_write_repeat: int
    seed: int
    engines: List[str]
    selection: Selection
    workdir: Optional[str]
    keep: bool
    out: str
    markdown: str
    charts: str
    rss_timeout_s: float
    cold: bool = False
    global_drop: bool = True
    s3: bool = False
    s3_latency_ms: float = 10.0
    s3_rows: int = 0
    s3_blobs: int = 0
    s3_blob_fetch: int = 0
    argv: List[str] = field(default_factory=list)


def parse_args(argv: List[str]) -> Config:
    """Parses `argv` (without the program name) into a :class:`Config`."""
    parser = argparse.ArgumentParser(
        prog="compare.py",
        description="Pilum vs Lance vs Parquet, side by side, on data generated from a fixed seed.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="200k rows, no big table, 600 blobs, 100 versions, 30 MB corpus (default)")
    mode.add_argument("--full", action="store_true", help="1M rows, 10M-row big table, 2000 blobs, 1000 versions, 200 MB corpus")
    sizes = parser.add_argument_group("size overrides (default: the mode's value)")
    sizes.add_argument("--rows", type=int, help="rows of the main synthetic table")
    sizes.add_argument("--big-rows", type=int, help="rows of the big scalar+text+128-d table (0 = skip)")
    sizes.add_argument("--blobs", type=int, help="blobs in the blob table")
    sizes.add_argument("--blob-fetch", type=int, help="random blobs read per fetch")
    sizes.add_argument("--versions", type=int, help="versions before timing open")
    sizes.add_argument("--corpus-mb", type=float, help="text budget of the documentation corpus")
    timing = parser.add_argument_group("timing")
    timing.add_argument("--repeat", type=int, default=5, help="timed runs of each read workload (median; default 5)")
    timing.add_argument("--slow-run", type=float, default=1.0, metavar="SECONDS",
                        help="read workloads whose warm-up run takes longer are timed 3 times, not --repeat (0: off)")
    timing.add_argument("--write-repeat", type=int, default=3, help="runs of write and add column (default 3)")
    timing.add_argument("--big-write-repeat", type=int, default=1, help="runs of the big table's write (default 1)")
    timing.add_argument("--seed", type=int, default=42)
    timing.add_argument("--rss-timeout", type=float, default=1800, help="seconds per RSS subprocess")
    cold = parser.add_argument_group("cold reads and object storage")
    cold.add_argument("--cold", action="store_true",
                      help="also time open + take/scan with the dataset dropped from the page cache before every call "
                           "(next to the same workloads warm); the drop is verified with fincore/mincore")
    cold.add_argument("--no-global-drop", action="store_true",
                      help="with --cold: only posix_fadvise(DONTNEED) per file, no /proc/sys/vm/drop_caches")
    cold.add_argument("--s3", action="store_true",
                      help="also run open, full scan, takes and blob fetch against a local moto S3 server behind a "
                           "request-counting proxy")
    cold.add_argument("--s3-latency-ms", type=float, default=10.0, help="latency the proxy adds per request (default 10)")
    cold.add_argument("--s3-rows", type=int, help="rows of the S3 table (scalars, text, 128-d vector)")
    cold.add_argument("--s3-blobs", type=int, help="blobs in the S3 blob table")
    cold.add_argument("--s3-blob-fetch", type=int, help="random blobs read per S3 fetch")
    select = parser.add_argument_group("selection")
    select.add_argument("--engines", default=",".join(ENGINE_NAMES), help=f"comma list from {','.join(ENGINE_NAMES)}")
    select.add_argument("--only", default="", help=f"comma list of datasets ({','.join(Selection.DATASETS)}) "
                        f"and/or workload kinds ({','.join(Selection.KINDS)})")
    paths = parser.add_argument_group("paths")
    paths.add_argument("--workdir", help="where datasets are written (default: a new temporary directory, removed after)")
    paths.add_argument("--keep", action="store_true", help="keep every dataset (default: each copy is deleted once measured)")
    paths.add_argument("--out", default=os.path.join(HERE, "last-run.json"), help="raw results as JSON")
    paths.add_argument("--markdown", default=os.path.join(HERE, "last-run.md"), help="report as Markdown")
    paths.add_argument("--charts", default=os.path.join(os.path.dirname(HERE), "charts"), help="directory for PNG charts")
    args = parser.parse_args(argv)

    mode_name = "full" if args.full else "quick"
    sizes_for_mode = MODES[mode_name]

    def size(name: str) -> float:
        value = getattr(args, name)
        return sizes_for_mode[name] if value is None else value

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINE_NAMES]
    if unknown:
        parser.error(f"unknown engines {unknown}; choose from {', '.join(ENGINE_NAMES)}")
    try:
        selection = Selection(frozenset(n.strip() for n in args.only.split(",") if n.strip()))
    except ValueError as exc:
        parser.error(str(exc))
    blobs = int(size("blobs"))
    return Config(
        mode=mode_name, rows=int(size("rows")), big_rows=int(size("big_rows")), blobs=blobs,
        blob_fetch=min(int(size("blob_fetch")), blobs), versions=max(2, int(size("versions"))),
        corpus_mb=float(size("corpus_mb")), repeat=args.repeat, slow_run_s=args.slow_run, write_repeat=args.write_repeat,
        big_write_repeat=args.big_write_repeat, seed=args.seed, engines=engines, selection=selection,
        workdir=args.workdir, keep=args.keep, out=args.out, markdown=args.markdown, charts=args.charts,
        rss_timeout_s=args.rss_timeout, cold=args.cold, global_drop=not args.no_global_drop, s3=args.s3,
        s3_latency_ms=args.s3_latency_ms, s3_rows=int(size("s3_rows")), s3_blobs=int(size("s3_blobs")),
        s3_blob_fetch=min(int(size("s3_blob_fetch")), int(size("s3_blobs"))), argv=list(argv),
    )


def estimate_disk_bytes(config: Config) -> Dict[str, float]:
    """Bytes each phase needs on disk, and the peak.

    A phase holds its Arrow IPC source plus one engine's copy at a time
    (copies are deleted once measured); with ``--keep`` every engine's copy
    stays. Engine copies are estimated at 1.1 × the Arrow size (vectors
    and random blobs do not compress).
    """
    copies = len(config.engines) if config.keep else 1
    main_row = sum(COLUMN_BYTES[c] for c in MAIN_COLUMNS)
    big_row = sum(COLUMN_BYTES[c] for c in BIG_COLUMNS)
    phases = {
        "synthetic": config.rows * main_row,
        "big": config.big_rows * big_row,
        "corpus": config.corpus_mb * 2**20 * 1.05,
        "blobs": config.blobs * mean_blob_bytes(),
    }
    need = {name: arrow * (1 + 1.1 * copies) for name, arrow in phases.items()}
    need["peak"] = sum(need.values()) if config.keep else max(need.values())
    return need
