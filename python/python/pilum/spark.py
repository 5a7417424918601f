"""A Spark data source for Pilum datasets (PySpark's Python data source API)::

    from pilum.spark import PilumDataSource
    spark.dataSource.register(PilumDataSource)
    df = spark.read.format("pilum").load(uri)              # the latest version, pinned
    df.write.format("pilum").mode("append").save(uri)      # one commit for the whole job

Reading: one Spark partition per fragment (``fragments_per_partition`` groups
them); every partition reads the version pinned when the DataFrame was
loaded. Spark does not prune the columns of Python data sources, so name
the columns to read with the ``columns`` option or a schema naming a subset
(``spark.read.schema("id BIGINT, text STRING").format("pilum")``). Filters
Spark pushes (``spark.sql.python.filterPushdown.enabled=true``) run in
Pilum's scan when they translate exactly, the others in Spark. Spark refuses
a reader that takes filters while that setting is false (its default): set
it, or pass ``push_filters=false``.

Writing (``append`` or ``overwrite``): each task writes fragments without
committing, the driver commits them all as one version: an append on top of
the version read when the write was planned (commits made since are
rebased over), an overwrite with the DataFrame's schema (columns keep their
stored Arrow type when Spark reads them as the same type). A failed job
commits nothing; ``cleanup_old_versions`` removes the files its tasks wrote.

Options: ``path`` (the argument of ``load``/``save``), ``storage.<key>``
(storage options; Spark lowercases option names); for reads also
``version`` (number or tag), ``columns`` (comma-separated),
``fragments_per_partition`` (default 1) and ``push_filters`` (default true).
Any other option raises ``InvalidArgumentError``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

import pyarrow as pa
from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    Filter,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.pandas.types import from_arrow_type, to_arrow_schema
from pyspark.sql.types import StructField, StructType

from . import write_dataset
from ._spark_filters import filters_to_sql
from .dataset import PilumDataset
from .distributed import FragmentMetadata, LanceOperation, write_fragments
from .errors import ColumnNotFoundError, DatasetNotFoundError, InvalidArgumentError, SchemaMismatchError

__all__ = ["PilumDataSource", "PilumReader", "PilumFilteringReader", "PilumWriter", "PilumCommitMessage", "spark_schema"]

_READ_OPTIONS = ("path", "version", "columns", "fragments_per_partition", "push_filters")
_WRITE_OPTIONS = ("path",)
_STORAGE = "storage."
#: Arrow types Spark has no type for, and the type they are read as.
_WIDER = {
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.decimal128(20, 0),
    pa.float16(): pa.float32(),
}


@dataclass(frozen=True)
class _Options:
    uri: str
    storage: Optional[Dict[str, str]]
    version: Optional[Union[int, str]] = None
    columns: Optional[List[str]] = None
    fragments_per_partition: int = 1
    push_filters: bool = True


def _parse_options(options: Mapping[str, str], known: Sequence[str], action: str) -> _Options:
    unknown = sorted(k for k in options if k.lower() not in known and not k.lower().startswith(_STORAGE))
    if unknown:
        raise InvalidArgumentError(
            f"pilum data source: unknown option(s) for {action}: {', '.join(unknown)} (known: {', '.join(known)}, storage.<key>)"
        )
    uri = options.get("path")
    if not uri:
        raise InvalidArgumentError(
            f"pilum data source: no path for {action}; pass the dataset URI to load()/save() or .option('path', uri)"
        )
    storage = {k[len(_STORAGE) :]: v for k, v in options.items() if k.lower().startswith(_STORAGE)} or None
    version: Optional[Union[int, str]] = options.get("version")
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version)
    columns = options.get("columns")
    names = [c.strip() for c in columns.split(",") if c.strip()] if columns is not None else None
    per_partition = options.get("fragments_per_partition", "1")
    if not str(per_partition).isdigit() or int(per_partition) < 1:
        raise InvalidArgumentError(f"pilum data source: fragments_per_partition must be an integer >= 1, not {per_partition!r}")
    push = str(options.get("push_filters", "true")).lower()
    if push not in ("true", "false"):
        raise InvalidArgumentError(f"pilum data source: push_filters must be true or false, not {push!r}")
    return _Options(str(uri), storage, version, names, int(per_partition), push == "true")


def _open(options: _Options, version: Optional[Union[int, str]]) -> PilumDataset:
    return PilumDataset(options.uri, version=version, storage_options=options.storage)


def _sparkable(t: pa.DataType) -> pa.DataType:
    """`t` with the types Spark lacks replaced by the ones they are read as."""
    if t in _WIDER:
        return _WIDER[t]
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return pa.list_(t.value_field.with_type(_sparkable(t.value_type)))
    if pa.types.is_struct(t):
        return pa.struct([t.field(i).with_type(_sparkable(t.field(i).type)) for i in range(t.num_fields)])
    if pa.types.is_map(t):
        return pa.map_(_sparkable(t.key_type), t.item_field.with_type(_sparkable(t.item_type)))
    return t


def spark_schema(schema: pa.Schema) -> StructType:
    """The Spark schema a dataset of Arrow `schema` reads as (unsigned
    integers widen to the next signed type, uint64 to DECIMAL(20,0), float16
    to FLOAT, fixed-size lists to arrays)."""
    return StructType([StructField(f.name, from_arrow_type(_sparkable(f.type)), f.nullable) for f in schema])


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """`batch`'s columns named in `schema`, in its order and of its types."""
    columns = []
    for field in schema:
        column = batch.column(field.name)
        if column.type != field.type:
            # Spark keeps microseconds: nanosecond timestamps lose their last digits.
            column = column.cast(field.type, safe=not pa.types.is_timestamp(field.type))
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _columns(schema: pa.Schema, names: Iterable[str]) -> pa.Schema:
    names = list(names)
    missing = [n for n in names if schema.get_field_index(n) < 0]
    if missing:
        raise ColumnNotFoundError(
            f"pilum data source: no column {', '.join(map(repr, missing))} in the dataset (columns: {schema.names})"
        )
    return pa.schema([schema.field(n) for n in names])


