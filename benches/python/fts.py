"""Full-text search (inverted index, BM25), side by side on the same corpus:
Pilum and pylance 14.0.2 (``create_scalar_index("text", index_type="INVERTED",
with_position=True)``, queried through ``to_table(full_text_query=...)``) and
tantivy 0.27 (``en_stem`` text field, stored ``id``).

Corpus: passages of local documentation (chunks as the side-by-side harness
collects them, cut at blank lines, whitespace collapsed, >= 40 characters,
deduplicated); columns ``id`` (int64) and ``text`` (string).

Build: each engine's index is built in a fresh Python process, which loads
what it needs (an opened dataset; for tantivy the texts as Python strings),
records its resident set (``VmRSS``), resets the peak (``/proc/self/clear_refs``),
builds and reports the wall time and the peak resident set (``VmHWM``).
Lance and Pilum datasets are written once by the parent (not timed).

Queries (seeded, the same strings for every engine): one term from the most
frequent terms (``term_common``) or from terms in 2-10 documents
(``term_rare``); 2- and 3-term OR; 2-term AND (both terms from one
document); 2-word phrases (adjacent words of one document). Terms are
lowercase alphabetic words of 3-15 characters, never English stop words.
Per engine and kind: one warm-up pass, then a timed pass of single top-10
queries issued from Python; top-10 id sets are compared across engines.

    python3 benches/python/fts.py                        # 48 MiB of source, ~200k passages
    python3 benches/python/fts.py --engines lance,tantivy --mb 8 --queries 30
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

os.environ.setdefault("LANCE_LOG", "error")  # pylance warns on every query that leaves out `_score`

import numpy as np
import pyarrow as pa

from bench_cells import versions

CHILD_PREFIX = "FTS_CHILD "
KINDS = ("term_common", "term_rare", "or2", "or3", "and2", "phrase")
TOKEN = re.compile(r"[^\W_]+")
TERM = re.compile(r"[a-z]{3,15}")
#: Snowball's English stop words of 3+ letters (a superset of what the engines drop); never used as query terms.
STOP = set("""me my myself our ours ourselves you your yours yourself yourselves him his himself she her hers
herself its itself they them their theirs themselves what which who whom this that these those are was were been
being have has had having does did doing would should could ought the and but because until while for with about
against between into through during before after above below from down out off over under again further then once
here there when where why how all any both each few more most other some such nor not only own same than too very
can will just don now""".split())


def passages(mb: float) -> Tuple[pa.Table, Dict[str, Any]]:
    """The corpus: deduplicated passages of >= 40 characters from `mb` MiB of documentation."""
    from bench.corpus import CorpusInfo, _collect

    info, seen, texts = CorpusInfo(), set(), []
    for _, chunk in _collect(int(mb * 2**20), info):
        for part in chunk.split("\n\n"):
            text = " ".join(part.split())
            if len(text) >= 40 and text not in seen:
                seen.add(text)
                texts.append(text)
    table = pa.table({"id": pa.array(np.arange(len(texts), dtype=np.int64)), "text": pa.array(texts, pa.string())})
    text_bytes = sum(len(t.encode("utf-8")) for t in texts)
    return table, {"docs": len(texts), "text_bytes": text_bytes, "source_bytes": sum(s["bytes"] for s in info.sources.values()),
                   "sources": info.sources}


def make_queries(texts: List[str], per_kind: int, seed: int) -> Dict[str, List[str]]:
    """Seeded query strings per kind, drawn from the corpus vocabulary (document frequencies)."""
    df: collections.Counter = collections.Counter()
    for text in texts:
        df.update({t for t in TOKEN.findall(text.lower()) if TERM.fullmatch(t) and t not in STOP})
    ranked = [t for t, n in sorted(df.items(), key=lambda kv: (-kv[1], kv[0])) if n >= 2]
    common = ranked[: max(50, len(ranked) // 200)]
    rare = [t for t in ranked if 2 <= df[t] <= 10] or ranked[len(ranked) // 2 :]
    mid = ranked[len(common) : len(ranked) - len(rare)] or ranked
    bands = (common, mid, rare)
    rng = random.Random(seed)

    def doc_terms() -> List[str]:
        return TOKEN.findall(texts[rng.randrange(len(texts))].lower())

    def and_pair() -> str:
        terms = sorted({t for t in doc_terms() if t in df and df[t] >= 2})
        return " ".join(rng.sample(terms, 2)) if len(terms) >= 2 else ""

    def phrase() -> str:
        tokens = doc_terms()
        pairs = [(a, b) for a, b in zip(tokens, tokens[1:]) if a != b and all(t in df for t in (a, b))]
        return " ".join(rng.choice(pairs)) if pairs else ""

    makers: Dict[str, Callable[[], str]] = {
        "term_common": lambda: rng.choice(common),
        "term_rare": lambda: rng.choice(rare),
        "or2": lambda: " ".join(rng.choice(rng.choice(bands)) for _ in range(2)),
        "or3": lambda: " ".join(rng.choice(rng.choice(bands)) for _ in range(3)),
        "and2": and_pair,
        "phrase": phrase,
    }
    out: Dict[str, List[str]] = {}
    for kind, make in makers.items():
        got: List[str] = []
        for _ in range(per_kind * 50):
            q = make()
            if q and len(set(q.split())) == len(q.split()) and q not in got:
                got.append(q)
            if len(got) == per_kind:
                break
        out[kind] = got
    return out


# ---------------------------------------------------------------- builds (child processes)

def _child_build(engine: str, work: str) -> Dict[str, Any]:
    """Runs in a fresh process: loads, resets the peak RSS, builds one index; returns time and memory."""
    import gc

    from bench.rss import _reset_peak, _status_kib

    if engine == "tantivy":
        import tantivy

        table = pa.ipc.open_file(f"{work}/corpus.arrow").read_all()
        ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
        del table
    else:
        module = __import__("lance" if engine == "lance" else "pilum")
        ds = module.dataset(f"{work}/{engine}")
    gc.collect()
    baseline = _status_kib("VmRSS")
    exact = _reset_peak()
    start = time.perf_counter()
    if engine == "tantivy":
        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("id", stored=True, indexed=False)
        builder.add_text_field("text", stored=False, tokenizer_name="en_stem")
        os.makedirs(f"{work}/tantivy", exist_ok=True)
        index = tantivy.Index(builder.build(), path=f"{work}/tantivy")
        writer = index.writer(num_threads=os.cpu_count())
        for i, text in zip(ids, texts):
            writer.add_document(tantivy.Document(id=i, text=text))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
    else:
        ds.create_scalar_index("text", index_type="INVERTED", with_position=True)
    seconds = time.perf_counter() - start
    import resource

    peak = _status_kib("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "baseline_mib": baseline / 1024, "peak_mib": peak / 1024,
            "delta_mib": (peak - baseline) / 1024, "rss_method": "VmHWM after clear_refs" if exact else "ru_maxrss"}


def build(engine: str, work: str, text_bytes: int, timeout_s: float) -> Dict[str, Any]:
    """Builds `engine`'s index in a child process (this script with ``--child-build``)."""
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child-build", engine, "--work", work],
                          capture_output=True, text=True, timeout=timeout_s)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(CHILD_PREFIX):
            out = json.loads(line[len(CHILD_PREFIX):])
            mb_s = text_bytes / 2**20 / out["seconds"]
            return {**out, "mb_per_s": mb_s, "mb_per_s_per_core": mb_s / os.cpu_count()}
    tail = [line for line in proc.stderr.strip().splitlines() if line.strip()] or ["no output"]
    raise RuntimeError(f"build child exited {proc.returncode}: {tail[-1][:500]}")


