"""The plan of a gang render: how a gang splits the CFG branches and the attention heads (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpu_consumers.render.base import RenderError
from gpu_consumers.render.parallel.plan import GangPlan, GangPlanError, plan_gang


def test_a_gang_that_does_not_divide_the_heads_is_refused() -> None:
    with pytest.raises(GangPlanError, match="does not divide the model's 24 attention heads") as refused:
        plan_gang(10, 24, guided=True)  # CFG split 2 leaves 5
    assert isinstance(refused.value, RenderError)
    assert not refused.value.retriable
    assert "2, 3, 4, 6, 8, 12, 16, 24, 48" in str(refused.value)
    with pytest.raises(GangPlanError, match="degree of 3"):
        plan_gang(3, 4, guided=False)


def test_the_plan_splits_the_cfg_when_it_can() -> None:
    assert (plan_gang(2, 24, guided=True).cfg_degree, plan_gang(2, 24, guided=True).ulysses_degree) == (2, 1)
    eight = plan_gang(8, 24, guided=True)
    assert (eight.cfg_degree, eight.ulysses_degree) == (2, 4)
    assert list(eight.ulysses_peers(5)) == [4, 5, 6, 7]
    assert eight.branch_holders() == [0, 4]
    assert plan_gang(8, 24, guided=False).ulysses_degree == 8
    assert plan_gang(3, 24, guided=True).cfg_degree == 1  # odd gang: Ulysses only
    assert plan_gang(4, 24, guided=True, split_cfg=False).ulysses_degree == 4
    assert plan_gang(1, 24, guided=True) == GangPlan(world_size=1, cfg_degree=1, ulysses_degree=1)


@given(world_size=st.integers(1, 64), heads=st.sampled_from([4, 24, 48]), guided=st.booleans())
def test_a_plan_covers_the_gang_once_and_divides_the_heads(world_size: int, heads: int, guided: bool) -> None:
    try:
        plan = plan_gang(world_size, heads, guided=guided)
    except GangPlanError:
        assert heads % (world_size // (2 if guided and world_size % 2 == 0 else 1))
        return
    assert plan.cfg_degree * plan.ulysses_degree == world_size
    assert heads % plan.ulysses_degree == 0
    assert plan.cfg_degree == (2 if guided and world_size % 2 == 0 else 1)
    cells = {(plan.cfg_rank(rank), plan.ulysses_rank(rank)) for rank in range(world_size)}
    assert len(cells) == world_size  # every (branch, token slice) is one member's
    for rank in range(world_size):
        assert rank in plan.ulysses_peers(rank)
        assert plan.ulysses_peers(rank)[plan.ulysses_rank(rank)] == rank
