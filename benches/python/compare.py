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

from bench import charts, meta, report, verify  # noqa: E402
from bench.config import parse_args  # noqa: E402
from bench.runner import Runner  # noqa: E402

METHOD_NOTES = [
    "Timing: time.perf_counter; every read workload is called once untimed (warm-up), then timed. The first "
    "engine measured on a workload fixes its number of timed runs for every engine: --repeat, 3 when that "
    "warm-up took longer than --slow-run seconds, 4 × --repeat when it took under 50 ms (runs column). "
    "Cells are medians with min–max. Unless marked cold, data is read from the page cache.",
    "Checked results: every call's result (warm-up and timed) is hashed after the timer stops and compared with "
    "the digest of the same rows taken from the Arrow source: takes and blob fetches in request order, scans as "
    "an order-independent multiset hash of per-row hashes over all returned columns (values, not types). A "
    "mismatch fails the workload, and the run exits non-zero.",
    "Write: each run writes a fresh dataset from the same memory-mapped Arrow table (median of --write-repeat "
    "runs; the big table: --big-write-repeat runs). Add column: ds.add_columns({'id2': 'id * 2'}), "
    "one untimed warm-up run, then the median of max(--repeat, --write-repeat) runs, the column dropped "
    "(untimed) after each run.",
    "Full scan reads all record batches and keeps them until the timer stops (so they can be checked); "
    "projected and filtered scans return a table. "
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

COLD_NOTES = [
    "Cold (--cold): each call opens the dataset afresh, then takes or scans. Before every cold call (untimed): "
    "os.sync(), echo 1 > /proc/sys/vm/drop_caches where allowed, posix_fadvise(POSIX_FADV_DONTNEED) on every "
    "file of the engine's copy, then fincore (or mincore) must report 0 cached bytes of those files or the run "
    "stops. Warm rows are the same calls without the drop; the JSON records the cached bytes before/after each call.",
]
S3_NOTES = [
    "S3 (--s3): python -m moto.server on 127.0.0.1, reached only through a counting proxy (bench/s3proxy.py, "
    "its own process) that adds --s3-latency-ms before forwarding each request. Requests and MiB received are "
    "per call (median, min–max); the JSON has them per call and by method. Pilum and Lance get storage_options "
    "(aws_endpoint = the proxy); Parquet a pyarrow.fs.S3FileSystem(endpoint_override=proxy, scheme='http'). "
    "Open = dataset(uri) + count_rows() each call; scans and takes use a dataset opened once.",
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
    disagreements = verify.disagreements(results)
    notes = METHOD_NOTES + (COLD_NOTES if config.cold else []) + (S3_NOTES if config.s3 else []) + runner.notes
    notes += [f"CHECKSUM DISAGREEMENT: {text}" for text in disagreements] or [
        "Checksums: every engine's result matched the source's digest on every call of every read workload."]
    markdown = report.render_markdown(results, info, runner.datasets, notes, engines, chart_paths)
    payload = {"meta": info, "config": {k: v for k, v in vars(config).items() if k != "selection"},
               "datasets": runner.datasets, "context": runner.context, "notes": notes,
               "checksum_disagreements": disagreements, "results": [r.as_dict() for r in results]}
    report.write_outputs(config.markdown, config.out, markdown, payload)
    print("\n" + markdown)
    print(f"written: {config.markdown}, {config.out}, {len(chart_paths)} charts in {config.charts}")
    if payload["checksum_disagreements"]:
        raise SystemExit("FAILED: engines returned different content:\n  "
                         + "\n  ".join(payload["checksum_disagreements"]))


if __name__ == "__main__":
    main(sys.argv[1:])
