"""What a renderer is told when one job runs on several GPU slots at once (a gang).

The scheduler reserves a gang of idle slots for one job; each slot's worker joins one `torch.distributed`
group for that job and calls its renderer with the same request and its own `GangContext`. Rank 0 is the
gang's leader: it alone reports progress, encodes, uploads and reports the outcome; the others only compute.
A renderer that is given no context (None) renders alone, as every single-slot job does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GangContext:
    """One member's place in a job's gang: its rank, the gang's size, and the process group they share."""

    rank: int
    world_size: int
    group: Any  # torch.distributed.ProcessGroup; typed loosely so this module does not import torch

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is outside a gang of {self.world_size}")

    @property
    def is_leader(self) -> bool:
        return self.rank == 0
