"""Vector indices on a dataset, with pylance's method names and arguments:
``create_index``, ``list_indices``, ``describe_indices``,
``index_statistics``, ``drop_index``, ``has_index`` and
``optimize.optimize_indices``.

Supported kinds: ``IVF_FLAT`` (exact distances within probed partitions),
``IVF_PQ`` (8-bit product quantization) and ``IVF_SQ`` (8-bit scalar
quantization, one byte per dimension); quantized candidates are re-ranked
exactly.
Metrics: ``l2`` (alias ``euclidean``), ``cosine``, ``dot``. Every argument
pylance takes is honoured, accepted as a documented no-op (it tunes only
pylance's build machinery), or rejected naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np
import pyarrow as pa

from ._nearest import vector_dimension
from .errors import ColumnNotFoundError

from ._index_segments import IndexSegmentMetadata, build_index_segment

__all__ = ["IndexDescription", "IndexProgress", "IndexMethods", "IndexSegmentMetadata", "VECTOR_INDEX_TYPES", "build_index_segment"]

#: Index kinds Pilum builds.
VECTOR_INDEX_TYPES = ("IVF_FLAT", "IVF_PQ", "IVF_SQ", "IVF_HNSW_SQ")

#: pylance kinds Pilum does not build yet.
_PLANNED_TYPES = ("IVF_HNSW_PQ", "IVF_HNSW_FLAT", "IVF_RQ")
_SCALAR_TYPES = ("INVERTED", "FTS", "BTREE", "BITMAP", "LABEL_LIST", "NGRAM", "ZONEMAP")

_METRICS = {"l2": "l2", "euclidean": "l2", "cosine": "cosine", "dot": "dot", "hamming": "hamming"}

#: ``create_index`` arguments that tune only pylance's build machinery
#: (cache sizes, shuffle batching, transposition of its files, where it
#: writes; NaN vectors are always skipped): accepted, no effect. All but
#: ``index_cache_size_bytes`` are named parameters of ``create_index``.
CREATE_INDEX_NOOPS = frozenset(
    {
        "index_cache_size",
        "index_cache_size_bytes",
        "shuffle_partition_batches",
        "shuffle_partition_concurrency",
        "skip_transpose",
        "storage_options",
        "filter_nan",
    }
)

#: ``create_index`` arguments with a value that changes the index and that
#: Pilum does not support yet: name -> (values that leave it off, what it is).
CREATE_INDEX_UNSUPPORTED = {
    "ivf_centroids": ((None,), "precomputed IVF centroids"),
    "pq_codebook": ((None,), "precomputed PQ codebooks"),
    "ivf_centroids_file": ((None,), "precomputed IVF centroids"),
    "precomputed_partition_dataset": ((None,), "precomputed partition assignments"),
    "accelerator": ((None,), "GPU training"),
    "index_uuid": ((None,), "caller-chosen index uuids"),
    "train": ((True,), "untrained indices"),
    "streaming_sample_rate": ((None,), "streaming training"),
    "streaming_coreset_rate": ((None,), "streaming training"),
    "streaming_refine_passes": ((None,), "streaming training"),
}


@dataclass(frozen=True)
class IndexProgress:
    """One progress report of an index build: `done` of `total` in `stage`."""

    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class IndexDescription:
    """One logical index (all its segments), as ``describe_indices`` lists it."""

    name: str
    index_type: str
    num_rows_indexed: int
    fields: List[int]
    field_names: List[str]
    num_segments: int
    segments: List[Dict[str, Any]] = field(repr=False)
    total_size_bytes: int
    details: Dict[str, Any] = field(repr=False)

    @property
    def type_url(self) -> str:
        """The kind, as a type name (pylance reports a protobuf type URL)."""
        return f"/pilum.index.{self.index_type}"


def _check_unsupported(arguments: Dict[str, Any]) -> None:
    for name, (off, what) in CREATE_INDEX_UNSUPPORTED.items():
        value = arguments.get(name)
        if not any(value is v or (type(value) is type(v) and value == v) for v in off):
            raise NotImplementedError(f"create_index({name}=...): {what} are not supported by Pilum yet")


class IndexMethods:
    """The index methods of ``PilumDataset`` (needs ``self._ds`` and ``self.schema``)."""

    _ds: Any
    schema: pa.Schema

    def create_index(
        self,
        column: Union[str, List[str]],
        index_type: str,
        name: Optional[str] = None,
        metric: str = "L2",
        replace: bool = False,
        num_partitions: Optional[int] = None,
        ivf_centroids: Any = None,
        pq_codebook: Any = None,
        num_sub_vectors: Optional[int] = None,
        accelerator: Any = None,
        index_cache_size: Optional[int] = None,
        shuffle_partition_batches: Optional[int] = None,
        shuffle_partition_concurrency: Optional[int] = None,
        ivf_centroids_file: Optional[str] = None,
        precomputed_partition_dataset: Optional[str] = None,
        storage_options: Optional[Dict[str, str]] = None,
        filter_nan: bool = True,
        train: bool = True,
        fragment_ids: Optional[List[int]] = None,
        index_uuid: Optional[str] = None,
        *,
        target_partition_size: Optional[int] = None,
        streaming_sample_rate: Optional[int] = None,
        streaming_coreset_rate: Optional[int] = None,
        streaming_refine_passes: Optional[int] = None,
        skip_transpose: bool = False,
        progress_callback: Optional[Callable[[IndexProgress], None]] = None,
        dimensions: Optional[int] = None,
        memory_limit: Optional[int] = None,
        **kwargs: Any,
    ) -> Any:
        """Builds a vector index on `column` and commits it; returns the dataset.

        `index_type` is ``IVF_FLAT``, ``IVF_PQ``, ``IVF_SQ`` or ``IVF_HNSW_SQ``
        (IVF_SQ partitions with a navigable graph over their codes; one
        partition per 131,072 rows by default; ``m`` (20) and
        ``ef_construction`` (150) shape the graph, ``nearest["ef"]`` its
        search); `metric` ``L2`` (or
        ``euclidean``), ``cosine`` or ``dot``. The name defaults to
        ``{column}_idx``; an existing name raises ``IndexAlreadyExistsError``
        unless ``replace=True``. Defaults: `num_partitions` round(√rows) (1
        below 4,096 rows; or rows / `target_partition_size`), `num_sub_vectors`
        dim/4 up to 256 dimensions and dim/8 above (twice that with
        ``num_bits=4``), 8-bit codes; the probes and
        refine factor a query uses by default are calibrated on the data for
        recall@10 ≈ 0.97. Rows with null, NaN or infinite vectors are skipped
        and counted (``list_indices()[i]["skipped_rows"]``). Extra keywords:
        ``num_bits`` (8, or 4 for IVF_PQ: half-byte codes scanned 32 at a time
        with SIMD shuffles), ``max_iters`` (25), ``sample_rate`` (256 training
        vectors per partition), ``seed`` (42). ``index_cache_size``,
        ``index_cache_size_bytes``,
        ``shuffle_partition_*``, ``skip_transpose``, ``storage_options`` (the
        dataset's own apply) and ``filter_nan`` (NaN vectors are always
        skipped) are accepted no-ops. `progress_callback` receives
        ``IndexProgress(stage, done, total)`` reports.

        ``fragment_ids`` starts a distributed build: the index is trained on
        those fragments and one segment covering them is written but not
        committed; the call returns its ``IndexSegmentMetadata`` (it
        pickles). Workers build segments for the other fragments with
        ``pilum.indices.build_index_segment(uri, trained, fragment_ids)``,
        and one ``LanceDataset.commit(uri,
        LanceOperation.CreateIndex([trained, *segments]))`` lands them as one
        index.

        Vector columns are fixed-size lists of f16, f32, f64, u8 or i8, or
        lists of such vectors (multivector columns: every vector of a row's
        bag is indexed, and queries by a bag of vectors rank rows by MaxSim).
        ``dimensions=d`` (Pilum's own) indexes only the first `d` values of
        each vector (matryoshka embeddings); candidates are re-ranked on the
        whole vector. ``memory_limit`` (bytes, default 1 GiB; Pilum's own)
        bounds the build: a column whose f32 values exceed a quarter of it
        (and any multivector column) is streamed twice — a sample, then
        partitions spilled to the temporary directory (``TMPDIR``) — instead
        of held in memory.
        """
        _check_unsupported(
            dict(
                ivf_centroids=ivf_centroids,
                pq_codebook=pq_codebook,
                ivf_centroids_file=ivf_centroids_file,
                precomputed_partition_dataset=precomputed_partition_dataset,
                accelerator=accelerator,
                index_uuid=index_uuid,
                train=train,
                streaming_sample_rate=streaming_sample_rate,
                streaming_coreset_rate=streaming_coreset_rate,
                streaming_refine_passes=streaming_refine_passes,
            )
        )
        hnsw_m = kwargs.pop("m", None)
        ef_construction = kwargs.pop("ef_construction", None)
        num_bits = kwargs.pop("num_bits", 8)
        max_iters = kwargs.pop("max_iters", None)
        sample_rate = kwargs.pop("sample_rate", None)
        seed = kwargs.pop("seed", None)
        for noop in CREATE_INDEX_NOOPS & set(kwargs):
            kwargs.pop(noop)
        if kwargs:
            raise TypeError(f"create_index() got unexpected keyword arguments {sorted(kwargs)}")
        if isinstance(column, (list, tuple)):
            if len(column) != 1:
                raise NotImplementedError("create_index: an index over several columns is not supported by Pilum")
            column = column[0]
        if not isinstance(column, str):
            raise TypeError(f"create_index: column must be a column name, got {type(column).__name__}")
        if column not in self.schema.names:
            raise ColumnNotFoundError(f"create_index: no column {column!r}")
        column_type = self.schema.field(column).type
        if vector_dimension(column_type) is None:
            raise TypeError(
                f"create_index: vector column {column!r} must be a fixed-size list of f16, f32, f64, u8 or i8 "
                f"(or a list of them), got {column_type}"
            )
        if dimensions is not None and (
            isinstance(dimensions, bool)
            or not isinstance(dimensions, (int, np.integer))
            or not 1 <= dimensions <= vector_dimension(column_type)
        ):
            raise ValueError(
                f"create_index: dimensions must be an integer in 1..={vector_dimension(column_type)} (the column's), got {dimensions!r}"
            )
        if memory_limit is not None and (
            isinstance(memory_limit, bool) or not isinstance(memory_limit, (int, np.integer)) or memory_limit <= 0
        ):
            raise ValueError(f"create_index: memory_limit must be a positive number of bytes, got {memory_limit!r}")
        kind = str(index_type).upper()
        if kind in _SCALAR_TYPES:
            raise ValueError(f"create_index: build a {kind} index with create_scalar_index(column, {kind!r}, ...)")
        if kind in _PLANNED_TYPES:
            raise NotImplementedError(f"create_index: index type {kind} is not supported by Pilum yet (supported: {', '.join(VECTOR_INDEX_TYPES)})")
        if kind not in VECTOR_INDEX_TYPES:
            raise NotImplementedError(f"create_index: unknown index type {index_type!r} (supported: {', '.join(VECTOR_INDEX_TYPES)})")
        metric_name = _METRICS.get(str(metric).lower())
        if metric_name is None:
            raise ValueError(f"create_index: metric {metric!r} is not supported (l2, euclidean, cosine, dot, hamming)")
        if metric_name == "hamming" and kind != "IVF_FLAT":
            raise ValueError(
                f"create_index(metric='hamming'): binary codes are indexed with IVF_FLAT only, not {kind}"
            )
        if num_bits is None:
            num_bits = 8
        if isinstance(num_bits, bool) or not isinstance(num_bits, (int, np.integer)) or int(num_bits) not in (4, 8):
            raise ValueError(f"create_index: num_bits must be 4 or 8, got {num_bits!r}")
        if int(num_bits) != 8 and kind != "IVF_PQ":
            raise ValueError(f"create_index: num_bits={num_bits} applies to IVF_PQ, not {kind}")
        for key, value, lowest in (("m", hnsw_m, 2), ("ef_construction", ef_construction, 1)):
            if value is None:
                continue
            if kind != "IVF_HNSW_SQ":
                raise NotImplementedError(f"create_index({key}=...): HNSW graph parameters apply to IVF_HNSW_SQ, not {kind}")
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lowest:
                raise ValueError(f"create_index: {key} must be an integer >= {lowest}, got {value!r}")
        if kind != "IVF_PQ" and num_sub_vectors is not None:
            raise ValueError(f"create_index: num_sub_vectors applies to IVF_PQ, not {kind}")
        if target_partition_size is not None:
            if num_partitions is not None:
                raise ValueError("create_index: give num_partitions or target_partition_size, not both")
            if target_partition_size <= 0:
                raise ValueError("create_index: target_partition_size must be positive")
            rows = self._ds.count_rows()
            num_partitions = max(1, -(-rows // int(target_partition_size)))
        progress = None
        if progress_callback is not None:

            def progress(stage: str, done: int, total: int) -> None:
                progress_callback(IndexProgress(stage, done, total))

        fragments = None
        if fragment_ids is not None:
            fragments = [int(f) for f in fragment_ids]
            if any(isinstance(f, bool) for f in fragment_ids) or not fragments:
                raise ValueError("create_index: fragment_ids must be a non-empty list of fragment ids")
        built = self._ds.create_index(
            column,
            kind,
            name=name,
            metric=metric_name,
            replace=bool(replace),
            num_partitions=num_partitions,
            num_sub_vectors=num_sub_vectors,
            max_iters=max_iters,
            sample_rate=sample_rate,
            seed=seed,
            progress=progress,
            dimensions=None if dimensions is None else int(dimensions),
            memory_limit=None if memory_limit is None else int(memory_limit),
            num_bits=int(num_bits),
            m=None if hnsw_m is None else int(hnsw_m),
            ef_construction=None if ef_construction is None else int(ef_construction),
            fragments=fragments,
        )
        if built is not None:
            from ._index_segments import IndexSegmentMetadata

            return IndexSegmentMetadata(bytes(built), self.version)
        return self

    def create_scalar_index(
        self,
        column: str,
        index_type: str,
        name: Optional[str] = None,
        *,
        replace: bool = True,
        progress_callback: Optional[Callable[..., Any]] = None,
        document_granularity: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Builds a scalar or full-text index on `column` (pylance's call;
        Pilum builds ``BTREE``, ``BITMAP``, ``LABEL_LIST``, ``NGRAM``, ``ZONEMAP``
        and ``INVERTED``/``FTS``, see ``pilum._scalar_index``).
        The name defaults to ``{column}_idx``; an index of that name is
        replaced unless ``replace=False``. ``fragment_ids`` builds the index
        over those fragments only, without committing, and returns the
        segment's ``IndexSegmentMetadata``: workers each build theirs with
        the same arguments, and ``LanceDataset.commit(uri,
        LanceOperation.CreateIndex(segments))`` lands them as one index."""
        from ._scalar_index import create_scalar_index

        built = create_scalar_index(self, column, index_type, name, replace, progress_callback, document_granularity, kwargs)
        if built is not None:
            return IndexSegmentMetadata(bytes(built), self.version)
        return self

    def hybrid_search(self, nearest: dict, full_text_query: Any, **kwargs: Any) -> pa.Table:
        """A vector and a full-text search fused into one ranking (see
        ``pilum._hybrid``): ``limit``, ``filter``, ``fusion`` ("rrf" or
        "weighted"), ``rrf_k``, ``vector_weight``, ``candidates``,
        ``reranker``, ``columns``, ``with_row_id``."""
        from ._hybrid import hybrid_search

        return hybrid_search(self, nearest, full_text_query, **kwargs)

    def list_indices(self) -> List[Dict[str, Any]]:
        """Every index segment: ``name``, ``type``, ``uuid``, ``fields`` (names),
        ``version``, ``fragment_ids`` (a set), and Pilum's details (``metric``,
        ``num_partitions``, ``default_nprobes``, ``default_refine_factor``, ...)."""
        segments = self._ds.index_segments()
        for segment in segments:
            segment["fragment_ids"] = set(segment["fragment_ids"])
        return segments

    def describe_indices(self) -> List[IndexDescription]:
        """One entry per logical index (its segments together)."""
        out: Dict[str, List[Dict[str, Any]]] = {}
        for segment in self._ds.index_segments():
            out.setdefault(segment["name"], []).append(segment)
        descriptions = []
        for name, segments in out.items():
            first = segments[0]
            stats = self._ds.index_statistics(name)
            keys = ("metric", "dimension", "num_partitions", "num_sub_vectors", "num_bits", "default_nprobes", "default_refine_factor")
            descriptions.append(
                IndexDescription(
                    name=name,
                    index_type=first["type"],
                    num_rows_indexed=stats["num_indexed_rows"],
                    fields=list(first["field_ids"]),
                    field_names=list(first["fields"]),
                    num_segments=len(segments),
                    segments=segments,
                    total_size_bytes=sum(s["size_bytes"] for s in segments),
                    details={k: first[k] for k in keys if k in first},
                )
            )
        return descriptions

    def index_statistics(self, index_name: str) -> Dict[str, Any]:
        """Coverage of index `index_name`: ``index_type``, ``name``,
        ``num_indices``/``num_segments``, ``num_indexed_rows``,
        ``num_unindexed_rows``, ``num_indexed_fragments``,
        ``num_unindexed_fragments``, ``metric_type``, ``num_partitions``, the
        calibrated defaults, and per-segment entry counts
        (``num_indexed_rows_per_delta``: rows, or vectors for an index over a
        multivector column). Raises
        ``IndexNotFoundError`` (a ``KeyError``) for an unknown name."""
        stats = dict(self._ds.index_statistics(index_name))
        segments = [s for s in self._ds.index_segments() if s["name"] == index_name]
        if stats["index_type"] in ("BTREE", "BITMAP", "LABEL_LIST", "NGRAM", "ZONEMAP"):
            for key in ("metric_type", "num_partitions", "default_nprobes", "default_refine_factor"):
                stats.pop(key, None)
        if stats["index_type"] == "INVERTED":
            for key in ("metric_type", "num_partitions", "default_nprobes", "default_refine_factor"):
                stats.pop(key, None)
            keys = ("base_tokenizer", "language", "stem", "remove_stop_words", "lower_case", "ascii_folding", "max_token_length", "with_position")
            stats["params"] = {k: segments[-1][k] for k in keys if k in segments[-1]} if segments else {}
            stats["num_docs"] = sum(s["num_docs"] for s in segments)
            stats["num_terms"] = [s["num_terms"] for s in segments]
        stats["name"] = index_name
        stats["num_segments"] = stats["num_indices"]
        stats["num_indexed_rows_per_delta"] = [s["num_entries"] for s in segments]
        stats["segments"] = segments
        return stats

    def drop_index(self, name: str) -> None:
        """Drops index `name` in a new version (older versions keep it until cleanup)."""
        self._ds.drop_index(name)

    @property
    def has_index(self) -> bool:
        """Whether this version has any index."""
        return bool(self._ds.index_segments())
