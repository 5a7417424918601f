"""``PilumDataset``: a versioned Pilum table, usable wherever a
``pyarrow.dataset.Dataset`` is expected (DuckDB, Polars, Arrow readers)."""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any, Dict, Iterable, List, Optional, Union

import pyarrow as pa
import pyarrow.dataset as pds

from . import _native
from ._args import OPEN_NOOPS, OPEN_UNSUPPORTED, SCAN_NOOPS, SCAN_UNSUPPORTED, TAKE_BLOBS_NOOPS, TAKE_ROWS_NOOPS, check_kwargs
from ._data import index_list
from ._direct_search import direct_search
from ._ordering import ColumnOrdering
from ._native_placeholder import NATIVE_SCAN_HINTS, init_placeholder
from ._pyarrow_base import seal
from ._reads import DatasetReads
from ._writes import DatasetWrites
from .blob import BlobFile
from .branches import Branches, reference_arg, reopen as _reopen, same_storage as _same_storage
from .fragment import PilumFragment
from .indices import IndexMethods
from .maintenance import CleanupStats, CompactionMetrics, DatasetOptimizer, Tags, cleanup_old_versions
from .scanner import Filter, PilumScanner

__all__ = [
    "PilumDataset",
    "ColumnOrdering",
    "Tags",
    "Branches",
    "DatasetOptimizer",
    "CompactionMetrics",
    "CleanupStats",
    "asof_micros",
]


def asof_micros(asof: Any) -> int:
    """Microseconds since the epoch (UTC) of `asof`; naive datetimes are local time."""
    if isinstance(asof, str):
        asof = _dt.datetime.fromisoformat(asof)
    elif hasattr(asof, "to_pydatetime"):
        asof = asof.to_pydatetime()
    elif isinstance(asof, _dt.date) and not isinstance(asof, _dt.datetime):
        asof = _dt.datetime.combine(asof, _dt.time.max)
    if not isinstance(asof, _dt.datetime):
        raise TypeError(f"asof must be a datetime, date, ISO string or pandas Timestamp, not {type(asof).__name__}")
    if asof.tzinfo is None:
        asof = asof.astimezone()  # a naive datetime is local time
    return int(asof.timestamp() * 1_000_000)


def _check_open_kwargs(call: str, kwargs: Dict[str, Any]) -> Optional[int]:
    """Checks the opening arguments beyond Pilum's own (pylance's, see
    ``OPEN_NOOPS``); pops and returns ``index_cache_size_bytes``."""
    index_cache_bytes = kwargs.pop("index_cache_size_bytes", None)
    if index_cache_bytes is not None and (
        isinstance(index_cache_bytes, bool) or not isinstance(index_cache_bytes, int) or index_cache_bytes < 0
    ):
        raise ValueError(f"index_cache_size_bytes must be a byte count >= 0, got {index_cache_bytes!r}")
    check_kwargs(call, kwargs, OPEN_NOOPS, OPEN_UNSUPPORTED)
    return index_cache_bytes


