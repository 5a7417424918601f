"""Full-text search (INVERTED index, BM25) from Python: scores against a
pure-Python BM25 reference, the index lifecycle (append, delete, update,
optimize), query semantics, CJK text, filters, result shape, errors, and
pylance 14 as the oracle for the API's shape."""

import inspect
import math
import pickle
import random
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum
from pilum.errors import InvalidArgumentError, InvalidIndexParamsError
from pilum.query import (
    BooleanQuery, BoostQuery, FullTextOperator, MatchQuery, MultiMatchQuery, Occur, PhraseQuery, PrefixQuery,
)

VOCAB = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]
PLAIN = dict(stem=False, remove_stop_words=False, lower_case=True, ascii_folding=True)
QUERIES = ["alpha", "mu", "kappa lambda", "beta gamma delta", "iota mu zeta alpha", "nomatch", "kappa nomatch"]


def _tokens(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def _bm25(docs, query, stats=None, live=None, need=1, k1=1.2, b=0.75):
    """[(id, score)] best first (ties by id): BM25 of `query`'s terms over rows `live`
    (all by default), with N, df and avgdl taken from rows `stats` (all by default);
    a row must hold at least `need` distinct query terms."""
    stats = range(len(docs)) if stats is None else stats
    counted = [_tokens(docs[i]) for i in stats]
    n, avgdl = len(counted), sum(map(len, counted)) / len(counted)
    terms = sorted(set(_tokens(query)))
    df = {t: sum(t in d for d in counted) for t in terms}
    out = []
    for i in range(len(docs)) if live is None else sorted(live):
        doc = _tokens(docs[i])
        hits = [t for t in terms if t in doc]
        if hits and len(hits) >= need:
            score = 0.0
            for t in hits:
                tf = doc.count(t)
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                score += idf * (k1 + 1) * tf / (tf + k1 * (1 - b + b * len(doc) / avgdl))
            out.append((-score, i))
    return [(i, -s) for s, i in sorted(out)]


def _search(ds, query, **kwargs):
    table = ds.to_table(full_text_query=query, columns=["id"], **kwargs)
    assert table.schema.field("_score").type == pa.float32()
    return table["id"].to_pylist(), table["_score"].to_pylist()


def _assert_ranking(got, ref, k=None, exact=True):
    """`got` (ids, scores) is the top `k` of reference `ref`: the same scores (rel 1e-4),
    each id with its own reference score, and, with `exact`, the ids in reference order
    (near-ties, within 1e-6, may come in either order: float32 sums differ in the last bit)."""
    ids, scores = got
    full, top = dict(ref), ref if k is None else ref[:k]
    assert len(ids) == len(top) == len(set(ids)), (ids, top)
    np.testing.assert_allclose(scores, [s for _, s in top], rtol=1e-4)
    assert scores == sorted(scores, reverse=True)
    for i, s in zip(ids, scores):
        assert i in full and math.isclose(s, full[i], rel_tol=1e-4), (i, s)
    if exact:
        for got_id, (_, s) in zip(ids, top):
            assert math.isclose(full[got_id], s, rel_tol=1e-6), (ids, top)


def _corpus(n, seed):
    rng = random.Random(seed)
    return [" ".join(rng.choice(VOCAB[: rng.randint(3, 12)]) for _ in range(rng.randint(1, 12))) for _ in range(n)]


def _write(docs, uri, start=0, mode="create", **kwargs):
    table = pa.table({"id": pa.array(range(start, start + len(docs)), pa.int64()), "text": docs})
    return pilum.write_dataset(table, uri, mode=mode, **kwargs)


@pytest.fixture
def docs():
    return _corpus(300, seed=3)


@pytest.fixture
def bm25_ds(tmp_path, docs):
    """300 docs in 3 fragments with an index analyzed like `_tokens`."""
    ds = _write(docs, str(tmp_path / "bm25"), max_rows_per_file=100)
    return ds.create_scalar_index("text", "INVERTED", **PLAIN)


@pytest.fixture
def fruit(tmp_path):
    """Two indexed text columns, with positions."""
    table = pa.table({
        "id": pa.array(range(8), pa.int64()),
        "text": ["red apple pie", "green apple", "red car fast", "blue car", "red green blue apple car",
                 "apple banana cherry", "the quick brown fox", "brown dog and fox jumps"],
        "title": ["fruit", "fruit apple", "vehicle", "vehicle red", "mix", "fruit", "red fox", "dog"],
    })
    ds = pilum.write_dataset(table, str(tmp_path / "fruit"))
    ds.create_scalar_index("text", "INVERTED", with_position=True, **PLAIN)
    ds.create_scalar_index("title", "FTS", **PLAIN)
    return ds, table["text"].to_pylist(), table["title"].to_pylist()


@pytest.mark.parametrize("query", QUERIES)
def test_bm25_scores_match_reference(bm25_ds, docs, query):
    ref = _bm25(docs, query)
    for k in (1, 5, 17, None):
        _assert_ranking(_search(bm25_ds, query, limit=k), ref, k)
    # Ties go to the lower row id.
    table = bm25_ds.to_table(full_text_query=query, with_row_id=True, columns=["id"])
    pairs = list(zip((-s for s in table["_score"].to_pylist()), table["_rowid"].to_pylist()))
    assert pairs == sorted(pairs)


def test_appended_rows_are_searched_with_shared_statistics(bm25_ds, docs):
    more = _corpus(50, seed=4)
    ds = _write(more, bm25_ds.uri, start=300, mode="append")
    stats = ds.index_statistics("text_idx")
    assert (stats["num_indexed_rows"], stats["num_unindexed_rows"]) == (300, 50)
    for query in QUERIES:
        _assert_ranking(_search(ds, query, limit=15), _bm25(docs + more, query), 15)


def test_deleted_rows_never_appear_but_indexed_ones_still_count(bm25_ds, docs):
    more = _corpus(50, seed=4)
    ds = _write(more, bm25_ds.uri, start=300, mode="append")
    ds.delete("id % 7 = 0")
    live = [i for i in range(350) if i % 7]
    # Deleted rows of the indexed segment stay in N/df/avgdl; unindexed ones do not.
    stats = [i for i in range(350) if i < 300 or i % 7]
    for query in QUERIES:
        ref = _bm25(docs + more, query, stats=stats, live=live)
        got = _search(ds, query)
        assert not {i for i in got[0] if i % 7 == 0}
        _assert_ranking(got, ref)


def test_updated_row_is_found_by_new_text_only(tmp_path, docs):
    docs = list(docs)
    docs[10] = "quartz alpha"
    ds = _write(docs, str(tmp_path / "u"), max_rows_per_file=100).create_scalar_index("text", "INVERTED", **PLAIN)
    assert _search(ds, "quartz")[0] == [10]
    assert ds.update({"text": "'zircon zircon beta'"}, where="id = 10")["num_rows_updated"] == 1
    assert _search(ds, "quartz") == ([], [])
    assert _search(ds, "zircon")[0] == [10]
    # The old version stays in the index's statistics; the new one (row 300 here) is unindexed.
    stats_docs = docs + ["zircon zircon beta"]
    live = [i for i in range(301) if i != 10]
    for query in ("beta", "alpha", "zircon", "alpha beta quartz"):
        ref = [(10 if i == 300 else i, s) for i, s in _bm25(stats_docs, query, live=live)]
        _assert_ranking(_search(ds, query), ref, exact=False)


def test_optimize_indices_indexes_everything_over_live_rows(bm25_ds, docs):
    more = _corpus(50, seed=4)
    ds = _write(more, bm25_ds.uri, start=300, mode="append")
    ds.delete("id % 7 = 0")
    ds.update({"text": "'zircon mu'"}, where="id = 20")
    version = ds.version
    ds.optimize.optimize_indices()
    assert ds.version == version + 1
    stats = ds.index_statistics("text_idx")
    assert stats["num_unindexed_rows"] == 0 and stats["num_indexed_rows"] == ds.count_rows() == 300
    all_docs = docs + more
    all_docs[20] = "zircon mu"
    live = [i for i in range(350) if i % 7]
    for query in QUERIES + ["zircon"]:
        _assert_ranking(_search(ds, query), _bm25(all_docs, query, stats=live, live=live), exact=False)
    assert _search(ds, "zircon")[0] == [20]


def test_and_or_and_minimum_should_match(bm25_ds, docs):
    q = "iota mu zeta"
    ref_or = _bm25(docs, q)
    _assert_ranking(_search(bm25_ds, MatchQuery(q, "text")), ref_or)
    _assert_ranking(_search(bm25_ds, MatchQuery(q, "text", operator=FullTextOperator.OR)), ref_or)
    ref_and = _bm25(docs, q, need=3)
    assert 0 < len(ref_and) < len(_bm25(docs, q, need=2)) < len(ref_or)
    _assert_ranking(_search(bm25_ds, MatchQuery(q, "text", operator=FullTextOperator.AND)), ref_and)
    _assert_ranking(_search(bm25_ds, MatchQuery(q, "text", operator="and"), limit=4), ref_and, 4)
    _assert_ranking(_search(bm25_ds, MatchQuery(q, "text", minimum_should_match=2)), _bm25(docs, q, need=2))


def test_phrase_query_respects_order_and_slop(fruit):
    ds = fruit[0]
    assert _search(ds, PhraseQuery("brown fox", "text"))[0] == [6]
    assert _search(ds, PhraseQuery("fox brown", "text"))[0] == []
    assert _search(ds, PhraseQuery("brown fox", "text", slop=1))[0] == [6]
    assert sorted(_search(ds, PhraseQuery("brown fox", "text", slop=2))[0]) == [6, 7]
    assert _search(ds, PhraseQuery("red apple pie", "text"))[0] == [0]
    assert _search(ds, PhraseQuery("apple red", "text", slop=0))[0] == []


def test_fuzzy_match_and_prefix_query(tmp_path):
    docs = ["search engine", "research lab", "sea shells", "seal pup", "searcher"]
    ds = _write(docs, str(tmp_path / "f")).create_scalar_index("text", "INVERTED", **PLAIN)
    assert _search(ds, MatchQuery("serch", "text"))[0] == []
    assert _search(ds, MatchQuery("serch", "text", fuzziness=1))[0] == [0]
    assert _search(ds, MatchQuery("serch", "text", fuzziness=None))[0] == [0]  # 5 letters: one edit
    assert _search(ds, MatchQuery("srch", "text", fuzziness=1))[0] == []
    assert _search(ds, MatchQuery("srch", "text", fuzziness=None))[0] == []  # 4 letters: one edit
    assert _search(ds, MatchQuery("srch", "text", fuzziness=2))[0] == [0]
    assert _search(ds, MatchQuery("earch", "text", fuzziness=1))[0] == [0]
    assert _search(ds, MatchQuery("earch", "text", fuzziness=1, prefix_length=1))[0] == []
    assert sorted(_search(ds, PrefixQuery("sea", "text"))[0]) == [0, 2, 3, 4]
    one = _search(ds, PrefixQuery("sea", "text", max_expansions=1))[0]  # each term is in one row
    assert len(one) == 1 and one[0] in (0, 2, 3, 4)
    assert _search(ds, PrefixQuery("xyz", "text"))[0] == []


def test_boolean_query_must_should_must_not(bm25_ds, docs):
    iota, mu = MatchQuery("iota", "text"), MatchQuery("mu", "text")
    ids, _ = _search(bm25_ds, BooleanQuery([(Occur.MUST, iota), (Occur.MUST_NOT, mu)]))
    assert set(ids) == {i for i, d in enumerate(docs) if "iota" in _tokens(d) and "mu" not in _tokens(d)}
    # MUST + SHOULD: the rows of MUST, scored by the sum of both.
    ref_iota, ref_mu = dict(_bm25(docs, "iota")), dict(_bm25(docs, "mu"))
    ref = sorted(((i, s + ref_mu.get(i, 0.0)) for i, s in ref_iota.items()), key=lambda p: (-p[1], p[0]))
    _assert_ranking(_search(bm25_ds, BooleanQuery([(Occur.MUST, iota), (Occur.SHOULD, mu)])), ref, exact=False)
    # SHOULD only behaves like OR.
    should = BooleanQuery([(Occur.SHOULD, iota), (Occur.SHOULD, mu)])
    _assert_ranking(_search(bm25_ds, should), _bm25(docs, "iota mu"))


def test_boost_query_demotes_negative_matches(bm25_ds, docs):
    ref = dict(_bm25(docs, "iota"))
    negative = {i for i, d in enumerate(docs) if "mu" in _tokens(d)}
    boosted = {i: s * (0.1 if i in negative else 1.0) for i, s in ref.items()}
    ref = sorted(boosted.items(), key=lambda p: (-p[1], p[0]))
    query = BoostQuery(MatchQuery("iota", "text"), MatchQuery("mu", "text"), negative_boost=0.1)
    _assert_ranking(_search(bm25_ds, query), ref, exact=False)
    top = _search(bm25_ds, query, limit=5)[0]
    assert top and not set(top) & negative


def test_multi_match_plain_string_and_dict_over_two_columns(fruit):
    ds, text, title = fruit
    per = {c: dict(_bm25(docs, "red fox")) for c, docs in (("text", text), ("title", title))}

    def combined(wt, wtitle):
        scores = {i: wt * per["text"].get(i, 0) + wtitle * per["title"].get(i, 0) for i in range(8)}
        return sorted(((i, s) for i, s in scores.items() if s), key=lambda p: (-p[1], p[0]))

    _assert_ranking(_search(ds, "red fox"), combined(1, 1))
    _assert_ranking(_search(ds, {"query": "red fox", "columns": ["text", "title"]}), combined(1, 1))
    _assert_ranking(_search(ds, {"query": "red fox", "columns": ["title"]}), combined(0, 1))
    _assert_ranking(_search(ds, MultiMatchQuery("red fox", ["text", "title"])), combined(1, 1))
    _assert_ranking(_search(ds, MultiMatchQuery("red fox", ["text", "title"], boosts=[1.0, 5.0])), combined(1, 5))
    _assert_ranking(_search(ds, MultiMatchQuery("red fox", ["text", "title"], boosts=[3.0, 0.5])), combined(3, 0.5))
    assert _search(ds, MatchQuery("vehicle", "text"))[0] == []
    assert sorted(_search(ds, MatchQuery("vehicle", "title"))[0]) == [2, 3]


def test_chinese_and_japanese_found_by_two_characters(tmp_path):
    docs = ["我爱北京天安门", "東京は日本の首都です", "北京和上海", "hello world", "今日は良い天気"]
    ds = _write(docs, str(tmp_path / "cjk")).create_scalar_index("text", "INVERTED")
    assert sorted(_search(ds, "北京")[0]) == [0, 2]
    assert _search(ds, "東京")[0] == [1]
    assert _search(ds, "天安门")[0] == [0]
    assert _search(ds, "上海")[0] == [2]
    assert _search(ds, "大阪")[0] == []


def test_analyzer_folds_case_and_accents(tmp_path):
    docs = ["Café CRÈME brûlée", "cafe plain", "the running dogs"]
    ds = _write(docs, str(tmp_path / "a")).create_scalar_index("text", "INVERTED")
    assert sorted(_search(ds, "CAFE")[0]) == [0, 1]
    assert _search(ds, "creme")[0] == [0]
    assert _search(ds, "run dog")[0] == [2]  # English stemming
    assert _search(ds, "the")[0] == []  # stop word
    ds.create_scalar_index("text", "INVERTED", ascii_folding=False, stem=False, remove_stop_words=False)
    assert _search(ds, "cafe")[0] == [1] and _search(ds, "café")[0] == [0]
    assert _search(ds, "the")[0] == [2] and _search(ds, "run")[0] == []


@pytest.mark.parametrize("where", ["id > 150", pc.field("id") > 150], ids=["sql", "pyarrow"])
@pytest.mark.parametrize("query", ["alpha beta", "kappa"])
def test_prefilter_and_postfilter(bm25_ds, docs, where, query):
    ref = _bm25(docs, query)  # the filter does not change the statistics
    passing = [p for p in ref if p[0] > 150]
    pre = _search(bm25_ds, query, filter=where, prefilter=True, limit=5)
    _assert_ranking(pre, passing, 5)
    post = _search(bm25_ds, query, filter=where, prefilter=False, limit=5)
    assert len(post[0]) < 5  # some of the top 5 fail the filter
    _assert_ranking(post, [p for p in ref[:5] if p[0] > 150])
    _assert_ranking(_search(bm25_ds, query, filter=where), passing)
    _assert_ranking(_search(bm25_ds, query, filter=where, prefilter=True), passing)


def test_limit_offset_and_output_columns(bm25_ds, docs):
    full = bm25_ds.to_table(full_text_query="kappa")
    assert full.column_names == ["id", "text", "_score"]
    assert full.num_rows == len(_bm25(docs, "kappa"))
    assert bm25_ds.to_table(full_text_query="kappa", limit=7, offset=3).equals(full.slice(3, 7))
    assert bm25_ds.to_table(full_text_query="kappa", offset=full.num_rows).num_rows == 0
    with_id = bm25_ds.to_table(full_text_query="kappa", with_row_id=True, limit=4)
    assert with_id.column_names == ["id", "text", "_score", "_rowid"]
    assert with_id["_rowid"].to_pylist() == with_id["id"].to_pylist()
    assert bm25_ds.to_table(full_text_query="kappa", columns=["text", "id"]).column_names == ["text", "id", "_score"]
    empty = bm25_ds.to_table(full_text_query="nomatch")
    assert empty.num_rows == 0 and empty.schema == full.schema


# Hits from one fragment (limit 1) and from several: a batch without columns
# must still carry its row count.
@pytest.mark.parametrize("limit", [1, 4, None])
def test_empty_column_list_returns_only_score(bm25_ds, limit):
    full = bm25_ds.to_table(full_text_query="kappa", columns=["id"], limit=limit)
    hit = len({i // 100 for i in full["id"].to_pylist()})  # fragments hit
    assert hit == 1 if limit == 1 else hit >= 2
    only_score = bm25_ds.to_table(full_text_query="kappa", columns=[], limit=limit)
    assert only_score.column_names == ["_score"]
    assert only_score["_score"].equals(full["_score"])
    with_id = bm25_ds.to_table(full_text_query="kappa", columns=[], limit=limit, with_row_id=True)
    assert with_id.column_names == ["_score", "_rowid"]
    assert with_id["_rowid"].to_pylist() == full["id"].to_pylist()


def test_scanner_equals_to_table_and_pickles(bm25_ds):
    query = BooleanQuery([(Occur.MUST, MatchQuery("alpha", "text")), (Occur.SHOULD, PrefixQuery("ka", "text"))])
    kwargs = dict(full_text_query=query, columns=["id"], filter="id < 200", prefilter=True, limit=9, with_row_id=True)
    scanner = bm25_ds.scanner(**kwargs)
    table = scanner.to_table()
    assert table.num_rows == 9
    assert table.equals(bm25_ds.to_table(**kwargs))
    assert scanner.projected_schema == table.schema
    assert pickle.loads(pickle.dumps(scanner)).to_table().equals(table)


def test_index_metadata_and_drop(bm25_ds):
    [segment] = bm25_ds.list_indices()
    assert (segment["name"], segment["type"], segment["fields"]) == ("text_idx", "INVERTED", ["text"])
    assert segment["fragment_ids"] == {f.fragment_id for f in bm25_ds.get_fragments()}
    stats = bm25_ds.index_statistics("text_idx")
    assert stats["index_type"] == "INVERTED" and stats["num_docs"] == 300
    assert stats["params"]["stem"] is False and stats["params"]["with_position"] is False
    [desc] = bm25_ds.describe_indices()
    assert (desc.name, desc.index_type, desc.num_rows_indexed, desc.field_names) == ("text_idx", "INVERTED", 300, ["text"])
    bm25_ds.drop_index("text_idx")
    assert bm25_ds.list_indices() == []
    with pytest.raises(InvalidArgumentError):
        bm25_ds.to_table(full_text_query="alpha")


def test_errors_commit_nothing(fruit, tmp_path):
    ds = fruit[0]
    ds.create_scalar_index("text", "INVERTED", **PLAIN)  # replaces: no positions now
    version = ds.version
    with pytest.raises(InvalidArgumentError, match="with_position"):
        ds.to_table(full_text_query=PhraseQuery("red apple", "text"))
    t = pa.table({"id": [1, 2], "n": [1.0, 2.0], "text": ["a b", "c d"],
                  "v": pa.FixedSizeListArray.from_arrays(pa.array([0.0] * 4, pa.float32()), 2)})
    other = pilum.write_dataset(t, str(tmp_path / "e"))
    with pytest.raises(InvalidIndexParamsError, match="string"):
        other.create_scalar_index("n", "INVERTED")
    with pytest.raises(InvalidArgumentError, match="inverted index"):
        other.to_table(full_text_query="a")
    other.create_scalar_index("text", "INVERTED")
    with pytest.raises(InvalidArgumentError, match="inverted index"):
        ds.to_table(full_text_query=MatchQuery("x", "id"))
    with pytest.raises(NotImplementedError, match="hybrid"):
        other.to_table(full_text_query="a", nearest={"column": "v", "q": np.zeros(2, np.float32), "k": 1}, fast_search=True)
    with pytest.raises(ValueError, match="fusion"):
        other.hybrid_search({"column": "v", "q": np.zeros(2, np.float32)}, "a", fusion="max")
    with pytest.raises(ValueError, match="scores"):
        other.hybrid_search({"column": "v", "q": np.zeros(2, np.float32)}, "a", reranker=lambda t: [1.0] * (t.num_rows + 1))
    with pytest.raises(ValueError, match="fuzziness"):
        MatchQuery("x", "text", fuzziness=3)
    with pytest.raises(InvalidArgumentError, match="tokenizer"):
        ds.create_scalar_index("text", "INVERTED", base_tokenizer="bogus")
    with pytest.raises(InvalidArgumentError, match="language"):
        ds.create_scalar_index("text", "INVERTED", language="Klingon")
    with pytest.raises(InvalidIndexParamsError, match="list column"):
        ds.create_scalar_index("text", "LABEL_LIST")
    for kind in ("BLOOMFILTER", "RTREE"):
        with pytest.raises(NotImplementedError):
            ds.create_scalar_index("text", kind)
    with pytest.raises(TypeError, match="bogus_kwarg"):
        ds.create_scalar_index("text", "INVERTED", bogus_kwarg=1)
    assert ds.version == pilum.dataset(ds.uri).version == version
    assert ds.index_statistics("text_idx")["params"]["with_position"] is False


# pylance-only parameters Pilum leaves out: MatchQuery/PhraseQuery(document_granularity=).
# pylance-only classes: CombinedFieldsQuery, MinHashQuery, DocumentGranularity, FullTextQueryType.
PYLANCE_ONLY = {"document_granularity"}


@pytest.mark.parametrize("name", ["MatchQuery", "PhraseQuery", "BoostQuery", "MultiMatchQuery", "BooleanQuery"])
def test_query_class_signatures_match_pylance(name):
    lance_query = pytest.importorskip("lance.query")
    import pilum.query as pq

    theirs = inspect.signature(getattr(lance_query, name)).parameters
    ours = inspect.signature(getattr(pq, name)).parameters
    for param in theirs.values():
        if param.name in PYLANCE_ONLY:
            continue
        assert param.name in ours, f"{name} lacks {param.name}"
        assert ours[param.name].kind == param.kind, (name, param.name)
        if param.default is not inspect.Parameter.empty:
            value = getattr(param.default, "value", param.default)
            assert getattr(ours[param.name].default, "value", ours[param.name].default) == value, (name, param.name)


def test_enums_match_pylance():
    lance_query = pytest.importorskip("lance.query")
    for name in ("Occur", "FullTextOperator"):
        theirs, ours = getattr(lance_query, name), getattr(pilum.query, name)
        assert {m.name: m.value for m in ours} == {m.name: m.value for m in theirs}


def test_results_shape_matches_pylance(tmp_path):
    lance = pytest.importorskip("lance")
    table = pa.table({"id": pa.array(range(6), pa.int64()),
                      "text": ["red apple pie", "green apple", "red car fast", "blue car", "red green apple car", "banana"]})
    for kwargs in ({}, {"columns": ["id"]}, {"columns": ["id"], "with_row_id": True}, {"limit": 2}):
        results = []
        for module, path in ((lance, "l"), (pilum, "p")):
            ds = module.write_dataset(table, str(tmp_path / path), mode="overwrite")
            ds.create_scalar_index("text", "INVERTED", with_position=True)
            results.append(ds.to_table(full_text_query="red apple", **kwargs))
        theirs, ours = results
        assert ours.column_names == theirs.column_names
        for t in results:
            assert t.schema.field("_score").type == pa.float32()
            assert t["_score"].to_pylist() == sorted(t["_score"].to_pylist(), reverse=True)
        assert set(ours["id"].to_pylist()) == set(theirs["id"].to_pylist())


def test_memory_limited_build_matches_default(tmp_path):
    rng = random.Random(5)
    words = [f"w{i}x" for i in range(3000)]
    docs = [" ".join(rng.choice(words[: rng.choice([50, 500, 3000])]) for _ in range(rng.randint(3, 30)))
            for _ in range(20000)]
    default = _write(docs, str(tmp_path / "a")).create_scalar_index("text", "INVERTED", **PLAIN)
    small = _write(docs, str(tmp_path / "b")).create_scalar_index("text", "INVERTED", memory_limit=1, **PLAIN)
    for key in ("num_docs", "num_terms", "total_terms"):
        assert small.list_indices()[0][key] == default.list_indices()[0][key], key
    for query in ["w1x", "w7x w2000x", "w2999x w40x w41x", MatchQuery("w3x w4x", "text", operator="AND")]:
        expected = default.to_table(full_text_query=query, limit=50)
        assert expected.num_rows > 0
        assert small.to_table(full_text_query=query, limit=50).equals(expected)
    ref = _bm25(docs, "w2999x w40x")
    _assert_ranking(_search(small, MatchQuery("w2999x w40x", "text"), limit=20), ref, 20, exact=False)


def _hybrid_dataset(tmp_path):
    rng = np.random.default_rng(5)
    n = 300
    words = ["harbor", "signal", "meadow", "copper", "glacier", "summit"]
    texts = [f"{words[i % 6]} {words[(i // 6) % 6]} notes {i}" for i in range(n)]
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    t = pa.table({"id": pa.array(range(n), pa.int64()), "text": texts,
                  "v": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), 8)})
    ds = pilum.write_dataset(t, str(tmp_path / "hybrid"))
    ds.create_scalar_index("text", "INVERTED")
    return ds, vectors


def test_hybrid_search_fuses_prefiltered_rankings_with_rrf(tmp_path):
    ds, vectors = _hybrid_dataset(tmp_path)
    q = vectors[7] + 0.01
    nearest = {"column": "v", "q": q, "k": 30}
    vec = ds.to_table(nearest=nearest, filter="id % 2 = 0", prefilter=True, columns=["id"])["id"].to_pylist()
    txt = ds.to_table(full_text_query="glacier", filter="id % 2 = 0", prefilter=True, limit=30, columns=["id"])["id"].to_pylist()
    fused = {}
    for side in (vec, txt):
        for rank, i in enumerate(side):
            fused[i] = fused.get(i, 0.0) + 1.0 / (60 + rank + 1)
    want = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    got = ds.hybrid_search(nearest, "glacier", limit=8, filter="id % 2 = 0", candidates=30, columns=["id"])
    assert got["id"].to_pylist() == [i for i, _ in want]
    np.testing.assert_allclose(got["_relevance_score"].to_numpy(), [s for _, s in want], rtol=1e-6)
    assert got.column_names == ["id", "_relevance_score", "_distance", "_score", "_vector_rank", "_text_rank"]
    # The same through to_table(nearest=..., full_text_query=...).
    scan = ds.to_table(nearest={**nearest, "k": 8}, full_text_query="glacier", filter="id % 2 = 0", columns=["id"])
    assert scan.num_rows == 8 and all(i % 2 == 0 for i in scan["id"].to_pylist())
    # Weighted fusion with every weight on the vector side follows the vector ranking.
    by_vector = ds.hybrid_search(nearest, "glacier", limit=5, fusion="weighted", vector_weight=1.0,
                                 filter="id % 2 = 0", candidates=30, columns=["id"])
    assert by_vector["id"].to_pylist() == vec[:5]


def test_hybrid_search_reranker_orders_the_fused_candidates(tmp_path):
    ds, vectors = _hybrid_dataset(tmp_path)
    seen = []

    def by_id(table):
        seen.append(table.num_rows)
        assert "text" in table.column_names and "_relevance_score" in table.column_names
        return table["id"].to_numpy().astype(float)

    got = ds.hybrid_search({"column": "v", "q": vectors[3]}, MatchQuery("summit", "text"), limit=4,
                           candidates=20, reranker=by_id, columns=["id", "text"], with_row_id=True)
    ids = got["id"].to_pylist()
    assert ids == sorted(ids, reverse=True) and len(ids) == 4
    assert seen and seen[0] > 4, "the reranker sees every fused candidate"
    assert got["_relevance_score"].to_pylist() == [float(i) for i in ids]
    assert got.column_names[-1] == "_rowid"


def test_full_text_pre_filter_of_a_vector_search(tmp_path):
    ds, vectors = _hybrid_dataset(tmp_path)
    q = vectors[11]
    texts = ds.to_table(columns=["text"])["text"].to_pylist()
    got = ds.to_table(
        nearest={"column": "v", "q": q, "k": 6},
        filter={"search_filter": MatchQuery("glacier", "text"), "expr_filter": "id > 50"},
        prefilter=True,
        columns=["id"],
        with_row_id=True,
    )
    # Brute force over the rows the text query matches and the SQL filter passes.
    allowed = [i for i, t in enumerate(texts) if "glacier" in t.split() and i > 50]
    distances = {i: float(((vectors[i] - q) ** 2).sum()) for i in allowed}
    want = sorted(allowed, key=lambda i: (distances[i], i))[:6]
    assert got["id"].to_pylist() == want
    np.testing.assert_allclose(got["_distance"].to_numpy(), [distances[i] for i in want], rtol=1e-5)
    assert got.column_names == ["id", "_distance", "_rowid"]
    with pytest.raises(ValueError, match="search_filter"):
        ds.to_table(nearest={"column": "v", "q": q}, filter={"search_filter": "glacier"})
    with pytest.raises(TypeError, match="search_filter"):
        ds.to_table(nearest={"column": "v", "q": q}, filter={"expr_filter": "id > 1"}, prefilter=True)


def _struct_docs(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(30)]
    titles = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) for _ in range(n)]
    bodies = [None if i % 11 == 0 else " ".join(rng.choice(words) for _ in range(rng.randint(2, 9))) for i in range(n)]
    meta = pa.StructArray.from_arrays(
        [pa.array(titles), pa.array(list(range(n)), pa.int32()), pa.StructArray.from_arrays([pa.array(bodies)], ["body"])],
        ["title", "year", "inner"],
    )
    # The same texts as a list column: the oracle for the struct's analysis.
    as_list = pa.array([[t] + ([b] if b is not None else []) for t, b in zip(titles, bodies)], pa.list_(pa.string()))
    return pa.table({"id": pa.array(range(n), pa.int64()), "meta": meta, "texts": as_list})


