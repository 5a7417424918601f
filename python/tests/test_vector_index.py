"""Vector indices from Python: recall against exact search, the index
lifecycle (append, optimize, drop, time travel), filters, errors, and
pylance 14 as the oracle for the API's shape and exception types."""

import numpy as np
import pyarrow as pa
import pytest

import pilum
from pilum.errors import IndexAlreadyExistsError, IndexNotFoundError, PilumError

DIM = 32


def _clustered(n, seed, centres=50):
    rng = np.random.default_rng(1)
    c = rng.uniform(-1, 1, (centres, DIM)).astype(np.float32)
    rng = np.random.default_rng(seed)
    return (c[rng.integers(0, centres, n)] + rng.normal(0, 0.15, (n, DIM))).astype(np.float32)


def _table(vectors, start=0):
    n = len(vectors)
    return pa.table({
        "id": np.arange(start, start + n),
        "grp": np.arange(start, start + n) % 100,
        "emb": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM),
    })


@pytest.fixture(scope="module")
def vectors():
    return _clustered(6000, 2)


@pytest.fixture
def ds(tmp_path, vectors):
    return pilum.write_dataset(_table(vectors), str(tmp_path / "p"), max_rows_per_file=2000)


def _recall(ds, queries, metric, k=10):
    """Recall@k of the default search (the index's own metric) against exact search under `metric`."""
    hits = 0
    for q in queries:
        got = ds.to_table(nearest={"column": "emb", "q": q, "k": k}, columns=["id"])["id"].to_pylist()
        exact = ds.to_table(nearest={"column": "emb", "q": q, "k": k, "use_index": False, "metric": metric}, columns=["id"])
        hits += len(set(got) & set(exact["id"].to_pylist()))
    return hits / (k * len(queries))


@pytest.mark.parametrize("index_type", ["IVF_PQ", "IVF_PQ/4", "IVF_FLAT", "IVF_SQ", "IVF_HNSW_SQ"])
@pytest.mark.parametrize("metric", ["L2", "cosine", "dot"])
def test_default_parameters_reach_recall(ds, index_type, metric):
    kind, _, bits = index_type.partition("/")
    extra = {"num_bits": int(bits)} if bits else {}
    assert ds.create_index("emb", kind, metric=metric, **extra) is ds
    queries = _clustered(20, 99)
    assert _recall(ds, queries, metric.lower()) >= 0.9
    stats = ds.index_statistics("emb_idx")
    assert stats["index_type"] == kind
    if bits:
        assert ds.list_indices()[0]["num_bits"] == 4
        assert ds.list_indices()[0]["num_sub_vectors"] == 2 * DIM // 4
    assert (stats["num_indexed_rows"], stats["num_unindexed_rows"]) == (6000, 0)
    assert stats["metric_type"] == {"L2": "l2"}.get(metric, metric)


def test_tuning_keys_are_honoured(ds, vectors):
    ds.create_index("emb", "IVF_PQ", num_partitions=64, num_sub_vectors=8)
    q = vectors[10]
    # nprobes=1 without refinement returns quantized distances of one partition.
    coarse = ds.to_table(nearest={"column": "emb", "q": q, "k": 10, "nprobes": 1, "refine_factor": 0})
    fine = ds.to_table(nearest={"column": "emb", "q": q, "k": 10, "nprobes": 64, "refine_factor": 20})
    exact = ds.to_table(nearest={"column": "emb", "q": q, "k": 10, "use_index": False})
    assert fine["id"].to_pylist() == exact["id"].to_pylist()
    np.testing.assert_allclose(fine["_distance"].to_numpy(), exact["_distance"].to_numpy(), rtol=1e-5)
    assert not np.allclose(coarse["_distance"].to_numpy(), exact["_distance"].to_numpy(), rtol=1e-5)
    assert coarse["id"][0].as_py() == 10


