"""Hugging Face ``datasets`` in and out of Pilum.

``write_dataset`` accepts a ``datasets.Dataset`` or ``IterableDataset``
directly: the rows it shows are written (after ``shuffle``, ``select``,
``filter`` or ``train_test_split`` that is the indices mapping's rows in its
order, not the underlying table), and its ``Features`` (class labels,
images, audio, sequences...) are kept in the schema metadata under
``huggingface``, the key ``datasets`` itself reads, so they round-trip.
``to_huggingface`` loads a dataset version as an in-memory
``datasets.Dataset`` over the Arrow data Pilum read (no copy), with those
features restored.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Optional, Union

import pyarrow as pa

__all__ = ["is_huggingface_dataset", "reader_from_huggingface", "to_huggingface"]

#: Rows per batch when a dataset with an indices mapping is materialized.
_BATCH_ROWS = 8192
_KEY = b"huggingface"


def is_huggingface_dataset(data: Any) -> bool:
    """True for a ``datasets.Dataset`` or ``datasets.IterableDataset``."""
    module = type(data).__module__
    return module.startswith("datasets.") and type(data).__name__ in ("Dataset", "IterableDataset")


def _with_features(schema: pa.Schema, features: Any) -> pa.Schema:
    if features is None:
        return schema
    metadata = dict(schema.metadata or {})
    metadata[_KEY] = json.dumps({"info": {"features": features.to_dict()}}).encode()
    return schema.with_metadata(metadata)


def reader_from_huggingface(data: Any) -> pa.RecordBatchReader:
    """The rows `data` shows, as Arrow batches whose schema carries its features."""
    import datasets

    if isinstance(data, datasets.Dataset):
        if data._indices is None:
            table = data.data.table
            return table.replace_schema_metadata(_with_features(table.schema, data.features).metadata).to_reader()
        schema = _with_features(data.features.arrow_schema, data.features)
        return _reader(schema, data.with_format("arrow").iter(batch_size=_BATCH_ROWS))
    if isinstance(data, datasets.IterableDataset):
        batches = data.with_format("arrow").iter(batch_size=_BATCH_ROWS)
        first = next(batches, None)
        if first is None:
            if data.features is None:
                raise ValueError("an empty IterableDataset without features has no schema to write")
            return _with_features(data.features.arrow_schema, data.features).empty_table().to_reader()
        features = data.features or datasets.Features.from_arrow_schema(first.schema)
        schema = _with_features(first.schema, features)

        def chain() -> Iterator[pa.Table]:
            yield first
            yield from batches

        return _reader(schema, chain())
    raise TypeError(f"not a Hugging Face dataset: {type(data).__name__}")


def _reader(schema: pa.Schema, tables: Iterator[pa.Table]) -> pa.RecordBatchReader:
    plain = schema.with_metadata(None)

    def batches() -> Iterator[pa.RecordBatch]:
        for table in tables:
            if not table.schema.with_metadata(None).equals(plain):
                table = table.cast(plain)
            for batch in table.to_batches():
                yield batch.replace_schema_metadata(schema.metadata)

    return pa.RecordBatchReader.from_batches(schema, batches())


def to_huggingface(
    dataset: Any,
    *,
    columns: Optional[List[str]] = None,
    filter: Any = None,
    version: Optional[Union[int, str]] = None,
    storage_options: Optional[Dict[str, str]] = None,
) -> Any:
    """A ``datasets.Dataset`` of a Pilum dataset (a URI or an open
    dataset; `version` only with a URI), optionally projected and filtered.
    Features saved by ``write_dataset`` come back; other columns get the
    features ``datasets`` infers from their Arrow types."""
    import datasets

    from .dataset import PilumDataset

    if isinstance(dataset, PilumDataset):
        if version is not None or storage_options is not None:
            raise ValueError("version and storage_options apply when the dataset is given as a URI")
        ds = dataset
    else:
        ds = PilumDataset(dataset, version=version, storage_options=storage_options)
    table = ds.to_table(columns=columns, filter=filter)
    features = _saved_features(ds.schema, table.schema)
    table = table.replace_schema_metadata(None)
    if features is not None:
        return datasets.Dataset(table, info=datasets.DatasetInfo(features=features))
    return datasets.Dataset(table)


def _saved_features(stored: pa.Schema, read: pa.Schema) -> Any:
    """The saved features of the columns in `read`, or None when none were saved."""
    import datasets

    raw = (stored.metadata or {}).get(_KEY)
    if raw is None:
        return None
    saved = datasets.Features.from_dict(json.loads(raw)["info"]["features"])
    inferred = datasets.Features.from_arrow_schema(read.with_metadata(None))
    return datasets.Features({name: saved.get(name, inferred[name]) for name in read.names})
