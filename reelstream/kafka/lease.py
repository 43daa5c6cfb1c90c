"""A lease held by one process at a time, through a Kafka consumer group: whoever is assigned partition 0.

Every replica that wants the lease joins one group (`group`) subscribed to one topic; the broker's group
coordinator assigns each partition to exactly one member, so exactly one member holds partition 0. That
member holds the lease until the partition is revoked: a rebalance (a replica joins or leaves; the group
protocol is eager, so the holder is told "revoked" before anyone is told "assigned"), or its session ends.
A replica that stops leaves the group, and another is assigned partition 0 at the rebalance that follows
at once; one that dies without leaving is dropped after `SESSION_TIMEOUT_MS`. So a lease moves within about
a rebalance after a clean stop, and within the session timeout after a crash.

The consumer reads no record: every assigned partition is paused as it is assigned, and the loop only
polls (which keeps the member in the group: `max_poll_interval_ms`); no offset is ever committed.
Constructors do no I/O: `await start()` / `await stop()` from the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from reelstream.kafka.security import PLAINTEXT, KafkaSecurity

logger = logging.getLogger(__name__)

LEASE_PARTITION = 0
SESSION_TIMEOUT_MS = 10_000  # a holder that died without leaving is replaced after this
HEARTBEAT_INTERVAL_MS = 3_000
POLL_TIMEOUT_MS = 1_000  # the loop's poll: nothing is fetched (paused), it only proves the member alive


class GroupLease:
    """`held` while this member is assigned partition 0 of `topic` in `group`; `wait_held()` until then."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group: str,
        *,
        security: KafkaSecurity = PLAINTEXT,
        client_id: str = "reelstream-lease",
    ) -> None:
        self.group, self._topic = group, topic
        self._bootstrap, self._security, self._client_id = bootstrap, security, client_id
        self._held = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._loop: asyncio.Task[None] | None = None
        self.changes = 0  # how often the lease was taken or lost here (logs, tests)
        self.partitions: frozenset[int] = frozenset()  # those assigned to this member now

    @property
    def held(self) -> bool:
        return self._held.is_set()

    async def wait_held(self) -> None:
        await self._held.wait()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            **self._security.aiokafka(),
            client_id=self._client_id,
            group_id=self.group,
            enable_auto_commit=False,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        )
        consumer.subscribe([self._topic], listener=_Listener(self, consumer))
        await consumer.start()
        self._consumer = consumer
        self._loop = asyncio.create_task(self._poll(consumer), name=f"lease {self.group}")

    async def stop(self) -> None:
        """Give the lease up: leave the group (another member is assigned partition 0 at once)."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        if self._consumer is not None:
            self.note(False)
            await self._consumer.stop()
            self._consumer = None

    async def _poll(self, consumer: AIOKafkaConsumer) -> None:
        while True:  # paused partitions: a poll returns nothing, and keeps this member in the group
            await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS)

    def note(self, held: bool) -> None:
        """Whether this member holds partition 0 now (the rebalance listener says)."""
        if held == self.held:
            return
        self.changes += 1
        if held:
            self._held.set()
        else:
            self._held.clear()
        logger.info("lease %s %s", self.group, "taken" if held else "lost", extra={"topic": self._topic})


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, lease: GroupLease, consumer: AIOKafkaConsumer) -> None:
        self._lease, self._consumer = lease, consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._lease.partitions = frozenset()
        if any(tp.partition == LEASE_PARTITION for tp in revoked):
            self._lease.note(False)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if assigned:
            self._consumer.pause(*assigned)  # no record is read
        self._lease.partitions = frozenset(tp.partition for tp in assigned)
        self._lease.note(any(tp.partition == LEASE_PARTITION for tp in assigned))
