"""Coercing user data into Arrow record batch readers, and progress bars."""

from __future__ import annotations

from typing import Any, Callable, List, Optional

import pyarrow as pa
import pyarrow.dataset as pds

from .huggingface import is_huggingface_dataset, reader_from_huggingface

__all__ = ["to_reader", "index_list", "progress_callback", "ReaderLike"]

#: Anything :func:`to_reader` accepts.
ReaderLike = Any


def _is_pandas(data: Any) -> bool:
    module = type(data).__module__
    return module.startswith("pandas.") and type(data).__name__ == "DataFrame"


def to_reader(data: ReaderLike, schema: Optional[pa.Schema] = None) -> pa.RecordBatchReader:
    """A ``pyarrow.RecordBatchReader`` over `data`, cast to `schema` when given.

    Accepts a pyarrow Table, RecordBatch, RecordBatchReader, Dataset or
    Scanner; a pandas DataFrame; a Hugging Face ``datasets.Dataset`` or
    ``IterableDataset`` (the rows it shows, its features kept); a list of dicts or a dict of lists; an
    iterable of RecordBatches (with `schema`); or any object exporting the
    Arrow C stream interface (``__arrow_c_stream__``: polars, duckdb, ...).
    """
    reader: pa.RecordBatchReader
    if isinstance(data, pa.RecordBatchReader):
        reader = data
    elif isinstance(data, pa.Table):
        reader = data.to_reader()
    elif isinstance(data, pa.RecordBatch):
        reader = pa.Table.from_batches([data]).to_reader()
    elif isinstance(data, pds.Dataset):
        reader = data.scanner().to_reader()
    elif isinstance(data, pds.Scanner):
        reader = data.to_reader()
    elif _is_pandas(data):
        reader = pa.Table.from_pandas(data, preserve_index=False).to_reader()
    elif is_huggingface_dataset(data):
        reader = reader_from_huggingface(data)
    elif hasattr(data, "__arrow_c_stream__"):
        reader = pa.RecordBatchReader.from_stream(data)
    elif isinstance(data, dict):
        reader = pa.table(data).to_reader()
    elif isinstance(data, list) and all(isinstance(row, dict) for row in data):
        reader = pa.Table.from_pylist(data, schema=schema).to_reader()
    elif hasattr(data, "__iter__") and schema is not None:
        reader = pa.RecordBatchReader.from_batches(schema, data)
    else:
        raise TypeError(
            f"cannot read Arrow data from {type(data).__name__}: pass a pyarrow Table/RecordBatchReader, "
            "a pandas DataFrame, or an object with __arrow_c_stream__"
        )
    if schema is not None and not reader.schema.equals(schema):
        reader = reader.cast(schema)
    return reader


def index_list(indices: Any) -> List[int]:
    """Row positions or ids (a list, pyarrow array or numpy array) as non-negative ints."""
    if isinstance(indices, (pa.Array, pa.ChunkedArray)):
        indices = indices.to_pylist()
    elif hasattr(indices, "tolist"):
        indices = indices.tolist()
    out = [int(i) for i in indices]
    if any(i < 0 for i in out):
        raise IndexError("row indices must be non-negative")
    return out


def progress_callback(progress: Any, description: str, total: Optional[int] = None, unit: str = "rows"):
    """A ``(callback, close)`` pair from a `progress` argument.

    ``True`` shows a tqdm bar (``tqdm.auto``: a widget in notebooks, text in
    terminals); a tqdm-like object (with ``update``) is advanced; a callable
    is called with each increment; ``None``/``False`` reports nothing.
    """
    if progress is None or progress is False:
        return None, lambda: None
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("progress=True needs tqdm: pip install tqdm") from e
        bar = tqdm(total=total, desc=description, unit=unit, unit_scale=True)
        return bar.update, bar.close
    if hasattr(progress, "update"):
        return progress.update, lambda: None
    if callable(progress):
        return progress, lambda: None
    raise TypeError("progress must be True, a tqdm-like object or a callable")


def staged_progress(progress: Any, description: str) -> tuple[Optional[Callable[[str, int, int], None]], Callable]:
    """A ``(callback(stage, done, total), close)`` pair for multi-stage operations."""
    if progress is None or progress is False:
        return None, lambda: None
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError as e:  # pragma: no cover
            raise ImportError("progress=True needs tqdm: pip install tqdm") from e
        bars: dict = {}

        def report(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=total, desc=f"{description}: {stage}")
            bar.total = total
            bar.n = done
            bar.refresh()

        def close() -> None:
            for bar in bars.values():
                bar.close()

        return report, close
    if callable(progress):
        return progress, lambda: None
    raise TypeError("progress must be True or a callable(stage, done, total)")
