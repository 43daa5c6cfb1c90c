"""One member's part in a gang render: the plan, the hooks around the transformer, the shared cancel.

`gang_run` is what `MochiRenderer.render` enters around denoising. Alone (no gang) it changes nothing. In a
gang it plans the split (CFG x Ulysses), hooks the transformer for it, and hands back a `GangRun` that says
whether this member decodes (the leader alone does; the others stop after the last denoise step and return
`FOLLOWER_FRAMES`, which no one uses) and turns the member's cancel check into one the whole gang agrees on:
every member asks at the same step and all stop if any (in practice the leader) saw a cancel, so no member
is left waiting in a collective for one that stopped.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from gpu_consumers.render.base import CancelCheck
from gpu_consumers.render.gang import GangContext
from gpu_consumers.render.parallel import collectives
from gpu_consumers.render.parallel.cfg import split_guidance
from gpu_consumers.render.parallel.plan import GangPlan, GangPlanError, plan_gang
from gpu_consumers.render.parallel.ulysses import SequenceShard, shard_sequence

logger = logging.getLogger(__name__)


def follower_frames(height: int, width: int) -> npt.NDArray[np.uint8]:
    """What a non-leader member returns as its video: no frames (the leader's video is the job's)."""
    return np.zeros((0, height, width, 3), dtype=np.uint8)


@dataclass(frozen=True)
class GangRun:
    gang: GangContext | None
    plan: GangPlan | None
    device: torch.device

    @property
    def decodes(self) -> bool:
        """Whether this member decodes and returns the frames (alone, or the gang's leader)."""
        return self.gang is None or self.gang.is_leader

    def agreed(self, is_canceled: CancelCheck) -> CancelCheck:
        """A cancel check every member must call at the same points; true on all when true on any."""
        gang = self.gang
        if gang is None:
            return is_canceled

        def check() -> bool:
            try:
                mine = is_canceled()
            except BaseException:
                # still take part, as a cancel, so the others stop too instead of waiting for this member
                collectives.agree_any(True, gang.group, self.device)
                raise
            return collectives.agree_any(mine, gang.group, self.device)

        return check


@contextlib.contextmanager
def gang_run(
    gang: GangContext | None,
    transformer: torch.nn.Module,
    *,
    guided: bool,
    device: torch.device | str,
    split_cfg: bool = True,
) -> Iterator[GangRun]:
    """The transformer hooked for this member's share of the render while the block runs.

    Raises GangPlanError (on every member alike) when the gang cannot split this model.
    """
    device = torch.device(device)
    if gang is None or gang.world_size == 1:
        yield GangRun(gang=gang, plan=None, device=device)
        return
    config: Any = transformer.config
    heads = int(config.num_attention_heads)
    plan = plan_gang(gang.world_size, heads, guided=guided, split_cfg=split_cfg)
    if plan.ulysses_degree > 1 and getattr(transformer, "is_cache_enabled", False):
        # a step cache decides from each member's own token slice: members would skip different blocks and
        # wait forever in each other's all-to-alls
        raise GangPlanError("a step cache (the fast tier) cannot run with sequence parallel; use one GPU")
    undo: list[Callable[[], None]] = []
    try:
        if plan.cfg_degree > 1:
            undo.append(split_guidance(transformer, plan, gang.rank, gang.group))
        if plan.ulysses_degree > 1:
            undo.append(shard_sequence(transformer, SequenceShard(plan, gang.rank, gang.group)))
        if gang.is_leader:
            logger.info("gang render", extra={"plan": plan.describe()})
        yield GangRun(gang=gang, plan=plan, device=device)
    finally:
        for step in reversed(undo):
            step()
