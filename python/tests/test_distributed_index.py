"""Distributed vector index builds from Python: train once on some
fragments (``create_index(fragment_ids=...)``), build the other fragments'
segments in worker processes (``build_index_segment``), commit once
(``LanceOperation.CreateIndex``); results equal exact search, and bad
commits are refused."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from multiprocessing import get_context

import numpy as np
import pyarrow as pa
import pytest

import pilum
from pilum.errors import IndexAlreadyExistsError, InvalidArgumentError
from pilum.indices import IndexSegmentMetadata, build_index_segment

DIM = 16


def _vectors(n: int, seed: int) -> pa.FixedSizeListArray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(1).uniform(-1, 1, (40, DIM)).astype(np.float32)
    values = centres[rng.integers(0, 40, n)] + rng.uniform(-0.45, 0.45, (n, DIM)).astype(np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), DIM)


@pytest.fixture
def vec_ds(tmp_path):
    table = pa.table({"id": pa.array(range(8000), pa.int64()), "emb": _vectors(8000, 2)})
    return pilum.write_dataset(table, str(tmp_path / "v"), max_rows_per_file=2000)


def _build(job):
    uri, trained, fragments = job
    return build_index_segment(uri, trained, fragments)


def _ids(table):
    return table.column("id").to_pylist()


@pytest.mark.subprocess
def test_train_once_build_in_workers_commit_once(vec_ds):
    uri, version = vec_ds.uri, vec_ds.version
    fragments = [f.fragment_id for f in vec_ds.get_fragments()]
    trained = vec_ds.create_index("emb", "IVF_FLAT", num_partitions=8, fragment_ids=fragments[:1])
    assert isinstance(trained, IndexSegmentMetadata) and trained.fragment_ids == fragments[:1]
    assert pickle.loads(pickle.dumps(trained)) == trained
    assert pilum.dataset(uri).list_indices() == [], "nothing is visible before the commit"
    jobs = [(uri, trained, fragments[1:3]), (uri, trained, fragments[3:])]
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        segments = list(pool.map(_build, jobs))
    # Another writer appends meanwhile; the commit rebases over it.
    pilum.write_dataset(pa.table({"id": pa.array(range(8000, 8500), pa.int64()), "emb": _vectors(500, 9)}), uri, mode="append")
    ds = pilum.LanceDataset.commit(uri, pilum.LanceOperation.CreateIndex([trained, *segments]), read_version=version)
    (index,) = ds.describe_indices()
    assert (index.name, index.num_segments, index.num_rows_indexed) == ("emb_idx", 3, 8000)
    assert sorted(f for s in index.segments for f in s["fragment_ids"]) == fragments
    assert ds.count_rows() == 8500
    for q in np.asarray(_vectors(4, 31).values).reshape(4, DIM):
        nearest = {"column": "emb", "q": q, "k": 20, "nprobes": 8}
        indexed = ds.to_table(columns=["id"], nearest=nearest)
        exact = ds.to_table(columns=["id"], nearest={**nearest, "use_index": False})
        assert _ids(indexed) == _ids(exact)


def test_bad_distributed_commits_are_refused(vec_ds):
    uri, version = vec_ds.uri, vec_ds.version
    fragments = [f.fragment_id for f in vec_ds.get_fragments()]
    trained = vec_ds.create_index("emb", "IVF_PQ", num_partitions=4, num_sub_vectors=4, fragment_ids=fragments[:2])
    overlapping = build_index_segment(uri, trained, fragments[1:3])
    with pytest.raises(InvalidArgumentError, match="twice"):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.CreateIndex([trained, overlapping]))
    with pytest.raises(ValueError, match="at least one"):
        pilum.LanceOperation.CreateIndex([])
    with pytest.raises(NotImplementedError, match="removed_indices"):
        pilum.LanceOperation.CreateIndex([trained], [trained])
    with pytest.raises(TypeError, match="IndexSegmentMetadata"):
        pilum.LanceOperation.CreateIndex(["not a segment"])
    with pytest.raises(ValueError, match="read_version"):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.CreateIndex([trained]), read_version=version + 1)
    with pytest.raises(InvalidArgumentError, match="not in version"):
        build_index_segment(uri, trained, [999])
    with pytest.raises(ValueError, match="fragment_ids"):
        vec_ds.create_index("emb", "IVF_FLAT", fragment_ids=[])
    assert pilum.dataset(uri).version == version, "nothing was committed"
    rest = build_index_segment(vec_ds, trained, fragments[2:])
    ds = pilum.LanceDataset.commit(uri, pilum.LanceOperation.CreateIndex([trained, rest]))
    assert ds.describe_indices()[0].index_type == "IVF_PQ"
    with pytest.raises(IndexAlreadyExistsError):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.CreateIndex([trained, rest]))
    # A segment never committed is removed by a cleanup of unverified files
    # (a plain cleanup keeps it: it could be in flight) and can no longer be committed.
    orphan = build_index_segment(uri, trained, fragments[:1])
    ds.cleanup_old_versions(older_than=timedelta(0), delete_unverified=True)
    with pytest.raises(InvalidArgumentError, match="cleanup"):
        pilum.LanceDataset.commit(uri, pilum.LanceOperation.CreateIndex([orphan], replace=True))


def _text_table(n: int) -> pa.Table:
    rng = np.random.default_rng(4)
    words = np.array([f"w{i}" for i in range(40)])
    text = [" ".join(words[np.minimum(rng.integers(0, 40, k), rng.integers(0, 40, k))]) for k in rng.integers(3, 12, n)]
    return pa.table({"id": pa.array(range(n), pa.int64()), "value": pa.array([(i * 37) % 101 for i in range(n)], pa.int64()), "text": text})


def _build_text(job):
    uri, version, fragments = job
    ds = pilum.dataset(uri, version=version)
    return (
        ds.create_scalar_index("text", "INVERTED", fragment_ids=fragments),
        ds.create_scalar_index("value", "BTREE", fragment_ids=fragments),
    )


@pytest.mark.subprocess
def test_text_and_scalar_indices_build_in_workers_and_commit_once(tmp_path):
    whole = pilum.write_dataset(_text_table(800), str(tmp_path / "whole"), max_rows_per_file=200)
    whole.create_scalar_index("text", "INVERTED")
    ds = pilum.write_dataset(_text_table(800), str(tmp_path / "parts"), max_rows_per_file=200)
    fragments = [f.fragment_id for f in ds.get_fragments()]
    jobs = [(ds.uri, ds.version, fragments[:2]), (ds.uri, ds.version, fragments[2:])]
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        built = list(pool.map(_build_text, jobs))
    assert all(isinstance(s, IndexSegmentMetadata) for pair in built for s in pair)
    assert pilum.dataset(ds.uri).list_indices() == []
    pilum.LanceDataset.commit(ds.uri, pilum.LanceOperation.CreateIndex([text for text, _ in built]))
    ds = pilum.LanceDataset.commit(ds.uri, pilum.LanceOperation.CreateIndex([btree for _, btree in built]))
    assert sorted((d.name, d.num_segments) for d in ds.describe_indices()) == [("text_idx", 2), ("value_idx", 2)]
    for query in ["w0", "w3 w17", "w25 w1 w39"]:
        got = ds.to_table(columns=["id"], full_text_query=query, limit=30)
        want = whole.to_table(columns=["id"], full_text_query=query, limit=30)
        assert set(got["id"].to_pylist()) == set(want["id"].to_pylist())
        assert np.allclose(sorted(got["_score"].to_pylist()), sorted(want["_score"].to_pylist()), rtol=1e-4)
    for where in ["value = 17", "value BETWEEN 10 AND 20"]:
        indexed = sorted(ds.to_table(columns=["id"], filter=where)["id"].to_pylist())
        assert indexed and indexed == sorted(ds.to_table(columns=["id"], filter=where, use_scalar_index=False)["id"].to_pylist())
    with pytest.raises(ValueError, match="fragment_ids"):
        ds.create_scalar_index("value", "BTREE", fragment_ids=[])
