"""The retention sweep runs on one replica: the one assigned partition 0 of jobs.status in the group
`<prefix>-ingest-retention` (`reelstream.kafka.lease`). On the real broker, as the ingest principal (so the
group's ACL from `service_access` is what lets it in): two members, one sweeps; the holder stops, the other
takes over within a bound."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from devstack.kafka_principals import service_security
from ingest.sweepers import sweep_forever
from reelstream.endpoints import Endpoints
from reelstream.kafka.acls import retention_group
from reelstream.kafka.lease import SESSION_TIMEOUT_MS, GroupLease
from schemas.topics import JOB_STATUS
from tests.integration.ingest.support import eventually

SWEEP_INTERVAL = 0.05
TAKEOVER_BOUND = SESSION_TIMEOUT_MS / 1000  # a clean stop hands over at the next rebalance, well within it


class Replica:
    """One ingest replica's retention sweeper, counting its sweeps."""

    def __init__(self, lease: GroupLease) -> None:
        self.lease, self.sweeps = lease, 0
        self.task: asyncio.Task[None] | None = None

    async def sweep_once(self) -> list[str]:
        self.sweeps += 1
        return []

    def start(self) -> None:
        self.task = asyncio.create_task(
            sweep_forever("retention", self.sweep_once, SWEEP_INTERVAL, self.lease)
        )

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.lease.stop()


@pytest.fixture
async def replicas(stack: Endpoints, topics: None) -> AsyncIterator[Callable[[], Any]]:
    security = service_security(stack.kafka_security, "ingest")
    group = f"{retention_group()}-{uuid.uuid4().hex[:8]}"  # under the ingest principal's group prefix
    made: list[Replica] = []

    async def make() -> Replica:
        lease = GroupLease(stack.kafka_bootstrap, JOB_STATUS.name, group, security=security)
        replica = Replica(lease)
        made.append(replica)
        await lease.start()
        replica.start()
        return replica

    yield make
    for replica in made:
        await replica.stop()


async def settled(members: list[Replica], holders: int = 1) -> None:
    """Until the group settled: every member assigned some of jobs.status's partitions, all of them
    assigned, and `holders` members holding the lease."""

    async def state() -> tuple[list[frozenset[int]], int]:
        return [m.lease.partitions for m in members], sum(m.lease.held for m in members)

    def done(seen: tuple[list[frozenset[int]], int]) -> bool:
        parts, held = seen
        return all(parts) and len(frozenset().union(*parts)) == JOB_STATUS.partitions and held == holders

    await eventually(state, done, within=60)


async def count(value: Callable[[], int]) -> int:
    return value()


async def test_one_replica_sweeps_and_another_takes_over_when_it_stops(replicas: Callable[[], Any]) -> None:
    first, second = await replicas(), await replicas()
    await settled([first, second])
    holder, other = (first, second) if first.lease.held else (second, first)
    swept, other_swept = holder.sweeps, other.sweeps
    await eventually(lambda: count(lambda: holder.sweeps), lambda n: n >= swept + 10, within=30)
    assert other.sweeps == other_swept  # ten sweeps of the holder, none of the other
    assert holder.lease.held
    assert not other.lease.held

    started = time.monotonic()
    await holder.stop()
    await eventually(lambda: count(lambda: other.lease.held), bool, within=TAKEOVER_BOUND)
    took = time.monotonic() - started
    print(f"retention lease taken over {took:.2f} s after the holder stopped")
    stopped_at = holder.sweeps
    await eventually(lambda: count(lambda: other.sweeps), lambda n: n >= other_swept + 5, within=30)
    assert holder.sweeps == stopped_at  # the stopped replica sweeps no more


async def test_the_lease_is_never_held_twice_while_members_come_and_go(replicas: Callable[[], Any]) -> None:
    """A third member joins (a rebalance: the holder is told "revoked" before anyone "assigned"), then
    leaves: at no sampled moment do two members hold the lease, and one holds it once the group settled."""
    members = [await replicas(), await replicas()]
    overlaps: list[list[bool]] = []

    async def watch() -> None:
        while True:
            held = [m.lease.held for m in members]
            if sum(held) > 1:
                overlaps.append(held)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        await settled(members)
        members.append(await replicas())
        await settled(members)
        await members.pop(0).stop()
        await settled(members)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    assert overlaps == []
