"""``nearest=``: exact vector search, against numpy brute force and pylance 14 (the API oracle)."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum

DIM = 16


def _table(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return pa.table({
        "id": np.arange(n),
        "grp": np.arange(n) % 5,
        "emb": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM),
    }), vectors


@pytest.fixture
def data(tmp_path):
    table, vectors = _table()
    ds = pilum.write_dataset(table, str(tmp_path / "p"), max_rows_per_file=700)
    ds.delete("id % 11 = 4")
    return pilum.dataset(str(tmp_path / "p")), table, vectors


def _brute(vectors, q, metric, keep):
    if metric == "l2":
        d = ((vectors - q) ** 2).sum(axis=1)
    elif metric == "cosine":
        d = 1 - (vectors @ q) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
    else:
        d = 1 - (vectors @ q)
    rows = [i for i in np.argsort(d, kind="stable") if keep(i)]
    return rows, d


@pytest.mark.parametrize("metric", ["l2", "cosine", "dot"])
def test_matches_brute_force(data, metric):
    ds, _, vectors = data
    rng = np.random.default_rng(5)
    for _ in range(3):
        q = rng.standard_normal(DIM).astype(np.float32)
        got = ds.to_table(nearest={"column": "emb", "q": q, "k": 7, "metric": metric})
        rows, d = _brute(vectors, q, metric, lambda i: i % 11 != 4)
        assert got["id"].to_pylist() == rows[:7]
        np.testing.assert_allclose(got["_distance"].to_numpy(), d[rows[:7]], rtol=1e-4, atol=1e-4)
        assert got.column_names == ["id", "grp", "emb", "_distance"]


def test_filters_limits_columns_and_row_ids(data):
    ds, _, vectors = data
    q = vectors[42]
    live = lambda i: i % 11 != 4  # noqa: E731
    # Default (pylance): the k nearest of all rows, then the filter.
    post = ds.to_table(nearest={"column": "emb", "q": q, "k": 10}, filter="grp = 2")
    rows, _ = _brute(vectors, q, "l2", live)
    assert post["id"].to_pylist() == [i for i in rows[:10] if i % 5 == 2]
    # prefilter=True: filter first, then k nearest among the matches.
    pre = ds.to_table(nearest={"column": "emb", "q": q, "k": 10}, filter=pc.field("grp") == 2, prefilter=True)
    assert pre["id"].to_pylist() == [i for i in rows if i % 5 == 2][:10]
    # limit and offset cut the k results; columns and _rowid as pylance orders them.
    cut = ds.to_table(nearest={"column": "emb", "q": q, "k": 10}, columns=["id"], limit=3, offset=2, with_row_id=True)
    assert cut.column_names == ["id", "_distance", "_rowid"]
    assert cut["id"].to_pylist() == rows[2:5]
    assert pa.table(ds.take_rows(cut["_rowid"].to_pylist(), columns=["id"]))["id"].to_pylist() == rows[2:5]
    assert ds.scanner(nearest={"column": "emb", "q": q, "k": 4}).count_rows() == 4
    assert ds.scanner(nearest={"column": "emb", "q": q}).to_table().num_rows == 10, "pylance's default k"
    # Index tuning keys change nothing for an exact search.
    tuned = ds.to_table(nearest={"column": "emb", "q": q, "k": 10, "nprobes": 1, "refine_factor": 5, "use_index": True})
    assert tuned["id"].to_pylist() == rows[:10]


def test_bad_queries_raise_naming_the_problem(data):
    ds, _, _ = data
    q = np.zeros(DIM, dtype=np.float32)
    with pytest.raises(TypeError, match="bogus"):
        ds.to_table(nearest={"column": "emb", "q": q, "bogus": 1})
    with pytest.raises(ValueError, match="no column"):
        ds.to_table(nearest={"column": "nope", "q": q})
    with pytest.raises(ValueError):
        ds.to_table(nearest={"column": "emb", "q": q[:3]})
    with pytest.raises(ValueError):
        ds.to_table(nearest={"column": "id", "q": q})
    with pytest.raises(ValueError):
        ds.to_table(nearest={"column": "emb", "q": q, "metric": "manhattan"})
    with pytest.raises(NotImplementedError, match="distance_range"):
        ds.to_table(nearest={"column": "emb", "q": q, "distance_range": (0.0, 1.0)})
    with pytest.raises(ValueError, match="2-d batch"):
        ds.to_table(nearest={"column": "emb", "q": np.zeros((2, 3, DIM))})
    with pytest.raises(NotImplementedError, match="order_by"):
        ds.to_table(nearest={"column": "emb", "q": q}, order_by="id")
    with pytest.raises(ValueError, match="prefilter"):
        ds.to_table(prefilter=True)


def test_same_rows_and_distances_as_pylance(tmp_path):
    lance = pytest.importorskip("lance")
    table, vectors = _table(800, seed=3)
    p = pilum.write_dataset(table, str(tmp_path / "p"))
    lds = lance.write_dataset(table, str(tmp_path / "l"))
    q = vectors[7] + 0.01
    for metric in ("l2", "cosine", "dot"):
        for kwargs in ({}, {"filter": "grp = 1"}, {"filter": "grp = 1", "prefilter": True}):
            nearest = {"column": "emb", "q": q, "k": 6, "metric": metric}
            want = lds.to_table(nearest=nearest, columns=["id"], **kwargs)
            got = p.to_table(nearest=nearest, columns=["id"], **kwargs)
            assert got["id"].to_pylist() == want["id"].to_pylist(), (metric, kwargs)
            np.testing.assert_allclose(got["_distance"].to_numpy(), want["_distance"].to_numpy(), rtol=1e-4, atol=1e-5)
