"""The exchanges a parallel render needs, over the gang's one process group.

No subgroups are created: `torch.distributed.new_group` must be entered by every process of the job's world
(or rendezvous again), which a render that runs inside one gang cannot promise. Instead, an exchange among a
subset of the gang (the members of one Ulysses group) is an all-to-all over the whole gang in which the
other members send and receive nothing, and a gather among a subset is a gang-wide all-gather from which
each member keeps the pieces it needs. Works the same over NCCL (GPUs) and gloo (CPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist


def all_gather(tensor: torch.Tensor, group: Any, world_size: int) -> list[torch.Tensor]:
    """Every member's `tensor` (all of one shape), in rank order."""
    tensor = tensor.contiguous()
    pieces = [torch.empty_like(tensor) for _ in range(world_size)]
    dist.all_gather(pieces, tensor, group=group)
    return pieces


def gather_from(
    tensor: torch.Tensor, ranks: Sequence[int], dim: int, group: Any, world_size: int
) -> torch.Tensor:
    """The pieces of `ranks` (every member's `tensor` has one shape), concatenated along `dim`."""
    pieces = all_gather(tensor, group, world_size)
    return torch.cat([pieces[rank] for rank in ranks], dim=dim)


def exchange(chunks: torch.Tensor, peers: range, group: Any, world_size: int) -> torch.Tensor:
    """All-to-all among `peers`: chunk j of `chunks` (dim 0, one chunk per peer) goes to the j-th peer, and
    chunk j of the result came from it. Members outside `peers` send and receive nothing from this one."""
    chunks = chunks.contiguous()
    splits = [1 if rank in peers else 0 for rank in range(world_size)]  # in chunks (rows of dim 0)
    received = torch.empty_like(chunks)
    dist.all_to_all_single(received, chunks, splits, splits, group=group)
    return received


def agree_any(flag: bool, group: Any, device: torch.device) -> bool:
    """True on every member when `flag` is true on any: a decision every member takes at the same step."""
    value = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX, group=group)
    return bool(value.item())
