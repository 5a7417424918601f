"""``pilum.torch``: real torch DataLoaders (in-process, forked and spawned
workers, a two-process ``torch.distributed`` group) over Pilum datasets:
tensors, exactly-once coverage across ranks and workers, deterministic
orders, resumption mid-epoch, filters, row ids, blobs and bad input."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest
import torch
from torch.utils.data import DataLoader

import pilum
from pilum.errors import ColumnNotFoundError, VersionNotFoundError
from pilum.sampler import GlobalShuffleSampler, ShardedFixedBatchSampler, ShardedFragmentSampler
from pilum.torch.data import LanceDataset, SafeLanceDataset, get_safe_loader

ROWS = 1000
DIM = 8


def _table(n: int = ROWS) -> pa.Table:
    rng = np.random.default_rng(11)
    vectors = rng.random((n, DIM), dtype=np.float32)
    blob = pa.field("img", pa.large_binary(), metadata={"lance-encoding:blob": "true"})
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("vec", pa.list_(pa.float32(), DIM)), pa.field("text", pa.string()), blob])
    return pa.table(
        {
            "id": pa.array(np.arange(n), pa.int64()),
            "vec": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM),
            "text": [f"caption {i}" for i in range(n)],
            "img": [bytes([i % 251]) * (1 + i % 17) for i in range(n)],
        },
        schema=schema,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """1,000 rows in uneven fragments (300, 300, 300, 100)."""
    uri = str(tmp_path_factory.mktemp("torch") / "ds")
    return pilum.write_dataset(_table(), uri, max_rows_per_file=300)


def _ids(batches) -> list:
    return [int(i) for b in batches for i in (b["id"] if isinstance(b, dict) else b)]


def test_batches_are_tensors_with_vector_shapes(data):
    ds = LanceDataset(data, batch_size=64, columns=["id", "vec", "text"])
    batches = list(ds)
    assert len(batches) == len(ds) == 16
    first = batches[0]
    assert first["id"].dtype == torch.int64 and first["vec"].shape == (64, DIM) and first["vec"].dtype == torch.float32
    expected = data.take(list(range(64)), columns=["vec"]).column("vec").combine_chunks()
    assert torch.equal(first["vec"], torch.from_numpy(expected.values.to_numpy().reshape(64, DIM)))
    assert first["text"][:2] == ["caption 0", "caption 1"]
    assert _ids(batches) == list(range(ROWS))


def test_one_column_gives_a_bare_tensor_and_vector_dtype_casts(data):
    ds = LanceDataset(data.uri, batch_size=100, columns=["vec"], vector_dtype=torch.float16)
    batch = next(iter(ds))
    assert isinstance(batch, torch.Tensor) and batch.dtype == torch.float16 and batch.shape == (100, DIM)


def test_without_to_tensor_fn_batches_are_arrow(data):
    batch = next(iter(LanceDataset(data, batch_size=10, columns=["id"], to_tensor_fn=None)))
    assert isinstance(batch, pa.RecordBatch) and batch.column("id").to_pylist() == list(range(10))


@pytest.mark.subprocess
@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_split_batches_in_plan_order(data, context):
    ds = LanceDataset(data, batch_size=32, columns=["id"], shuffle=True, seed=4)
    in_process = _ids(DataLoader(ds, batch_size=None))
    # The parent has used the dataset (and its runtime) before forking.
    loader = DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context=context)
    assert _ids(loader) == in_process
    assert sorted(in_process) == list(range(ROWS))


def test_ranks_and_workers_read_every_row_once(data):
    per_rank = []
    for rank in range(3):
        ds = LanceDataset(data, batch_size=40, columns=["id"], rank=rank, world_size=3, shard_granularity="batch")
        per_rank.append(list(DataLoader(ds, batch_size=None, num_workers=2)))
    assert len({len(b) for b in per_rank}) == 1
    assert sorted(_ids(b for batches in per_rank for b in batches)) == list(range(ROWS))


def test_an_explicit_sampler_decides_rows_and_follows_set_epoch(data):
    sampler = ShardedFragmentSampler(1, 2, randomize=True, seed=5)
    ds = LanceDataset(data, batch_size=40, columns=["id"], sampler=sampler)
    direct = [b.column("id").to_pylist() for b in ShardedFragmentSampler(1, 2, randomize=True, seed=5)(data, batch_size=40, columns=["id"])]
    assert [b.tolist() for b in ds] == direct
    ds.set_epoch(2)
    assert sampler.epoch == 2


def test_uneven_fragments_give_equal_batch_counts(data):
    lengths = [len(LanceDataset(data, batch_size=64, columns=["id"], rank=r, world_size=2, shard_granularity="fragment")) for r in range(2)]
    assert lengths[0] == lengths[1]


def test_set_epoch_reshuffles_and_seed_repeats(data):
    ds = LanceDataset(data, batch_size=50, columns=["id"], shuffle=True, seed=9)
    first = _ids(ds)
    assert _ids(ds) == first
    ds.set_epoch(1)
    second = _ids(ds)
    assert second != first and sorted(second) == list(range(ROWS))


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_mid_epoch(data, workers):
    def make():
        ds = LanceDataset(data, batch_size=30, columns=["id"], shuffle=True, seed=1)
        ds.set_epoch(3)
        return ds

    full = _ids(make())
    ds = make()
    loader = DataLoader(ds, batch_size=None, num_workers=workers)
    consumed = []
    for step, batch in enumerate(loader):
        consumed.append(batch)
        if step == 6:
            break
    state = ds.state_dict(batches_consumed=7 if workers else None)
    assert state["batches_consumed"] == 7 and state["epoch"] == 3
    resumed = make()
    resumed.load_state_dict(state)
    rest = _ids(DataLoader(resumed, batch_size=None, num_workers=workers))
    assert _ids(consumed) + rest == full
    resumed.set_epoch(4)
    assert sorted(_ids(resumed)) == list(range(ROWS))


def test_resume_refuses_a_different_setup(data):
    state = LanceDataset(data, batch_size=30, shuffle=True).state_dict()
    with pytest.raises(ValueError, match="batch_size"):
        LanceDataset(data, batch_size=31, shuffle=True).load_state_dict(state)


def test_filter_with_global_shuffle(data):
    ds = LanceDataset(data, batch_size=25, columns=["id"], filter="id % 7 = 3", shuffle=True)
    got = _ids(DataLoader(ds, batch_size=None, num_workers=2))
    assert sorted(got) == [i for i in range(ROWS) if i % 7 == 3]


def test_row_ids_match_take_rows(data):
    ds = LanceDataset(data, batch_size=64, columns=["id"], with_row_id=True, shuffle=True)
    batch = next(iter(ds))
    rows = data.take_rows(batch["_rowid"].tolist(), columns=["id"]).column("id").to_pylist()
    assert rows == batch["id"].tolist()


def _blob_sizes(batch):
    return [len(f.read()) for f in batch["img"]], batch["id"].tolist()


@pytest.mark.subprocess
def test_blob_columns_reach_to_tensor_fn_as_files_in_workers(data):
    def read_files(batch, **kwargs):
        assert kwargs["use_blob_api"] is True
        return {"id": batch["id"].to_pylist(), "img": [f.read() for f in batch["img"]]}

    ds = LanceDataset(data, batch_size=50, columns=["id", "img"], to_tensor_fn=read_files, shuffle=True)
    for batch in DataLoader(ds, batch_size=None, num_workers=2):
        assert batch["img"] == [bytes([i % 251]) * (1 + i % 17) for i in batch["id"]]
    as_bytes = next(iter(LanceDataset(data, batch_size=5, columns=["img"], blob_mode="bytes")))
    assert as_bytes == [bytes([i % 251]) * (1 + i % 17) for i in range(5)]


def test_default_conversion_passes_blob_files_through(data):
    batch = next(iter(LanceDataset(data, batch_size=4, columns=["id", "img"])))
    assert isinstance(batch["img"][0], io.RawIOBase) and batch["img"][3].read() == bytes([3]) * 4


def test_samples_reads_a_random_subset(data):
    ds = LanceDataset(data, batch_size=16, columns=["id"], samples=100, seed=2)
    got = _ids(ds)
    assert len(got) == len(set(got)) == 100


def _row_ids(rows):
    return [r["id"] for r in rows]


@pytest.mark.subprocess
def test_safe_dataset_with_sampler_and_spawned_workers(data, tmp_path):
    uri = str(tmp_path / "safe")
    ds = pilum.write_dataset(_table(200), uri, max_rows_per_file=64)
    safe = SafeLanceDataset(uri, columns=["id", "text"])
    pilum.write_dataset(_table(10), uri, mode="append")  # after: not seen, the version is pinned
    assert len(safe) == 200 and safe[5] == {"id": 5, "text": "caption 5"}
    sampler = ShardedFixedBatchSampler(0, 1, randomize=True, batch_size=32, total_num_rows=len(safe))
    loader = get_safe_loader(safe, num_workers=2, batch_sampler=sampler, collate_fn=_row_ids)
    seen = [i for batch in loader for i in batch]
    assert sorted(seen) == list(range(200))
    with pytest.raises(IndexError):
        safe.__getitems__([200])
    with pytest.raises(ValueError, match="batch_sampler"):
        get_safe_loader(safe, batch_size=8, batch_sampler=sampler)
    assert ds.count_rows() == 200


def test_multivector_needs_a_to_tensor_fn(tmp_path):
    lists = pa.array([[[1.0, 2.0]], [[3.0, 4.0], [5.0, 6.0]]], pa.list_(pa.list_(pa.float32(), 2)))
    ds = pilum.write_dataset(pa.table({"mv": lists}), str(tmp_path / "mv"))
    with pytest.raises(ValueError, match="'mv'"):
        next(iter(LanceDataset(ds, batch_size=2)))


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"columns": ["nope"]}, ColumnNotFoundError, "nope"),
        ({"cache": True}, NotImplementedError, "cache"),
        ({"shuffle_buffer": 10}, TypeError, "shuffle_buffer"),
        ({"shuffle": True, "shard_granularity": "batch"}, ValueError, "shuffle"),
        ({"shard_granularity": "row"}, ValueError, "shard_granularity"),
        ({"rank": 0}, ValueError, "world_size"),
        ({"blob_mode": "url"}, ValueError, "blob_mode"),
        ({"vector_dtype": torch.float16, "to_tensor_fn": None}, TypeError, "vector_dtype"),
        ({"columns": {"x": "id + 1"}}, NotImplementedError, "SQL"),
        ({"sampler": ShardedFixedBatchSampler(0, 1, batch_size=8, total_num_rows=8), "seed": 3}, ValueError, "seed"),
        ({"sampler": GlobalShuffleSampler(0, 2), "rank": 1, "world_size": 2}, ValueError, "rank"),
        ({"sampler": "full"}, TypeError, "sampler"),
        ({"seed": 7}, ValueError, "seed"),
    ],
)
def test_bad_arguments_raise_naming_them(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        LanceDataset(data, batch_size=8, **kwargs)


def test_missing_version_raises(data):
    with pytest.raises(VersionNotFoundError):
        LanceDataset(data.uri, batch_size=8, dataset_options={"version": 99})


@pytest.mark.subprocess
def test_torch_distributed_ranks_detected_automatically(data, tmp_path):
    script = textwrap.dedent(
        """
        import sys, torch.distributed as dist, torch.multiprocessing as mp
        from pilum.torch.data import LanceDataset

        def run(rank, uri, init, out):
            dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
            ds = LanceDataset(uri, batch_size=64, columns=["id"], shuffle=True, seed=3)
            ids = [int(i) for b in ds for i in b]
            with open(f"{out}.{rank}", "w") as f:
                f.write(f"{len(ds)} " + " ".join(map(str, ids)))
            dist.destroy_process_group()

        if __name__ == "__main__":
            uri, init, out = sys.argv[1:]
            mp.spawn(run, args=(uri, init, out), nprocs=2)
        """
    )
    path = tmp_path / "ddp.py"
    path.write_text(script)
    out = str(tmp_path / "ranks")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run([sys.executable, str(path), data.uri, f"file://{tmp_path / 'init'}", out], check=True, timeout=240, env=env)
    results = [open(f"{out}.{r}").read().split() for r in range(2)]
    lengths = {int(r[0]) for r in results}
    ids = [int(i) for r in results for i in r[1:]]
    assert len(lengths) == 1 and sorted(ids) == list(range(ROWS))
