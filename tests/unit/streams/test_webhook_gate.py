"""The notifier's gate: a first attempt waits for a busy endpoint's slot; a failing one is deferred."""

from __future__ import annotations

import asyncio

from reelstream.webhooks.endpoint_health import Gate, HealthPolicy
from streams.webhook_gate import EndpointGate

POLICY = HealthPolicy(max_in_flight=1, backoff=(0.5,), retry_after_max=3600.0, disable_after=60.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_waiting_first_attempt_gets_the_slot_once_it_is_given_back() -> None:
    gate = EndpointGate(POLICY, Clock())
    assert (await gate.enter("e", may_wait=True)).gate is Gate.GO
    waiter = asyncio.create_task(gate.enter("e", may_wait=True))
    await asyncio.sleep(0)  # let it start waiting
    assert not waiter.done()
    assert (await gate.enter("e", may_wait=False)).gate is Gate.DEFER  # a retry does not wait
    await gate.leave("e", ok=True)
    assert (await asyncio.wait_for(waiter, 5)).gate is Gate.GO
    assert gate.health.in_flight("e") == 1


async def test_waiters_are_deferred_when_the_slot_comes_back_failed() -> None:
    clock = Clock()
    gate = EndpointGate(POLICY, clock)
    assert (await gate.enter("e", may_wait=True)).gate is Gate.GO
    waiter = asyncio.create_task(gate.enter("e", may_wait=True))
    await asyncio.sleep(0)
    await gate.leave("e", ok=False)
    admission = await asyncio.wait_for(waiter, 5)
    assert (admission.gate, admission.until) == (Gate.DEFER, 100.5)
    assert (await gate.enter("other", may_wait=False)).gate is Gate.GO
