"""Side-by-side benchmark: Pilum vs Lance (pylance) vs Parquet (pyarrow), same data, one command.

    python3 benches/python/compare.py --quick     # 200k rows; a few minutes with a release build
    python3 benches/python/compare.py --full      # 1M + 10M rows; prints its disk need first
    python3 benches/python/compare.py --quick --rows 5000 --blobs 20 --versions 5 --corpus-mb 2   # smoke test

Data comes from a fixed seed (plus a text corpus from documentation files
found offline). Every workload runs on each engine in turn: Pilum, Lance
(file format "2.2" and its default "stable"), Parquet (pyarrow defaults,
and small pages with a page index). The report gives medians and Pilum's
ratios (> 1: Pilum better) as Markdown (stdout and ``--markdown``), JSON
(``--out``) and PNG charts (``--charts``). See ``benches/python/README.md``.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("LANCE_LOG", "error")  # pylance logs a warning per new dataset otherwise
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import charts, meta, report  # noqa: E402
from bench.config import parse_args  # noqa: E402
from bench.runner import Runner  # noqa: E402

METHOD_NOTES = [
    "Timing: time.perf_counter; read workloads are warmed once untimed, then the median of --repeat runs "
    "(3 runs when the warm-up took longer than --slow-run seconds, 4 × --repeat when it took under 50 ms; "
    "the runs column shows the counts used); "
    "each read's row count (or blob bytes) is checked against the source. Data is read from the page cache.",
    "Write: each run writes a fresh dataset from the same memory-mapped Arrow table (median of --write-repeat "
    "runs; the big table: --big-write-repeat runs). Add column: ds.add_columns({'id2': 'id * 2'}), "
    "one untimed warm-up run, then the median of max(--repeat, --write-repeat) runs, the column dropped "
    "(untimed) after each run.",
    "Full scan streams record batches and keeps none; projected and filtered scans return a table. "
    "Pilum and Lance get filters as SQL, Parquet as the equivalent pyarrow expression.",
    "Parquet reads go through pyarrow.dataset, opened once per copy; take() is pyarrow.dataset.Dataset.take, "
    "which reads whole row groups and re-reads the footer on every call.",
    "Takes fetch all columns at distinct random positions from a fixed seed, unsorted and sorted "
    "(one variant for a single row).",
    "Blob fetch opens blobs with take_blobs('blob', indices=...) and reads each file-like object whole; "
    "blobs live in their own count-limited table (a blob per row of the 1M-row table would be ~100 GB).",
    "RSS: one fresh subprocess per engine and operation; baseline = VmRSS after imports (and, for write, after "
    "generating the table in the child from the same seed); peak = VmHWM after resetting it via "
    "/proc/self/clear_refs (fallback: ru_maxrss). Both the absolute peak and peak − baseline are reported.",
]


def main(argv: list) -> None:
    config = parse_args(argv)
    runner = Runner(config)
    info = meta.collect(argv)
    print(f"mode {config.mode}: {config.rows:,} rows, big {config.big_rows:,}, {config.blobs} blobs "
          f"(fetch {config.blob_fetch}), {config.versions} versions, corpus {config.corpus_mb:g} MB; "
          f"engines {', '.join(config.engines)}", flush=True)
    runner.run()

    results = runner.recorder.results
    engines = [engine.name for engine in runner.engines]
    chart_paths = charts.write_charts(config.charts, results, engines, runner.sizes)
    notes = METHOD_NOTES + runner.notes
    markdown = report.render_markdown(results, info, runner.datasets, notes, engines, chart_paths)
    payload = {"meta": info, "config": {k: v for k, v in vars(config).items() if k != "selection"},
               "datasets": runner.datasets, "context": runner.context, "notes": notes,
               "results": [r.as_dict() for r in results]}
    report.write_outputs(config.markdown, config.out, markdown, payload)
    print("\n" + markdown)
    print(f"written: {config.markdown}, {config.out}, {len(chart_paths)} charts in {config.charts}")


if __name__ == "__main__":
    main(sys.argv[1:])
