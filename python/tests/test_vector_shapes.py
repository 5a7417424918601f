"""Vector columns beyond one float vector per row, from Python:
multivector columns ranked by MaxSim (pylance 14 as the oracle for the
distances, numpy brute force for recall), matryoshka prefix indices
(``dimensions=``), and u8 vector columns."""

import numpy as np
import pyarrow as pa
import pytest

import pilum

DIM = 16


def _concepts():
    return np.random.default_rng(900).uniform(-1, 1, (200, DIM)).astype(np.float32)


def _bags(rows, seed):
    """Bags of 1–6 vectors; a row touches 3 of 200 concepts."""
    rng = np.random.default_rng(seed)
    concepts = _concepts()
    out = []
    for _ in range(rows):
        touched = rng.integers(0, 200, 3)
        n = int(rng.integers(1, 7))
        out.append(concepts[touched[rng.integers(0, 3, n)]] + rng.uniform(-0.3, 0.3, (n, DIM)).astype(np.float32))
    return out


def _query(n, seed):
    rng = np.random.default_rng(seed)
    about = _concepts()[rng.integers(0, 200, 2)]
    return (about[np.arange(n) % 2] + rng.uniform(-0.3, 0.3, (n, DIM))).astype(np.float32)


def _mv_table(bags):
    flat = np.concatenate(bags).ravel()
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in bags])]).astype(np.int32)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), DIM)
    return pa.table({"id": np.arange(len(bags)), "mv": pa.ListArray.from_arrays(pa.array(offsets), vectors)})


def _maxsim(bags, query, metric):
    """Brute-force distances of every row: Σ over query vectors of the nearest bag vector's distance."""

    def dist(q, v):
        if metric == "cosine":
            return 1 - (v @ q) / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
        if metric == "dot":
            return 1 - v @ q
        return ((v - q) ** 2).sum(axis=1)

    return np.array([sum(dist(q, b).min() for q in query) for b in bags])


def test_multivector_exact_distances_match_pylance(tmp_path):
    lance = pytest.importorskip("lance")
    bags = _bags(300, 1)
    table = _mv_table(bags)
    ds = pilum.write_dataset(table, str(tmp_path / "p"))
    ref = lance.write_dataset(table, str(tmp_path / "l"))
    for metric in ["l2", "cosine"]:
        q = _query(3, 5)
        nearest = {"column": "mv", "q": q, "k": 10, "metric": metric}
        got = ds.to_table(nearest=nearest, columns=["id"])
        want = ref.to_table(nearest=nearest, columns=["id"])
        assert got.column_names == ["id", "_distance"], "a 2-d q on a multivector column is one query, not a batch"
        assert got["id"].to_pylist() == want["id"].to_pylist(), metric
        np.testing.assert_allclose(got["_distance"].to_numpy(), want["_distance"].to_numpy(), rtol=1e-4, atol=1e-4)
        brute = _maxsim(bags, q, metric)
        np.testing.assert_allclose(got["_distance"].to_numpy(), np.sort(brute)[:10], rtol=1e-4, atol=1e-4)


def test_multivector_index_recall_and_single_vector_queries(tmp_path):
    bags = _bags(3000, 2)
    ds = pilum.write_dataset(_mv_table(bags), str(tmp_path / "p"), max_rows_per_file=1000)
    ds.create_index("mv", "IVF_PQ", metric="cosine", num_partitions=16, num_sub_vectors=4)
    (entry,) = ds.list_indices()
    assert entry["type"] == "IVF_PQ" and entry["fields"] == ["mv"]
    assert ds.index_statistics("mv_idx")["num_indexed_rows"] == 3000
    hits = 0
    for seed in range(10):
        q = _query(4, 100 + seed)
        got = ds.to_table(nearest={"column": "mv", "q": q, "k": 10}, columns=["id"])["id"].to_pylist()
        truth = np.argsort(_maxsim(bags, q, "cosine"), kind="stable")[:10]
        hits += len(set(got) & set(truth.tolist()))
    assert hits / 100 >= 0.9
    # A 1-d q on a multivector column is a bag of one vector.
    one = _query(1, 7)[0]
    got = ds.to_table(nearest={"column": "mv", "q": one, "k": 5, "use_index": False, "metric": "cosine"}, columns=["id"])
    truth = np.argsort(_maxsim(bags, one[None, :], "cosine"), kind="stable")[:5]
    assert got["id"].to_pylist() == truth.tolist()
    for bad in [np.ones(DIM + 1, np.float32), np.ones(2 * DIM, np.float32), np.ones((4, DIM // 2), np.float32)]:
        with pytest.raises(ValueError, match="have 16 values"):
            ds.to_table(nearest={"column": "mv", "q": bad})


def test_matryoshka_prefix_index(tmp_path):
    rng = np.random.default_rng(3)
    centres = rng.uniform(-1, 1, (40, 64)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, 8000)] + rng.normal(0, 0.2, (8000, 64)).astype(np.float32)
    vectors[:, 16:] *= 0.3  # most of the signal in the first 16 dimensions
    table = pa.table({"id": np.arange(8000), "emb": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), 64)})
    ds = pilum.write_dataset(table, str(tmp_path / "p"))
    with pytest.raises(ValueError, match="dimensions"):
        ds.create_index("emb", "IVF_PQ", dimensions=65)
    with pytest.raises(ValueError, match="dimensions"):
        ds.create_index("emb", "IVF_PQ", dimensions=0)
    ds.create_index("emb", "IVF_PQ", dimensions=16, num_sub_vectors=4)
    hits = 0
    for q in vectors[rng.integers(0, 8000, 20)] + 0.05:
        got = ds.to_table(nearest={"column": "emb", "q": q, "k": 10}, columns=["id"])
        exact = ((vectors - q) ** 2).sum(axis=1)
        truth = np.argsort(exact, kind="stable")[:10]
        hits += len(set(got["id"].to_pylist()) & set(truth.tolist()))
        # Distances are the whole vectors' (re-ranked), even with refine_factor 0.
        raw = ds.to_table(nearest={"column": "emb", "q": q, "k": 10, "refine_factor": 0}, columns=["id"])
        ids = raw["id"].to_numpy()
        np.testing.assert_allclose(raw["_distance"].to_numpy(), exact[ids], rtol=1e-4, atol=1e-3)
    assert hits / 200 >= 0.9


