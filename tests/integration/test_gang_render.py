"""One tiny-Mochi job rendered by a gang of CPU processes (gloo) matches the same job rendered alone.

Two spawns (a gang of 2, a gang of 4) run every scenario on every member; the reference renders in this
process. Tolerances: the split changes only the order of float sums (matrix products over fewer tokens,
attention per head), so final latents agree to LATENT_ATOL and frames, quantized to uint8, to one level.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

from tests.gang_members import MemberResult, Scenario, run_alone, run_gang

pytestmark = [
    pytest.mark.render,
    pytest.mark.filterwarnings("ignore:In CPU autocast, but the target dtype is not supported:UserWarning"),
]

LATENT_ATOL = 1e-4
FRAME_LEVELS = 1  # uint8 levels

CFG = Scenario("cfg")  # guided: CFG split 2 on a gang of 2, CFG 2 x Ulysses 2 on a gang of 4
UNGUIDED = Scenario("unguided", {"guidance_scale": 1.0})  # Ulysses over the whole gang
# Ulysses with both CFG branches on every member (two samples per attention, two text masks), and a
# token count (48x48: 18 video tokens) that 4 does not divide: the padding path.
BATCHED = Scenario("batched", {"width": 48, "height": 48, "negative_prompt": "rain"}, split_cfg=False)
CANCELED = Scenario("canceled", cancel_after=2)
CHECK_FAILS = Scenario("check-fails", check_fails_after=1)
PAIR = [CFG, UNGUIDED, BATCHED, CANCELED, CHECK_FAILS]
QUAD = [CFG, UNGUIDED, BATCHED]


@pytest.fixture(scope="module")
def alone() -> dict[str, MemberResult]:
    return run_alone(QUAD)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[MemberResult]]:
    return run_gang(2, PAIR, tmp_path_factory.mktemp("pair"))


@pytest.fixture(scope="module")
def quad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[MemberResult]]:
    return run_gang(4, QUAD, tmp_path_factory.mktemp("quad"))


def assert_matches_alone(members: list[MemberResult], alone: MemberResult, share: tuple[int, int]) -> None:
    """Each member computed `share` (samples, video tokens) of the batch the solo render's blocks saw, and
    ended on the solo latents; the leader alone returns frames, the solo ones."""
    leader, *followers = members
    for member in members:
        assert member.block_input == (*share, alone.block_input[2])
    assert leader.error is None
    assert alone.error is None
    assert leader.latents is not None
    for member in members:  # every member ends on the same latents, and they are the ones of a solo render
        np.testing.assert_allclose(member.latents, alone.latents, rtol=0, atol=LATENT_ATOL)
        np.testing.assert_array_equal(member.latents, leader.latents)
    if leader.frames is not None:
        assert leader.frames.shape == alone.frames.shape
        difference = np.abs(leader.frames.astype(int) - alone.frames.astype(int))
        assert difference.max() <= FRAME_LEVELS
        for follower in followers:  # only the leader decodes
            assert follower.error is None
            assert follower.frames.shape[0] == 0


# Alone, the first attention sees (2 samples, 8 tokens) for CFG, (1, 8) unguided, (2, 18) batched.
@pytest.mark.parametrize(
    ("scenario", "share"),
    [(CFG, (1, 8)), (UNGUIDED, (1, 4)), (BATCHED, (2, 9))],  # CFG split 2; Ulysses 2; Ulysses 2
    ids=["cfg-split", "ulysses", "ulysses-both-branches"],
)
def test_a_gang_of_two_renders_what_one_process_renders(
    pair: dict[str, list[MemberResult]],
    alone: dict[str, MemberResult],
    scenario: Scenario,
    share: tuple[int, int],
) -> None:
    assert_matches_alone(pair[scenario.name], alone[scenario.name], share)


@pytest.mark.parametrize(
    ("scenario", "share"),
    [(CFG, (1, 4)), (UNGUIDED, (1, 2)), (BATCHED, (2, 5))],  # CFG 2 x Ulysses 2; Ulysses 4; 4, padded
    ids=["cfg-split-x-ulysses", "ulysses", "ulysses-both-branches-padded"],
)
def test_a_gang_of_four_renders_what_one_process_renders(
    quad: dict[str, list[MemberResult]],
    alone: dict[str, MemberResult],
    scenario: Scenario,
    share: tuple[int, int],
) -> None:
    assert_matches_alone(quad[scenario.name], alone[scenario.name], share)


def test_alone_the_blocks_see_the_whole_batch(alone: dict[str, MemberResult]) -> None:
    assert [alone[s.name].block_input[:2] for s in (CFG, UNGUIDED, BATCHED)] == [(2, 8), (1, 8), (2, 18)]


def test_a_cancel_seen_by_the_leader_stops_every_member_at_the_same_step(
    pair: dict[str, list[MemberResult]],
) -> None:
    for member in pair[CANCELED.name]:
        assert member.error == "RenderCanceled: canceled after denoise step 2 of 3"
        assert member.denoise_steps == [1, 2]


def test_a_member_whose_cancel_check_fails_stops_the_gang_with_it(
    pair: dict[str, list[MemberResult]],
) -> None:
    leader, failed = pair[CHECK_FAILS.name]
    assert failed.error == "OSError: cancel check broken"
    assert leader.error == "RenderCanceled: canceled after denoise step 1 of 3"
    assert leader.denoise_steps == failed.denoise_steps == [1]


def test_sequence_parallel_refuses_a_step_cache() -> None:
    """A step cache decides from each member's own token slice: the members would skip different blocks and
    wait in each other's all-to-alls, so the gang refuses before any collective."""
    from diffusers.hooks import FirstBlockCacheConfig

    from gpu_consumers.render.gang import GangContext
    from gpu_consumers.render.parallel.plan import GangPlanError
    from gpu_consumers.render.parallel.session import gang_run
    from gpu_consumers.render.tiny_mochi import build_tiny_mochi_pipeline

    transformer = build_tiny_mochi_pipeline(heads=4).transformer
    transformer.enable_cache(FirstBlockCacheConfig(threshold=0.1))
    member = GangContext(rank=0, world_size=2, group=None)
    with (
        pytest.raises(GangPlanError, match="step cache"),
        gang_run(member, transformer, guided=False, device="cpu"),
    ):
        pass
    with gang_run(member, transformer, guided=True, device="cpu") as run:  # CFG split: no collective inside
        assert run.plan is not None
        assert run.plan.ulysses_degree == 1