def test_append_fast_search_optimize_and_time_travel(ds, vectors):
    ds.create_index("emb", "IVF_FLAT")
    indexed_version = ds.version
    extra = _clustered(500, 3) + 5.0  # far from everything indexed
    ds.insert(_table(extra, start=6000))
    stats = ds.index_statistics("emb_idx")
    assert stats["num_unindexed_rows"] == 500
    q = extra[7]
    assert ds.to_table(nearest={"column": "emb", "q": q, "k": 1})["id"].to_pylist() == [6007]
    fast = ds.to_table(nearest={"column": "emb", "q": q, "k": 5}, fast_search=True)
    assert all(i < 6000 for i in fast["id"].to_pylist()), "fast_search skips unindexed rows"
    ds.optimize.optimize_indices(num_indices_to_merge=0)
    assert ds.index_statistics("emb_idx")["num_unindexed_rows"] == 0
    assert len(ds.list_indices()) == 2
    assert ds.index_statistics("emb_idx")["num_indexed_rows_per_delta"] == [6000, 500]
    fast = ds.to_table(nearest={"column": "emb", "q": q, "k": 1}, fast_search=True)
    assert fast["id"].to_pylist() == [6007]
    ds.optimize.optimize_indices()
    ds.optimize.optimize_indices(num_indices_to_merge=2)
    assert len(ds.list_indices()) == 1
    old = pilum.dataset(ds.uri, version=indexed_version)
    assert [i["name"] for i in old.list_indices()] == ["emb_idx"]
    assert old.index_statistics("emb_idx")["num_indexed_rows"] == 6000
    ds.drop_index("emb_idx")
    assert not ds.has_index and ds.list_indices() == []
    assert old.has_index


def test_prefilter_at_one_percent_returns_k_matching_rows(ds, vectors):
    ds.create_index("emb", "IVF_PQ")
    q = vectors[123]
    got = ds.to_table(nearest={"column": "emb", "q": q, "k": 10}, filter="grp = 17", prefilter=True)
    assert got.num_rows == 10 and set(got["grp"].to_pylist()) == {17}
    exact = ds.to_table(nearest={"column": "emb", "q": q, "k": 10, "use_index": False}, filter="grp = 17", prefilter=True)
    assert len(set(got["id"].to_pylist()) & set(exact["id"].to_pylist())) >= 9
    post = ds.to_table(nearest={"column": "emb", "q": q, "k": 10}, filter="grp = 17")
    assert post.num_rows <= 10 and set(post["grp"].to_pylist()) <= {17}


def test_two_vector_columns_each_with_its_own_index(tmp_path, vectors):
    other = _clustered(6000, 8)[:, ::-1].copy()
    table = _table(vectors).append_column("emb2", pa.FixedSizeListArray.from_arrays(pa.array(other.ravel()), DIM))
    ds = pilum.write_dataset(table, str(tmp_path / "two"))
    ds.create_index("emb", "IVF_PQ")
    ds.create_index("emb2", "IVF_FLAT", metric="cosine")
    assert sorted((i["name"], i["type"], tuple(i["fields"])) for i in ds.list_indices()) == [
        ("emb2_idx", "IVF_FLAT", ("emb2",)),
        ("emb_idx", "IVF_PQ", ("emb",)),
    ]
    for column, source in (("emb", vectors), ("emb2", other)):
        got = ds.to_table(nearest={"column": column, "q": source[99], "k": 1}, columns=["id"])
        assert got["id"].to_pylist() == [99]


def test_sql_search_uses_the_index(ds, vectors):
    ds.create_index("emb", "IVF_FLAT")
    q = vectors[5]
    literal = "[" + ", ".join(repr(float(x)) for x in q) + "]"
    got = pilum.Session().sql(f"SELECT id, _distance FROM pilum_search('{ds.uri}', 'emb', {literal}, 5) ORDER BY _distance")
    want = ds.to_table(nearest={"column": "emb", "q": q, "k": 5}, columns=["id"])
    assert got["id"].to_pylist() == want["id"].to_pylist()


