"""Branches and version references (pylance's forms)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from .dataset import PilumDataset

__all__ = ["Branches", "reference_arg"]


def reference_arg(reference: Any, *, optional: bool = False) -> Any:
    """Checks a version reference and returns it in the native form: an int
    (a version of the handle's branch), a str (a tag), or a
    ``(branch, version)`` tuple (``None``/``"main"`` for the main line,
    ``None`` for the latest version)."""
    if reference is None:
        if optional:
            return None
        raise TypeError("a version reference is required: a version number, a tag name or (branch, version)")
    if isinstance(reference, bool):
        raise TypeError("a version reference must be an int, a tag name or (branch, version), not a bool")
    if isinstance(reference, int):
        if reference < 0:
            raise ValueError(f"version must be >= 0, got {reference}")
        return reference
    if isinstance(reference, str):
        return reference
    if isinstance(reference, (tuple, list)) and len(reference) == 2:
        branch, version = reference
        if branch is not None and not isinstance(branch, str):
            raise TypeError(f"the branch of a reference must be a name or None, not {type(branch).__name__}")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
            raise TypeError(f"the version of a reference must be an int >= 0 or None, not {version!r}")
        return (branch, version)
    raise TypeError(
        f"a version reference must be an int, a tag name or (branch, version), not {type(reference).__name__}"
    )


def same_storage(dataset: "PilumDataset", storage_options: Optional[Dict[str, str]], what: str) -> None:
    """Branches live in the dataset's own store: other options are refused, not ignored."""
    if storage_options and dict(storage_options) != (dataset._storage_options or {}):
        raise ValueError(
            f"{what}: a branch lives in the dataset's own store; storage_options must be omitted "
            "or equal the dataset's"
        )


def reopen(uri: str, version: int, storage_options: Optional[Dict[str, str]], branch: Optional[str]) -> "PilumDataset":
    """Unpickles a dataset: `uri` at `version` of `branch`."""
    from .dataset import PilumDataset

    return PilumDataset(uri, version=version, storage_options=storage_options, branch=branch)


class Branches:
    """The branches of a dataset: named lines of history that share their
    parent's versions up to their fork point."""

    def __init__(self, dataset: "PilumDataset"):
        self._dataset = dataset

    def list(self) -> Dict[str, Dict[str, Any]]:
        """``{name: {"parent_branch", "parent_version", "create_at", "created_at", "directory"}}``
        (``parent_branch`` is ``None`` for the main line; ``create_at`` is seconds
        since the epoch, as pylance reports it)."""
        return dict(self._dataset._ds.branches_list())

    def list_ordered(self, order: Optional[str] = None) -> List[Tuple[str, Dict[str, Any]]]:
        """Branches sorted by creation time (``order="asc"``, the default, or ``"desc"``)."""
        if order not in (None, "asc", "desc"):
            raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
        items = sorted(self.list().items(), key=lambda item: (item[1]["created_at"], item[0]))
        return items[::-1] if order == "desc" else items

    def delete(self, branch: str) -> None:
        """Deletes `branch` and the files written on it. Refused (``BranchInUseError``)
        while another branch was created from it, a tag points into it, or a
        shallow clone was made from it."""
        self._dataset._ds.branch_delete(branch)