class _Fragments(InputPartition):
    """The ids of the fragments one Spark task reads (``value``)."""


class PilumReader(DataSourceReader):
    """Reads the columns of `schema` from one version of a dataset, a group
    of fragments per partition."""

    def __init__(self, options: _Options, version: Optional[Union[int, str]], schema: StructType):
        ds = _open(options, version)
        self._options = options
        #: The version every partition reads.
        self.version: int = ds.version
        #: The columns every partition reads.
        self.columns: List[str] = schema.fieldNames()
        _columns(ds.schema, self.columns)
        self._dataset_schema = ds.schema
        self._output = to_arrow_schema(schema, timezone="UTC")
        self._fragments = [f.fragment_id for f in ds.get_fragments()]
        #: The SQL filter of the pushed filters (None: no filter).
        self.filter: Optional[str] = None

    def partitions(self) -> List[InputPartition]:
        """One partition per ``fragments_per_partition`` fragments."""
        n = self._options.fragments_per_partition
        return [_Fragments(self._fragments[i : i + n]) for i in range(0, len(self._fragments), n)]

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        """The partition's rows as Arrow record batches of Spark's schema."""
        if not isinstance(partition, _Fragments):
            return  # Spark's stand-in partition for a dataset without fragments
        ds = _open(self._options, self.version)
        scanner = ds.scanner(columns=self.columns, filter=self.filter, fragments=partition.value)
        for batch in scanner.to_batches():
            if batch.num_rows:
                yield _conform(batch, self._output)


class PilumFilteringReader(PilumReader):
    """A ``PilumReader`` that also evaluates the filters Spark pushes."""

    def pushFilters(self, filters: List[Filter]) -> Iterable[Filter]:
        """Keeps the filters with an exact Pilum SQL translation; returns the others to Spark."""
        self.filter, rejected = filters_to_sql(filters, self._dataset_schema)
        #: The filters Pilum evaluates.
        self.pushed: List[Filter] = [f for f in filters if all(f is not r for r in rejected)]
        return rejected


class PilumCommitMessage(WriterCommitMessage):
    """The uncommitted fragments one Spark task wrote."""

    def __init__(self, fragments: List[FragmentMetadata]):
        self.fragments = fragments