# ---------------------------------------------------------------- searchers

def searcher(engine: str, work: str) -> Callable[[str, str], Tuple[Any, Callable[[Any], Tuple[List[int], List[float]]]]]:
    """Returns prepare(kind, q) -> (query object, run); run(query) returns the top-10 ids and scores (None if absent)."""
    if engine == "tantivy":
        import tantivy

        index = tantivy.Index.open(f"{work}/tantivy")
        s = index.searcher()

        def run_tantivy(query):
            hits = s.search(query, 10).hits
            return [s.doc(addr)["id"][0] for _, addr in hits], [score for score, _ in hits]

        def prepare_tantivy(kind, q):
            text = f'"{q}"' if kind == "phrase" else q
            return index.parse_query(text, ["text"], conjunction_by_default=kind == "and2"), run_tantivy
        return prepare_tantivy
    module = __import__("lance" if engine == "lance" else "pilum")
    qmod = __import__(f"{module.__name__}.query", fromlist=["MatchQuery"])
    ds = module.dataset(f"{work}/{engine}")

    def run_dataset(query):
        t = ds.to_table(full_text_query=query, limit=10, columns=["id"])
        scores = t.column("_score").to_pylist() if "_score" in t.column_names else None
        return t.column("id").to_pylist(), scores

    def prepare_dataset(kind, q):
        if kind == "phrase":
            return qmod.PhraseQuery(q, "text"), run_dataset
        op = qmod.FullTextOperator.AND if kind == "and2" else qmod.FullTextOperator.OR
        return qmod.MatchQuery(q, "text", operator=op), run_dataset
    return prepare_dataset


