"""PyTorch integration (``torch`` is an optional dependency): iterable and
map-style datasets over a Pilum dataset version, with pylance's names —
``pilum.torch.data.LanceDataset``, ``SafeLanceDataset``, ``get_safe_loader``."""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("pilum.torch needs PyTorch: pip install torch") from error

from . import data, dist  # noqa: E402

__all__ = ["data", "dist"]
