"""How a gang splits one Mochi render: a CFG split times a Ulysses (sequence-parallel) degree.

Pure arithmetic, no torch. Ranks are laid out CFG-major: rank = cfg_rank * ulysses_degree + ulysses_rank,
so the members that share one CFG branch (a Ulysses group) are consecutive ranks, and the members that hold
the same slice of the video tokens in the two branches are `ulysses_degree` apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpu_consumers.render.base import RenderError

CFG_BRANCHES = 2  # the pipeline batches the unconditional and the conditional branch, in that order


class GangPlanError(RenderError):
    """A gang whose size cannot split this model: the job cannot run on it as it stands."""

    retriable = False


@dataclass(frozen=True)
class GangPlan:
    world_size: int
    cfg_degree: int  # 1: every member runs both branches; 2: each half of the gang runs one branch
    ulysses_degree: int  # how many members share one branch's video tokens (and split its heads)

    def cfg_rank(self, rank: int) -> int:
        """Which CFG branch `rank` computes (0 unconditional, 1 conditional) when the CFG is split."""
        return rank // self.ulysses_degree

    def ulysses_rank(self, rank: int) -> int:
        """Which slice of the video tokens (and of the heads, inside attention) `rank` holds."""
        return rank % self.ulysses_degree

    def ulysses_peers(self, rank: int) -> range:
        """The ranks that share `rank`'s branch: they exchange tokens and heads in every attention."""
        start = self.cfg_rank(rank) * self.ulysses_degree
        return range(start, start + self.ulysses_degree)

    def branch_holders(self) -> list[int]:
        """One rank per CFG branch, in branch order: after the token gather each holds its branch's output."""
        return [branch * self.ulysses_degree for branch in range(self.cfg_degree)]

    def describe(self) -> str:
        return f"{self.world_size} ranks: CFG split {self.cfg_degree} x Ulysses {self.ulysses_degree}"


def plan_gang(world_size: int, heads: int, *, guided: bool, split_cfg: bool = True) -> GangPlan:
    """The plan for a gang of `world_size` rendering a model with `heads` attention heads.

    The CFG split (degree 2) is taken whenever guidance is on and the gang is even: it exchanges one noise
    prediction per step instead of four all-to-alls per layer. The rest of the gang is the Ulysses degree,
    which must divide the head count (each member attends with heads / degree of the heads).
    """
    if world_size < 1:
        raise GangPlanError(f"a gang has at least one member, got {world_size}")
    cfg = CFG_BRANCHES if split_cfg and guided and world_size % CFG_BRANCHES == 0 else 1
    ulysses = world_size // cfg
    if heads % ulysses:
        divisors = [d for d in range(1, heads + 1) if heads % d == 0]
        sizes = sorted({d * c for d in divisors for c in ((1, CFG_BRANCHES) if guided else (1,))})
        raise GangPlanError(
            f"a gang of {world_size} leaves a sequence-parallel degree of {ulysses} (CFG split {cfg}), "
            f"which does not divide the model's {heads} attention heads; gang sizes that fit: "
            f"{', '.join(map(str, sizes))}"
        )
    return GangPlan(world_size=world_size, cfg_degree=cfg, ulysses_degree=ulysses)
