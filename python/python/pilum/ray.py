"""Ray Data on Pilum datasets: ``read_pilum`` (one read task per group of
fragments, projection and filter pushed into Pilum's scanner, every task
reading the same pinned version), ``write_pilum`` (workers write fragments,
the driver commits once) and ``add_columns`` (new columns computed per
fragment on Ray tasks, committed once, existing data files untouched).

Needs ``ray[data]``; ``import pilum`` alone never imports Ray::

    import pilum.ray
    rows = pilum.ray.read_pilum("/data/images", columns=["id", "caption"], filter="id < 1000")
    pilum.ray.write_pilum(rows, "/data/copy", mode="create")
"""

from __future__ import annotations

import copy
import os
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import pyarrow as pa
import pyarrow.compute as pc
import ray.data
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from . import errors
from ._ray_sink import PilumDatasink, add_columns, check_count, write_pilum
from .dataset import PilumDataset

__all__ = ["PilumDatasource", "PilumDatasink", "read_pilum", "write_pilum", "add_columns"]

#: ``scanner_options`` keys ``read_pilum`` passes to ``PilumDataset.scanner``.
SCANNER_OPTIONS = frozenset({"batch_size", "use_scalar_index", "late_materialization"})


class _Fragment(NamedTuple):
    """What the driver knows of one fragment, without reading it."""

    fragment_id: int
    live_rows: int
    file_bytes: int
    physical_rows: int
    files: Tuple[str, ...]


