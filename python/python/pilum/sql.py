"""SQL over datasets through DataFusion."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Union

import pyarrow as pa

from . import _native

__all__ = ["Session", "quote_identifier"]


def quote_identifier(name: str) -> str:
    """`name` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


class Session:
    """A SQL session: register datasets by name, then query them together.

    >>> session = pilum.Session()
    >>> session.register("images", "/data/images")
    >>> session.sql("SELECT label, count(*) FROM images GROUP BY label")
    """

    def __init__(self, *, ordered: bool = False) -> None:
        """With `ordered`, queries run on one partition, so rows keep scan order
        (fragment order) through projections, filters, LIMIT and OFFSET."""
        self._session = _native._Session(ordered)

    def register(
        self,
        name: str,
        dataset: Union["Any", str, os.PathLike],
        *,
        version: Optional[Union[int, str]] = None,
        storage_options: Optional[Dict[str, str]] = None,
    ) -> None:
        """Makes `dataset` (a ``PilumDataset`` or a URI) queryable as table `name`."""
        from .dataset import PilumDataset

        if not isinstance(dataset, PilumDataset):
            dataset = PilumDataset(dataset, version=version, storage_options=storage_options)
        elif version is not None:
            dataset = dataset.checkout_version(version)
        self._session.register(name, dataset._ds)

    def sql(self, query: str) -> pa.Table:
        """Runs `query` and returns its rows. `INSERT`, `DELETE` and `UPDATE` on a registered
        dataset commit one version each; `pilum_scan('uri', version)` reads an older version."""
        return pa.table(self._session.sql(query))