class PilumWriter(DataSourceArrowWriter):
    """Spark tasks write uncommitted fragments; ``commit`` makes them one version."""

    def __init__(self, options: _Options, schema: pa.Schema, append: bool, read_version: Optional[int]):
        self._options = options
        #: The Arrow schema the fragments are written with.
        self.schema = schema
        #: True to append to the dataset, False to overwrite or create it.
        self.append = append
        #: The version the write started from (None: no dataset yet).
        self.read_version = read_version

    def write(self, iterator: Iterator[pa.RecordBatch]) -> PilumCommitMessage:
        """Writes one task's batches as fragments without committing them."""
        batches = (_conform(b, self.schema) for b in iterator if b.num_rows)
        first = next(batches, None)
        if first is None:
            return PilumCommitMessage([])
        reader = pa.RecordBatchReader.from_batches(self.schema, itertools.chain([first], batches))
        mode = "append" if self.append else "overwrite"
        fragments = write_fragments(reader, self._options.uri, schema=self.schema, mode=mode, storage_options=self._options.storage)
        return PilumCommitMessage(fragments)

    def commit(self, messages: List[Optional[WriterCommitMessage]]) -> None:
        """Commits every task's fragments as one version."""
        fragments = [f for m in messages if isinstance(m, PilumCommitMessage) for f in m.fragments]
        uri, storage = self._options.uri, self._options.storage
        if not fragments:
            if not self.append:  # an empty overwrite leaves an empty dataset
                write_dataset(self.schema.empty_table(), uri, mode="overwrite", storage_options=storage)
            return
        operation = LanceOperation.Append(fragments) if self.append else LanceOperation.Overwrite(self.schema, fragments)
        PilumDataset.commit(uri, operation, read_version=self.read_version, storage_options=storage)

    def abort(self, messages: List[Optional[WriterCommitMessage]]) -> None:
        """Commits nothing: no version references the tasks' files, which
        ``cleanup_old_versions`` removes."""


def _write_schema(spark: StructType, existing: Optional[pa.Schema], append: bool) -> pa.Schema:
    """The Arrow schema a write of a DataFrame of schema `spark` stores."""
    if append and existing is not None:
        missing, extra = set(existing.names) - set(spark.names), set(spark.names) - set(existing.names)
        if missing or extra:
            raise SchemaMismatchError(
                "pilum data source: an append must have the dataset's columns; "
                f"missing {sorted(missing)}, not in the dataset {sorted(extra)}"
            )
        return existing
    fields = []
    for field, spark_field in zip(to_arrow_schema(spark, timezone="UTC"), spark.fields):
        index = existing.get_field_index(field.name) if existing is not None else -1
        old = existing.field(index) if existing is not None and index >= 0 else None
        if old is not None and from_arrow_type(_sparkable(old.type)) == spark_field.dataType:
            fields.append(old.with_nullable(field.nullable))
        else:
            fields.append(field.remove_metadata())
    return pa.schema(fields)


class PilumDataSource(DataSource):
    """The ``pilum`` format of ``spark.read`` and ``DataFrame.write`` (see
    the module documentation for its options)."""

    @classmethod
    def name(cls) -> str:
        """``"pilum"``."""
        return "pilum"

    def schema(self) -> StructType:
        """The Spark schema of the dataset (its ``columns`` when given); pins the version read."""
        options = _parse_options(self.options, _READ_OPTIONS, "reading")
        ds = _open(options, options.version)
        self._pinned_version = ds.version  # travels with this object to every plan of the DataFrame
        return spark_schema(_columns(ds.schema, options.columns) if options.columns is not None else ds.schema)

    def reader(self, schema: StructType) -> DataSourceReader:
        """A reader of `schema`'s columns at the pinned version."""
        options = _parse_options(self.options, _READ_OPTIONS, "reading")
        version = getattr(self, "_pinned_version", None) or options.version
        return (PilumFilteringReader if options.push_filters else PilumReader)(options, version, schema)

    def writer(self, schema: StructType, overwrite: bool) -> PilumWriter:
        """A writer appending to (or, with `overwrite`, replacing or creating) the dataset."""
        options = _parse_options(self.options, _WRITE_OPTIONS, "writing")
        try:
            ds: Optional[PilumDataset] = _open(options, None)
        except DatasetNotFoundError:
            ds = None
        existing = ds.schema if ds is not None else None
        append = not overwrite and ds is not None
        return PilumWriter(options, _write_schema(schema, existing, append), append, ds.version if ds is not None else None)
