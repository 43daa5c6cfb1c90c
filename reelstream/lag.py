"""Consumer lag of the project's consumer groups: committed offsets against end offsets, per partition.

`LagExporter.refresh()` reads the committed offsets of every group whose name starts with the app prefix
(admission, scheduler, notifier, one per worker slot) and the end offsets of the partitions they commit,
and sets three gauges. The scheduler process runs it on a Faust timer: it is already one small control
process per pool, so no extra deployable is needed (standbys export the same numbers; dashboards take max).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Gauge

from reelstream.kafka.security import PLAINTEXT, KafkaSecurity

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - self.committed, 0)


def partition_lags(
    committed: Mapping[str, Mapping[TopicPartition, int]], end: Mapping[TopicPartition, int]
) -> list[PartitionLag]:
    """Lag rows of every committed partition whose end offset is known (negative offsets: none yet)."""
    return [
        PartitionLag(group, tp.topic, tp.partition, offset, end[tp])
        for group, offsets in sorted(committed.items())
        for tp, offset in sorted(offsets.items())
        if offset >= 0 and tp in end
    ]


class LagExporter:
    """Gauges of committed offset, end offset and lag per group, topic and partition (bounded: the
    project's groups and the declared topics' partitions)."""

    def __init__(
        self,
        bootstrap: str,
        group_prefix: str,
        registry: CollectorRegistry,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self.bootstrap, self.group_prefix, self.security = bootstrap, group_prefix, security
        labels = ["group", "topic", "partition"]
        self.lag = Gauge(
            "reelstream_consumer_lag", "Records behind the end offset", labels, registry=registry
        )
        self.committed = Gauge(
            "reelstream_consumer_committed_offset", "Committed offset", labels, registry=registry
        )
        self.end = Gauge(
            "reelstream_topic_end_offset",
            "End offset of a partition",
            ["topic", "partition"],
            registry=registry,
        )
        self.read_at = Gauge(
            "reelstream_kafka_offsets_read_timestamp_seconds",
            "When offsets were last read (Kafka answered; ReelstreamKafkaUnreachable watches it)",
            registry=registry,
        )
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()  # one read at a time, and `close` waits for the read in progress
        self._closed = False

    async def refresh(self) -> list[PartitionLag]:
        """Read offsets once and update the gauges; a broker hiccup is logged and retried next time.
        After `close` it reads nothing (and opens no client again): a timer may still fire once."""
        async with self._lock:
            if self._closed:
                return []
            try:
                rows = await self._read()
            except KafkaError as exc:
                logger.warning("consumer lag not read: %s", exc)
                return []
        self.read_at.set_to_current_time()
        for row in rows:
            key = (row.group, row.topic, str(row.partition))
            self.lag.labels(*key).set(row.lag)
            self.committed.labels(*key).set(row.committed)
            self.end.labels(row.topic, str(row.partition)).set(row.end)
        return rows

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        """The admin client and consumer, opened on first use; both closed again if either fails to start
        (a half-open pair would be reused broken, or leak)."""
        if self._admin is None or self._consumer is None:
            auth = self.security.aiokafka
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **auth())
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, **auth())
            try:
                await admin.start()
                await consumer.start()
            except BaseException:
                await _stop(admin, consumer)
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def _read(self) -> list[PartitionLag]:
        admin, consumer = await self._clients()
        groups = [g[0] for g in await admin.list_consumer_groups() if g[0].startswith(self.group_prefix)]
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            committed[group] = {tp: meta.offset for tp, meta in offsets.items()}
        partitions = {tp for offsets in committed.values() for tp in offsets}
        end = await consumer.end_offsets(list(partitions)) if partitions else {}
        return partition_lags(committed, end)

    async def close(self) -> None:
        """Closes both Kafka clients (after a read in progress) for good; idempotent."""
        async with self._lock:
            self._closed = True
            admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
            await _stop(admin, consumer)


async def _stop(admin: AIOKafkaAdminClient | None, consumer: AIOKafkaConsumer | None) -> None:
    """Stop both even when stopping one fails (a consumer never started stops fine: its __del__ would
    otherwise report it unclosed)."""
    try:
        if consumer is not None:
            await consumer.stop()
    finally:
        if admin is not None:
            await admin.close()
