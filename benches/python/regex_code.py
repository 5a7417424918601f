"""Regular-expression and substring filters over real source code, side by side
on the same data: Pilum and pylance 14.0.2, each with an NGRAM index on the
text (``idx``) and without it (``scan``: ``use_scalar_index=False`` on
``to_table`` and ``count_rows``).

Corpus: every line of every ``.rs`` file under ``~/.cargo/registry/src/``
(the crate sources cargo keeps offline; ``--source``), files in sorted order of
their path, one row per line (split at ``\\n``, one trailing ``\\r`` dropped,
undecodable bytes replaced), first ``--max-lines`` lines (default: all).
Columns: ``id`` int64 (0.. in corpus order), ``crate`` string (the crate's
directory, e.g. ``serde-1.0.219``), ``file`` string (path relative to the
source dir), ``line_no`` int32 (1-based), ``line`` string. The corpus differs
between machines; the report states its source, lines, MB of text, files and
crates, and a fingerprint of the file list.

Index: ``create_scalar_index("line", index_type="NGRAM")`` on both engines;
wall time and bytes added under ``_indices`` recorded. Datasets are written
once (same ``max_rows_per_file`` for both, ``--rows-per-file``) into
``--data-dir``/<lines>/ and reused when the line count, file-list fingerprint,
file size and the engine's version match; the index is dropped and rebuilt
(timed) on every run.

Queries: SQL filters passed to ``to_table(columns=["id"], filter=...)`` and
``count_rows(filter=...)``, see ``QUERIES``: code-search patterns with
regexp_like, LIKE, contains and the ``~`` operator, including one
(``(?i)todo|fixme``) from which no required trigram can be drawn, to show
where an n-gram index stops helping. Every result (sorted ids of every run, and
every count) is checked against ids computed in Python from the same lines:
``re.search`` for regexes (a pattern and flags that mean the same in Rust's
regex crate and Python's ``re``), ``in`` for ``contains``, the LIKE pattern
translated to a regex for LIKE (``_`` is a one-character wildcard there).

Spellings: pylance 14.0.2 rewrites ``regexp_like(col, p)`` into ``col ~ p``,
which its NGRAM index does not answer, and rejects the ``~`` operator itself;
it does use the index for ``regexp_match(col, p) IS NOT NULL``. So for every
regex query Lance runs both spellings (as written, and ``regexp_match``) in
separate cells, and its reported idx and scan numbers are the faster correct
spelling (marked ``m`` when that is ``regexp_match``). Pilum runs the filter as
written. pylance's ``explain_plan`` shows whether a run used the index
(``ScalarIndexQuery``); an idx number without it is marked †.

Method, per query: every cell (engine x idx/scan x spelling) opens its dataset
anew (a fresh ``dataset(uri)`` object; the OS page cache is not dropped) and
times its first ``to_table`` ("cold"), which is also the untimed warm-up. Then
``--reps`` warm runs of ``to_table`` and then of ``count_rows``, round-robin
over the cells (the same count for every cell); median and p99. A wrong
result in any cell, or a Pilum error, is a failure: the script exits 1 after
writing its report; a Lance error is recorded in its cell.

    python3 benches/python/regex_code.py                                   # whole corpus, 10 reps
    python3 benches/python/regex_code.py --stats-only                      # corpus size only, nothing written
    python3 benches/python/regex_code.py --max-lines 20000 --reps 2 --engines lance   # smoke test
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

os.environ.setdefault("LANCE_LOG", "error")

import numpy as np
import pyarrow as pa

import bench_cells
from bench_cells import (MODES, build_index, build_text, cell_text, data_dir_for, engine_module, exit_on_failures,
                         failures_of, measure_query, parse_engines, prepare_dataset, record_query, run_info, save_meta,
                         versions, write_json)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

#: Bump when `read_corpus` or the table layout changes, so stored datasets are rewritten.
DATA_VERSION = 1
INDEX = ("line", "NGRAM")


# ---------------------------------------------------------------- corpus

@dataclass
class Corpus:
    source: str
    files: List[str]  # paths relative to `source`, in corpus order
    crates: List[str]  # crate directory names, in corpus order
    lines: List[str] = field(default_factory=list)
    file_of_line: List[int] = field(default_factory=list)  # index into `files`
    crate_of_file: List[int] = field(default_factory=list)  # index into `crates`
    line_no: List[int] = field(default_factory=list)
    fingerprint: str = ""

    def stats(self) -> Dict[str, Any]:
        text_bytes = sum(len(line.encode("utf-8")) for line in self.lines)
        return {"source": self.source, "lines": len(self.lines), "text_bytes": text_bytes,
                "text_mb": round(text_bytes / 1e6, 2), "files": len(self.files), "crates": len(self.crates),
                "fingerprint": self.fingerprint,
                "note": "text bytes: UTF-8 of the line column (line breaks not counted)"}

    def table(self) -> pa.Table:
        file_idx = pa.array(self.file_of_line, pa.int32())
        crate_idx = pa.array(self.crate_of_file, pa.int32()).take(file_idx)
        return pa.table({
            "id": pa.array(np.arange(len(self.lines), dtype=np.int64)),
            "crate": pa.array(self.crates, pa.string()).take(crate_idx),
            "file": pa.array(self.files, pa.string()).take(file_idx),
            "line_no": pa.array(self.line_no, pa.int32()),
            "line": pa.array(self.lines, pa.string()),
        })


def rust_files(source: str) -> List[str]:
    """Every ``.rs`` file under `source` (symbolic links not followed), relative, sorted."""
    found = []
    for root, _, names in os.walk(source):
        for name in names:
            if name.endswith(".rs"):
                found.append(os.path.relpath(os.path.join(root, name), source))
    return sorted(found)


def crate_of(rel: str) -> str:
    """The crate directory of a path ``<registry index>/<crate>-<version>/...``."""
    parts = rel.split(os.sep)
    return parts[1] if len(parts) > 2 else parts[0]


def read_corpus(source: str, max_lines: Optional[int]) -> Corpus:
    """The first `max_lines` lines (all when None) of the sorted ``.rs`` files under `source`."""
    corpus = Corpus(source=source, files=[], crates=[])
    crate_ids: Dict[str, int] = {}
    digest = hashlib.sha1()
    for rel in rust_files(source):
        if max_lines is not None and len(corpus.lines) >= max_lines:
            break
        with open(os.path.join(source, rel), "rb") as handle:
            data = handle.read()
        digest.update(f"{rel}\0{len(data)}\0".encode())
        pieces = data.decode("utf-8", errors="replace").split("\n")
        if pieces[-1] == "":
            pieces.pop()  # the text after the last line break, when the file ends with one
        if max_lines is not None:
            pieces = pieces[:max_lines - len(corpus.lines)]
        crate = crate_of(rel)
        file_id = len(corpus.files)
        corpus.files.append(rel)
        corpus.crate_of_file.append(crate_ids.setdefault(crate, len(crate_ids)))
        corpus.lines.extend(p[:-1] if p.endswith("\r") else p for p in pieces)
        corpus.file_of_line.extend([file_id] * len(pieces))
        corpus.line_no.extend(range(1, len(pieces) + 1))
    corpus.crates = list(crate_ids)
    digest.update(f"{len(corpus.lines)}".encode())
    corpus.fingerprint = digest.hexdigest()[:16]
    return corpus


# ---------------------------------------------------------------- queries

@dataclass
class Query:
    name: str
    sql: str  # the filter as written (Pilum runs this; Lance runs it and, for regexes, `regexp_match_sql`)
    oracle: Callable[[str], bool]  # does a line match
    regex: Optional[str] = None  # the Rust regex, for regex filters

    @property
    def regexp_match_sql(self) -> Optional[str]:
        """The spelling pylance answers with its NGRAM index, for regex filters."""
        return None if self.regex is None else f"regexp_match(line, '{self.regex}') IS NOT NULL"


def like_regex(pattern: str) -> "re.Pattern[str]":
    """SQL LIKE (no escape character) as a Python regex for fullmatch: % any run, _ any one character."""
    return re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern), re.DOTALL)


def regex_query(name: str, pattern: str, sql: Optional[str] = None, flags: int = 0) -> Query:
    """A regex filter; `pattern` must mean the same in Rust's regex crate and Python's re (with `flags`)."""
    compiled = re.compile(pattern, flags)
    return Query(name, sql or f"regexp_like(line, '{pattern}')", lambda s: compiled.search(s) is not None, pattern)


def like_query(name: str, pattern: str) -> Query:
    compiled = like_regex(pattern)
    return Query(name, f"line LIKE '{pattern}'", lambda s: compiled.fullmatch(s) is not None)


def contains_query(name: str, needle: str) -> Query:
    return Query(name, f"contains(line, '{needle}')", lambda s: needle in s)


QUERIES: List[Query] = [
    regex_query("fn_mut", r"fn [a-z_]+_mut\("),
    regex_query("impl_drop", r"impl<.*> Drop for"),
    regex_query("derive_serialize", r"#\[derive\(.*Serialize"),
    like_query("like_unwrap_or_else", "%unwrap_or_else%"),
    contains_query("contains_unsafe_send", "unsafe impl Send"),
    # Rust's (?i) folds i only with I (simple case folding); Python's re.IGNORECASE also matches
    # dotless ı and İ unless re.ASCII is set. None of t, o, d, f, i, x, m, e has a non-ASCII simple fold.
    regex_query("todo_fixme_ci", r"(?i)todo|fixme", flags=re.ASCII),
    regex_query("tilde_arc_mutex", r"Arc<Mutex<", sql="line ~ 'Arc<Mutex<'"),
]


def expected_ids(corpus: Corpus, queries: List[Query]) -> Dict[str, np.ndarray]:
    """Per query, the sorted ids (= line positions) of the matching lines."""
    out = {}
    for q in queries:
        start = time.perf_counter()
        match = q.oracle
        out[q.name] = np.array([i for i, line in enumerate(corpus.lines) if match(line)], dtype=np.int64)
        print(f"  reference {q.name}: {len(out[q.name]):,} lines ({time.perf_counter() - start:.1f} s)", flush=True)
    return out


# ---------------------------------------------------------------- datasets

def corpus_dir_for(data_dir: str, corpus: Corpus, rows_per_file: int, rewrite: bool) -> Tuple[str, Dict[str, Any]]:
    """The folder of this corpus's datasets and its metadata; cleared when it was made from other data."""
    path = os.path.join(data_dir, str(len(corpus.lines)))
    want = {"lines": len(corpus.lines), "fingerprint": corpus.fingerprint, "source": corpus.source,
            "data_version": DATA_VERSION, "rows_per_file": rows_per_file}
    return path, data_dir_for(path, want, rewrite)


