"""A fault of one tenant's making reaches no other tenant: a webhook receiver that hangs past the
notifier's deadline on every request delays only its own tenant's webhooks, and each of them still arrives,
exactly once, when it recovers."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import Counter

from tests.reliability.support import (
    OTHER_TENANT_KEY,
    WEBHOOK_DEADLINE,
    FaultRun,
    RunFactory,
    job_of,
    webhook_id,
)
from tests.webhook_receiver import Delivery

STEADY = 16  # the undisturbed tenant's jobs, one every PACE seconds
PACE = 0.25
HUNG = "/hung"  # the path of the hanging tenant's receiver
WITHIN_OF_UNDISTURBED = 1.0  # seconds: the other tenant's P99 stays this close to the undisturbed one


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def hung(delivery: Delivery) -> bool:
    return delivery.path.endswith(HUNG)


async def steady_flow(run: FaultRun, *, with_hanging_tenant: bool) -> list[str]:
    """The other tenant's jobs at a steady pace, and (every other step) one of the hanging tenant's; the
    other tenant's job ids."""
    fast: list[str] = []
    next_at = time.monotonic()
    for i in range(STEADY):
        fast += await run.submit([run.body(i)], api_key=OTHER_TENANT_KEY)
        if with_hanging_tenant and i % 2 == 0:
            await run.submit([run.body(1000 + i, hook_path=HUNG)])
        next_at += PACE
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))  # the flow's pace (load, not a wait)
    return fast


async def delays(run: FaultRun, job_ids: list[str]) -> list[float]:
    """Seconds from each job's terminal event to the first 2xx webhook about it, once all arrived."""
    ours = set(job_ids)

    def arrived(deliveries: list[Delivery]) -> bool:
        return ours <= {job_of(d) for d in deliveries if 200 <= d.status < 300 and not hung(d)}

    await asyncio.to_thread(run.receiver.wait_until, arrived, 120)
    seconds = []
    for job_id in job_ids:
        events = await run.tail.until_terminal(job_id, within=60)
        terminal = next(e for e in events if e.status.state.terminal)
        first = min(d.received_at for d in run.hooks() if job_of(d) == job_id and 200 <= d.status < 300)
        seconds.append(first - terminal.occurred_at.timestamp())
    return seconds


async def test_a_hanging_webhook_receiver_delays_only_its_own_tenant(fault_run: RunFactory) -> None:
    async with fault_run("webhooks, undisturbed") as calm:
        await delays(calm, await calm.submit([calm.body(-1)], api_key=OTHER_TENANT_KEY))  # a warm path
        undisturbed = await delays(calm, await steady_flow(calm, with_hanging_tenant=False))
        await calm.finish(fast_tenant_webhook_p99_s=round(p99(undisturbed), 3))

    recovered = threading.Event()

    def respond(delivery: Delivery) -> tuple[int, dict[str, str]]:
        return (503, {}) if hung(delivery) and not recovered.is_set() else (204, {})

    def stall(delivery: Delivery) -> None:
        if hung(delivery):  # past the notifier's deadline, unless it recovers meanwhile
            recovered.wait(WEBHOOK_DEADLINE + 2)

    async with fault_run("one tenant's webhook receiver hangs") as run:
        run.receiver.respond, run.receiver.stall = respond, stall
        disturbed = await delays(run, await steady_flow(run, with_hanging_tenant=True))
        hung_before = len(run.receiver.matching(hung))
        recovered.set()
        await run.finish(
            fast_tenant_webhook_p99_s=round(p99(disturbed), 3),
            undisturbed_p99_s=round(p99(undisturbed), 3),
            hung_requests=hung_before,
        )
        slow_hooks = run.receiver.matching(hung)

    print(
        f"the other tenant's webhook delay P99: {p99(undisturbed):.3f} s undisturbed, "
        f"{p99(disturbed):.3f} s beside a receiver hanging {WEBHOOK_DEADLINE + 2:g} s "
        f"({hung_before} hung requests; deadline {WEBHOOK_DEADLINE:g} s)"
    )
    assert hung_before > 0, "the hanging receiver was never called: the fault missed"
    assert p99(disturbed) <= p99(undisturbed) + WITHIN_OF_UNDISTURBED
    delivered = Counter(webhook_id(d) for d in slow_hooks if 200 <= d.status < 300)
    ids = {webhook_id(d) for d in slow_hooks}
    assert set(delivered) == ids, "a hanging tenant's webhook never arrived after it recovered"
    assert set(delivered.values()) == {1}, delivered  # each exactly once
