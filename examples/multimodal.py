"""Pilum walkthrough: one versioned table for images, captions and embeddings.

Run it with ``./scripts/demo.sh`` (builds and installs the package first), or
``python examples/multimodal.py [directory]`` once ``pilum`` is installed.

It writes multimodal rows (PNG images stored out of line as blobs,
captions, two embedding columns), reads images back lazily through
file-like objects, adds a new embedding column without rewriting any
existing file, builds and searches vector indices, searches captions
with BM25 (full-text, phrase) and fuses a vector and a text query into one
re-ranked hybrid ranking, filters through scalar indices, modifies rows, lets
worker processes add a column fragment by fragment and commit it once,
trains a small PyTorch model through ``pilum.torch`` (two DataLoader
workers, globally shuffled epochs, images decoded from blob files), travels in time, and queries with SQL, DuckDB and Polars.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import pyarrow as pa

import pilum
from pilum.query import MatchQuery, PhraseQuery

ROWS = 2_000
BATCH = 250
LABELS = ["cat", "dog", "bird", "car", "tree"]


def png_bytes(rng: np.random.Generator, side: int) -> bytes:
    """A real PNG image (noise), encoded with Pillow."""
    from PIL import Image

    pixels = rng.integers(0, 255, size=(side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="PNG")
    return out.getvalue()


def embeddings(rng: np.random.Generator, rows: int, dim: int) -> pa.FixedSizeListArray:
    values = rng.standard_normal(rows * dim, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(values), dim)


SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("label", pa.string()),
        pa.field("caption", pa.string()),
        pa.field("image", pa.large_binary(), metadata={"lance-encoding:blob": "true"}),
        pa.field("clip", pa.list_(pa.float32(), 128)),
        pa.field("text_emb", pa.list_(pa.float32(), 64)),
    ]
)


def batches(seed: int):
    """The rows, streamed in batches (nothing is held whole in memory)."""
    rng = np.random.default_rng(seed)
    for start in range(0, ROWS, BATCH):
        n = min(BATCH, ROWS - start)
        labels = [LABELS[i % len(LABELS)] for i in range(start, start + n)]
        yield pa.RecordBatch.from_arrays(
            [
                pa.array(range(start, start + n), pa.int64()),
                pa.array(labels),
                pa.array([f"a photo of a {label}, number {start + i}" for i, label in enumerate(labels)]),
                pa.array([png_bytes(rng, int(rng.integers(24, 64))) for _ in range(n)], pa.large_binary()),
                embeddings(rng, n, 128),
                embeddings(rng, n, 64),
            ],
            schema=SCHEMA,
        )


def file_fingerprints(uri: str) -> dict:
    """Hash of every data file, to show which files an operation touched."""
    root = os.path.join(uri, "data")
    out = {}
    for name in sorted(os.listdir(root)):
        with open(os.path.join(root, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def caption_words(job: tuple) -> tuple:
    """A worker of the distributed step: the number of words of each caption
    of one fragment, written as new column data without committing."""
    uri, version, fragment_id = job
    import pyarrow.compute as pc

    fragment = pilum.dataset(uri, version=version).get_fragment(fragment_id)
    count = lambda batch: {"caption_words": pc.add(pc.count_substring(batch.column("caption"), " "), 1)}
    return fragment.merge_columns(count, columns=["caption"])


def training_batch(batch, **_):
    """The loader's to_tensor_fn: CLIP vectors, label ids, and each image
    decoded from its blob file to a mean brightness (a stand-in feature)."""
    import torch
    from PIL import Image

    clip = batch["clip"]
    vectors = clip.values.slice(clip.offset * 128, len(clip) * 128).to_numpy().reshape(len(clip), 128)
    brightness = [float(np.asarray(Image.open(f).convert("L")).mean()) / 255 for f in batch["image"]]
    return {
        "id": torch.from_numpy(batch["id"].to_numpy().copy()),
        "x": torch.cat([torch.from_numpy(vectors), torch.tensor(brightness).unsqueeze(1)], dim=1),
        "y": torch.tensor([LABELS.index(label) for label in batch["label"].to_pylist()]),
    }


def step(title: str) -> None:
    print(f"\n== {title}")


def main(workdir: str) -> None:
    uri = os.path.join(workdir, "images.pilum")
    shutil.rmtree(uri, ignore_errors=True)

    step("write 2,000 multimodal rows (images as blobs, two embeddings), streamed, with a progress bar")
    start = time.perf_counter()
    reader = pa.RecordBatchReader.from_batches(SCHEMA, batches(seed=7))
    ds = pilum.write_dataset(reader, uri, max_rows_per_file=500, progress=True)
    print(f"version {ds.version}: {ds.count_rows()} rows, {len(ds.get_fragments())} fragments "
          f"in {time.perf_counter() - start:.2f} s")
    print(ds.schema)

    step("filtered, projected scan (SQL predicate pushed into the scan)")
    cats = ds.to_table(columns=["id", "caption"], filter="label = 'cat' AND id < 30")
    print(cats.to_pandas())

    step("random access: take rows by position (training-style shuffle)")
    rng = np.random.default_rng(0)
    picks = rng.choice(ds.count_rows(), size=5, replace=False).tolist()
    print(ds.take(picks, columns=["id", "label"]).to_pydict())

    step("blobs: open images lazily as files and decode them with Pillow")
    from PIL import Image

    for blob in ds.take_blobs("image", indices=picks[:3]):
        with blob:
            image = Image.open(blob)
            print(f"  blob of {blob.size()} bytes -> {image.format} {image.size}")

    step("add a new embedding column and a SQL column, without rewriting existing data")
    before = file_fingerprints(uri)
    ids = ds.to_table(columns=["id"])["id"]
    new_emb = pa.table({"id": ids, "clip_v2": embeddings(np.random.default_rng(1), len(ids), 256)})
    ds.merge(new_emb, left_on="id")
    ds.add_columns({"caption_len": "character_length(caption)"})
    after = file_fingerprints(uri)
    untouched = all(after.get(name) == digest for name, digest in before.items())
    print(f"version {ds.version}: columns {ds.schema.names}")
    print(f"existing data files untouched: {untouched} ({len(before)} before, {len(after) - len(before)} new files "
          f"holding only the new columns)")
    assert untouched

    step("vector search beside the data: an index per embedding column")
    start = time.perf_counter()
    ds.create_index("clip_v2", "IVF_PQ", metric="cosine")
    ds.create_index("text_emb", "IVF_FLAT")
    print(f"indices built in {time.perf_counter() - start:.2f} s:")
    for index in ds.describe_indices():
        stats = ds.index_statistics(index.name)
        print(f"  {index.name}: {index.index_type} on {index.field_names}, {stats['num_indexed_rows']} rows, "
              f"default nprobes {stats['default_nprobes']}, refine factor {stats['default_refine_factor']}")
    probe = ds.take([42], columns=["clip_v2", "text_emb"])
    hits = ds.to_table(nearest={"column": "clip_v2", "q": probe["clip_v2"][0].values.to_numpy()}, columns=["id", "label"])
    print(hits.to_pandas().head(5))
    assert hits["id"][0].as_py() == ds.take([42], columns=["id"])["id"][0].as_py()
    cats = ds.to_table(nearest={"column": "text_emb", "q": probe["text_emb"][0].values.to_numpy(), "k": 3},
                       filter="label = 'cat'", prefilter=True, columns=["id", "label"])
    print(cats.to_pandas())
    exact = ds.to_table(nearest={"column": "clip_v2", "q": probe["clip_v2"][0].values.to_numpy(), "use_index": False,
                                 "metric": "cosine"}, columns=["id"])
    overlap = len(set(hits["id"].to_pylist()) & set(exact["id"].to_pylist()))
    print(f"recall@10 of the default indexed search against exact search for this query: {overlap / 10:.1f}")

    step("full-text and hybrid search: BM25 beside the vectors")
    start = time.perf_counter()
    ds.create_scalar_index("caption", "INVERTED", with_position=True)
    print(f"inverted index on caption built in {time.perf_counter() - start:.2f} s")
    text_hits = ds.to_table(full_text_query="dog 1042", columns=["id", "caption"], limit=3)
    print(text_hits.to_pandas())
    assert text_hits["id"][0].as_py() == 1042
    phrase = ds.to_table(full_text_query=PhraseQuery("photo of a cat", "caption"), columns=["id"], limit=5)
    assert phrase.num_rows == 5
    fused = ds.hybrid_search(
        {"column": "clip_v2", "q": probe["clip_v2"][0].values.to_numpy()},
        MatchQuery("dog", "caption"),
        filter="id < 1000",
        limit=5,
        columns=["id", "label"],
        # Any callable re-ranks the fused candidates (a cross-encoder in practice).
        reranker=lambda t: [float(label == "dog") + r for label, r in zip(t["label"].to_pylist(), t["_relevance_score"].to_pylist())],
    )
    print(fused.to_pandas())
    assert all(i < 1000 for i in fused["id"].to_pylist()) and fused["label"][0].as_py() == "dog"

    step("scalar indices: filters (and search pre-filters) read only the rows that can match")
    start = time.perf_counter()
    ds.create_scalar_index("id", "BTREE")
    ds.create_scalar_index("label", "BITMAP")
    ds.create_scalar_index("caption", "NGRAM", name="caption_ngram")
    print(f"BTREE on id, BITMAP on label, NGRAM on caption built in {time.perf_counter() - start:.2f} s")
    for flt in ["id BETWEEN 100 AND 104", "label = 'tree' AND id < 60", "caption ~ 'a dog, number 10[0-4]$'"]:
        start = time.perf_counter()
        rows = ds.to_table(columns=["id", "label"], filter=flt)
        took = time.perf_counter() - start
        plain = ds.to_table(columns=["id", "label"], filter=flt, use_scalar_index=False)
        assert rows.sort_by("id").equals(plain.sort_by("id")), flt
        print(f"  {flt!r}: {rows.num_rows} rows in {took * 1000:.2f} ms (same rows as the unindexed scan)")

    step("modify: delete, update, upsert (each commits one version)")
    print(ds.delete("label = 'tree' AND id >= 1500"))
    print(ds.update({"caption": "upper(caption)"}, where="id < 3"))
    upsert = ds.take([0, 1])
    upsert = upsert.set_column(0, upsert.schema.field("id"), pa.array([0, 100_000], pa.int64()))
    caption = upsert.schema.get_field_index("caption")
    upsert = upsert.set_column(caption, upsert.schema.field("caption"), pa.array(["re-captioned", "a new row"]))
    print(ds.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(upsert))
    print(f"rows now: {ds.count_rows()}")

    step("distributed: worker processes add a column fragment by fragment, one commit lands it")
    jobs = [(uri, ds.version, f.fragment_id) for f in ds.get_fragments()]
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(caption_words, jobs))
    parts, schema = [metadata for metadata, _ in results], results[0][1]
    ds = pilum.LanceDataset.commit(uri, pilum.LanceOperation.Merge(parts, schema), read_version=ds.version)
    print(f"{len(parts)} fragments from 2 processes -> version {ds.version}, columns {ds.schema.names}")
    print(ds.to_table(columns=["caption", "caption_words"], limit=2).to_pylist())

    step("training: a PyTorch DataLoader with 2 workers, globally shuffled epochs, images decoded from blobs")
    import torch
    from torch.utils.data import DataLoader

    from pilum.torch.data import LanceDataset

    train = LanceDataset(ds, batch_size=128, columns=["id", "label", "image", "clip"], shuffle=True, seed=0,
                         to_tensor_fn=training_batch)
    model = torch.nn.Linear(129, len(LABELS))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(2):
        train.set_epoch(epoch)  # a new permutation of every row, read by random access
        seen, first_ids = [], None
        for batch in DataLoader(train, batch_size=None, num_workers=2):
            loss = torch.nn.functional.cross_entropy(model(batch["x"]), batch["y"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen.append(batch["id"])
            first_ids = first_ids if first_ids is not None else batch["id"][:5].tolist()
        ids = torch.cat(seen)
        print(f"epoch {epoch}: {len(seen)} batches, every row once: {ids.unique().numel() == ids.numel() == ds.count_rows()}, "
              f"first ids {first_ids}, loss {loss.item():.3f}")
    state = train.state_dict(batches_consumed=5)
    print(f"resumable mid-epoch from {state}")

    step("time travel: versions, tags, and reading an older version")
    ds.tags.create("initial", 1)
    for v in ds.versions():
        print(f"  v{v['version']:<2} {v['timestamp']:%H:%M:%S.%f} {v['operation']:<12} rows={v['num_rows']}")
    first = pilum.dataset(uri, version="initial")
    print(f"tag 'initial' -> version {first.version}, columns {first.schema.names}, rows {first.count_rows()}")
    as_of = pilum.dataset(uri, asof=dt.datetime.now())
    print(f"asof now -> version {as_of.version}")

    step("branches and clones: try a change on a fork, keep main as it is")
    start = time.perf_counter()
    fork = ds.create_branch("relabel-experiment")
    print(f"branch created in {1000 * (time.perf_counter() - start):.1f} ms (nothing copied), at version {fork.version}")
    fork.update({"label": "'reviewed'"}, where="id < 100")
    on_fork = fork.to_table(columns=["label"], filter="id < 100").column("label").unique().to_pylist()
    on_main = ds.to_table(columns=["label"], filter="id < 100").column("label").unique().to_pylist()
    print(f"fork v{fork.version} labels {on_fork}; main v{ds.version} labels {sorted(on_main)}")
    copy = ds.shallow_clone(os.path.join(workdir, "clone"), ds.version)
    print(f"shallow clone: {copy.count_rows()} rows, version {copy.version}, its data files are main's")
    print(f"branches: {list(ds.branches.list())}")
    ds.branches.delete("relabel-experiment")

    step("SQL (DataFusion), DuckDB and Polars over the same dataset")
    print(ds.sql("SELECT label, count(*) AS n, avg(caption_len) AS avg_len FROM dataset GROUP BY label ORDER BY label"))
    try:
        import duckdb

        print(duckdb.sql("SELECT label, count(*) AS n FROM ds WHERE id < 1000 GROUP BY label ORDER BY label").fetchall())
    except ImportError:
        print("(duckdb not installed)")
    try:
        import polars as pl

        print(pl.scan_pyarrow_dataset(ds).filter(pl.col("id") < 5).select(["id", "caption_len"]).collect())
    except ImportError:
        print("(polars not installed)")

    step("maintenance: compact small fragments, clean up old versions")
    print(ds.optimize.compact_files(target_rows_per_fragment=1_000))
    stats = ds.index_statistics("clip_v2_idx")
    print(f"after changes and compaction, no index rebuilt: {stats['num_indexed_rows']} rows indexed, "
          f"{stats['num_unindexed_rows']} searched exactly until optimize_indices")
    ds.optimize.optimize_indices()
    print(f"after optimize_indices: {ds.index_statistics('clip_v2_idx')['num_unindexed_rows']} unindexed rows")
    print(ds.cleanup_old_versions(older_than=dt.timedelta(0)))
    print(f"latest version {ds.latest_version}; tagged version 1 still readable: "
          f"{pilum.dataset(uri, version=1).count_rows()} rows")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="pilum-demo-")
    os.makedirs(target, exist_ok=True)
    main(target)
    print(f"\ndone: dataset in {target}")