def test_progress_and_bad_arguments(ds):
    events = []
    ds.create_index("emb", "IVF_PQ", name="p", progress_callback=events.append)
    assert [e.stage for e in events if e.done == 0][:2] == ["reading vectors", "training"]
    assert all(e.done <= e.total for e in events)
    version = ds.version
    with pytest.raises(IndexAlreadyExistsError):
        ds.create_index("emb", "IVF_PQ", name="p")
    with pytest.raises(NotImplementedError, match="ivf_centroids"):
        ds.create_index("emb", "IVF_PQ", ivf_centroids=np.zeros((4, DIM)))
    with pytest.raises(NotImplementedError, match="IVF_HNSW_PQ"):
        ds.create_index("emb", "IVF_HNSW_PQ")
    with pytest.raises(ValueError, match="num_bits"):
        ds.create_index("emb", "IVF_PQ", num_bits=6)
    with pytest.raises(ValueError, match="num_bits"):
        ds.create_index("emb", "IVF_SQ", num_bits=4)
    with pytest.raises(TypeError, match="bogus"):
        ds.create_index("emb", "IVF_PQ", bogus=1)
    with pytest.raises(NotImplementedError, match="ef_construction"):
        ds.create_index("emb", "IVF_PQ", ef_construction=200)
    with pytest.raises(ValueError, match="num_sub_vectors"):
        ds.create_index("emb", "IVF_PQ", name="q", num_sub_vectors=DIM + 1)
    with pytest.raises(ValueError, match="num_partitions"):
        ds.create_index("emb", "IVF_FLAT", name="q", num_partitions=0)
    with pytest.raises(ValueError, match="nprobes"):
        ds.to_table(nearest={"column": "emb", "q": np.zeros(DIM), "nprobes": 0})
    with pytest.raises(IndexNotFoundError):
        ds.optimize.optimize_indices(index_names=["nope"])
    with pytest.raises(TypeError, match="bogus"):
        ds.optimize.optimize_indices(bogus=1)
    assert ds.version == version, "failed calls commit nothing"
    # pylance's build-tuning keywords are accepted and change nothing.
    ds.create_index("emb", "IVF_FLAT", name="tuned", index_cache_size_bytes=1 << 20, skip_transpose=True,
                    shuffle_partition_batches=4, filter_nan=False)
    assert "tuned" in [i["name"] for i in ds.list_indices()]


def test_same_api_shape_and_exception_types_as_pylance(tmp_path, vectors):
    lance = pytest.importorskip("lance")
    table = _table(vectors[:3000])
    ours = pilum.write_dataset(table, str(tmp_path / "p"))
    theirs = lance.write_dataset(table, str(tmp_path / "l"))
    for ds in (ours, theirs):
        ds.create_index("emb", "IVF_PQ", num_partitions=8, num_sub_vectors=8)
    assert set(theirs.list_indices()[0]) - {"base_id"} <= set(ours.list_indices()[0])
    for name in ("name", "num_rows_indexed", "fields", "field_names", "segments", "total_size_bytes", "index_type"):
        assert getattr(ours.describe_indices()[0], name) is not None
    assert ours.describe_indices()[0].num_rows_indexed == theirs.describe_indices()[0].num_rows_indexed
    want_keys = {"index_type", "name", "num_indices", "num_segments", "num_indexed_fragments", "num_indexed_rows",
                 "num_unindexed_fragments", "num_unindexed_rows", "num_indexed_rows_per_delta"}
    assert want_keys <= set(ours.index_statistics("emb_idx"))
    assert ours.has_index and theirs.has_index
    q = vectors[3]
    a = ours.to_table(nearest={"column": "emb", "q": q, "k": 5})
    b = theirs.to_table(nearest={"column": "emb", "q": q, "k": 5})
    assert a.schema.equals(b.schema)
    assert a["id"][0].as_py() == 3, "the query row itself comes first (exact re-ranking)"
    calls = [
        lambda ds: ds.create_index("emb", "IVF_PQ", num_partitions=8, num_sub_vectors=8),
        lambda ds: ds.create_index("id", "IVF_PQ"),
        lambda ds: ds.create_index("emb", "FOO"),
        lambda ds: ds.drop_index("nope"),
        lambda ds: ds.index_statistics("nope"),
        lambda ds: ds.create_index("emb", "IVF_PQ", metric="manhattan", replace=True),
        lambda ds: ds.to_table(nearest={"column": "emb", "q": q[:3], "k": 3}),
        lambda ds: ds.to_table(nearest={"column": "emb", "q": q, "k": 0}),
    ]
    for call in calls:
        with pytest.raises(Exception) as lance_error:
            call(theirs)
        with pytest.raises(Exception) as pilum_error:
            call(ours)
        builtin = next(c for c in type(lance_error.value).__mro__ if c.__module__ == "builtins")
        assert isinstance(pilum_error.value, builtin), (pilum_error.value, lance_error.value)
        assert isinstance(pilum_error.value, (PilumError, TypeError, ValueError, NotImplementedError))


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_f16_and_f64_vector_columns(tmp_path, vectors, dtype):
    values = vectors[:4000].astype(dtype)
    table = pa.table({
        "id": np.arange(4000),
        "emb": pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), DIM),
    })
    ds = pilum.write_dataset(table, str(tmp_path / "t"))
    ds.create_index("emb", "IVF_PQ", num_partitions=16, num_sub_vectors=8)
    queries = _clustered(10, 31)
    assert _recall(ds, queries, "l2") >= 0.9
    got = ds.to_table(nearest={"column": "emb", "q": values[17].astype(np.float32), "k": 1}, columns=["id"])
    assert got["id"].to_pylist() == [17]


