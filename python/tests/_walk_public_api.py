"""Walks every public attribute of every public class in ``pilum``.

Run as a script (``python _walk_public_api.py WORKDIR``) so that a crash of
the interpreter ends this process only. For each class it builds real
objects over a small dataset, gets each public attribute (and the dunders
pickling, copying and pyarrow use), calls each callable with no arguments
and with arguments chosen by parameter name, and consumes what comes back
(iterators, readers, pyarrow datasets). Prints one JSON line per call, then
``WALK COMPLETE``.
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import itertools
import json
import os
import pickle
import sys
import weakref

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds

import pilum

ROOT = sys.argv[1]
_counter = itertools.count()

BLOB = pa.field("img", pa.large_binary(), metadata={"lance-encoding:blob": "true"})
TABLE = pa.table(
    {
        "id": pa.array(range(20), pa.int64()),
        "grp": pa.array([i % 3 for i in range(20)], pa.int64()),
        "name": pa.array([None if i % 7 == 0 else f"n{i}" for i in range(20)]),
        "img": pa.array([bytes([i]) * 5 for i in range(20)], pa.large_binary()),
    },
    schema=pa.schema([("id", pa.int64()), ("grp", pa.int64()), ("name", pa.string()), BLOB]),
)

DUNDERS = {
    "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__repr__", "__str__", "__hash__",
    "__eq__", "__ne__", "__sizeof__", "__arrow_c_stream__", "__datafusion_table_provider__", "__copy__",
    "__deepcopy__", "__enter__", "__exit__", "__iter__", "__next__", "__len__", "__bool__",
}
DUNDERS |= {n for base in (pds.Dataset, pds.Scanner) for n in vars(base) if n.startswith("__")}
DUNDERS -= {"__new__", "__init__", "__doc__", "__pyx_vtable__"}


def fresh_dataset() -> pilum.PilumDataset:
    return pilum.write_dataset(TABLE, os.path.join(ROOT, f"ds{next(_counter)}"), max_rows_per_file=7)


def other_dataset() -> pilum.PilumDataset:
    right = pa.table({"id": pa.array(range(0, 20, 2), pa.int64()), "grp": pa.array([i % 3 for i in range(0, 20, 2)], pa.int64()),
                      "other": pa.array([f"o{i}" for i in range(0, 20, 2)])})
    return pilum.write_dataset(right, os.path.join(ROOT, f"other{next(_counter)}"))


def session() -> pilum.Session:
    s = pilum.Session()
    s.register("t", fresh_dataset())
    return s


FACTORIES = {
    "PilumDataset": fresh_dataset,
    "PilumScanner": lambda: fresh_dataset().scanner(columns=["id", "grp"], filter="id > 2"),
    "FilteredDataset": lambda: fresh_dataset().filter(pc.field("id") > 2),
    "PilumFragment": lambda: fresh_dataset().get_fragments()[1],
    "BlobFile": lambda: fresh_dataset().take_blobs("img", indices=[3])[0],
    "MergeInsertBuilder": lambda: fresh_dataset().merge_insert("id"),
    "Tags": lambda: fresh_dataset().tags,
    "DatasetOptimizer": lambda: fresh_dataset().optimize,
    "CompactionMetrics": lambda: pilum.CompactionMetrics(1, 1, 1, 1),
    "CleanupStats": lambda: pilum.CleanupStats(0, 0, 0),
    "Session": session,
    "ColumnOrdering": lambda: pilum.ColumnOrdering("id", ascending=False),
    "FragmentMetadata": lambda: pilum.fragment.write_fragments(TABLE.slice(0, 3), fresh_dataset().uri)[0],
    "LanceOperation": lambda: pilum.LanceOperation(),
}

# Argument values by parameter name, built fresh for each call.
VALUES = {
    "indices": lambda: [0, 2, 1], "row_ids": lambda: [0, 3], "ids": lambda: [0], "num_rows": lambda: 3,
    "columns": lambda: ["id", "name"], "filter": lambda: "id > 3", "expression": lambda: pc.field("id") > 3,
    "predicate": lambda: "id > 100", "where": lambda: "id < 0", "sorting": lambda: [("grp", "descending"), ("id", "ascending")],
    "right_dataset": other_dataset, "keys": lambda: ["id", "grp"], "on": lambda: "id", "by": lambda: "grp",
    "tolerance": lambda: 1, "schema": lambda: TABLE.schema, "version": lambda: 1, "tag": lambda: "t1",
    "transforms": lambda: {"extra": "id * 2"}, "data": lambda: TABLE.slice(0, 3), "data_obj": lambda: TABLE.slice(0, 3),
    "left_on": lambda: "id", "blob_column": lambda: "img", "updates": lambda: {"name": "upper(name)"},
    "query": lambda: "SELECT count(*) AS n FROM t", "name": lambda: "t2", "dataset": fresh_dataset,
    "fragment": lambda: fresh_dataset().get_fragments()[0], "source": lambda: TABLE.to_reader(),
    "offset": lambda: 1, "whence": lambda: 0, "size": lambda: 2, "buffer": lambda: bytearray(4),
    "fragment_id": lambda: 1, "older_than": lambda: dt.timedelta(0), "values": lambda: {"k": "v"},
    "requested_schema": lambda: None, "protocol": lambda: 4, "memo": lambda: {}, "state": lambda: {},
    "value": lambda: 1, "other": lambda: None, "condition": lambda: None, "expr": lambda: None,
    "reference": lambda: None, "limit": lambda: 3, "format_spec": lambda: "", "b": lambda: bytearray(4),
    "lines": lambda: [], "hint": lambda: -1, "pos": lambda: 0, "alterations": lambda: {"path": "name", "name": "label"},
    "target_rows_per_fragment": lambda: 10, "mode": lambda: "append",
    "fragments": lambda: pilum.fragment.write_fragments(TABLE.slice(0, 3), fresh_dataset().uri),
    "new_schema": lambda: TABLE.schema, "read_version": lambda: None,
}

# Extra keyword sets for the read calls the pyarrow and pylance surfaces share.
READ_KWARGS = [
    {"columns": ["id", "name"], "filter": pc.field("id") > 3, "batch_size": 4, "use_threads": True, "batch_readahead": 2},
    {"columns": ["id", "grp"], "filter": "grp = 1", "order_by": ["grp", ("id", "descending")], "limit": 4, "offset": 1},
]
READ_CALLS = {"scanner", "to_table", "to_batches", "count_rows", "to_pandas"}


def consume(result, depth: int = 0):
    """Forces lazy results so that errors and crashes surface inside the walk."""
    if depth > 2:
        return
    if isinstance(result, (pds.Dataset,)) and not isinstance(result, pilum.PilumDataset):
        result.to_table()
    elif isinstance(result, pds.Scanner):
        result.to_table()
    elif isinstance(result, pa.RecordBatchReader):
        result.read_all()
    elif inspect.isgenerator(result) or (hasattr(result, "__next__") and hasattr(result, "__iter__")):
        for item in itertools.islice(result, 50):
            consume(item, depth + 1)
    elif isinstance(result, (list, tuple)):
        for item in result[:50]:
            consume(item, depth + 1)


def record(cls: str, attr: str, label: str, error: BaseException = None) -> None:
    out = {"class": cls, "attr": attr, "call": label, "ok": error is None}
    if error is not None:
        out["error"] = type(error).__name__
        out["message"] = str(error)[:300]
    print(json.dumps(out), flush=True)


def argument_sets(func):
    """(label, args, kwargs) calls to try on `func`."""
    yield "no-args", (), {}
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return
    args, kwargs = [], {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
            continue
        if p.name not in VALUES:
            break
        if p.kind == p.KEYWORD_ONLY:
            kwargs[p.name] = VALUES[p.name]()
        else:
            args.append(VALUES[p.name]())
    else:
        if args or kwargs:
            yield "by-name", tuple(args), kwargs


def walk(cls_name: str, factory) -> None:
    sample = factory()
    names = sorted({n for n in dir(sample) if not n.startswith("_")} | (DUNDERS & set(dir(sample))))
    for attr in names:
        obj = factory()
        try:
            value = getattr(obj, attr)
        except Exception as e:  # noqa: BLE001 - any Python exception is an acceptable outcome
            record(cls_name, attr, "getattr", e)
            continue
        record(cls_name, attr, "getattr")
        if not callable(value) or inspect.isclass(value):
            consume(value)
            continue
        calls = list(argument_sets(value))
        if attr in READ_CALLS:
            calls += [(f"read-kwargs-{i}", (), dict(kw)) for i, kw in enumerate(READ_KWARGS)]
        for label, args, kwargs in calls:
            target = getattr(factory(), attr)
            try:
                consume(target(*args, **kwargs))
            except Exception as e:  # noqa: BLE001
                record(cls_name, attr, label, e)
            else:
                record(cls_name, attr, label)
    for label, action in (
        ("pickle", lambda o: pickle.loads(pickle.dumps(o))),
        ("copy", copy.copy),
        ("deepcopy", copy.deepcopy),
        ("weakref", weakref.ref),
        ("hash", hash),
        ("repr", repr),
        ("equal", lambda o: o == o),
        ("dir", dir),
    ):
        try:
            action(factory())
        except Exception as e:  # noqa: BLE001
            record(cls_name, "<protocol>", label, e)
        else:
            record(cls_name, "<protocol>", label)


def main() -> None:
    public = {
        n: c for n, c in vars(pilum).items()
        if not n.startswith("_") and inspect.isclass(c) and c.__module__.startswith("pilum")
    }
    missing = []
    for name, cls in sorted(public.items()):
        if issubclass(cls, BaseException):
            factory = (lambda c: lambda: c("message"))(cls)
        else:
            factory = FACTORIES.get(cls.__name__)
        if factory is None:
            missing.append(name)
            continue
        if name != cls.__name__:
            continue  # an alias (LanceDataset, ...): walked under its own name
        walk(name, factory)
    print(json.dumps({"missing_factories": missing}))
    print("WALK COMPLETE", flush=True)


if __name__ == "__main__":
    main()
