"""Scalar-index filters, side by side on the same data: Pilum and pylance
14.0.2, each with scalar indices (``idx``) and without them (``scan``:
``use_scalar_index=False`` on ``to_table`` and ``count_rows``).

Data (numpy, fixed seed; one pyarrow table written to both engines with the
same ``max_rows_per_file``, ``--rows-per-file``):

- ``id`` int64, 0..n shuffled
- ``price`` float64, uniform in [0, 1000), 1% NaN and 1% null
- ``category`` string, ``cat_0`` .. ``cat_99`` uniform, 0.5% null
- ``ts`` timestamp[us], one second per row plus Gaussian noise (sd 10 min):
  increasing with noise, so zone maps prune
- ``ts_zm``: a copy of ``ts`` carrying the ZONEMAP (pylance picks the BTREE
  when one column has both, so the zone map gets its own column and query)
- ``tags`` list<string>, 0-5 labels per row from ``label_0`` .. ``label_999``
  (Zipf, s = 1)
- ``path`` string, ``src/module_<k>/file_<j>.rs: fn handler_<x>() { let v<y> = step(<z>); }``
  with k < 50, j < 200, x < 100,000: ``module_7/`` is in 2% of rows,
  ``handler_123`` in 0.11%, ``handler_12[0-9](`` in 0.01%

Indices, built with ``create_scalar_index(column, index_type=...)`` (wall time
and bytes added under ``_indices`` recorded per index): BTREE on id, price,
ts; ZONEMAP on ts_zm; BITMAP on category; LABEL_LIST on tags; NGRAM on path.

Queries: SQL filters passed to ``to_table(columns=["id"], filter=...)`` and
``count_rows(filter=...)``; see ``make_queries``.

Method, per query: every cell (engine x idx/scan) opens its dataset anew
(a fresh ``dataset(uri)`` object, so no index or metadata cache; the OS page
cache is not dropped) and times its first ``to_table`` ("cold"), which is
also the untimed warm-up of the warm series. Then ``--reps`` warm runs of
``to_table`` and of ``count_rows``, round-robin over the cells; median and
p99. When some cell's cold run took over ``--slow-run`` seconds, every cell of
that query gets ``--slow-reps`` instead (the same count for every engine).
Every result is checked against ids computed with pyarrow.compute from the
source table (sorted ids, not only counts). A mismatch, or a Pilum error, is
a failure: the script exits 1 after writing its report; a Lance error is
recorded in its cell. pylance's ``explain_plan`` shows whether a run used a
scalar index (an indexed run that did not is marked † in the table).

Datasets are kept in ``--data-dir``/<rows>/ and reused when rows, seed, data
version, file size and the engine's version match; their indices are dropped
and rebuilt (timed) on every run.

    python3 benches/python/scalar.py                                   # 1M rows, 20 reps
    python3 benches/python/scalar.py --rows 1000000,10000000           # both sizes
    python3 benches/python/scalar.py --rows 20000 --engines lance --reps 5   # smoke test
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Tuple

os.environ.setdefault("LANCE_LOG", "error")

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench_cells import (MODES, Cell, build_index, build_text, cell_text, data_dir_for, engine_module,
                         exit_on_failures, measure_query, parse_engines, prepare_dataset, record_query, run_info,
                         save_meta, versions, write_json)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

#: Bump when `generate` changes, so stored datasets are rewritten.
DATA_VERSION = 1
T0_US = int(np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64))
ROW_STEP_US = 1_000_000

#: (column, index type); each index gets the engines' default name ``<column>_idx``.
INDICES: List[Tuple[str, str]] = [
    ("id", "BTREE"),
    ("price", "BTREE"),
    ("ts", "BTREE"),
    ("ts_zm", "ZONEMAP"),
    ("category", "BITMAP"),
    ("tags", "LABEL_LIST"),
    ("path", "NGRAM"),
]


# ---------------------------------------------------------------- data

def generate(n: int, seed: int) -> pa.Table:
    """The benchmark table (see the module docs); the same for the same `n` and `seed`."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n).astype(np.int64)

    price = rng.uniform(0.0, 1000.0, n)
    special = rng.random(n)
    price[special < 0.01] = np.nan
    price_arr = pa.array(price, mask=(special >= 0.01) & (special < 0.02))

    codes = pa.array(rng.integers(0, 100, n), mask=rng.random(n) < 0.005)
    category = pa.array([f"cat_{i}" for i in range(100)]).take(codes)

    ts_us = T0_US + np.arange(n, dtype=np.int64) * ROW_STEP_US + (rng.normal(0.0, 600.0, n) * 1e6).astype(np.int64)
    ts = pa.array(ts_us, pa.timestamp("us"))

    counts = rng.integers(0, 6, n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    weights = 1.0 / np.arange(1, 1001)
    labels = rng.choice(1000, size=int(offsets[-1]), p=weights / weights.sum())
    tags = pa.ListArray.from_arrays(pa.array(offsets), pa.array([f"label_{i}" for i in range(1000)]).take(pa.array(labels)))

    def text(values: np.ndarray) -> pa.Array:
        return pc.cast(pa.array(values), pa.string())

    path = pc.binary_join_element_wise(
        "src/module_", text(rng.integers(0, 50, n)), "/file_", text(rng.integers(0, 200, n)),
        ".rs: fn handler_", text(rng.integers(0, 100_000, n)), "() { let v", text(rng.integers(0, 1000, n)),
        " = step(", text(rng.integers(0, 1_000_000, n)), "); }", "")
    return pa.table({"id": ids, "price": price_arr, "category": category, "ts": ts, "ts_zm": ts,
                     "tags": tags, "path": path})


# ---------------------------------------------------------------- queries

@dataclass
class Query:
    name: str
    sql: str
    index: str  # the index the filter is meant to exercise
    mask: Callable[[pa.Table], np.ndarray]  # the oracle: which rows match


def _bool(values: Any) -> np.ndarray:
    """A pyarrow boolean result as a numpy mask, null meaning no match."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _has_label(t: pa.Table, label: str) -> np.ndarray:
    tags = t.column("tags").combine_chunks()
    parents = pc.list_parent_indices(tags).to_numpy()
    out = np.zeros(len(tags), dtype=bool)
    out[parents[_bool(pc.equal(pc.list_flatten(tags), label))]] = True
    return out


def _ts_literal(us: int) -> str:
    return "TIMESTAMP '" + str(np.datetime64(us, "us")).replace("T", " ") + "'"


def make_queries(n: int, seed: int) -> Dict[str, Query]:
    """Every query by name; values that depend on `n` are chosen from it and `seed`."""
    in_ids = sorted(int(i) for i in np.random.default_rng(seed + 1).choice(n, 10, replace=False))
    cats = ["cat_3", "cat_42", "cat_99"]
    ts_lo = T0_US + (n // 2) * ROW_STEP_US
    ts_hi = ts_lo + max(1, n // 10_000) * ROW_STEP_US  # 0.01% of the rows' time span

    def col(name: str) -> Callable[[pa.Table], Any]:
        return lambda t: t.column(name)

    def ts_range(c: str) -> Query:
        sql = f"{c} >= {_ts_literal(ts_lo)} AND {c} < {_ts_literal(ts_hi)}"
        kind = "BTREE" if c == "ts" else "ZONEMAP"

        def mask(t: pa.Table) -> np.ndarray:
            us = t.column(c).cast(pa.int64())
            return _bool(pc.and_(pc.greater_equal(us, ts_lo), pc.less(us, ts_hi)))
        return Query(f"{c}_range", sql, f"{kind}({c})", mask)

    queries = [
        Query("id_eq", "id = 12345", "BTREE(id)", lambda t: _bool(pc.equal(t.column("id"), 12345))),
        Query("id_in", f"id IN ({', '.join(map(str, in_ids))})", "BTREE(id)",
              lambda t: _bool(pc.is_in(t.column("id"), pa.array(in_ids, pa.int64())))),
        Query("price_range", "price >= 500.0 AND price < 501.0", "BTREE(price)",
              lambda t: _bool(pc.and_(pc.greater_equal(t.column("price"), 500.0), pc.less(t.column("price"), 501.0)))),
        Query("price_null", "price IS NULL", "BTREE(price)", lambda t: _bool(pc.is_null(t.column("price")))),
        Query("cat_eq", "category = 'cat_17'", "BITMAP(category)", lambda t: _bool(pc.equal(t.column("category"), "cat_17"))),
        Query("cat_in", "category IN (" + ", ".join(f"'{c}'" for c in cats) + ")", "BITMAP(category)",
              lambda t: _bool(pc.is_in(t.column("category"), pa.array(cats)))),
        ts_range("ts"),
        ts_range("ts_zm"),
        Query("tags_any", "array_has_any(tags, ['label_5', 'label_77'])", "LABEL_LIST(tags)",
              lambda t: _has_label(t, "label_5") | _has_label(t, "label_77")),
        Query("tags_all", "array_has_all(tags, ['label_5', 'label_77'])", "LABEL_LIST(tags)",
              lambda t: _has_label(t, "label_5") & _has_label(t, "label_77")),
        Query("path_contains", "contains(path, 'handler_123')", "NGRAM(path)",
              lambda t: _bool(pc.match_substring(t.column("path"), "handler_123"))),
        Query("path_like", "path LIKE '%module_7/%'", "NGRAM(path)",
              lambda t: _bool(pc.match_like(t.column("path"), "%module_7/%"))),
        Query("path_regexp", r"regexp_like(path, 'handler_12[0-9]\(')", "NGRAM(path)",
              lambda t: _bool(pc.match_substring_regex(t.column("path"), r"handler_12[0-9]\("))),
        Query("cat_and_price", "category = 'cat_3' AND price < 10", "BITMAP(category) + BTREE(price)",
              lambda t: _bool(pc.and_(pc.equal(t.column("category"), "cat_3"), pc.less(t.column("price"), 10.0)))),
        # Opt-in (--queries): the spelling of a regex filter that pylance 14.0.2 answers with its NGRAM index.
        Query("path_regexp_match", r"regexp_match(path, 'handler_12[0-9]\(') IS NOT NULL", "NGRAM(path)",
              lambda t: _bool(pc.match_substring_regex(t.column("path"), r"handler_12[0-9]\("))),
    ]
    return {q.name: q for q in queries}


OPT_IN_QUERIES = ("path_regexp_match",)


# ---------------------------------------------------------------- datasets

def size_dir_for(data_dir: str, n: int, seed: int, rows_per_file: int, rewrite: bool) -> Tuple[str, Dict[str, Any]]:
    """The folder of `n`'s datasets and its metadata; cleared when it was made differently."""
    path = os.path.join(data_dir, str(n))
    want = {"rows": n, "seed": seed, "data_version": DATA_VERSION, "rows_per_file": rows_per_file}
    return path, data_dir_for(path, want, rewrite)


def build_indices(engine: str, uri: str) -> Dict[str, Any]:
    """Builds every index of `INDICES`, timed. Pilum raising NotImplementedError ends the run
    (exit 2); a Lance error is recorded as unsupported."""
    ds = engine_module(engine).dataset(uri)
    return {f"{kind}({column})": build_index(engine, ds, uri, column, kind, error_prefix="unsupported: ")
            for column, kind in INDICES}


# ---------------------------------------------------------------- report

def markdown(n: int, size: Dict[str, Any], engines: List[str]) -> str:
    """Per query: median to_table ms per cell and Lance/Pilum indexed; then p99/cold/count_rows; then builds."""
    head = ["query", "filter", "rows"] + [f"{e} {m} ms" for e in ("pilum", "lance") for m in MODES] + ["lance/pilum idx"]
    lines = [f"### {n:,} rows", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes: List[str] = []
    for name, q in size["queries"].items():
        cells = q["cells"]
        row = [name, f"`{q['sql']}`", f"{q['expected_rows']:,}"]
        for engine in ("pilum", "lance"):
            for mode in MODES:
                cell = cells.get(f"{engine} {mode}")
                text = cell_text(cell)
                if cell and mode == "idx" and cell.get("uses_index") is False:
                    text += " †"
                if cell and "error" in cell:
                    notes.append(f"{name}, {engine} {mode}: " + " ".join(cell["error"].split()))
                row.append(text)
        p, l = (cells.get(f"{e} idx", {}).get("to_table", {}).get("median_ms") for e in ("pilum", "lance"))
        row.append(f"{l / p:.2f}" if p and l else "–")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "† explain_plan shows no scalar index (pylance only; Pilum has no explain_plan). "
              "Ratio above 1: Pilum faster."]
    lines += [f"- error: {note}" for note in notes]

    names = [f"{e} {m}" for e in engines for m in MODES]
    lines += ["", "p99 / cold (fresh dataset object) / count_rows median, ms:", "",
              "| query | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for name, q in size["queries"].items():
        row = [name]
        for cell_name in names:
            cell = q["cells"].get(cell_name)
            if not cell or "to_table" not in cell:
                row.append(cell_text(cell))
                continue
            row.append(f"{cell['to_table']['p99_ms']:.2f} / {cell.get('cold_ms', float('nan')):.2f} / "
                       f"{cell['count_rows']['median_ms']:.2f}")
        lines.append("| " + " | ".join(row) + " |")

    lines += ["", "Index builds, seconds (MiB):", "", "| index | " + " | ".join(engines) + " |", "|" + "---|" * (len(engines) + 1)]
    for column, kind in INDICES:
        key = f"{kind}({column})"
        row = [key]
        for engine in engines:
            row.append(build_text(size["builds"].get(engine, {}).get(key, {})))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def run_size(n: int, engines: List[str], names: List[str], args: argparse.Namespace, pkg: Dict[str, str],
             failures: List[str]) -> Dict[str, Any]:
    """Everything for one row count: data, datasets, index builds, queries."""
    print(f"\n== {n:,} rows", flush=True)
    start = time.perf_counter()
    table = generate(n, args.seed)
    print(f"generated in {time.perf_counter() - start:.1f} s", flush=True)
    queries = make_queries(n, args.seed)
    expected = {name: np.sort(table.column("id").to_numpy()[queries[name].mask(table)]) for name in names}
    size_dir, meta = size_dir_for(args.data_dir, n, args.seed, args.rows_per_file, args.rewrite)
    size: Dict[str, Any] = {"datasets": {}, "builds": {}, "queries": {}}
    for engine in engines:
        version = pkg["pylance" if engine == "lance" else "pilum"]
        size["datasets"][engine] = prepare_dataset(engine, size_dir, lambda: table, meta, version, args.rows_per_file)
        save_meta(size_dir, meta)
    del table
    for engine in engines:
        size["builds"][engine] = build_indices(engine, size["datasets"][engine]["uri"])
    cells = [Cell(engine, mode, size["datasets"][engine]["uri"]) for engine in engines for mode in MODES]

    def reps(cold: List[Dict[str, Any]]) -> int:
        """--slow-reps when some cell's cold run took over --slow-run seconds, else --reps."""
        slow = any(c.get("cold_ms", 0.0) > args.slow_run * 1e3 for c in cold)
        return args.slow_reps if slow else args.reps

    for name in names:
        q = queries[name]
        result = measure_query(cells, lambda cell: q.sql, expected[name], reps)
        size["queries"][name] = {"sql": q.sql, "index": q.index, "expected_rows": int(len(expected[name])), "cells": result}
        record_query(name, f"{len(expected[name]):,} rows", f"{n} rows, {name}", result, failures)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="1000000", help="row counts, comma-separated (e.g. 1000000,10000000)")
    parser.add_argument("--reps", type=int, default=20, help="warm runs per cell (to_table and count_rows each)")
    parser.add_argument("--slow-run", type=float, default=2.0, help="seconds: a slower cold run switches the query to --slow-reps")
    parser.add_argument("--slow-reps", type=int, default=5)
    parser.add_argument("--engines", default="pilum,lance")
    parser.add_argument("--queries", default="", help="query names, comma-separated (default: all but "
                        + ", ".join(OPT_IN_QUERIES) + ")")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rows-per-file", type=int, default=1024 * 1024, help="max_rows_per_file for both engines")
    parser.add_argument("--data-dir", default=os.path.join(REPO, "target", "bench-data", "scalar"))
    parser.add_argument("--rewrite", action="store_true", help="rewrite stored datasets even when they match")
    parser.add_argument("--out", default=os.path.join(HERE, "scalar.json"))
    args = parser.parse_args()

    rows = [int(r) for r in args.rows.split(",") if r.strip()]
    engines = parse_engines(parser, args.engines)
    if not rows or min(rows) <= 12345:
        parser.error("--rows: every row count must be above 12345 (the id = 12345 query)")
    every = list(make_queries(rows[0], args.seed))
    names = [q.strip() for q in args.queries.split(",") if q.strip()] or [q for q in every if q not in OPT_IN_QUERIES]
    if unknown := [q for q in names if q not in every]:
        parser.error(f"--queries: unknown {unknown}; known: {', '.join(every)}")
    for engine in engines:
        engine_module(engine)  # fail early when an engine is not installed

    pkg = versions(["pilum", "pylance", "pyarrow", "numpy"])
    results: Dict[str, Any] = {
        **run_info(pkg),
        "settings": {"reps": args.reps, "slow_run_s": args.slow_run, "slow_reps": args.slow_reps, "seed": args.seed,
                     "rows_per_file": args.rows_per_file, "engines": engines, "data_dir": args.data_dir,
                     "indices": [f"{k}({c})" for c, k in INDICES],
                     "check": "sorted ids (and count_rows) of every run vs pyarrow.compute on the source table",
                     "read": "to_table(columns=['id'], filter=sql[, use_scalar_index=False]); "
                             "count_rows(filter=sql[, use_scalar_index=False])"},
        "sizes": {}, "failures": [],
    }
    for n in rows:
        results["sizes"][str(n)] = run_size(n, engines, names, args, pkg, results["failures"])
        write_json(args.out, results)

    print(f"\n{os.cpu_count()} cores; pilum {pkg['pilum']}, pylance {pkg['pylance']}; {results['command']}\n")
    for n in rows:
        print(markdown(n, results["sizes"][str(n)], engines) + "\n")
    print(f"wrote {args.out}")
    exit_on_failures(results["failures"])


if __name__ == "__main__":
    main()