def build_line_index(engine: str, uri: str) -> Dict[str, Any]:
    """The NGRAM index on `line`, timed. Pilum raising NotImplementedError ends the run (exit 2, a stale
    build); a Lance error is recorded."""
    column, kind = INDEX
    return build_index(engine, engine_module(engine).dataset(uri), uri, column, kind)


# ---------------------------------------------------------------- measuring

@dataclass(eq=False)
class Cell(bench_cells.Cell):
    """A cell that runs one spelling of the query's filter, `sql`."""
    spelling: str  # "as written" or "regexp_match"
    sql: str

    @property
    def name(self) -> str:
        return f"{self.engine} {self.mode}" + (" (regexp_match)" if self.spelling == "regexp_match" else "")

    def header(self) -> Dict[str, Any]:
        return {"sql": self.sql, "spelling": self.spelling}


def cells_for(query: Query, uris: Dict[str, str]) -> List[Cell]:
    """Pilum: the filter as written; Lance: that and, for regexes, the regexp_match spelling."""
    cells = []
    for engine, uri in uris.items():
        for mode in MODES:
            cells.append(Cell(engine, mode, uri, "as written", query.sql))
            if engine == "lance" and query.regexp_match_sql:
                cells.append(Cell(engine, mode, uri, "regexp_match", query.regexp_match_sql))
    return cells


