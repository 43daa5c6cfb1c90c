"""The attempt's progress bar: one span per phase, in order, and which callbacks become reports."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from gpu_consumers.progress import MIN_REPORTED_CHANGE, PHASES, ReportPolicy, overall_progress
from gpu_consumers.render.base import DECODE, DENOISE, ENCODE_TEXT, ENCODE_VIDEO, UPLOAD


def attempt_callbacks(steps: int) -> list[tuple[str, int, int]]:
    """The callbacks of one attempt, in the order a renderer and the attempt make them."""
    return [
        (ENCODE_TEXT, 0, 1),
        (ENCODE_TEXT, 1, 1),
        *((DENOISE, i, steps) for i in range(1, steps + 1)),
        (DECODE, 0, 1),
        (DECODE, 1, 1),
        (ENCODE_VIDEO, 0, 1),
        (ENCODE_VIDEO, 1, 1),
        (UPLOAD, 0, 2),
        (UPLOAD, 1, 2),
    ]


def test_the_phases_tile_the_bar_in_order_and_stop_short_of_done() -> None:
    spans = list(PHASES.values())
    assert spans[0][0] == 0.0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert spans[-1][1] < 1.0  # 1.0 is the success event's


@given(st.integers(min_value=1, max_value=500))
def test_progress_never_goes_back_within_an_attempt(steps: int) -> None:
    values = [overall_progress(*call) for call in attempt_callbacks(steps)]
    assert values == sorted(values)
    assert values[0] >= 0.0
    assert values[-1] < 1.0


def test_a_tiny_cpu_render_reports_every_step_and_every_phase_even_within_one_interval() -> None:
    """Before: 0 → 23.8 → 95 % for a 4-step render, every step faster than the 1 s interval."""
    policy = ReportPolicy(interval=1.0)
    reported = [c for c in attempt_callbacks(4) if policy.should_report(*c, now=100.0)]
    values = [overall_progress(*c) for c in reported]
    assert [c for c in reported if c[0] == DENOISE] == [(DENOISE, i, 4) for i in (1, 2, 3, 4)]
    assert {c[0] for c in reported} == set(PHASES)
    assert len(set(values)) >= 8


@settings(deadline=None)  # up to 5,000 steps an example: slow on a loaded machine, never wrong
@given(st.integers(min_value=50, max_value=5000))
def test_quick_steps_are_thinned_to_one_report_per_change_or_interval(steps: int) -> None:
    """A render of many fast steps sends about 1/MIN_REPORTED_CHANGE denoise reports, not one per step."""
    policy = ReportPolicy(interval=1.0)
    denoise = [(DENOISE, i, steps) for i in range(1, steps + 1)]
    sent = [c for c in denoise if policy.should_report(*c, now=100.0)]
    span = PHASES[DENOISE][1] - PHASES[DENOISE][0]
    assert len(sent) <= span / MIN_REPORTED_CHANGE + 2
    assert sent[-1] == (DENOISE, steps, steps)  # the last step always goes out


def test_the_interval_lets_a_slow_step_through() -> None:
    policy = ReportPolicy(interval=1.0)
    assert policy.should_report(DENOISE, 1, 1000, now=10.0)
    assert not policy.should_report(DENOISE, 2, 1000, now=10.5)
    assert policy.should_report(DENOISE, 3, 1000, now=11.0)
