"""A real pyarrow native object behind Pilum's datasets, which refuses to be scanned.

pyarrow functions such as ``pyarrow.dataset.Scanner.from_dataset(ds)`` and
``pyarrow.acero.ScanNodeOptions(ds)`` read a dataset's native C++ object
directly, bypassing every Python method. A ``pyarrow.dataset.Dataset``
subclass that never initialised it handed them a null pointer (a crash).
Pilum's datasets therefore initialise their ``FileSystemDataset`` base with
one placeholder fragment on a filesystem whose every operation raises
``NotImplementedError``: such functions fail with a clear Python exception,
and nothing can read placeholder data as if it were the dataset's rows.
"""

from __future__ import annotations

from typing import Any, NoReturn

import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.fs as pafs

__all__ = ["init_placeholder", "NATIVE_SCAN_HINTS"]

_MESSAGE = (
    "pyarrow's native scan of a Pilum dataset is not supported; read it with "
    "ds.scanner(...), ds.to_table(...) or ds.to_batches(...), which DuckDB and Polars also use"
)


#: `seal` hints for the private pyarrow hooks its native functions call.
NATIVE_SCAN_HINTS = {
    "_scanner_options": "pyarrow's native scanner cannot read a Pilum dataset; use ds.scanner(...)",
    "_scan_options": "pyarrow's native scanner cannot read a Pilum dataset; use ds.scanner(...)",
    "__setstate__": "pickling goes through __reduce__",
}


class _RefusingHandler(pafs.FileSystemHandler):
    """A filesystem handler whose every operation raises NotImplementedError."""

    def get_type_name(self) -> str:
        return "pilum-placeholder"

    def normalize_path(self, path: str) -> str:
        return path

    def equals(self, other: Any) -> bool:
        return other is self

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(_MESSAGE)

    get_file_info = get_file_info_selector = _refuse
    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = delete_file = _refuse
    move = copy_file = _refuse
    open_input_stream = open_input_file = open_output_stream = open_append_stream = _refuse


_FILESYSTEM = pafs.PyFileSystem(_RefusingHandler())
_FORMAT = pds.IpcFileFormat()


def init_placeholder(dataset: pds.FileSystemDataset, schema: pa.Schema) -> None:
    """Initialises `dataset`'s native ``FileSystemDataset`` base with `schema`
    and one fragment that cannot be read."""
    fragment = _FORMAT.make_fragment("pilum-dataset", filesystem=_FILESYSTEM)
    pds.FileSystemDataset.__init__(dataset, [fragment], schema, _FORMAT, _FILESYSTEM)
