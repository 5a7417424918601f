"""Helpers shared by the test modules (oracles and data generators)."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any, List

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def make_table(n: int, seed: int = 0) -> pa.Table:
    """A deterministic table with nulls in several columns.

    Columns: ``id`` (int64, 0..n-1, unique), ``grp`` (int32, 0..9), ``value``
    (float64, ~10% null), ``name`` (string, ~10% null, a few with quotes),
    ``flag`` (bool, ~5% null).
    """
    rng = np.random.default_rng(seed)
    ids = np.arange(n, dtype=np.int64)
    grp = rng.integers(0, 10, n).astype(np.int32)
    value = rng.normal(0.0, 1.0, n)
    value_mask = rng.random(n) < 0.1
    names = [f"name{int(k)}" for k in rng.integers(0, 37, n)]
    for i in range(0, n, 97):
        names[i] = "it's \"quoted\""
    name_mask = rng.random(n) < 0.1
    flag = rng.random(n) < 0.5
    flag_mask = rng.random(n) < 0.05
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "grp": pa.array(grp, pa.int32()),
            "value": pa.array(value, pa.float64(), mask=value_mask),
            "name": pa.array(names, pa.string(), mask=name_mask),
            "flag": pa.array(flag, pa.bool_(), mask=flag_mask),
        }
    )


def sort_by(table: pa.Table, *keys: str) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in keys])


def ids(table: pa.Table, column: str = "id") -> List[int]:
    return table[column].to_pylist()


def rows(table: pa.Table) -> List[dict]:
    """Rows as dicts with NaN normalised (so NaN == NaN)."""

    def norm(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return "NaN"
        return v

    return [{k: norm(v) for k, v in r.items()} for r in table.to_pylist()]


def assert_tables_equal(actual: pa.Table, expected: pa.Table, *, check_types: bool = True) -> None:
    """Same column names, same values in the same order (chunking ignored)."""
    assert actual.column_names == expected.column_names
    if check_types:
        assert [f.type for f in actual.schema] == [f.type for f in expected.schema], (actual.schema, expected.schema)
    assert actual.num_rows == expected.num_rows
    assert rows(actual) == rows(expected)


def oracle_filter(table: pa.Table, expr: pc.Expression) -> pa.Table:
    return table.filter(expr)


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter; returns the completed process."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
    )