def time_queries(prepare, queries: Dict[str, List[str]]) -> Tuple[Dict[str, Any], Dict[str, List[List[int]]]]:
    """Per kind: one warm-up pass, one timed pass; latency stats, result checks and the top-10 ids."""
    stats, ids = {}, {}
    for kind, qs in queries.items():
        try:
            prepared = [prepare(kind, q) for q in qs]
            for query, run in prepared:
                run(query)
            times, tops, bad_len, bad_order, empty = [], [], 0, 0, 0
            for query, run in prepared:
                start = time.perf_counter()
                top, scores = run(query)
                times.append((time.perf_counter() - start) * 1e3)
                tops.append(top)
                bad_len += len(top) > 10
                empty += not top
                bad_order += scores is not None and any(a < b for a, b in zip(scores, scores[1:]))
            ms = np.array(times)
            stats[kind] = {"mean_ms": float(ms.mean()), "p50_ms": float(np.percentile(ms, 50)),
                           "p99_ms": float(np.percentile(ms, 99)), "queries": len(qs), "empty": empty,
                           "over_10_rows": bad_len, "scores_not_descending": bad_order}
            ids[kind] = tops
        except Exception as exc:  # noqa: BLE001 - recorded, not fatal
            stats[kind] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    return stats, ids


def overlap(a: List[List[int]], b: List[List[int]]) -> Dict[str, float]:
    """Mean Jaccard of top-10 id sets and mean recall of `b`'s top-10 in `a` (both empty counts as 1)."""
    jac, rec = [], []
    for x, y in zip(a, b):
        x, y = set(x), set(y)
        jac.append(len(x & y) / len(x | y) if x | y else 1.0)
        rec.append(len(x & y) / len(y) if y else float(not x))
    return {"jaccard": float(np.mean(jac)), "recall_at_10": float(np.mean(rec))}


# ---------------------------------------------------------------- report

