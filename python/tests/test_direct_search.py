"""``ds.to_table`` of a plain search skips the scanner object: for every
argument combination it must return what ``ds.scanner(...).to_table()``
returns, and raise what it raises."""

import numpy as np
import pyarrow as pa
import pytest

import pilum
from pilum import _direct_search
from pilum.query import FullTextOperator, MatchQuery, PhraseQuery

DIM = 8
WORDS = ["red", "green", "blue", "cyan", "amber", "olive", "coral", "ivory"]


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    rng = np.random.default_rng(3)
    n = 600
    text = [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 9)))) for _ in range(n)]
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    table = pa.table({
        "id": np.arange(n),
        "grp": np.arange(n) % 7,
        "text": text,
        "emb": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM),
    })
    path = str(tmp_path_factory.mktemp("direct") / "d")
    data = pilum.write_dataset(table, path, max_rows_per_file=250)
    data.create_scalar_index("text", "INVERTED", with_position=True)
    data.create_index("emb", index_type="IVF_FLAT", num_partitions=4)
    data.delete("id % 13 = 5")
    return pilum.dataset(path)


QUERY = np.linspace(-1, 1, DIM, dtype=np.float32)

SEARCHES = [
    {"full_text_query": "red blue"},
    {"full_text_query": MatchQuery("green amber", "text", operator=FullTextOperator.AND)},
    {"full_text_query": PhraseQuery("red blue", "text")},
    {"nearest": {"column": "emb", "q": QUERY, "k": 12}},
    {"nearest": {"column": "emb", "q": QUERY, "k": 7, "nprobes": 4, "refine_factor": 2}},
    {"nearest": {"column": "emb", "q": QUERY, "k": 5, "use_index": False}},
]

OPTIONS = [
    {},
    {"columns": ["id"]},
    {"columns": ["grp", "id"], "limit": 3},
    {"columns": [], "with_row_id": True},
    {"filter": "grp < 3"},
    {"filter": "grp < 3", "prefilter": True, "columns": ["id"]},
    {"limit": 4, "offset": 2, "columns": ["id", "text"]},
    {"with_row_id": True, "prefilter": False},
]


@pytest.mark.parametrize("search", SEARCHES, ids=lambda s: next(iter(s)) + "-" + str(SEARCHES.index(s)))
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "plain")
def test_direct_search_returns_what_the_scanner_returns(ds, search, options):
    kwargs = {**search, **options}
    direct = _direct_search.direct_search(
        ds, kwargs.get("columns"), kwargs.get("filter"), kwargs.get("limit"), kwargs.get("offset"),
        {k: v for k, v in kwargs.items() if k not in ("columns", "filter", "limit", "offset")},
    )
    assert direct is not None, "these arguments are the direct path's"
    scanned = ds.scanner(**kwargs).to_table()
    assert direct.schema == scanned.schema
    assert direct.equals(scanned)
    assert ds.to_table(**kwargs).equals(scanned)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"nearest": {"column": "emb", "q": QUERY}, "full_text_query": "red"},  # hybrid
        {"full_text_query": "red", "batch_size": 2},
        {"full_text_query": "red", "order_by": "id"},
        {"nearest": {"column": "emb", "q": QUERY}, "filter": {"search_filter": MatchQuery("red", "text")}, "prefilter": True},
        {"nearest": {"column": "emb", "q": QUERY}, "columns": ("id",)},
        {"nearest": {"column": "emb", "q": QUERY}, "limit": np.int64(3)},
        {"full_text_query": "red", "fast_search": True},
    ],
)
def test_other_arguments_go_through_the_scanner(ds, kwargs):
    assert _direct_search.direct_search(
        ds, kwargs.get("columns"), kwargs.get("filter"), kwargs.get("limit"), kwargs.get("offset"),
        {k: v for k, v in kwargs.items() if k not in ("columns", "filter", "limit", "offset")},
    ) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"nearest": {"column": "emb", "q": QUERY[:3]}},
        {"nearest": {"column": "nope", "q": QUERY}},
        {"nearest": {"column": "emb", "q": QUERY, "k": 0}},
        {"full_text_query": "red", "columns": ["nope"]},
        {"full_text_query": "red", "filter": "grp <"},
        {"full_text_query": MatchQuery("red", "nope")},
        {"full_text_query": "red", "fast_search": True},
        {"nearest": {"column": "emb", "q": QUERY}, "limit": -1},
    ],
)
def test_errors_are_the_scanners(ds, kwargs):
    with pytest.raises(Exception) as direct:
        ds.to_table(**kwargs)
    with pytest.raises(Exception) as scanned:
        ds.scanner(**kwargs).to_table()
    assert type(direct.value) is type(scanned.value)
    assert str(direct.value) == str(scanned.value)