class PilumDataset(DatasetReads, DatasetWrites, IndexMethods, pds.FileSystemDataset):
    """A Pilum dataset at one version.

    Open one with :func:`pilum.dataset` or create one with
    :func:`pilum.write_dataset`. Write operations (``delete``, ``update``,
    ``add_columns``, ...) commit a new version and move this object to it;
    ``checkout_version`` returns a new object and leaves this one alone.
    ``index_cache_size_bytes`` bounds the loaded index partitions this
    handle keeps (default 4 GiB; least recently used dropped first). Lance's
    other cache-size, block-size, read-parameter, session and commit-lock
    arguments are accepted and change nothing.
    """

    def __init__(
        self,
        uri: Union[str, os.PathLike],
        version: Optional[Union[int, str]] = None,
        asof: Any = None,
        storage_options: Optional[Dict[str, str]] = None,
        *,
        branch: Optional[str] = None,
        _native_dataset: Any = None,
        **kwargs: Any,
    ):
        index_cache_bytes = _check_open_kwargs("dataset", kwargs)
        self._uri = os.fspath(uri)
        self._storage_options = dict(storage_options) if storage_options else None
        if _native_dataset is None:
            tag = version if isinstance(version, str) else None
            number = version if isinstance(version, int) else None
            if version is not None and (isinstance(version, bool) or not isinstance(version, (int, str))):
                raise TypeError("version must be an int or a tag name")
            if branch is not None and not isinstance(branch, str):
                raise TypeError("branch must be a branch name")
            micros = asof_micros(asof) if asof is not None else None
            _native_dataset = _native._Dataset.open(self._uri, number, tag, micros, self._storage_options, branch)
        self._ds = _native_dataset
        if index_cache_bytes is not None:
            self._ds.set_index_cache_bytes(int(index_cache_bytes))
        init_placeholder(self, self.schema)

    def _wrap(self, native: Any) -> "PilumDataset":
        return PilumDataset(self._uri, storage_options=self._storage_options, _native_dataset=native)

    def __reduce__(self) -> Any:
        # Pickles as (uri, version, branch): Polars, Ray and multiprocessing ship datasets to workers.
        return (_reopen, (self._uri, self.version, self._storage_options, self.branch))

    def __repr__(self) -> str:
        branch = self.branch
        on = f", branch={branch!r}" if branch is not None else ""
        return f"PilumDataset(uri={self._uri!r}, version={self.version}{on})"

    # --- metadata -----------------------------------------------------------------------------

    @property
    def uri(self) -> str:
        """The dataset's URI."""
        return self._uri

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of this version."""
        native, version = self._ds, self._ds.version
        cached = self.__dict__.get("_schema_cache")
        if cached is not None and cached[0] is native and cached[1] == version:
            return cached[2]
        schema = pa.schema(native.schema)
        self.__dict__["_schema_cache"] = (native, version, schema)
        return schema

    @property
    def version(self) -> int:
        """The version this object reads."""
        return self._ds.version

    @property
    def latest_version(self) -> int:
        """The newest committed version (asks storage)."""
        return self._ds.latest_version()

    def versions(self) -> List[Dict[str, Any]]:
        """Every version, oldest first: ``version``, ``timestamp`` (aware UTC datetime),
        ``operation``, ``num_rows``, ``num_fragments``, ``metadata``."""
        return self._ds.versions()

    @property
    def branch(self) -> Optional[str]:
        """The branch this object reads and commits (``None``: the main line)."""
        return self._ds.branch

    @property
    def branches(self) -> "Branches":
        """Branches: ``list``, ``list_ordered``, ``delete``."""
        return Branches(self)

    def create_branch(
        self, branch: str, reference: Any = None, storage_options: Optional[Dict[str, str]] = None
    ) -> "PilumDataset":
        """Creates `branch` from `reference` (a version of this branch, a tag, or
        ``(branch, version)`` with ``None``/``"main"`` for the main line and
        ``None`` for the latest; default: this branch's latest version) and returns
        the dataset on it. Costs one small write whatever the table's size; the
        branch shares every file with its parent and writes its own under
        ``tree/``. `storage_options` must match this dataset's when given."""
        _same_storage(self, storage_options, "create_branch")
        return self._wrap(self._ds.create_branch(branch, reference_arg(reference, optional=True)))

    def shallow_clone(
        self, target_path: Any, reference: Any, storage_options: Optional[Dict[str, str]] = None, **kwargs: Any
    ) -> "PilumDataset":
        """A new dataset at `target_path` whose first version is `reference` of this
        one, its files referenced in place (nothing is copied). Writes to the clone
        stay in the clone; this dataset's cleanup keeps the cloned version while the
        clone exists. Other keyword arguments are ``dataset``'s, for opening the
        clone (as pylance)."""
        return self._clone(target_path, reference, storage_options, kwargs, deep=False)

    def deep_clone(
        self, target_path: Any, reference: Any, storage_options: Optional[Dict[str, str]] = None, **kwargs: Any
    ) -> "PilumDataset":
        """A new dataset at `target_path` whose first version is `reference` of this
        one, with every file copied (server-side within one store). Other keyword
        arguments are ``dataset``'s, for opening the clone (as pylance)."""
        return self._clone(target_path, reference, storage_options, kwargs, deep=True)

    def _clone(self, target: Any, reference: Any, storage_options: Any, kwargs: Dict[str, Any], deep: bool) -> "PilumDataset":
        name = "deep_clone" if deep else "shallow_clone"
        # Like pylance, the clone is opened with `kwargs` (``dataset``'s
        # arguments); they are checked before anything is written.
        open_kwargs = dict(kwargs)
        index_cache_bytes = _check_open_kwargs(name, open_kwargs)
        target = os.fspath(target)
        options = dict(storage_options) if storage_options else self._storage_options
        native = self._ds.clone_to(target, reference_arg(reference), deep, options)
        extra = {} if index_cache_bytes is None else {"index_cache_size_bytes": index_cache_bytes}
        return PilumDataset(target, storage_options=options, _native_dataset=native, **extra)

    @property
    def tags(self) -> "Tags":
        """Named versions: ``create``, ``update``, ``delete``, ``list``, ``get_version``."""
        return Tags(self)

    @property
    def data_storage_version(self) -> str:
        """The Pilum file format version (``"major.minor"``) of this version's data files:
        the newest among them, or the one this library writes when there are none."""
        return self._ds.data_storage_version

    def checkout_version(self, version: Any) -> "PilumDataset":
        """This dataset at `version`: a number (on this branch), a tag name, or
        ``(branch, version)`` (``None``/``"main"`` for the main line, ``None``
        for the latest version)."""
        return self._wrap(self._ds.checkout_ref(reference_arg(version)))

    def checkout_latest(self) -> "PilumDataset":
        """This dataset at its newest version."""
        return self._wrap(self._ds.checkout(latest=True))

    def restore(self) -> None:
        """Commits this (older) version as the newest version."""
        self._ds.restore()

    def update_config(self, values: Dict[str, Optional[str]]) -> None:
        """Sets (or, with ``None``, removes) dataset configuration keys; commits a version."""
        self._ds.update_config(values)

    # --- reading ------------------------------------------------------------------------------

    def count_rows(self, filter: Any = None, **kwargs: Any) -> int:
        """Number of live rows (matching `filter`); other arguments as for ``scanner``."""
        if not kwargs and (filter is None or isinstance(filter, str)):
            # Straight to the manifest count or one filtered native count.
            return self._ds.count_rows(filter)
        return super().count_rows(filter, **kwargs)

    @staticmethod
    def commit(base_uri: Any, operation: Any, read_version: Optional[int] = None, **kwargs: Any) -> "PilumDataset":
        """pylance's ``LanceDataset.commit``: commits `operation`
        (``LanceOperation.Append(fragments)`` or ``.Overwrite(schema,
        fragments)``, fragments from ``write_fragments``) as one version, on
        top of `read_version` (latest when None). ``storage_options`` as for
        ``dataset``; ``commit_lock``, ``enable_v2_manifest_paths`` and
        ``max_retries`` are accepted no-ops."""
        from .distributed import commit

        return commit(base_uri, operation, read_version, **kwargs)

    def to_table(self, columns: Any = None, filter: Any = None, limit: Optional[int] = None, offset: Optional[int] = None, **kwargs: Any) -> pa.Table:
        """The rows as a ``pyarrow.Table``; arguments as for ``scanner``."""
        # A one-kind search with plain arguments skips the scanner object (same functions, same results).
        table = direct_search(self, columns, filter, limit, offset, kwargs)
        if table is not None:
            return table
        return super().to_table(columns, filter, limit, offset, **kwargs)

    def scanner(
        self,
        columns: Optional[Union[List[str], Dict[str, str]]] = None,
        filter: Filter = None,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        *,
        batch_size: Optional[int] = None,
        fragments: Optional[Iterable[Union[int, PilumFragment]]] = None,
        with_row_id: Optional[bool] = False,
        with_row_address: Optional[bool] = False,
        late_materialization: Any = None,
        order_by: Any = None,
        strict_batch_size: Optional[bool] = False,
        nearest: Optional[dict] = None,
        prefilter: Optional[bool] = None,
        fast_search: Optional[bool] = None,
        full_text_query: Any = None,
        use_scalar_index: Optional[bool] = None,
        _view_filters: tuple = (),
        **kwargs: Any,
    ) -> PilumScanner:
        """A scan of this version.

        `columns` is a list of names or ``{name: SQL expression}``; `filter` a
        SQL predicate or a pyarrow expression. `order_by` sorts by column names
        (ascending, nulls last) or ``ColumnOrdering`` keys; with `limit` it runs
        as a top-k. ``strict_batch_size=True`` makes every batch but the last
        exactly `batch_size` rows. `late_materialization` is a hint (pylance's
        per-column list form means "on"). Accepted no-ops (pyarrow's and pylance's
        engine tuning): ``batch_readahead``, ``fragment_readahead``,
        ``use_threads``, ``cache_metadata``, ``memory_pool``,
        ``io_buffer_size``, ``scan_in_order``, ``use_stats``,
        ``batch_size_bytes``. ``use_scalar_index=False`` makes the filter
        ignore scalar indices (BTREE, BITMAP, LABEL_LIST, NGRAM, ZONEMAP),
        which it otherwise uses; results are the same (searches' pre-filters
        always use them). `nearest` is pylance's
        vector search (``{"column", "q", "k"=10, "metric", "nprobes",
        "refine_factor", "use_index"}``; results gain ``_distance``, nearest
        first). It uses a vector index on the column when one exists (defaults
        calibrated at build time) and compares rows no index covers exactly;
        ``fast_search=True`` searches indexed fragments only, ``use_index=False``
        compares every row exactly. ``ef`` is the graph search width of an
        IVF_HNSW_SQ index; ``maximum_nprobes`` is an accepted no-op (probing
        widens only while too few candidates pass). `prefilter=True` applies `filter` before the search, else to its
        k results. `full_text_query` is a string (matched in every column
        with an inverted index), a ``pilum.query`` object or pylance's dict
        ``{"query", "columns"}``; results gain ``_score`` (BM25), best first,
        `limit` of them (all matches when None). With both `nearest` and
        `full_text_query` the scan is a hybrid search: both pre-filtered by
        `filter`, fused by Reciprocal Rank Fusion, `limit` rows (default the
        nearest query's k) with ``_relevance_score`` (``hybrid_search`` offers
        weighted fusion and a reranker).
        """
        check_kwargs("scanner", kwargs, SCAN_NOOPS, SCAN_UNSUPPORTED)
        fragment_ids = None
        if fragments is not None:
            fragment_ids = [f.fragment_id if isinstance(f, PilumFragment) else int(f) for f in fragments]
        return PilumScanner(
            self,
            columns=columns,
            filter=filter,
            limit=limit,
            offset=offset,
            batch_size=batch_size,
            fragments=fragment_ids,
            with_row_id=bool(with_row_id),
            with_row_address=bool(with_row_address),
            late_materialization=late_materialization,
            order_by=order_by,
            strict_batch_size=bool(strict_batch_size),
            view_filters=_view_filters,
            nearest=nearest,
            prefilter=prefilter,
            fast_search=fast_search,
            full_text_query=full_text_query,
            use_scalar_index=use_scalar_index,
        )

    def _take_rows(self, row_ids: Any, columns: Optional[List[str]] = None, **kwargs: Any) -> pa.Table:
        """Rows with stable row ids `row_ids` (the ``_rowid`` column), in that order.
        ``ignore_deletions`` is accepted and changes nothing for live ids."""
        check_kwargs("take_rows", kwargs, TAKE_ROWS_NOOPS)
        if isinstance(columns, dict):
            raise NotImplementedError("take_rows(): columns given as SQL expressions are not supported by Pilum; scan with a filter instead")
        return pa.table(self._ds.take_rows(index_list(row_ids), columns))

    take_rows = _take_rows

    def take_blobs(
        self,
        blob_column: str,
        ids: Any = None,
        addresses: Any = None,
        indices: Any = None,
        **kwargs: Any,
    ) -> List[Optional[BlobFile]]:
        """Opens blob values as lazy file-like objects, by row id (`ids`) or position (`indices`).

        A null value gives ``None``. Only 16 bytes per blob are read until the
        file is read. ``buffer_size`` is accepted and changes nothing.
        """
        check_kwargs("take_blobs", kwargs, TAKE_BLOBS_NOOPS)
        if addresses is not None:
            raise NotImplementedError("take_blobs(): addresses= is not supported by Pilum; pass ids or indices")
        if (ids is None) == (indices is None):
            raise ValueError("pass exactly one of ids and indices")
        natives = self._ds.take_blobs(
            blob_column,
            indices=None if indices is None else index_list(indices),
            ids=None if ids is None else index_list(ids),
        )
        return [None if n is None else BlobFile(n) for n in natives]

    def get_fragments(self, filter: Filter = None) -> List[PilumFragment]:
        """The fragments of this version; with `filter`, those holding a matching row."""
        fragments = [PilumFragment(self, *entry) for entry in self._ds.fragments()]
        if filter is None:
            return fragments
        return [f for f in fragments if f.scanner(filter=filter, limit=1).count_rows() > 0]

    def get_fragment(self, fragment_id: int) -> Optional[PilumFragment]:
        """The fragment with id `fragment_id`, if present."""
        return next((f for f in self.get_fragments() if f.fragment_id == fragment_id), None)

    # --- maintenance --------------------------------------------------------------------------

    @property
    def optimize(self) -> "DatasetOptimizer":
        """Compaction: ``ds.optimize.compact_files(...)``."""
        return DatasetOptimizer(self)

    def cleanup_old_versions(
        self,
        older_than: Optional[_dt.timedelta] = None,
        *,
        error_if_tagged_old_versions: bool = False,
        progress: Any = None,
        **kwargs: Any,
    ) -> CleanupStats:
        """Deletes this branch's versions older than `older_than` (default 14 days)
        except the latest, tagged ones, fork points of branches and versions
        shallow clones use; then the files no remaining version of any branch uses.
        Files no version ever used (a write in flight, or a failed one) are kept
        for 7 days unless ``delete_unverified=True`` (unsafe while writes run).

        With ``error_if_tagged_old_versions=True`` (pylance's default) a tagged
        version older than `older_than` raises ``ValueError`` instead of being
        kept silently. ``delete_rate_limit`` and ``delete_concurrency`` are
        accepted and change nothing.
        """
        return cleanup_old_versions(self, older_than, error_if_tagged_old_versions, progress, kwargs)

    # --- SQL ----------------------------------------------------------------------------------

    def __datafusion_table_provider__(self, session: Any) -> Any:
        """A DataFusion FFI table provider over this version, so that
        ``datafusion.SessionContext().register_table(name, ds)`` (datafusion-python
        55) queries it with projection, filter and limit pushdown; ``INSERT INTO``
        through it appends one version."""
        return self._ds.__datafusion_table_provider__(session)

    def sql(self, query: str) -> pa.Table:
        """Runs SQL with this dataset (at this version) as table ``dataset``."""
        from .sql import Session

        session = Session()
        session.register("dataset", self)
        return session.sql(query)


seal(PilumDataset, pds.FileSystemDataset, NATIVE_SCAN_HINTS)
seal(PilumDataset, pds.Dataset, NATIVE_SCAN_HINTS)
