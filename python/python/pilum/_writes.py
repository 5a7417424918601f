"""Writes to a dataset: each commits one version and moves the dataset object to it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Union

import pyarrow as pa
import pyarrow.compute as pc

from ._data import ReaderLike, to_reader
from .merge_insert import MergeInsertBuilder

if TYPE_CHECKING:
    from .scanner import Filter

__all__ = ["DatasetWrites"]


def _filter_sql(filter: "Filter", schema: pa.Schema) -> Optional[str]:
    """A SQL predicate from a SQL string or an exactly translatable pyarrow expression."""
    if filter is None or isinstance(filter, str):
        return filter
    if isinstance(filter, pc.Expression):
        from ._expr import expression_to_sql

        sql = expression_to_sql(filter, schema)
        if sql is None:
            raise ValueError(f"cannot translate {filter} to SQL; pass the predicate as a SQL string")
        return sql
    raise TypeError(f"filter must be a SQL string or a pyarrow Expression, not {type(filter).__name__}")


class DatasetWrites:
    """Row and schema changes of ``PilumDataset`` (``self._ds`` is its native handle)."""

    _ds: Any
    _uri: str
    _storage_options: Optional[Dict[str, str]]
    schema: pa.Schema

    def insert(self, data: ReaderLike, *, mode: str = "append", **kwargs: Any) -> None:
        """Appends (or with ``mode="overwrite"`` replaces) rows; commits a version."""
        from . import write_dataset

        written = write_dataset(data, self, mode=mode, **kwargs)
        self._ds = written._ds

    def delete(self, predicate: "Filter") -> Dict[str, int]:
        """Deletes rows matching `predicate`; returns ``{"num_deleted_rows": n}``."""
        sql = _filter_sql(predicate, self.schema)
        if sql is None:
            raise ValueError("delete needs a predicate")
        return {"num_deleted_rows": self._ds.delete(sql)}

    def update(self, updates: Dict[str, str], where: "Filter" = None) -> Dict[str, int]:
        """Sets columns to SQL expressions on rows matching `where`; returns ``{"num_rows_updated": n}``."""
        if not updates:
            raise ValueError("update needs at least one column")
        return {"num_rows_updated": self._ds.update(list(updates.items()), _filter_sql(where, self.schema))}

    def merge_insert(self, on: Union[str, Iterable[str]]) -> MergeInsertBuilder:
        """An upsert keyed on `on` (a column or columns); configure it, then ``execute(data)``."""
        if on is None:
            raise ValueError("merge_insert needs the key column(s) `on`")
        return MergeInsertBuilder(self, [on] if isinstance(on, str) else list(on))

    def add_columns(
        self,
        transforms: Any,
        read_columns: Optional[List[str]] = None,
        reader_schema: Optional[pa.Schema] = None,
        batch_size: Optional[int] = None,
    ) -> None:
        """Adds columns without rewriting existing data.

        `transforms` is ``{name: SQL expression}`` (one new file per fragment,
        holding only the new columns), or a ``pa.Field``, list of fields or
        ``pa.Schema`` (all-null columns: metadata only). `batch_size` is
        accepted and changes nothing; `read_columns` and `reader_schema`
        belong to pylance's Python-function transforms, which Pilum lacks.
        """
        for name, value in (("read_columns", read_columns), ("reader_schema", reader_schema)):
            if value is not None:
                raise NotImplementedError(
                    f"add_columns(): {name}= applies to Python-function transforms, which Pilum does not support; "
                    "pass {name: SQL expression}"
                )
        if isinstance(transforms, dict):
            self._ds.add_columns_sql([(str(k), str(v)) for k, v in transforms.items()])
        elif isinstance(transforms, pa.Field):
            self._ds.add_columns_null(pa.schema([transforms]))
        elif isinstance(transforms, pa.Schema):
            self._ds.add_columns_null(transforms)
        elif isinstance(transforms, list) and all(isinstance(f, pa.Field) for f in transforms):
            self._ds.add_columns_null(pa.schema(transforms))
        else:
            raise TypeError("add_columns takes {name: SQL expression}, a pa.Field, a list of fields or a pa.Schema")

    def drop_columns(self, columns: List[str]) -> None:
        """Drops columns (metadata only: no data is rewritten)."""
        self._ds.drop_columns(list(columns))

    def alter_columns(self, *alterations: Dict[str, Any]) -> None:
        """Renames (``name``), changes ``nullable`` or casts (``data_type``) columns given by ``path``."""
        converted = []
        for alteration in alterations:
            unknown = set(alteration) - {"path", "name", "nullable", "data_type"}
            if unknown or "path" not in alteration:
                raise ValueError(f"an alteration has a 'path' and any of name/nullable/data_type; got {alteration}")
            converted.append(
                (alteration["path"], alteration.get("name"), alteration.get("nullable"), alteration.get("data_type"))
            )
        self._ds.alter_columns(converted)

    def merge(self, data_obj: ReaderLike, left_on: str, right_on: Optional[str] = None, schema: Any = None) -> None:
        """Adds the other columns of `data_obj`, joined on ``left_on`` = ``right_on``."""
        self._ds.merge(to_reader(data_obj, schema), left_on, right_on or left_on)
