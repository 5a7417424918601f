"""``FilteredDataset``: what ``PilumDataset.filter`` returns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Tuple

import pyarrow as pa
import pyarrow.dataset as pds

from ._native_placeholder import NATIVE_SCAN_HINTS, init_placeholder
from ._pyarrow_base import seal
from ._reads import DatasetReads

if TYPE_CHECKING:
    from .dataset import PilumDataset
    from .scanner import PilumScanner

__all__ = ["FilteredDataset"]


class FilteredDataset(DatasetReads, pds.FileSystemDataset):
    """A read-only view of one dataset version: every read (``scanner``,
    ``to_table``, ``count_rows``, ``take``, ``head``, DuckDB, Polars, ...)
    keeps only the rows where all of its filters hold. Filters are SQL
    predicates or pyarrow expressions; ``filter`` narrows the view further.
    """

    def __init__(self, dataset: Any, *expressions: Any):
        if isinstance(dataset, FilteredDataset):
            base, filters = dataset._dataset, dataset._filters + expressions
        else:
            base, filters = dataset, expressions
        self._dataset: "PilumDataset" = base
        self._filters: Tuple[Any, ...] = tuple(filters)
        init_placeholder(self, base.schema)
        self.scanner()  # type-checks and translates the filters now

    def __reduce__(self) -> Any:
        return (FilteredDataset, (self._dataset, *self._filters))

    def __repr__(self) -> str:
        return f"FilteredDataset({self._dataset!r}, filters={list(self._filters)!r})"

    @property
    def dataset(self) -> "PilumDataset":
        """The unfiltered dataset."""
        return self._dataset

    @property
    def filters(self) -> List[Any]:
        """The filters every read applies, in the order given."""
        return list(self._filters)

    @property
    def schema(self) -> pa.Schema:
        """The dataset's schema."""
        return self._dataset.schema

    def scanner(self, columns: Any = None, filter: Any = None, limit: Optional[int] = None, offset: Optional[int] = None, **kwargs: Any) -> "PilumScanner":
        """A scan of the view: `filter` applies on top of the view's filters;
        other arguments as for ``PilumDataset.scanner``."""
        return self._dataset.scanner(columns, filter, limit, offset, _view_filters=self._filters, **kwargs)

    def get_fragments(self, filter: Any = None) -> Any:
        """Not available on a view: its fragments would still hold the rows it filters out."""
        raise ValueError("a filtered view has no fragments of its own; use view.dataset.get_fragments(filter=...)")


seal(FilteredDataset, pds.FileSystemDataset, NATIVE_SCAN_HINTS)
seal(FilteredDataset, pds.Dataset, NATIVE_SCAN_HINTS)
