"""Guarding the pyarrow base classes Pilum's datasets and scanners subclass.

``PilumDataset`` and ``PilumScanner`` subclass ``pyarrow.dataset.Dataset`` and
``Scanner`` so that DuckDB, Polars and Arrow tools accept them, but they
never initialise pyarrow's native object: an inherited pyarrow method would
run on a null pointer and crash the interpreter. :func:`seal` replaces every
attribute the base defines that the subclass does not with one raising
``NotImplementedError``, so a pyarrow release adding methods cannot bring
crashes back.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

__all__ = ["seal", "sealed_names"]

# Allocation and class plumbing of the Cython type: safe without the native object.
_SAFE = {"__doc__", "__new__", "__pyx_vtable__"}


def _raiser(owner: str, name: str, hint: Optional[str]) -> Any:
    message = f"{owner}.{name} is not supported by Pilum"
    if hint:
        message += f"; {hint}"

    def unsupported(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(message)

    unsupported.__name__ = name
    unsupported.__doc__ = f"Not supported: {message}."
    return unsupported


def seal(cls: type, base: type, hints: Optional[Dict[str, str]] = None) -> type:
    """Makes every attribute `base` defines and `cls` does not override raise
    ``NotImplementedError`` (with ``hints[name]`` appended); returns `cls`."""
    hints = hints or {}
    stubbed: List[str] = []
    for name, raw in vars(base).items():
        if name in _SAFE:
            continue
        owner = next(klass for klass in cls.__mro__ if name in vars(klass))
        if owner is not base:
            continue  # cls (or a mixin before base) implements it
        stub = _raiser(cls.__name__, name, hints.get(name))
        if isinstance(raw, staticmethod):
            setattr(cls, name, staticmethod(stub))
        elif callable(raw):
            setattr(cls, name, stub)
        else:  # a property (getset descriptor) or a plain attribute
            setattr(cls, name, property(stub, doc=stub.__doc__))
        stubbed.append(name)
    cls._pyarrow_sealed = tuple(stubbed)  # type: ignore[attr-defined]
    return cls


def sealed_names(cls: type) -> tuple:
    """The base attributes :func:`seal` replaced on `cls`."""
    return tuple(getattr(cls, "_pyarrow_sealed", ()))
