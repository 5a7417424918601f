"""The noisiest reads of the big synthetic table, engines alternating call by call.

``compare.py`` measures one engine's workloads, then the next engine's, so
a slow minute on this shared machine lands on one engine only. This tool
writes each engine's copy of the same table (same generator and seed as
``compare.py``'s big table) and then runs rounds: in each round, every
selected workload once per engine, the engine order reversed every other
round (A, B, B, A, ...). Every engine gets the same number of calls;
every call's result is checked against the source's digest (untimed).
It prints each engine's median (min–max) and the median of the per-round
ratios, and writes every sample to ``--out``:

    python3 benches/python/interleave.py --rows 10000000 --rounds 10 --workdir /tmp/il
    python3 benches/python/interleave.py --rows 1000000 --workloads scan,take100 --cold --workdir /tmp/il

With ``--cold`` each call opens the dataset afresh after dropping its files
from the page cache (verified as in ``compare.py --cold``); without it the
dataset is opened once and read warm. The copies are deleted at the end
unless ``--keep``; ``--reuse`` reads copies left by an earlier ``--keep`` run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("LANCE_LOG", "error")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import data  # noqa: E402
from bench.cache import CacheDropper  # noqa: E402
from bench.engines import make_engine  # noqa: E402
from bench.verify import Verifier  # noqa: E402
from bench.workloads import remove, take_indices  # noqa: E402

WORKLOADS = ("scan", "projected", "take1", "take100", "take1000")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the big table (default 2,000,000)")
    parser.add_argument("--rounds", type=int, default=10, help="calls per engine and workload, alternating (default 10)")
    parser.add_argument("--engines", default="pilum,lance-stable", help="comma list, first is the reference")
    parser.add_argument("--workloads", default="scan", help=f"comma list from {','.join(WORKLOADS)} (default scan)")
    parser.add_argument("--cold", action="store_true", help="open afresh with the page cache dropped before every call")
    parser.add_argument("--no-global-drop", action="store_true", help="with --cold: fadvise only, no drop_caches")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", required=True, help="where the source table and the copies go")
    parser.add_argument("--out", help="JSON file for every sample")
    parser.add_argument("--keep", action="store_true", help="keep the copies and the source table")
    parser.add_argument("--reuse", action="store_true", help="read copies an earlier --keep run left")
    args = parser.parse_args(argv)
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(args.workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; choose from {', '.join(WORKLOADS)}")
    return args


def reads(name, engine, path, handle, rows, seed, verifier):
    """(read, check) of workload `name`; `handle()` gives the dataset to read."""
    if name == "scan":
        return lambda: engine.scan_batches(handle()), verifier.scan()
    if name == "projected":
        return lambda: engine.scan(handle(), columns=["id", "value"]), verifier.scan(["id", "value"])
    indices = take_indices(rows, int(name[4:]), seed)
    return lambda: engine.take(handle(), indices), verifier.take(indices)


def main(argv) -> None:
    args = parse_args(argv)
    engines = [make_engine(name) for name in args.engines.split(",")]
    os.makedirs(args.workdir, exist_ok=True)
    paths = {e.name: os.path.join(args.workdir, f"big-{args.rows}-{e.name}") for e in engines}
    source = os.path.join(args.workdir, f"source-big-{args.rows}.arrow")
    if not os.path.exists(source):
        columns = data.BIG_COLUMNS
        data.write_ipc(source, data.schema_for(columns), data.synthetic_batches(args.rows, args.seed, columns))
    table = data.load_ipc(source)
    if not args.reuse:
        for engine in engines:
            remove(paths[engine.name])
            start = time.perf_counter()
            engine.write(table, paths[engine.name])
            print(f"wrote {engine.name} in {time.perf_counter() - start:.1f} s", flush=True)
    verifier = Verifier(table)
    dropper = CacheDropper(not args.no_global_drop) if args.cold else None
    opened = {e.name: e.open(paths[e.name]) for e in engines} if not args.cold else {}
    calls = {}
    for name in args.workloads:
        for engine in engines:
            path = paths[engine.name]
            handle = (lambda e=engine, p=path: e.open(p)) if args.cold else (lambda n=engine.name: opened[n])
            calls[name, engine.name] = reads(name, engine, path, handle, args.rows, args.seed, verifier)
            read, check = calls[name, engine.name]
            check(read())  # warm-up (untimed) and a first check
    times = {key: [] for key in calls}
    drops = {key: [] for key in calls}
    for round_ in range(args.rounds):
        order = engines if round_ % 2 == 0 else list(reversed(engines))
        for name in args.workloads:
            for engine in order:
                read, check = calls[name, engine.name]
                if dropper:
                    drops[name, engine.name].append(dropper.drop(paths[engine.name]).as_dict())
                start = time.perf_counter()
                result = read()
                times[name, engine.name].append(time.perf_counter() - start)
                check(result)
                del result
    report(args, engines, times)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"args": vars(args), "samples_s": {f"{w} / {e}": s for (w, e), s in times.items()},
                       "cache_drops": {f"{w} / {e}": d for (w, e), d in drops.items() if d},
                       "checks": "every call matched the source digest"}, handle, indent=1)
    if not args.keep:
        for path in paths.values():
            remove(path)
        del table, verifier
        os.remove(source)


def report(args, engines, times) -> None:
    reference = engines[0].name
    state = "cold (open + read, page cache dropped)" if args.cold else "warm"
    for name in args.workloads:
        print(f"{name} of {args.rows:,} rows, {state}, {args.rounds} alternating rounds (ms):")
        for engine in engines:
            samples = times[name, engine.name]
            print(f"  {engine.name:<20} median {statistics.median(samples) * 1e3:9.2f}  "
                  f"(min {min(samples) * 1e3:9.2f}, max {max(samples) * 1e3:9.2f})")
            if engine.name != reference:
                ratios = [o / r for o, r in zip(samples, times[name, reference])]
                print(f"  {reference} vs {engine.name}: median of per-round ratios {statistics.median(ratios):.2f}x "
                      f"(range {min(ratios):.2f}-{max(ratios):.2f}; > 1: {reference} faster)")


if __name__ == "__main__":
    main(sys.argv[1:])
