"""The merge-insert (upsert) builder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ._data import ReaderLike, to_reader

if TYPE_CHECKING:
    from .dataset import PilumDataset

__all__ = ["MergeInsertBuilder"]


class MergeInsertBuilder:
    """Configures an upsert of source rows into a dataset, keyed on ``on``.

    Without any ``when_*`` call nothing changes. Conditions are SQL over
    ``target.col`` and ``source.col``.
    """

    def __init__(self, dataset: "PilumDataset", on: List[str]):
        self._dataset = dataset
        self._on = on
        self._update_all = False
        self._update_condition: Optional[str] = None
        self._insert_all = False
        self._delete_by_source = False
        self._delete_condition: Optional[str] = None

    def when_matched_update_all(self, condition: Optional[str] = None) -> "MergeInsertBuilder":
        """Replace matched target rows by the source rows (when `condition` holds)."""
        self._update_all = True
        self._update_condition = condition
        return self

    def when_not_matched_insert_all(self) -> "MergeInsertBuilder":
        """Insert source rows whose key is not in the target."""
        self._insert_all = True
        return self

    def when_not_matched_by_source_delete(self, expr: Optional[str] = None) -> "MergeInsertBuilder":
        """Delete target rows whose key is not in the source (when `expr` holds)."""
        self._delete_by_source = True
        self._delete_condition = expr
        return self

    def execute(self, data_obj: ReaderLike, *, schema: Any = None) -> Dict[str, int]:
        """Runs the upsert, committing one version; returns the counts of
        ``num_inserted_rows``, ``num_updated_rows`` and ``num_deleted_rows``."""
        inserted, updated, deleted = self._dataset._ds.merge_insert(
            to_reader(data_obj, schema),
            self._on,
            self._update_all,
            self._update_condition,
            self._insert_all,
            self._delete_by_source,
            self._delete_condition,
        )
        return {"num_inserted_rows": inserted, "num_updated_rows": updated, "num_deleted_rows": deleted}
