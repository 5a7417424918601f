"""No call on Pilum's public classes crashes the interpreter.

``_walk_public_api.py`` calls every public attribute of every public class
in a subprocess, so a segfault (pyarrow's native methods running on a
dataset or scanner pyarrow never initialised) fails this test instead of
killing pytest.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pyarrow.dataset as pds
import pytest

import pilum

pytestmark = pytest.mark.subprocess

WALKER = os.path.join(os.path.dirname(__file__), "_walk_public_api.py")
PYARROW_NAMES = set(vars(pds.Dataset)) | set(vars(pds.Scanner))
PYARROW_SUBCLASSES = {"PilumDataset", "FilteredDataset", "PilumScanner"}

# Calls that must succeed (at least one argument set each), by class.
MUST_WORK = {
    "PilumDataset": {
        "sort_by", "join", "join_asof", "filter", "head", "take", "count_rows", "to_table", "to_batches",
        "scanner", "schema", "get_fragments", "partition_expression", "to_pandas", "__arrow_c_stream__",
        "__reduce__", "data_storage_version",
    },
    "FilteredDataset": {
        "sort_by", "join", "filter", "head", "take", "count_rows", "to_table", "to_batches", "scanner", "schema",
    },
    "PilumScanner": {
        "scan_batches", "to_reader", "to_table", "to_batches", "head", "take", "count_rows", "dataset_schema",
        "projected_schema", "from_dataset", "from_fragment", "from_batches", "__reduce__",
    },
    "PilumFragment": {"scanner", "to_table", "to_batches", "head", "take", "count_rows"},
}


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("walk")
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(pilum.__file__))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, WALKER, str(workdir)], capture_output=True, text=True, timeout=900, env=env
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc, lines


def test_walk_exits_normally(walk):
    proc, lines = walk
    tail = proc.stdout[-3000:] + proc.stderr[-3000:]
    if proc.returncode < 0:
        last = lines[-1] if lines else None
        pytest.fail(f"the walk died of {signal.Signals(-proc.returncode).name} after {last}\n{tail}")
    assert proc.returncode == 0, tail
    assert "WALK COMPLETE" in proc.stdout
    assert len(lines) > 500  # every class, attribute and argument set was tried


def test_every_public_class_is_walked(walk):
    _, lines = walk
    assert {"missing_factories": []} in lines
    walked = {line["class"] for line in lines if "class" in line}
    assert {"PilumDataset", "PilumScanner", "FilteredDataset", "PilumFragment", "BlobFile", "Session", "FragmentMetadata"} <= walked


def test_failures_are_clear_python_exceptions(walk):
    _, lines = walk
    for line in lines:
        if line.get("ok", True):
            continue
        assert line["error"] not in ("SystemError", "MemoryError", "PilumInternalError"), line
        assert line["message"], line
        inherited = line["class"] in PYARROW_SUBCLASSES and line["attr"] in PYARROW_NAMES
        if line["error"] == "NotImplementedError" and inherited and not line["call"].startswith("read-kwargs"):
            assert line["attr"] in line["message"], line  # names the pyarrow method it refuses


def test_required_calls_work(walk):
    _, lines = walk
    calls, worked = {}, set()
    for line in lines:
        if "class" in line:
            key = (line["class"], line["attr"], line["call"] == "getattr")
            calls.setdefault(key[:2], set()).add(line["call"])
            if line["ok"]:
                worked.add(key)
    for cls, attrs in MUST_WORK.items():
        for attr in attrs:
            is_property = calls.get((cls, attr)) == {"getattr"}
            assert (cls, attr, is_property) in worked, f"{cls}.{attr} never succeeded"


def test_pyarrow_public_methods_are_implemented_not_stubbed():
    from pilum._pyarrow_base import sealed_names

    for cls, base in ((pilum.PilumDataset, pds.Dataset), (pilum.FilteredDataset, pds.Dataset), (pilum.PilumScanner, pds.Scanner)):
        public = [n for n in sealed_names(cls) if not n.startswith("_")]
        assert public == [], f"{cls.__name__} inherits {public} from pyarrow unimplemented"
        for name in vars(base):
            if name in ("__doc__", "__new__", "__pyx_vtable__"):
                continue
            owner = next(k for k in cls.__mro__ if name in vars(k))
            assert owner is not base, f"{cls.__name__}.{name} would run pyarrow's native code"


NATIVE_ENTRY_POINTS = r'''
import sys
import pyarrow as pa, pyarrow.acero as ac, pyarrow.dataset as pds
import pilum
ds = pilum.write_dataset(pa.table({"id": list(range(10))}), sys.argv[1])
for target in (ds, ds.filter("id > 3")):
    for name, call in [
        ("Scanner.from_dataset", lambda: pds.Scanner.from_dataset(target).to_table()),
        ("ScanNodeOptions", lambda: ac.Declaration("scan", ac.ScanNodeOptions(target)).to_table()),
        ("Dataset.scanner", lambda: pds.Dataset.scanner(target).to_table()),
        ("Dataset.to_table", lambda: pds.Dataset.to_table(target)),
        ("union", lambda: pds.dataset([target, target]).to_table()),
    ]:
        try:
            result = call()
        except (NotImplementedError, TypeError) as e:
            print(name, "raised", type(e).__name__)
        else:
            print(name, "returned", "correct" if result.equals(target.to_table()) else "WRONG")
'''


def test_pyarrow_functions_that_read_the_native_object_raise(tmp_path):
    """pyarrow functions that bypass Python methods and read the dataset's
    native object get a placeholder that refuses to be scanned (they
    dereferenced a null pointer before)."""
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(pilum.__file__))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", NATIVE_ENTRY_POINTS, str(tmp_path / "ds")],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stdout.splitlines()
    # pyarrow's own Dataset.to_table goes through Pilum's scanner: correct rows.
    expected = {line for line in lines if line.startswith("Dataset.to_table")}
    assert expected == {"Dataset.to_table returned correct"}, proc.stdout
    assert len(lines) == 10 and all(" raised " in line for line in lines if line not in expected), proc.stdout