def test_nan_and_null_vectors_are_skipped_and_counted(tmp_path, vectors):
    values = vectors[:3000].copy()
    values[5] = np.nan
    mask = np.zeros(3000, dtype=bool)
    mask[7] = True
    emb = pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), DIM, mask=pa.array(mask))
    ds = pilum.write_dataset(pa.table({"id": np.arange(3000), "emb": emb}), str(tmp_path / "n"))
    ds.create_index("emb", "IVF_FLAT")
    assert ds.list_indices()[0]["skipped_rows"] == 2
    got = ds.to_table(nearest={"column": "emb", "q": vectors[5], "k": 3000}, columns=["id"])["id"].to_pylist()
    assert 5 not in got and 7 not in got and len(got) == 2998


def test_a_batch_of_queries_matches_single_queries_and_pylance_shape(tmp_path, vectors):
    ds = pilum.write_dataset(_table(vectors[:3000]), str(tmp_path / "b"))
    ds.create_index("emb", "IVF_FLAT")
    queries = vectors[[3, 70, 900]]
    batch = ds.to_table(nearest={"column": "emb", "q": queries, "k": 4}, columns=["id"])
    assert batch.column_names == ["query_index", "id", "_distance"]
    assert batch.schema.field("query_index").type == pa.int32()
    assert batch["query_index"].to_pylist() == [0] * 4 + [1] * 4 + [2] * 4
    for i, q in enumerate(queries):
        single = ds.to_table(nearest={"column": "emb", "q": q, "k": 4}, columns=["id"])
        assert batch["id"].to_pylist()[4 * i : 4 * i + 4] == single["id"].to_pylist()
    lance = pytest.importorskip("lance")
    theirs = lance.write_dataset(_table(vectors[:3000]), str(tmp_path / "l"))
    want = theirs.to_table(nearest={"column": "emb", "q": queries, "k": 4}, columns=["id"])
    assert want.column_names == batch.column_names


def test_ctrl_c_during_a_build_commits_nothing(tmp_path):
    import _thread
    import threading

    rng = np.random.default_rng(4)
    big = rng.standard_normal((60_000, 64)).astype(np.float32)
    table = pa.table({"id": np.arange(60_000), "emb": pa.FixedSizeListArray.from_arrays(pa.array(big.ravel()), 64)})
    ds = pilum.write_dataset(table, str(tmp_path / "c"))
    version = ds.version
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            ds.create_index("emb", "IVF_PQ", num_partitions=256, num_sub_vectors=16)
    finally:
        timer.cancel()
    assert ds.version == version
    assert pilum.dataset(str(tmp_path / "c")).list_indices() == []


