"""CFG-parallel: the unconditional and the conditional branch of each step on different members.

The Mochi pipeline batches the two branches (unconditional first) into one transformer call. Around that
call, each member keeps only its branch's half of the batch, and afterwards gathers the other branch's
noise prediction, so every member applies the same guided update and the latents stay identical everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from diffusers.models.modeling_outputs import Transformer2DModelOutput

from gpu_consumers.render.base import RenderError
from gpu_consumers.render.parallel import collectives
from gpu_consumers.render.parallel.plan import CFG_BRANCHES, GangPlan

# The transformer's inputs that carry the batch (both branches), as the pipeline passes them.
_BATCHED = ("hidden_states", "encoder_hidden_states", "timestep", "encoder_attention_mask")


def split_guidance(transformer: torch.nn.Module, plan: GangPlan, rank: int, group: Any) -> Callable[[], None]:
    """Hook the transformer so that `rank` computes its branch only; returns the undo."""
    branch = plan.cfg_rank(rank)
    holders = plan.branch_holders()

    def before(module: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        if args or any(name not in kwargs for name in _BATCHED):
            raise RenderError("CFG-parallel expects the transformer to be called with keywords")
        for name in _BATCHED:
            kwargs[name] = kwargs[name].chunk(CFG_BRANCHES)[branch]
        return args, kwargs

    def after(module: Any, args: Any, kwargs: dict[str, Any], output: Any) -> Any:
        sample = output[0] if isinstance(output, tuple) else output.sample
        both = collectives.gather_from(sample, holders, 0, group, plan.world_size)
        return (both, *output[1:]) if isinstance(output, tuple) else Transformer2DModelOutput(sample=both)

    handles = [
        transformer.register_forward_pre_hook(before, with_kwargs=True),
        transformer.register_forward_hook(after, with_kwargs=True),
    ]

    def undo() -> None:
        for handle in handles:
            handle.remove()

    return undo