def test_struct_columns_index_their_text_fields_like_a_list(tmp_path):
    ds = pilum.write_dataset(_struct_docs(300, 1), str(tmp_path / "s"), max_rows_per_file=100)
    ds.create_scalar_index("meta", "INVERTED", with_position=True)
    ds.create_scalar_index("texts", "INVERTED", with_position=True)
    # Rows appended after the build are searched exactly, with the same analysis.
    more = _struct_docs(340, 1).slice(300)
    ds = pilum.write_dataset(more, ds.uri, mode="append")
    for query in ["w1", "w2 w17", "w29 w0 w5"]:
        by_struct = ds.to_table(columns=["id"], full_text_query=MatchQuery(query, "meta"), limit=40)
        by_list = ds.to_table(columns=["id"], full_text_query=MatchQuery(query, "texts"), limit=40)
        assert by_struct["id"].to_pylist() == by_list["id"].to_pylist()
        assert np.allclose(by_struct["_score"].to_numpy(), by_list["_score"].to_numpy(), rtol=1e-6)
    # A phrase never spans two fields.
    row = _struct_docs(340, 1).to_pylist()[5]
    across = f"{row['meta']['title'].split()[-1]} {row['meta']['inner']['body'].split()[0]}"
    hits = ds.to_table(columns=["id"], full_text_query=PhraseQuery(across, "meta"))["id"].to_pylist()
    assert 5 not in hits
    assert hits == ds.to_table(columns=["id"], full_text_query=PhraseQuery(across, "texts"))["id"].to_pylist()
    numbers = pa.table({"s": pa.StructArray.from_arrays([pa.array([1, 2])], ["n"])})
    with pytest.raises(InvalidIndexParamsError, match="struct with string fields"):
        pilum.write_dataset(numbers, str(tmp_path / "n")).create_scalar_index("s", "INVERTED")
