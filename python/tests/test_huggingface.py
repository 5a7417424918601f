"""Hugging Face ``datasets`` through Pilum: the rows a (shuffled, selected,
filtered, iterable) dataset shows are the rows written, features
round-trip, and ``to_huggingface`` loads a version back."""

from __future__ import annotations

import datasets
import pyarrow as pa
import pytest

import pilum
from pilum.huggingface import to_huggingface

FEATURES = datasets.Features(
    {
        "id": datasets.Value("int64"),
        "label": datasets.ClassLabel(names=["cat", "dog", "bird"]),
        "tokens": datasets.Sequence(datasets.Value("string")),
        "emb": datasets.Sequence(datasets.Value("float32"), length=4),
    }
)


def _hf(n: int = 100) -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {
            "id": list(range(n)),
            "label": [i % 3 for i in range(n)],
            "tokens": [[f"t{i}", f"u{i % 5}"] for i in range(n)],
            "emb": [[float(i), 0.5, -1.0, float(i % 7)] for i in range(n)],
        },
        features=FEATURES,
    )


def test_features_round_trip(tmp_path):
    ds = pilum.write_dataset(_hf(), str(tmp_path / "a"))
    back = to_huggingface(ds.uri)
    assert back.features == FEATURES
    assert back.to_dict() == _hf().to_dict()
    assert back.features["label"].int2str(back[4]["label"]) == "dog"


@pytest.mark.parametrize(
    "view",
    [
        lambda d: d.shuffle(seed=3),
        lambda d: d.select([7, 3, 3, 90]),
        lambda d: d.filter(lambda row: row["label"] == 2),
        lambda d: d.shuffle(seed=1).select(range(10)),
        lambda d: d.train_test_split(test_size=0.25, seed=0)["test"],
    ],
)
def test_writes_the_rows_a_view_shows(tmp_path, view):
    shown = view(_hf())
    assert shown._indices is not None  # a mapping over the full table
    ds = pilum.write_dataset(shown, str(tmp_path / "v"))
    assert ds.count_rows() == len(shown)
    assert ds.to_table().column("id").to_pylist() == shown["id"]
    assert to_huggingface(ds).to_dict() == shown.to_dict()


def test_iterable_dataset_streams_in(tmp_path):
    streamed = _hf(50).to_iterable_dataset(num_shards=3)
    ds = pilum.write_dataset(streamed, str(tmp_path / "it"))
    assert to_huggingface(ds).features == FEATURES
    assert to_huggingface(ds).to_dict() == _hf(50).to_dict()
    # After map() the stream's features are unknown: inferred from its batches.
    mapped = streamed.map(lambda row: {"id": row["id"] * 2})
    ds = pilum.write_dataset(mapped, str(tmp_path / "mapped"))
    assert ds.to_table().column("id").to_pylist() == [2 * i for i in range(50)]


def test_append_and_load_a_projection_at_a_version(tmp_path):
    uri = str(tmp_path / "p")
    pilum.write_dataset(_hf(20), uri)
    pilum.write_dataset(_hf(30).select(range(20, 30)), uri, mode="append")
    back = to_huggingface(uri, columns=["label", "id"], filter="id >= 15")
    assert back.column_names == ["label", "id"] and back["id"] == list(range(15, 30))
    assert back.features["label"] == FEATURES["label"]
    first = to_huggingface(uri, version=1)
    assert len(first) == 20
    assert first.with_format("torch")[3]["emb"].tolist() == [3.0, 0.5, -1.0, 3.0]


def test_plain_arrow_datasets_load_with_inferred_features(tmp_path):
    ds = pilum.write_dataset(pa.table({"x": [1, 2], "s": ["a", "b"]}), str(tmp_path / "plain"))
    back = to_huggingface(ds)
    assert back.features == datasets.Features({"x": datasets.Value("int64"), "s": datasets.Value("string")})
    with pytest.raises(ValueError, match="version"):
        to_huggingface(ds, version=1)
