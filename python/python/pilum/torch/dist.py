"""Where this process sits in distributed training and in a DataLoader."""

from __future__ import annotations

from typing import Tuple

import torch.distributed
import torch.utils.data

__all__ = ["global_rank_and_world_size", "worker_index_and_count"]


def global_rank_and_world_size() -> Tuple[int, int]:
    """(rank, world size) of ``torch.distributed``; (0, 1) when it is not
    available or not initialized."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def worker_index_and_count() -> Tuple[int, int]:
    """(worker id, number of workers) of the DataLoader worker running this
    code; (0, 1) in the main process."""
    info = torch.utils.data.get_worker_info()
    if info is None:
        return 0, 1
    return info.id, info.num_workers
