"""The worker's attempts in flight (gpu_consumers.in_flight): offsets committed in dispatch order, one GPU
attempt, finishing places bounded, gangs kept on the GPU; and usage billing the GPU part of an overlap."""

from __future__ import annotations

import asyncio

from gpu_consumers.in_flight import Current, InFlight
from gpu_consumers.usage import UsageMeter
from schemas.events import Artifact, RenderSucceeded
from tests.integration.test_worker_attempt import dispatch
from tests.samples import artifact


async def _noop() -> None:
    return None


async def _attempt(flight: InFlight, offset: int, gang_size: int = 1) -> Current:
    current = Current(dispatch(gang_size=gang_size, gang_rank=0, gang_leader_slot=0), offset)
    current.task = asyncio.get_running_loop().create_future()  # type: ignore[assignment]
    flight.gpu = current
    return current


def _end(current: Current) -> None:
    current.task.set_result(None)  # type: ignore[union-attr]


async def test_a_later_attempt_does_not_commit_past_an_earlier_one_still_finishing() -> None:
    flight = InFlight(max_finishing=1)
    first = await _attempt(flight, 10)
    assert flight.to_finish(first)
    second = await _attempt(flight, 12)
    assert flight.named() is second  # heartbeats name the GPU's attempt
    _end(second)
    ended, commit = flight.take_done()
    assert ended == [second]
    assert commit == 10  # the first is still finishing: its dispatch is read again after a crash
    _end(first)
    ended, commit = flight.take_done()
    assert ended == [first]
    assert commit == 13


async def test_finishing_places_are_bounded_and_gangs_stay_on_the_gpu() -> None:
    flight = InFlight(max_finishing=1)
    first = await _attempt(flight, 1)
    assert flight.to_finish(first)
    second = await _attempt(flight, 2)
    assert not flight.to_finish(second)  # no free place: it finishes on the GPU's time
    assert flight.gpu is second
    none = InFlight(max_finishing=0)
    assert not none.to_finish(await _attempt(none, 1))
    gang = InFlight(max_finishing=1)
    assert not gang.to_finish(await _attempt(gang, 1, gang_size=2))


async def test_a_skipped_dispatch_commits_no_further_than_a_finish_in_flight() -> None:
    flight = InFlight(max_finishing=1)
    first = await _attempt(flight, 4)
    flight.to_finish(first)
    assert flight.ended_at(5) == 4
    _end(first)
    assert flight.take_done()[1] == 6


def test_usage_of_an_overlapped_attempt_is_its_gpu_part() -> None:
    meter = UsageMeter("default", "cpu")
    command = dispatch()
    meter.started(command, 100.0)
    meter.gpu_done(command, 130.0)
    done: Artifact = artifact()
    outcome = RenderSucceeded(job_id=command.job_id, slot=0, attempt=1, artifact=done, render_seconds=45.0)
    record = meter.finished(outcome, 145.0)
    assert record is not None
    assert record.gpu_seconds == 30.0
