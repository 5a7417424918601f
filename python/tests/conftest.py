"""Shared fixtures for the pilum test suite.

Every dataset lives under pytest's ``tmp_path``; every random table comes
from a fixed seed, so runs are deterministic.
"""

from __future__ import annotations

import os
import sys

import pyarrow as pa
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from _helpers import make_table  # noqa: E402


import pilum  # noqa: E402,F401



def pytest_configure(config):
    config.addinivalue_line("markers", "s3: needs a local moto S3 server")
    config.addinivalue_line("markers", "subprocess: starts Python worker processes")


@pytest.fixture
def table() -> pa.Table:
    """1,000 rows: id, grp, value (nulls), name (nulls), flag (nulls)."""
    return make_table(1000, seed=7)


@pytest.fixture
def uri(tmp_path) -> str:
    return str(tmp_path / "ds")


@pytest.fixture
def ds(table, uri):
    """`table` written in 4 fragments (max 300 rows per file)."""
    return pilum.write_dataset(table, uri, max_rows_per_file=300)


@pytest.fixture
def small_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(10), pa.int64()),
            "name": pa.array([f"n{i}" for i in range(10)]),
            "x": pa.array([i / 2 for i in range(10)], pa.float64()),
        }
    )


@pytest.fixture
def small_ds(small_table, uri):
    return pilum.write_dataset(small_table, uri)
