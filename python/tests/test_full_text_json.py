"""Full-text search over a JSON column (``pa.json_()``): whole documents
and one path (``meta.title``), scored against a pure-Python BM25 reference
over the parsed documents, through the index and over appended rows, on
local disk; path queries need a JSON index."""

import json
import math
import random
import re

import pyarrow as pa
import pytest

import pilum
from pilum.errors import InvalidArgumentError
from pilum.query import MatchQuery, PhraseQuery

VOCAB = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
PLAIN = dict(stem=False, remove_stop_words=False, with_position=True)


def _words(rng, n):
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def _documents(n, seed):
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        if i % 11 == 4:
            docs.append(None)
            continue
        docs.append({
            "title": _words(rng, rng.randint(1, 3)),
            "body": _words(rng, rng.randint(2, 8)),
            "authors": [{"name": _words(rng, 1)} for _ in range(rng.randint(0, 2))],
            "year": 2000 + i % 5,
        })
    return docs


def _leaves(value, path=""):
    """(path, text) of every string, number and boolean, keys ascending."""
    if value is None:
        return []
    if isinstance(value, dict):
        out = []
        for key in sorted(value):
            out += _leaves(value[key], f"{path}.{key}" if path else key)
        return out
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item, path)]
    if isinstance(value, bool):
        return [(path, "true" if value else "false")]
    return [(path, str(value))]


def _tokens(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def _bm25(docs, query, path=None, k=10, k1=1.2, b=0.75):
    """[(id, score)] best first: BM25 over whole documents (lengths, N), with
    term frequencies and document frequencies taken from `path` when given."""
    parsed = {i: _leaves(d) for i, d in enumerate(docs) if d is not None}
    length = {i: sum(len(_tokens(t)) for _, t in leaves) for i, leaves in parsed.items()}
    n, avgdl = len(parsed), sum(length.values()) / len(parsed)

    def tf(i, term):
        return sum(_tokens(t).count(term) for p, t in parsed[i] if path is None or p == path)

    scores = {}
    for term in sorted(set(_tokens(query))):
        df = sum(tf(i, term) > 0 for i in parsed)
        if df == 0:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for i in parsed:
            f = tf(i, term)
            if f:
                scores[i] = scores.get(i, 0.0) + idf * f * (k1 + 1) / (f + k1 * (1 - b + b * length[i] / avgdl))
    return sorted(scores.items(), key=lambda s: (-s[1], s[0]))[:k]


def _table(docs, start):
    meta = pa.array([None if d is None else json.dumps(d) for d in docs], pa.json_())
    return pa.table({"id": pa.array(range(start, start + len(docs)), pa.int64()), "meta": meta})


def _search(ds, query, k=10):
    t = ds.to_table(full_text_query=query, columns=["id"], limit=k)
    return list(zip(t.column("id").to_pylist(), t.column("_score").to_pylist()))


def _check(ds, docs, what):
    for query, path in [("alpha", None), ("beta zeta", None), ("alpha", "title"), ("gamma delta", "body"),
                        ("theta", "authors.name"), ("2003", "year")]:
        column = "meta" if path is None else f"meta.{path}"
        got = _search(ds, MatchQuery(query, column))
        want = _bm25(docs, query, path)
        assert [g[0] for g in got] == [w[0] for w in want] or all(
            math.isclose(g[1], w[1], rel_tol=1e-4) for g, w in zip(got, want)), (what, column, query, got, want)
        for (_, gs), (_, ws) in zip(got, want):
            assert math.isclose(gs, ws, rel_tol=1e-4), (what, column, query, got, want)
        assert len(got) == len(want), (what, column, query)


def test_json_paths_score_like_a_reference_indexed_and_unindexed(tmp_path):
    docs = _documents(300, 1)
    ds = pilum.write_dataset(_table(docs, 0), str(tmp_path / "j"), max_rows_per_file=120)
    assert ds.schema.field("meta").type == pa.json_()
    ds.create_scalar_index("meta", "INVERTED", **PLAIN)
    assert [s["json"] for s in ds._ds.index_segments()] == [True]
    _check(ds, docs, "indexed")
    more = _documents(80, 2)
    ds.insert(_table(more, 300))
    _check(ds, docs + more, "with appended rows")
    ds.optimize.optimize_indices()
    _check(ds, docs + more, "optimized")
    # A plain string query searches every value of the documents.
    assert {i for i, _ in _search(ds, "alpha", k=1000)} == {
        i for i, d in enumerate(docs + more) if d is not None and any("alpha" in _tokens(t) for _, t in _leaves(d))}


def test_phrases_stay_inside_one_value(tmp_path):
    docs = [{"title": "alpha beta", "body": "gamma"}, {"title": "gamma", "body": "alpha beta"},
            {"body": "gamma alpha", "title": "beta delta"}]
    ds = pilum.write_dataset(_table(docs, 0), str(tmp_path / "p"))
    ds.create_scalar_index("meta", "INVERTED", **PLAIN)
    ids = lambda q: sorted(i for i, _ in _search(ds, q))
    assert ids(PhraseQuery("alpha beta", "meta")) == [0, 1]
    assert ids(PhraseQuery("alpha beta", "meta.title")) == [0]
    assert ids(PhraseQuery("alpha beta", "meta.body")) == [1]
    # In row 2 "alpha" ends one value (body) and "beta" starts the next
    # (title, keys ascending): no match across them.
    assert ids(MatchQuery("alpha beta", "meta")) == [0, 1, 2]
    assert ids(MatchQuery("alpha", "meta.nowhere")) == []


def test_path_queries_need_a_json_index(tmp_path):
    table = pa.table({"id": [1, 2], "text": ["alpha beta", "gamma"],
                      "meta": pa.array(['{"title": "alpha"}', "not json alpha"], pa.json_())})
    ds = pilum.write_dataset(table, str(tmp_path / "e"))
    ds.create_scalar_index("text", "INVERTED", **PLAIN)
    with pytest.raises(InvalidArgumentError, match="JSON"):
        ds.to_table(full_text_query=MatchQuery("alpha", "text.title"))
    ds.create_scalar_index("meta", "INVERTED", **PLAIN)
    # A value that is not JSON is plain text; its terms have no path.
    assert sorted(i for i, _ in _search(ds, MatchQuery("alpha", "meta"))) == [1, 2]
    assert [i for i, _ in _search(ds, MatchQuery("alpha", "meta.title"))] == [1]
