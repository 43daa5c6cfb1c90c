"""`reelstream dev` ends its start-up with one line: the time since it began, then each finished step's."""

from __future__ import annotations

import io
import time

import pytest

from devstack.steps import ConsoleSteps


def test_the_timeline_lists_each_finished_step_with_its_time() -> None:
    steps = ConsoleSteps(out=io.StringIO())
    with steps.step("waiting for kafka to be ready"):
        pass
    with pytest.raises(RuntimeError), steps.step("topics and schemas"):
        raise RuntimeError("a failed step is not in the timeline")
    with steps.step("starting ingest"):
        deadline = time.monotonic() + 0.05
        while time.monotonic() < deadline:  # a step that takes measurable time (the condition is the time)
            pass
    line = steps.timeline()
    assert line.startswith("started in ")
    assert [name for name, _ in steps.timings] == ["waiting for kafka to be ready", "starting ingest"]
    assert steps.timings[1][1] >= 0.05
    assert ": waiting for kafka to be ready 0.0 s, starting ingest 0." in line
    assert "topics" not in line