def test_u8_vector_columns(tmp_path):
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 256, (3000, DIM), dtype=np.uint8)
    table = pa.table({"id": np.arange(3000), "emb": pa.FixedSizeListArray.from_arrays(pa.array(codes.ravel()), DIM)})
    ds = pilum.write_dataset(table, str(tmp_path / "p"))
    q = codes[42]
    got = ds.to_table(nearest={"column": "emb", "q": q, "k": 5}, columns=["id"])
    exact = ((codes.astype(np.float32) - q.astype(np.float32)) ** 2).sum(axis=1)
    assert got["id"].to_pylist() == np.argsort(exact, kind="stable")[:5].tolist()
    ds.create_index("emb", "IVF_SQ")
    assert ds.to_table(nearest={"column": "emb", "q": q, "k": 1}, columns=["id"])["id"].to_pylist() == [42]


def test_hamming_on_binary_codes_matches_pylance(tmp_path):
    lance = pytest.importorskip("lance")
    rng = np.random.default_rng(8)
    codes = rng.integers(0, 256, (800, 8), dtype=np.uint8)
    table = pa.table({"id": np.arange(800), "bits": pa.FixedSizeListArray.from_arrays(pa.array(codes.ravel()), 8)})
    ds = pilum.write_dataset(table, str(tmp_path / "p"))
    ref = lance.write_dataset(table, str(tmp_path / "l"))
    nearest = {"column": "bits", "q": codes[5], "k": 10, "metric": "hamming"}
    got = ds.to_table(nearest=nearest, columns=["id"])
    want = ref.to_table(nearest=nearest, columns=["id"])
    assert got["_distance"].to_pylist() == want["_distance"].to_pylist()
    brute = np.unpackbits(codes ^ codes[5], axis=1).sum(axis=1)
    assert got["id"].to_pylist() == np.argsort(brute, kind="stable")[:10].tolist()
    with pytest.raises(ValueError, match="hamming"):
        ds.to_table(nearest={"column": "bits", "q": np.full(8, 0.5), "metric": "hamming"})


def _binary_codes(rows, seed):
    """32-byte codes a few bits away from one of 40 fixed random codes."""
    centres = np.random.default_rng(90).integers(0, 256, (40, 32), dtype=np.uint8)
    rng = np.random.default_rng(seed)
    codes = centres[rng.integers(0, 40, rows)].copy()
    flips = rng.random((rows, 256)) < 0.04
    return codes ^ np.packbits(flips, axis=1)


def test_hamming_ivf_flat_index_on_binary_codes(tmp_path):
    codes = _binary_codes(5000, 3)
    table = pa.table({"id": np.arange(5000), "bits": pa.FixedSizeListArray.from_arrays(pa.array(codes.ravel()), 32)})
    ds = pilum.write_dataset(table, str(tmp_path / "p"))
    ds.create_index("bits", "IVF_FLAT", metric="hamming", num_partitions=40)
    (entry,) = ds.list_indices()
    assert entry["type"] == "IVF_FLAT" and entry["fields"] == ["bits"]
    assert ds.index_statistics("bits_idx")["metric_type"] == "hamming"
    total = 0.0
    for q in _binary_codes(20, 77):
        got = ds.to_table(nearest={"column": "bits", "q": q, "k": 10, "metric": "hamming"}, columns=["id"])
        brute = np.unpackbits(codes ^ q, axis=1).sum(axis=1)
        ids = got["id"].to_pylist()
        # Distances are exact bit counts of the rows returned.
        assert got["_distance"].to_pylist() == [float(brute[i]) for i in ids]
        total += len(set(ids) & set(np.argsort(brute, kind="stable")[:10].tolist())) / 10
    assert total / 20 >= 0.9
    # The index's own metric applies when the query names none.
    q = codes[17]
    assert ds.to_table(nearest={"column": "bits", "q": q, "k": 1}, columns=["id"])["_distance"].to_pylist() == [0.0]
    for kind in ("IVF_PQ", "IVF_SQ", "IVF_HNSW_SQ"):
        with pytest.raises(ValueError, match="IVF_FLAT"):
            ds.create_index("bits", kind, metric="hamming", replace=True)
    floats = pa.table({"id": np.arange(300), "emb": pa.FixedSizeListArray.from_arrays(pa.array(np.ones(300 * 8, np.float32)), 8)})
    fds = pilum.write_dataset(floats, str(tmp_path / "f"))
    with pytest.raises(ValueError, match="u8"):
        fds.create_index("emb", "IVF_FLAT", metric="hamming")