class PilumDatasource(Datasource):
    """A ``ray.data.Datasource`` over one version of a Pilum dataset (the
    latest when `version` is None, pinned at construction). Ray's projection
    (``select_columns``) and expression filters (``filter(expr=...)``) are
    pushed into the scan, on top of `columns` and `filter` (SQL string or
    pyarrow expression). ``fragments_per_task`` fixes the grouping;
    otherwise Ray's parallelism gives min(parallelism, fragments) tasks."""

    def __init__(
        self,
        uri: Union[str, os.PathLike],
        *,
        columns: Optional[Sequence[str]] = None,
        filter: Union[str, pc.Expression, None] = None,
        version: Optional[Union[int, str]] = None,
        storage_options: Optional[Dict[str, str]] = None,
        fragments_per_task: Optional[int] = None,
        scanner_options: Optional[Dict[str, Any]] = None,
    ):
        super().__init__()
        if columns is not None and (isinstance(columns, str) or not all(isinstance(c, str) for c in columns)):
            raise TypeError(f"read_pilum: columns must be a list of column names, got {columns!r}")
        if filter is not None and not isinstance(filter, (str, pc.Expression)):
            raise TypeError(f"read_pilum: filter must be a SQL string or a pyarrow Expression, not {type(filter).__name__}")
        check_count("read_pilum", "fragments_per_task", fragments_per_task)
        options = dict(scanner_options or {})
        unknown = sorted(set(options) - SCANNER_OPTIONS)
        if unknown:
            raise TypeError(f"read_pilum: scanner_options {unknown} are not accepted (only {sorted(SCANNER_OPTIONS)})")
        dataset = PilumDataset(uri, version=version, storage_options=storage_options)
        self._uri, self._version = dataset.uri, dataset.version
        self._storage_options = dict(storage_options) if storage_options else None
        self._filter, self._options = filter, options
        self._fragments_per_task = fragments_per_task
        self._projection_map = None if columns is None else {name: name for name in columns}
        self._dataset_schema = dataset.schema
        self._fragments = [_Fragment(f.fragment_id, f.count_rows(), sum(f.data_file_sizes()), f.physical_rows, tuple(f.data_files()))
                           for f in dataset.get_fragments()]
        self._check_filter(dataset, filter)
        self._output_schema()  # an unknown column fails here, not on a worker

    # --- Ray's pushdown hooks -------------------------------------------------------------

    def supports_projection_pushdown(self) -> bool:
        return True

    def supports_predicate_pushdown(self) -> bool:
        return True

    def apply_projection(self, projection_map: Optional[Dict[str, str]]) -> "PilumDatasource":
        """A copy reading only the columns `projection_map` names (in its order)."""
        clone = copy.copy(self)
        if projection_map is not None:
            keep = projection_map if self._projection_map is None else [n for n in projection_map if n in self._projection_map]
            clone._projection_map = {name: name for name in keep}
        return clone

    # --- reading --------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The dataset version every read task reads."""
        return self._version

    def _columns(self) -> Optional[List[str]]:
        return None if self._projection_map is None else list(self._projection_map)

    def _output_schema(self) -> pa.Schema:
        columns = self._columns()
        if columns is None:
            return self._dataset_schema
        missing = [c for c in columns if c not in self._dataset_schema.names]
        if missing:
            raise errors.ColumnNotFoundError(
                f"read_pilum: no column {missing[0]!r} in {self._uri} (columns: {self._dataset_schema.names})")
        return pa.schema([self._dataset_schema.field(c) for c in columns])

    def _check_filter(self, dataset: PilumDataset, filter: Any) -> None:
        if isinstance(filter, pc.Expression):
            try:
                self._dataset_schema.empty_table().filter(filter)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
                raise errors.InvalidFilterError(f"read_pilum: filter {filter} does not apply to {self._uri}: {error}") from None
        elif isinstance(filter, str):
            dataset.scanner(filter=filter, limit=0).to_table()  # parses and binds the SQL

    def _filters(self) -> List[Any]:
        predicate = self.get_current_predicate()
        return [f for f in (self._filter, None if predicate is None else predicate.to_pyarrow()) if f is not None]

    def _estimate(self, fragment: _Fragment, schema: pa.Schema) -> int:
        """Bytes in memory of `fragment`'s live rows in `schema`: exact for
        fixed-width columns, variable-width ones share the rest of the file bytes."""
        widths = {f.name: _fixed_width(f.type) for f in self._dataset_schema}
        variable = [name for name, width in widths.items() if width is None]
        fixed_total = sum(w for w in widths.values() if w is not None)
        per_row = fragment.file_bytes / max(fragment.physical_rows, 1)
        per_variable = max(0.0, per_row - fixed_total) / max(len(variable), 1) + 4  # + an offset
        row = sum(widths[f.name] if widths.get(f.name) is not None else per_variable for f in schema)
        return int(fragment.live_rows * row)

    def estimate_inmemory_data_size(self) -> Optional[int]:
        schema = self._output_schema()
        return sum(self._estimate(f, schema) for f in self._fragments)

    def get_read_tasks(self, parallelism: int, per_task_row_limit: Optional[int] = None, data_context: Any = None) -> List[ReadTask]:
        """One task per group of fragments: ``fragments_per_task`` each, or
        min(`parallelism`, fragments) groups of consecutive fragments."""
        schema, filters = self._output_schema(), self._filters()
        fragments = self._fragments
        if self._fragments_per_task is not None:
            size = self._fragments_per_task
            groups = [fragments[i:i + size] for i in range(0, len(fragments), size)]
        else:
            count = max(1, min(int(parallelism), len(fragments))) if parallelism and parallelism > 0 else len(fragments)
            groups = [fragments[len(fragments) * g // count:len(fragments) * (g + 1) // count] for g in range(count)]
        groups = [g for g in groups if g] or [[]]
        tasks = []
        for group in groups:
            rows = None if filters else sum(f.live_rows for f in group)
            if rows is not None and per_task_row_limit is not None:
                rows = min(rows, per_task_row_limit)
            metadata = BlockMetadata(
                num_rows=rows,
                size_bytes=sum(self._estimate(f, schema) for f in group),
                input_files=tuple(f"{self._uri.rstrip('/')}/{path}" for f in group for path in f.files),
                exec_stats=None,
            )
            args = (self._uri, self._version, self._storage_options, [f.fragment_id for f in group], self._columns(),
                    filters, per_task_row_limit, self._options, schema)
            tasks.append(ReadTask(lambda args=args: _read_group(*args), metadata, schema=schema,
                                  per_task_row_limit=per_task_row_limit))
        return tasks


def _fixed_width(type_: pa.DataType) -> Optional[float]:
    """Bytes per value of a fixed-width type (None for variable width)."""
    if pa.types.is_fixed_size_list(type_):
        inner = _fixed_width(type_.value_type)
        return None if inner is None else inner * type_.list_size
    if pa.types.is_boolean(type_):
        return 0.125
    try:
        return type_.bit_width / 8
    except ValueError:
        return None


def _read_group(uri: str, version: int, storage_options: Optional[Dict[str, str]], ids: List[int], columns: Optional[List[str]],
                filters: List[Any], limit: Optional[int], options: Dict[str, Any], schema: pa.Schema) -> Iterator[pa.Table]:
    """Runs on a Ray worker: the rows of fragments `ids` at `version`."""
    if not ids:
        yield schema.empty_table()
        return
    dataset = PilumDataset(uri, version=version, storage_options=storage_options)
    first, rest = (filters[0], tuple(filters[1:])) if filters else (None, ())
    scanner = dataset.scanner(columns=columns, filter=first, limit=limit, fragments=ids, _view_filters=rest, **options)
    empty = True
    for batch in scanner.to_batches():
        empty = False
        yield pa.Table.from_batches([batch])
    if empty:
        yield schema.empty_table()


def read_pilum(
    uri: Union[str, os.PathLike],
    *,
    columns: Optional[Sequence[str]] = None,
    filter: Union[str, pc.Expression, None] = None,
    version: Optional[Union[int, str]] = None,
    storage_options: Optional[Dict[str, str]] = None,
    scanner_options: Optional[Dict[str, Any]] = None,
    fragments_per_task: Optional[int] = None,
    concurrency: Optional[int] = None,
    override_num_blocks: Optional[int] = None,
    num_cpus: Optional[float] = None,
    num_gpus: Optional[float] = None,
    memory: Optional[float] = None,
    ray_remote_args: Optional[Dict[str, Any]] = None,
) -> "ray.data.Dataset":
    """A ``ray.data.Dataset`` of the Pilum dataset at `uri` (at `version`, a
    number or tag; the latest when None, pinned when this is called).
    `columns` and `filter` (SQL or pyarrow expression) run in Pilum's
    scanner; ``scanner_options`` may hold ``batch_size``,
    ``use_scalar_index`` and ``late_materialization``. One read task per
    ``fragments_per_task`` fragments, or per group when
    ``override_num_blocks`` (the task count, at most one per fragment) is
    given (not both). ``concurrency``, ``num_cpus``, ``num_gpus``,
    ``memory`` and ``ray_remote_args`` go to ``ray.data.read_datasource``."""
    if fragments_per_task is not None and override_num_blocks is not None:
        raise ValueError("read_pilum: pass fragments_per_task or override_num_blocks, not both")
    check_count("read_pilum", "override_num_blocks", override_num_blocks)
    check_count("read_pilum", "concurrency", concurrency)
    source = PilumDatasource(uri, columns=columns, filter=filter, version=version, storage_options=storage_options,
                             fragments_per_task=fragments_per_task, scanner_options=scanner_options)
    extra = {} if ray_remote_args is None else {"ray_remote_args": ray_remote_args}
    return ray.data.read_datasource(source, concurrency=concurrency, override_num_blocks=override_num_blocks,
                                    num_cpus=num_cpus, num_gpus=num_gpus, memory=memory, **extra)