def best(cells: Dict[str, Dict[str, Any]], engine: str, mode: str) -> Optional[str]:
    """The name of `engine`'s fastest correct `mode` cell (over spellings), else any of its cells."""
    names = [n for n in cells if n.split()[:2] == [engine, mode]]
    good = [n for n in names if "to_table" in cells[n] and not failures_of("pilum", cells[n])]
    if good:
        return min(good, key=lambda n: cells[n]["to_table"]["median_ms"])
    return names[0] if names else None


# ---------------------------------------------------------------- report

def _ratio(num: Optional[Dict[str, Any]], den: Optional[Dict[str, Any]]) -> str:
    a, b = ((c or {}).get("to_table", {}).get("median_ms") for c in (num, den))
    return f"{a / b:.2f}" if a and b and cell_text(num) != "MISMATCH" and cell_text(den) != "MISMATCH" else "–"


def markdown(results: Dict[str, Any]) -> str:
    """Per query: median to_table ms per cell and the ratios; then p99/cold/count_rows per cell; then builds."""
    stats, engines = results["corpus"], results["settings"]["engines"]
    lines = [f"### {stats['lines']:,} lines of Rust ({stats['text_mb']:,.1f} MB of text, {stats['files']:,} files, "
             f"{stats['crates']:,} crates) from `{stats['source']}`", ""]
    head = ["query", "filter", "matches", "pilum idx ms", "pilum scan ms", "lance idx ms", "lance scan ms",
            "lance idx / pilum idx", "pilum scan / pilum idx"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes: List[str] = []
    for name, q in results["queries"].items():
        cells = q["cells"]
        row = [name, f"`{q['sql']}`", f"{q['expected_rows']:,}"]
        chosen: Dict[str, Optional[Dict[str, Any]]] = {}
        for engine in ("pilum", "lance"):
            for mode in MODES:
                key = best(cells, engine, mode)
                cell = cells.get(key) if key else None
                chosen[f"{engine} {mode}"] = cell
                text = cell_text(cell)
                if cell and cell.get("spelling") == "regexp_match" and "to_table" in cell:
                    text += " m"
                if cell and mode == "idx" and cell.get("uses_index") is False:
                    text += " †"
                row.append(text)
        for cell_name, cell in cells.items():
            if "error" in cell:
                notes.append(f"{name}, {cell_name}: " + " ".join(cell["error"].split())[:200])
        row.append(_ratio(chosen["lance idx"], chosen["pilum idx"]))
        row.append(_ratio(chosen["pilum scan"], chosen["pilum idx"]))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Median of the warm to_table runs. m: Lance's faster spelling was "
              "`regexp_match(line, p) IS NOT NULL` (every Lance spelling is in the table below). "
              "†: explain_plan shows no ScalarIndexQuery (pylance only; Pilum has no explain_plan). "
              "Ratio above 1: Pilum idx faster / the index helps."]
    lines += [f"- error: {note}" for note in notes]

    names: List[str] = []
    for q in results["queries"].values():
        names += [n for n in q["cells"] if n not in names]
    lines += ["", "to_table p99 / cold (fresh dataset object) / count_rows median, ms "
              "(idx: + if explain_plan shows the index, - if not):", "",
              "| query | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for name, q in results["queries"].items():
        row = [name]
        for cell_name in names:
            cell = q["cells"].get(cell_name)
            if not cell or "to_table" not in cell or cell_text(cell) == "MISMATCH":
                row.append(cell_text(cell))
                continue
            mark = {True: " +", False: " -"}.get(cell.get("uses_index"), "") if " idx" in cell_name else ""
            row.append(f"{cell['to_table']['p99_ms']:.2f} / {cell.get('cold_ms', float('nan')):.2f} / "
                       f"{cell['count_rows']['median_ms']:.2f}{mark}")
        lines.append("| " + " | ".join(row) + " |")

    column, kind = INDEX
    lines += ["", f"{kind}({column}) build, seconds (MiB under _indices); data written:", "",
              "| engine | index build | data MiB | fragments |", "|---|---|---|---|"]
    for engine in engines:
        b, d = results["builds"].get(engine, {}), results["datasets"].get(engine, {})
        lines.append(f"| {engine} | {build_text(b)} | {d.get('data_bytes', 0) / 2**20:.1f} | {d.get('fragments', '–')} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=os.path.expanduser(os.path.join("~", ".cargo", "registry", "src")),
                        help="folder whose .rs files make the corpus")
    parser.add_argument("--max-lines", type=int, default=None, help="first N lines of the corpus (default: all)")
    parser.add_argument("--reps", type=int, default=10, help="warm runs per cell (to_table and count_rows each)")
    parser.add_argument("--engines", default="pilum,lance")
    parser.add_argument("--queries", default="", help="query names, comma-separated (default: all): "
                        + ", ".join(q.name for q in QUERIES))
    parser.add_argument("--rows-per-file", type=int, default=1024 * 1024, help="max_rows_per_file for both engines")
    parser.add_argument("--data-dir", default=os.path.join(REPO, "target", "bench-data", "regex_code"))
    parser.add_argument("--rewrite", action="store_true", help="rewrite stored datasets even when they match")
    parser.add_argument("--stats-only", action="store_true", help="print the corpus size and exit (writes nothing)")
    parser.add_argument("--out", default=os.path.join(HERE, "regex_code.json"))
    args = parser.parse_args()

    engines = parse_engines(parser, args.engines)
    by_name = {q.name: q for q in QUERIES}
    names = [q.strip() for q in args.queries.split(",") if q.strip()] or list(by_name)
    if unknown := [q for q in names if q not in by_name]:
        parser.error(f"--queries: unknown {unknown}; known: {', '.join(by_name)}")
    if args.max_lines is not None and args.max_lines < 1:
        parser.error("--max-lines must be at least 1")
    if not os.path.isdir(args.source):
        parser.error(f"--source: no folder {args.source}")

    start = time.perf_counter()
    corpus = read_corpus(args.source, args.max_lines)
    stats = corpus.stats()
    print(f"corpus: {stats['lines']:,} lines, {stats['text_mb']:,.1f} MB of text, {stats['files']:,} .rs files, "
          f"{stats['crates']:,} crates from {stats['source']} (read in {time.perf_counter() - start:.1f} s)", flush=True)
    if args.stats_only:
        return
    if not corpus.lines:
        parser.error(f"--source: no lines of .rs files under {args.source}")
    for engine in engines:
        engine_module(engine)  # fail early when an engine is not installed

    pkg = versions(["pilum", "pylance", "pyarrow", "numpy"])
    results: Dict[str, Any] = {
        **run_info(pkg),
        "corpus": stats,
        "settings": {"reps": args.reps, "max_lines": args.max_lines, "rows_per_file": args.rows_per_file,
                     "engines": engines, "data_dir": args.data_dir, "index": f"{INDEX[1]}({INDEX[0]})",
                     "check": "sorted ids (and count_rows) of every run vs Python re / substring / LIKE over the same lines",
                     "read": "to_table(columns=['id'], filter=sql[, use_scalar_index=False]); "
                             "count_rows(filter=sql[, use_scalar_index=False])",
                     "lance_spellings": "regex filters run as written and as regexp_match(line, p) IS NOT NULL; "
                                        "the faster correct one is reported"},
        "datasets": {}, "builds": {}, "queries": {}, "failures": [],
    }

    queries = [by_name[n] for n in names]
    expected = expected_ids(corpus, queries)
    corpus_dir, meta = corpus_dir_for(args.data_dir, corpus, args.rows_per_file, args.rewrite)
    cached: List[pa.Table] = []

    def table() -> pa.Table:
        if not cached:
            cached.append(corpus.table())
        return cached[0]

    for engine in engines:
        version = pkg["pylance" if engine == "lance" else "pilum"]
        results["datasets"][engine] = prepare_dataset(engine, corpus_dir, table, meta, version, args.rows_per_file)
        save_meta(corpus_dir, meta)
    del cached[:], corpus
    for engine in engines:
        results["builds"][engine] = build_line_index(engine, results["datasets"][engine]["uri"])
    uris = {engine: results["datasets"][engine]["uri"] for engine in engines}

    for q in queries:
        cells = measure_query(cells_for(q, uris), lambda cell: cell.sql, expected[q.name], args.reps)
        results["queries"][q.name] = {"sql": q.sql, "regexp_match_sql": q.regexp_match_sql,
                                      "expected_rows": int(len(expected[q.name])), "cells": cells}
        record_query(q.name, f"{len(expected[q.name]):,} lines", q.name, cells, results["failures"])
        write_json(args.out, results)

    write_json(args.out, results)
    print(f"\n{os.cpu_count()} cores; pilum {pkg['pilum']}, pylance {pkg['pylance']}, pyarrow {pkg['pyarrow']}; "
          f"{results['command']}\n")
    print(markdown(results) + "\n")
    print(f"wrote {args.out}")
    exit_on_failures(results["failures"])


if __name__ == "__main__":
    main()
