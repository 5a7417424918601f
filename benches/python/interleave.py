"""Full scans of the big synthetic table, engines alternating run by run.

``compare.py`` measures one engine's workloads, then the next engine's, so
a slow minute on this shared machine lands on one engine only. This tool
writes each engine's copy of the same table (same generator and seed as
``compare.py``'s big table) and then alternates streamed full scans
(engine A, engine B, engine B, engine A, ...), reporting each engine's
median and the median of the per-round ratios:

    python3 benches/python/interleave.py --rows 10000000 --rounds 10 --workdir /tmp/il

The copies are deleted at the end unless ``--keep``; ``--reuse`` scans copies
left by an earlier ``--keep`` run instead of writing them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time

os.environ.setdefault("LANCE_LOG", "error")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import data  # noqa: E402
from bench.engines import make_engine  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the big table (default 2,000,000)")
    parser.add_argument("--rounds", type=int, default=10, help="scans per engine, alternating (default 10)")
    parser.add_argument("--engines", default="pilum,lance-stable", help="comma list, first is the reference")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", required=True, help="where the source table and the copies go")
    parser.add_argument("--keep", action="store_true", help="keep the copies and the source table")
    parser.add_argument("--reuse", action="store_true", help="scan copies an earlier --keep run left")
    return parser.parse_args(argv)


def main(argv) -> None:
    args = parse_args(argv)
    engines = [make_engine(name) for name in args.engines.split(",")]
    os.makedirs(args.workdir, exist_ok=True)
    paths = {e.name: os.path.join(args.workdir, f"big-{args.rows}-{e.name}") for e in engines}
    if not args.reuse:
        source = os.path.join(args.workdir, f"source-big-{args.rows}.arrow")
        columns = data.BIG_COLUMNS
        data.write_ipc(source, data.schema_for(columns), data.synthetic_batches(args.rows, args.seed, columns))
        table = data.load_ipc(source)
        for engine in engines:
            shutil.rmtree(paths[engine.name], ignore_errors=True)
            start = time.perf_counter()
            engine.write(table, paths[engine.name])
            print(f"wrote {engine.name} in {time.perf_counter() - start:.1f} s", flush=True)
        del table
        if not args.keep:
            os.remove(source)
    handles = {e.name: e.open(paths[e.name]) for e in engines}
    for engine in engines:  # warm-up, and a row count check
        rows = engine.scan_stream(handles[engine.name])
        if rows != args.rows:
            raise SystemExit(f"{engine.name} scanned {rows} rows, expected {args.rows}")
    times = {e.name: [] for e in engines}
    for round_ in range(args.rounds):
        # Alternate the order so neither engine always runs second.
        order = engines if round_ % 2 == 0 else list(reversed(engines))
        for engine in order:
            start = time.perf_counter()
            engine.scan_stream(handles[engine.name])
            times[engine.name].append(time.perf_counter() - start)
    reference = engines[0].name
    print(f"full scan of {args.rows:,} rows, {args.rounds} alternating rounds (ms):")
    for engine in engines:
        samples = times[engine.name]
        print(f"  {engine.name:<14} median {statistics.median(samples) * 1e3:8.1f}  "
              f"min {min(samples) * 1e3:8.1f}  max {max(samples) * 1e3:8.1f}")
        if engine.name != reference:
            ratios = [o / r for o, r in zip(samples, times[reference])]
            print(f"  {reference} vs {engine.name}: median of per-round ratios {statistics.median(ratios):.2f}x "
                  f"(range {min(ratios):.2f}-{max(ratios):.2f}), ratio of medians "
                  f"{statistics.median(samples) / statistics.median(times[reference]):.2f}x")
    if not args.keep:
        for path in paths.values():
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
