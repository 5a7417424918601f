"""Samplers (``pilum.sampler``): every row exactly once per epoch across
ranks, equal batch counts per rank, deterministic orders per (seed, epoch),
filters, and the batches' contents checked against pyarrow."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pilum
from pilum._plan import batch_sizes
from pilum.sampler import (
    FullScanSampler,
    GlobalShuffleSampler,
    RandomSubsetSampler,
    ShardedBatchSampler,
    ShardedFixedBatchSampler,
    ShardedFragmentSampler,
)


@pytest.fixture
def uneven(tmp_path):
    """1,003 rows in fragments of 400, 400, 150 and 53, with 20 deleted."""
    table = pa.table({"id": pa.array(range(1003), pa.int64()), "x": pa.array(np.arange(1003) * 0.5)})
    ds = pilum.write_dataset(table.slice(0, 800), str(tmp_path / "u"), max_rows_per_file=400)
    ds = pilum.write_dataset(table.slice(800, 150), ds.uri, mode="append")
    ds = pilum.write_dataset(table.slice(950), ds.uri, mode="append")
    ds.delete("id % 50 = 7")
    return pilum.dataset(ds.uri)


def _ids_of(ds, sampler, batch_size, filter=None):
    return [b.column("id").to_numpy() for b in sampler(ds, batch_size=batch_size, columns=["id"], filter=filter)]


def _make(kind, rank, world, seed=0, randomize=True):
    if kind == "fragment":
        return ShardedFragmentSampler(rank, world, randomize=randomize, seed=seed)
    if kind == "batch":
        return ShardedBatchSampler(rank, world, randomize=randomize, seed=seed)
    if kind == "shuffle":
        return GlobalShuffleSampler(rank, world, seed=seed)
    return FullScanSampler()


@pytest.mark.parametrize("rows,batch,count", [(0, 4, 1), (10, 4, 3), (10, 4, 5), (10, 4, 10), (3, 4, 5), (12, 4, 3)])
def test_batch_sizes_cover_rows_within_the_limit(rows, batch, count):
    sizes = batch_sizes(rows, batch, count)
    assert len(sizes) == count and sizes.sum() == rows and sizes.max(initial=0) <= batch
    if rows >= count:
        assert sizes.min() >= 1


def test_batch_sizes_refuse_too_few_batches():
    with pytest.raises(ValueError):
        batch_sizes(10, 2, 4)


@pytest.mark.parametrize("kind", ["fragment", "batch", "shuffle"])
@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("filter", [None, "x > 100 AND id % 3 <> 0"])
def test_every_row_once_across_ranks_with_equal_batch_counts(uneven, kind, world, filter):
    expected = uneven.to_table(columns=["id"], filter=filter).column("id").to_numpy()
    per_rank = [_ids_of(uneven, _make(kind, r, world), 32, filter) for r in range(world)]
    assert len({len(batches) for batches in per_rank}) == 1, "ranks must get the same number of batches"
    seen = np.concatenate([np.concatenate(b) for b in per_rank])
    assert sorted(seen.tolist()) == sorted(expected.tolist())
    assert all(len(b) <= 32 for batches in per_rank for b in batches)


def test_full_scan_is_storage_order_and_contents_match(uneven):
    batches = list(FullScanSampler()(uneven, batch_size=100, columns=["id", "x"]))
    table = pa.Table.from_batches(batches)
    assert table.equals(uneven.to_table(columns=["id", "x"]))
    assert [b.num_rows for b in batches][:-1] == [100] * (len(batches) - 1)


def test_fragment_sampler_keeps_fragments_whole_and_balanced(uneven):
    fragments = {f.fragment_id: set(f.to_table(columns=["id"]).column("id").to_pylist()) for f in uneven.get_fragments()}
    loads = []
    for rank in range(2):
        ids = set(np.concatenate(_ids_of(uneven, ShardedFragmentSampler(rank, 2), 64)).tolist())
        owned = [fid for fid, rows in fragments.items() if rows & ids]
        assert set().union(*(fragments[f] for f in owned)) == ids
        loads.append(len(ids))
    assert max(loads) - min(loads) <= 400


def test_batch_sampler_deals_consecutive_batches_round_robin(uneven):
    order = uneven.to_table(columns=["id"]).column("id").to_numpy()
    rank1 = _ids_of(uneven, ShardedBatchSampler(1, 2), 10)
    assert rank1[0].tolist() == order[10:20].tolist()
    assert rank1[1].tolist() == order[30:40].tolist()


@pytest.mark.parametrize("kind", ["fragment", "batch", "shuffle"])
def test_seed_and_epoch_fix_the_order(uneven, kind):
    def order(seed, epoch):
        # One rank, so the fragment sampler has all four fragments to order.
        sampler = _make(kind, 0, 1 if kind == "fragment" else 2, seed=seed)
        sampler.set_epoch(epoch)
        return np.concatenate(_ids_of(uneven, sampler, 16)).tolist()

    assert order(3, 1) == order(3, 1)
    assert order(3, 1) != order(3, 2), "set_epoch must reshuffle"
    assert order(0, 1) != order(1, 0), "(seed, epoch) pairs must not collide"


def test_global_shuffle_mixes_fragments_within_a_batch(uneven):
    first = _ids_of(uneven, GlobalShuffleSampler(0, 1, seed=5), 64)[0]
    assert len({int(i) // 400 for i in first}) >= 3
    assert not np.all(np.diff(first) == 1)


def test_random_subset_sampler_reads_distinct_rows_that_match(uneven):
    picked = [np.concatenate(_ids_of(uneven, RandomSubsetSampler(300, r, 2, seed=1), 50, "id % 2 = 0")) for r in range(2)]
    both = np.concatenate(picked)
    assert both.size == 300 and np.unique(both).size == 300 and np.all(both % 2 == 0)


def test_fixed_batch_sampler_covers_positions_once_with_equal_lengths():
    samplers = [ShardedFixedBatchSampler(r, 3, randomize=True, seed=2, batch_size=7, total_num_rows=100) for r in range(3)]
    assert len({len(s) for s in samplers}) == 1
    seen = sorted(i for s in samplers for batch in s for i in batch)
    assert seen == list(range(100))


def test_row_ids_come_with_batches_when_asked(uneven):
    batches = list(GlobalShuffleSampler(0, 1)(uneven, batch_size=64, columns=["id"], with_row_id=True))
    table = pa.Table.from_batches(batches)
    again = uneven.take_rows(table.column("_rowid").to_pylist(), columns=["id"])
    assert again.column("id").equals(table.column("id"))


@pytest.mark.parametrize(
    "make,error",
    [
        (lambda: ShardedBatchSampler(2, 2), ValueError),
        (lambda: ShardedBatchSampler(0, 0), ValueError),
        (lambda: ShardedBatchSampler("0", 2), TypeError),
        (lambda: GlobalShuffleSampler(0, 1, randomize=False), ValueError),
        (lambda: RandomSubsetSampler(0), ValueError),
        (lambda: ShardedFixedBatchSampler(0, 1, batch_size=0, total_num_rows=10), ValueError),
    ],
)
def test_bad_sampler_arguments_raise(make, error):
    with pytest.raises(error):
        make()


def test_sampler_call_rejects_unknown_arguments(uneven):
    with pytest.raises(TypeError, match="shuffle_buffer"):
        list(FullScanSampler()(uneven, batch_size=8, shuffle_buffer=10))
    with pytest.raises(ValueError, match="epoch"):
        FullScanSampler().set_epoch(-1)


def test_filter_results_match_pyarrow(uneven):
    got = np.concatenate(_ids_of(uneven, ShardedBatchSampler(0, 1), 64, filter="x BETWEEN 10 AND 300"))
    table = uneven.to_table(columns=["id", "x"])
    mask = pc.and_(pc.greater_equal(table["x"], 10), pc.less_equal(table["x"], 300))
    assert got.tolist() == table.filter(mask).column("id").to_pylist()
