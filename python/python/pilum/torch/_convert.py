"""Arrow batches to PyTorch tensors: numbers and booleans become 1-d
tensors, fixed-size lists (vectors, nested for matrices) become
``(rows, d, ...)`` tensors without a copy where Arrow's buffer allows it,
text and binary stay Python lists, blob files pass through."""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Union

import numpy as np
import pyarrow as pa
import torch

__all__ = ["to_tensor"]

Batch = Union[pa.RecordBatch, Dict[str, Any]]


def _from_numpy(values: np.ndarray) -> torch.Tensor:
    with warnings.catch_warnings():
        # Arrow's buffers are read-only; the tensor shares them (no copy).
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(values)


def _numeric(name: str, arr: pa.Array, uint64_as_int64: bool) -> torch.Tensor:
    if arr.null_count and not pa.types.is_floating(arr.type):
        raise ValueError(f"column {name!r} has nulls, which a {arr.type} tensor cannot hold; filter them out or pass to_tensor_fn")
    if pa.types.is_temporal(arr.type):
        arr = arr.cast(pa.int64())
    values = arr.to_numpy(zero_copy_only=False)
    if values.dtype == np.uint64 and uint64_as_int64:
        values = values.view(np.int64)
    return _from_numpy(values)


def _fixed_size_list(name: str, arr: pa.Array) -> Optional[torch.Tensor]:
    """A (rows, d1, d2, ...) tensor of nested fixed-size lists of numbers, or None."""
    shape: List[int] = []
    inner: pa.Array = arr
    while pa.types.is_fixed_size_list(inner.type):
        if inner.null_count:
            raise ValueError(f"column {name!r} has null vectors; filter them out or pass to_tensor_fn")
        size = inner.type.list_size
        shape.append(size)
        inner = inner.values.slice(inner.offset * size, len(inner) * size)
    if not (pa.types.is_integer(inner.type) or pa.types.is_floating(inner.type)):
        return None
    if inner.null_count and not pa.types.is_floating(inner.type):
        raise ValueError(f"column {name!r} has null elements in its vectors; pass to_tensor_fn")
    values = inner.to_numpy(zero_copy_only=False)
    return _from_numpy(values).reshape(len(arr), *shape)


def _column(name: str, arr: Any, vector_dtype: Optional[torch.dtype], uint64_as_int64: bool) -> Any:
    if isinstance(arr, list):  # blob files, or values a caller prepared
        return arr
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if isinstance(arr.type, pa.FixedShapeTensorType):
        arr = arr.storage
    kind = arr.type
    if pa.types.is_fixed_size_list(kind):
        tensor = _fixed_size_list(name, arr)
        if tensor is not None:
            return tensor.to(vector_dtype) if vector_dtype is not None and tensor.is_floating_point() else tensor
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind) or pa.types.is_temporal(kind):
        return _numeric(name, arr, uint64_as_int64)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return arr.to_pylist()
    raise ValueError(f"column {name!r} of type {kind} has no tensor form; pass to_tensor_fn to convert it")


def to_tensor(
    batch: Batch,
    *,
    hf_converter: Any = None,
    use_blob_api: bool = False,
    vector_dtype: Optional[torch.dtype] = None,
    uint64_as_int64: bool = True,
    **kwargs: Any,
) -> Union[torch.Tensor, Dict[str, Any]]:
    """The default ``to_tensor_fn``: a dict of column name → tensor (or
    list, for text, binary and blob files), or the bare value when the
    batch has one column. `vector_dtype` casts floating vectors (e.g. to
    ``torch.float16``). `hf_converter` and `use_blob_api` are pylance's
    keywords; Pilum passes None and whether blob files are present."""
    if hf_converter is not None:
        raise NotImplementedError("to_tensor(): hf_converter is not supported by Pilum; pass a to_tensor_fn that decodes the features")
    if kwargs:
        raise TypeError(f"to_tensor() got unexpected keyword argument {sorted(kwargs)[0]!r}")
    names = batch.schema.names if isinstance(batch, pa.RecordBatch) else list(batch)
    out = {name: _column(name, batch[name], vector_dtype, uint64_as_int64) for name in names}
    if len(out) == 1:
        return next(iter(out.values()))
    return out