def test_a_build_over_its_memory_limit_streams_to_the_same_answers(ds, vectors):
    # 6,000 × 32 f32 = 768 KB of vectors against a 128 KB limit: the build
    # samples, then spills partitions to disk instead of holding the column.
    stages = []
    ds.create_index("emb", "IVF_SQ", memory_limit=128 << 10, progress_callback=lambda p: stages.append(p.stage))
    assert "sampling" in stages and "encoding" in stages
    assert _recall(ds, _clustered(20, 98), "l2") >= 0.9
    assert ds.index_statistics("emb_idx")["num_indexed_rows"] == 6000
    with pytest.raises(ValueError, match="memory_limit"):
        ds.create_index("emb", "IVF_SQ", replace=True, memory_limit=0)


def test_ctrl_c_during_a_streamed_build_commits_nothing_and_removes_its_spill(tmp_path, monkeypatch, vectors):
    # The interrupt lands while the progress callback runs (Python raises it
    # inside the callback): it must still cancel the build, not be swallowed
    # as a failing progress bar.
    import _thread
    import time

    spill_root = tmp_path / "spill"
    spill_root.mkdir()
    monkeypatch.setenv("TMPDIR", str(spill_root))
    ds = pilum.write_dataset(_table(np.concatenate([vectors] * 4)), str(tmp_path / "s"), max_rows_per_file=2000)
    version = ds.version
    seen = []

    def progress(update):
        seen.append(update.stage)
        if update.stage == "encoding" and update.done > 0 and len([s for s in seen if s == "encoding"]) == 3:
            assert any(spill_root.iterdir()), "the streamed build spills under TMPDIR"
            _thread.interrupt_main()

    with pytest.raises(KeyboardInterrupt):
        ds.create_index("emb", "IVF_FLAT", memory_limit=64 << 10, progress_callback=progress)
        time.sleep(5)  # the interrupt lands at the next signal check
    assert ds.version == version
    assert pilum.dataset(str(tmp_path / "s")).list_indices() == []
    deadline = time.time() + 10
    while any(spill_root.iterdir()) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(spill_root.iterdir()), "the spill directory is removed after a cancelled build"


def test_hnsw_graph_parameters_and_ef_are_honoured(ds, vectors):
    ds.create_index("emb", "IVF_HNSW_SQ", m=8, ef_construction=64)
    entry = ds.list_indices()[0]
    assert (entry["type"], entry["m"], entry["ef_construction"], entry["num_partitions"]) == ("IVF_HNSW_SQ", 8, 64, 1)
    queries = _clustered(20, 98)
    recalls = []
    for ef in (4, 200):
        hits = 0
        for q in queries:
            got = ds.to_table(nearest={"column": "emb", "q": q, "k": 10, "ef": ef, "refine_factor": 1}, columns=["id"])
            exact = ds.to_table(nearest={"column": "emb", "q": q, "k": 10, "use_index": False}, columns=["id"])
            hits += len(set(got["id"].to_pylist()) & set(exact["id"].to_pylist()))
        recalls.append(hits / 200)
    assert recalls[1] >= 0.95 and recalls[0] <= recalls[1], recalls
    with pytest.raises(ValueError, match="ef"):
        ds.to_table(nearest={"column": "emb", "q": queries[0], "ef": 0})
    with pytest.raises(ValueError, match="m must"):
        ds.create_index("emb", "IVF_HNSW_SQ", name="bad", m=1)
    with pytest.raises(NotImplementedError, match="IVF_HNSW_SQ"):
        ds.create_index("emb", "IVF_SQ", name="bad", m=8)


def test_index_cache_size_bytes_bounds_loaded_partitions(ds, vectors):
    ds.create_index("emb", "IVF_SQ")
    queries = _clustered(10, 97)
    want = [ds.to_table(nearest={"column": "emb", "q": q, "k": 10}, columns=["id"])["id"].to_pylist() for q in queries]
    small = pilum.dataset(ds.uri, index_cache_size_bytes=20_000)
    got = [small.to_table(nearest={"column": "emb", "q": q, "k": 10}, columns=["id"])["id"].to_pylist() for q in queries]
    assert got == want
    used, budget = small._ds.index_cache_bytes()
    assert budget == 20_000 and 0 < used <= 20_000
    assert ds._ds.index_cache_bytes()[0] > 20_000, "the default budget keeps the whole index"
    with pytest.raises(ValueError, match="index_cache_size_bytes"):
        pilum.dataset(ds.uri, index_cache_size_bytes=-1)
