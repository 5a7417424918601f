"""Exceptions raised by Pilum.

Every error from the Rust core arrives as one of these classes. Each derives
from :class:`PilumError` *and* from the natural built-in, so code written for
``FileNotFoundError`` or ``ValueError`` (as with pylance) keeps working.
"""

from __future__ import annotations

import re

__all__ = [
    "PilumError",
    "DatasetNotFoundError",
    "DatasetAlreadyExistsError",
    "ObjectNotFoundError",
    "VersionNotFoundError",
    "TagNotFoundError",
    "TagAlreadyExistsError",
    "InvalidTagNameError",
    "BranchNotFoundError",
    "BranchAlreadyExistsError",
    "InvalidBranchNameError",
    "BranchInUseError",
    "SchemaMismatchError",
    "ColumnNotFoundError",
    "InvalidFilterError",
    "InvalidArgumentError",
    "IndexNotFoundError",
    "IndexAlreadyExistsError",
    "InvalidIndexParamsError",
    "CommitConflictError",
    "UnsupportedVersionError",
    "CorruptFileError",
    "RowNotFoundError",
    "StorageError",
    "ExecutionError",
    "SqlError",
    "PilumInternalError",
]


class PilumError(Exception):
    """Base class of every Pilum error."""


class DatasetNotFoundError(PilumError, FileNotFoundError):
    """No dataset exists at the URI."""


class DatasetAlreadyExistsError(PilumError, FileExistsError):
    """``mode="create"`` found a dataset already there."""


class ObjectNotFoundError(PilumError, FileNotFoundError):
    """A file the dataset references is missing from storage."""


class VersionNotFoundError(PilumError, ValueError):
    """The requested version (or time) does not exist."""


class TagNotFoundError(PilumError, ValueError):
    """No tag of that name."""


class TagAlreadyExistsError(PilumError, ValueError):
    """A tag of that name exists already."""


class InvalidTagNameError(PilumError, ValueError):
    """Tag names are ``[A-Za-z0-9._-]``, without a leading ``.`` or ``-`` and without ``..``."""


class BranchNotFoundError(PilumError, ValueError):
    """No branch of that name (or it was deleted)."""


class BranchAlreadyExistsError(PilumError, ValueError):
    """A branch of that name exists already."""


class InvalidBranchNameError(PilumError, ValueError):
    """Branch names follow the tag rules, and ``main`` is reserved."""


class BranchInUseError(PilumError, ValueError):
    """A branch that child branches, tags or clones depend on cannot be deleted."""


class SchemaMismatchError(PilumError, ValueError):
    """Data does not match the dataset's schema."""


class ColumnNotFoundError(PilumError, ValueError):
    """A named column does not exist."""


class InvalidFilterError(PilumError, ValueError):
    """A filter or SQL expression does not parse or type-check."""


class InvalidArgumentError(PilumError, ValueError):
    """An argument is out of range or inconsistent."""


class IndexNotFoundError(PilumError, KeyError, RuntimeError):
    """No index has the name (a ``KeyError`` like pylance's ``index_statistics``
    and a ``RuntimeError`` like its ``drop_index``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class IndexAlreadyExistsError(PilumError, ValueError, RuntimeError):
    """An index with the name exists and ``replace=True`` was not given."""


class InvalidIndexParamsError(InvalidArgumentError):
    """Index parameters that do not fit the column, the data or each other."""


class CommitConflictError(PilumError, OSError):
    """A concurrent commit changed the rows this operation touched; retry it."""


class UnsupportedVersionError(PilumError, ValueError):
    """The data needs a newer Pilum (unknown format version or features)."""


class CorruptFileError(PilumError, OSError):
    """A file's bytes are damaged or truncated."""


class RowNotFoundError(PilumError, IndexError):
    """A row index or row id is out of range or deleted."""


class StorageError(PilumError, OSError):
    """The storage backend failed (permissions, network, ...)."""


class ExecutionError(PilumError, RuntimeError):
    """Evaluating an expression failed at run time."""


class SqlError(PilumError, ValueError):
    """A SQL query failed to parse, plan or run."""


class PilumInternalError(PilumError, RuntimeError):
    """A bug in Pilum (a Rust panic caught at the boundary); please report it."""


_TAG = re.compile(r"\[pilum:(\w+)\] (.*)", re.S)


def reraise_tagged(error: BaseException) -> None:
    """Raises the ``pilum.errors`` class a scan error names (errors crossing an
    Arrow C stream arrive as ``[pilum:Class] message`` inside pyarrow's error);
    returns when `error` carries no such tag."""
    match = _TAG.search(str(error))
    if match is None:
        return
    cls = globals().get(match.group(1))
    if isinstance(cls, type) and issubclass(cls, PilumError):
        raise cls(match.group(2)) from error