def markdown(results: Dict[str, Any]) -> str:
    """Engine rows: build numbers and per-kind mean/p50/p99 ms (mean ratio vs tantivy); then overlaps."""
    engines, kinds = results["engines"], list(results["query_strings"])
    tv = engines.get("tantivy", {})
    head = ["engine", "build s", "MiB/s", "MiB/s/core", "base MiB", "peak Δ MiB"] + [f"{k} mean/p50/p99 ms" for k in kinds]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, e in engines.items():
        b = e.get("build", {})
        if "error" in b:
            row = [name, "error: " + b["error"][:80], "", "", "", ""]
        else:
            ratio = f" ({b['seconds'] / tv['build']['seconds']:.2f}×)" if "seconds" in tv.get("build", {}) else ""
            row = [name, f"{b['seconds']:.1f}{ratio}", f"{b['mb_per_s']:.2f}", f"{b['mb_per_s_per_core']:.2f}",
                   f"{b['baseline_mib']:.0f}", f"{b['delta_mib']:.0f}"]
        for k in kinds:
            q = e.get("queries", {}).get(k, {})
            if "mean_ms" not in q:
                err = q.get("error") or (e.get("error") if "error" not in b else None)
                row.append(("error: " + err)[:60] if err else "–")
                continue
            t = tv.get("queries", {}).get(k, {})
            ratio = f" ({q['mean_ms'] / t['mean_ms']:.2f}×)" if t.get("mean_ms") else ""
            row.append(f"{q['mean_ms']:.2f}/{q['p50_ms']:.2f}/{q['p99_ms']:.2f}{ratio}")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Top-10 overlap, mean Jaccard / recall@10 of the second engine's set:", "",
              "| pair | " + " | ".join(kinds) + " |", "|" + "---|" * (len(kinds) + 1)]
    for pair, per_kind in results["overlap"].items():
        cells = [f"{per_kind[k]['jaccard']:.2f} / {per_kind[k]['recall_at_10']:.2f}" if k in per_kind else "–" for k in kinds]
        lines.append(f"| {pair} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="pilum,lance,tantivy")
    parser.add_argument("--mb", type=float, default=48.0, help="MiB of source documentation to collect")
    parser.add_argument("--queries", type=int, default=200, help="queries per kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "fts.json"))
    parser.add_argument("--work", default=None, help="scratch directory (default: a new temporary one, removed)")
    parser.add_argument("--build-timeout", type=float, default=3600.0)
    parser.add_argument("--child-build", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_build:
        print(CHILD_PREFIX + json.dumps(_child_build(args.child_build, args.work)), flush=True)
        return
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    work = args.work or tempfile.mkdtemp(prefix="fts-bench-")
    os.makedirs(work, exist_ok=True)
    start = time.perf_counter()
    table, corpus = passages(args.mb)
    print(f"corpus: {corpus['docs']} docs, {corpus['text_bytes'] / 2**20:.1f} MiB of text "
          f"({time.perf_counter() - start:.0f} s)", flush=True)
    queries = make_queries(table.column("text").to_pylist(), args.queries, args.seed)
    for root, stats in corpus["sources"].items():
        print(f"  {root}: {stats['files']} files, {stats['bytes'] / 2**20:.1f} MiB", flush=True)
    print("queries: " + ", ".join(f"{k} {len(v)}" for k, v in queries.items()), flush=True)
    results: Dict[str, Any] = {
        "command": shlex.join([sys.executable] + sys.argv),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
                    "python": platform.python_version()},
        "versions": versions(["pilum", "pylance", "tantivy", "pyarrow"]),
        "corpus": corpus, "query_strings": queries, "engines": {}, "overlap": {},
        "settings": {"lance/pilum": 'create_scalar_index("text", index_type="INVERTED", with_position=True), defaults '
                                    "otherwise; to_table(full_text_query=MatchQuery|PhraseQuery, limit=10, columns=['id'])",
                     "tantivy": f'text field tokenizer "en_stem", stored int id; writer(num_threads={os.cpu_count()}), '
                                "default heap; commit + wait_merging_threads + reload; parse_query per query (untimed)"},
    }
    with pa.ipc.new_file(f"{work}/corpus.arrow", table.schema) as sink:
        sink.write_table(table)
    tops: Dict[str, Dict[str, List[List[int]]]] = {}
    try:
        for engine in engines:
            entry: Dict[str, Any] = results["engines"].setdefault(engine, {})
            try:
                if engine in ("lance", "pilum"):
                    module = __import__(engine)
                    t0 = time.perf_counter()
                    module.write_dataset(table, f"{work}/{engine}")
                    entry["write_s"] = time.perf_counter() - t0
                entry["build"] = build(engine, work, corpus["text_bytes"], args.build_timeout)
                print(f"{engine}: build {entry['build']['seconds']:.1f} s, peak Δ {entry['build']['delta_mib']:.0f} MiB", flush=True)
                entry["queries"], tops[engine] = time_queries(searcher(engine, work), queries)
            except Exception as exc:  # noqa: BLE001 - one engine failing must not stop the others
                entry.setdefault("build", {"error": f"{type(exc).__name__}: {exc}"[:500]})
                entry["error"] = f"{type(exc).__name__}: {exc}"[:500]
                print(f"{engine}: error: {entry['error']}", flush=True)
        for a, b in (("pilum", "tantivy"), ("lance", "tantivy"), ("pilum", "lance")):
            if a in tops and b in tops:
                results["overlap"][f"{a} vs {b}"] = {k: overlap(tops[a][k], tops[b][k]) for k in queries
                                                     if k in tops[a] and k in tops[b]}
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=1)
    print(f"\n{corpus['docs']} docs, {corpus['text_bytes'] / 2**20:.1f} MiB text, {args.queries} queries/kind, "
          f"{os.cpu_count()} cores; {results['command']}\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
