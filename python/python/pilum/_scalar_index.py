"""``create_scalar_index``: pylance's scalar and full-text index call.

Pilum builds ``INVERTED`` (alias ``FTS``): an inverted index for
full-text search with BM25 scoring. Its analyzer arguments are pylance's:
``base_tokenizer`` (``simple``, ``whitespace``, ``raw``, ``ngram``),
``language`` (17 Snowball languages, English by default), ``stem``,
``remove_stop_words``, ``lower_case``, ``ascii_folding``,
``max_token_length`` (40; None for no limit), ``with_position`` (False;
phrase queries need True), ``min_ngram_length``/``max_ngram_length`` (3/3,
for ``ngram``) and ``memory_limit`` (MiB the build's term buffers may hold
before spilling sorted runs to the temporary directory; default 1024).

The scalar kinds ``BTREE``, ``BITMAP`` (low cardinality), ``LABEL_LIST``
(list columns: ``array_has_any`` / ``array_has_all`` / ``array_has``),
``NGRAM`` (trigrams narrowing ``contains``, ``LIKE`` and regular
expressions) and ``ZONEMAP`` (min/max per zone of ``rows_per_zone`` rows,
default 8192) are used by every filter automatically (``use_scalar_index=False``
turns that off). The analyzer arguments apply to ``INVERTED`` only and are
refused with the scalar kinds. ``BLOOMFILTER`` and ``RTREE`` raise
``NotImplementedError``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from .errors import ColumnNotFoundError

#: Kinds Pilum builds, by pylance's names.
TEXT_INDEX_TYPES = ("INVERTED", "FTS")

#: Scalar kinds Pilum builds, by pylance's names.
SCALAR_INDEX_TYPES = ("BTREE", "BITMAP", "LABEL_LIST", "NGRAM", "ZONEMAP")

#: pylance's scalar kinds Pilum does not build yet.
PLANNED_SCALAR_TYPES = ("BLOOMFILTER", "RTREE")

#: Arguments that tune only pylance's build machinery: accepted, no effect.
#: ``num_workers``: Pilum analyzes on every core. ``block_size=128``: the
#: posting block length Pilum always uses (any other value raises).
SCALAR_NOOPS = frozenset({"num_workers", "storage_options"})

#: Arguments whose non-default value Pilum does not support yet.
SCALAR_UNSUPPORTED: Dict[str, Any] = {
    "train": ((True,), "untrained indices"),
    "index_uuid": ((None,), "caller-chosen index uuids"),
    "format_version": ((None,), "pylance's index format versions"),
    "custom_stop_words": ((None,), "custom stop word lists"),
    "prefix_only": ((None, False), "prefix-only n-grams"),
    "block_size": ((None, 128), "posting blocks other than 128"),
}

_TEXT_ARGUMENTS = (
    "with_position",
    "base_tokenizer",
    "language",
    "stem",
    "remove_stop_words",
    "lower_case",
    "ascii_folding",
    "max_token_length",
    "min_ngram_length",
    "max_ngram_length",
)


def create_scalar_index(
    dataset: Any,
    column: str,
    index_type: str,
    name: Optional[str],
    replace: bool,
    progress_callback: Optional[Callable[..., Any]],
    document_granularity: Any,
    kwargs: Dict[str, Any],
) -> Optional[bytes]:
    """Checks every argument and builds the index (see the module docs).
    With ``fragment_ids`` the index is built over those fragments only and
    not committed: returns the serialized segment (a distributed build)."""
    kind = str(index_type).upper()
    supported = ", ".join(SCALAR_INDEX_TYPES + TEXT_INDEX_TYPES)
    if kind in PLANNED_SCALAR_TYPES:
        raise NotImplementedError(f"create_scalar_index: index type {kind} is not supported by Pilum yet (supported: {supported})")
    if kind not in TEXT_INDEX_TYPES and kind not in SCALAR_INDEX_TYPES:
        raise ValueError(f"create_scalar_index: unknown index type {index_type!r} (supported: {supported})")
    granularity = getattr(document_granularity, "value", document_granularity)
    if granularity is not None and str(granularity).upper() not in ("ROW", "DOCUMENTGRANULARITY.ROW"):
        raise NotImplementedError(f"create_scalar_index: document_granularity={document_granularity!r} is not supported by Pilum (rows only)")
    for key, (off, what) in SCALAR_UNSUPPORTED.items():
        if key in kwargs:
            value = kwargs.pop(key)
            if not any(value is v or (type(value) is type(v) and value == v) for v in off):
                raise NotImplementedError(f"create_scalar_index({key}=...): {what} are not supported by Pilum yet")
    for noop in SCALAR_NOOPS & set(kwargs):
        kwargs.pop(noop)
    fragments = _fragment_ids(kwargs.pop("fragment_ids", None))
    if kind in SCALAR_INDEX_TYPES:
        return _create_scalar(dataset, column, kind, name, replace, progress_callback, kwargs, fragments)
    text = {k: kwargs.pop(k) for k in _TEXT_ARGUMENTS if k in kwargs}
    memory_mib = kwargs.pop("memory_limit", None)
    if kwargs:
        raise TypeError(f"create_scalar_index() got unexpected keyword arguments {sorted(kwargs)}")
    _check_column(dataset, column)
    for flag in ("with_position", "stem", "remove_stop_words", "lower_case", "ascii_folding"):
        if flag in text and not isinstance(text[flag], bool):
            raise TypeError(f"create_scalar_index: {flag} must be a bool, got {text[flag]!r}")
    if "max_token_length" in text and text["max_token_length"] is not None:
        value = text["max_token_length"]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"create_scalar_index: max_token_length must be a positive integer or None, got {value!r}")
    memory_limit = None
    if memory_mib is not None:
        if isinstance(memory_mib, bool) or not isinstance(memory_mib, int) or memory_mib <= 0:
            raise ValueError(f"create_scalar_index: memory_limit must be a positive number of MiB, got {memory_mib!r}")
        memory_limit = memory_mib << 20
    progress = _progress_hook(progress_callback)
    return dataset._ds.create_text_index(
        column,
        name=name,
        replace=bool(replace),
        memory_limit=memory_limit,
        progress=progress,
        fragments=fragments,
        **text,
    )


def _fragment_ids(value: Any) -> Optional[List[int]]:
    """``fragment_ids`` as a list of ints (None when not given)."""
    if value is None:
        return None
    ids = list(value)
    if not ids or any(isinstance(f, bool) or not isinstance(f, int) or f < 0 for f in ids):
        raise ValueError(f"create_scalar_index: fragment_ids must be a non-empty list of fragment ids, got {value!r}")
    return ids


def _create_scalar(
    dataset: Any,
    column: Any,
    kind: str,
    name: Optional[str],
    replace: bool,
    progress_callback: Optional[Callable[..., Any]],
    kwargs: Dict[str, Any],
    fragments: Optional[List[int]],
) -> Optional[bytes]:
    """Builds a BTREE, BITMAP, LABEL_LIST, NGRAM or ZONEMAP index."""
    rows_per_zone = kwargs.pop("rows_per_zone", None)
    text = sorted(k for k in kwargs if k in _TEXT_ARGUMENTS or k == "memory_limit")
    if text:
        raise TypeError(f"create_scalar_index: {', '.join(text)} apply to INVERTED indices, not {kind}")
    if kwargs:
        raise TypeError(f"create_scalar_index() got unexpected keyword arguments {sorted(kwargs)}")
    _check_column(dataset, column)
    if rows_per_zone is not None:
        if kind != "ZONEMAP":
            raise TypeError(f"create_scalar_index: rows_per_zone applies to ZONEMAP indices, not {kind}")
        if isinstance(rows_per_zone, bool) or not isinstance(rows_per_zone, int) or not 0 < rows_per_zone < 2**32:
            raise ValueError(f"create_scalar_index: rows_per_zone must be a positive integer, got {rows_per_zone!r}")
    progress = _progress_hook(progress_callback)
    return dataset._ds.create_scalar_index(
        column,
        kind,
        name=name,
        replace=bool(replace),
        rows_per_zone=rows_per_zone,
        progress=progress,
        fragments=fragments,
    )


def _check_column(dataset: Any, column: Any) -> None:
    """Raises unless `column` names a top-level column of `dataset`."""
    if not isinstance(column, str):
        raise TypeError(f"create_scalar_index: column must be a column name, got {type(column).__name__}")
    if column not in dataset.schema.names:
        raise ColumnNotFoundError(f"create_scalar_index: no column {column!r}")


def _progress_hook(progress_callback: Optional[Callable[..., Any]]) -> Optional[Callable[[str, int, int], None]]:
    """The native build's progress hook for pylance's `progress_callback`."""
    if progress_callback is None:
        return None

    def progress(stage: str, done: int, total: int) -> None:
        progress_callback(stage, done, total)

    return progress
