"""Dead letters: how a stage parks a record it cannot process, and how an operator lists and replays them.

A DeadLetter keeps the record exactly as it was read (key, value and headers as bytes) with where it came
from and why it failed. Replaying re-produces those bytes to the source topic with the
`reelstream-replays` header bumped, so a record that fails again is parked with `replays` one higher.
Every stage writes its dead letters through one DeadLetterWriter (`write(source, error, reason)`);
`reelstream dlq list|replay` (devstack.cli) is a thin adapter over `list_dead_letters` / `replay`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from reelstream.errors import ReelstreamError
from reelstream.kafka.clients import Headers, Publisher, SendAndWait, new_producer, sender_of
from reelstream.kafka.consume_loop import read_range
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.registry_auth import OPEN_REGISTRY, RegistryAuth
from schemas.events import DeadLetter
from schemas.serde import AvroSerde
from schemas.topics import DEAD_LETTERS, Topic

logger = logging.getLogger(__name__)

REPLAYS_HEADER = "reelstream-replays"
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class SourceRecord:
    """A consumed record as a stage saw it, independent of the client that read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes]


class ConsumedRecord(Protocol):
    """A record as a Kafka client hands it over (aiokafka's ConsumerRecord, Faust's message)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> Any: ...
    @property
    def value(self) -> Any: ...
    @property
    def headers(self) -> Any: ...


def source_of(record: ConsumedRecord) -> SourceRecord:
    """The record as a stage saw it: key and value as bytes, headers as a dict."""
    key, value = record.key, record.value
    return SourceRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=None if key is None else bytes(key),
        value=None if value is None else bytes(value),
        headers=headers_dict(record.headers),
    )


def headers_dict(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None) -> dict[str, bytes]:
    """Kafka headers (a list of pairs, or a mapping) as a dict; a repeated name keeps its last value."""
    if headers is None:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {str(name): bytes(value or b"") for name, value in pairs}


def replays_of(headers: Mapping[str, bytes]) -> int:
    """How many times a record was replayed from a dead-letter topic (0 if never, or unreadable)."""
    try:
        return max(0, int(headers.get(REPLAYS_HEADER, b"0").decode()))
    except (ValueError, UnicodeDecodeError):
        return 0


def dead_letter(stage: str, record: SourceRecord, error: ReelstreamError) -> DeadLetter:
    return DeadLetter(
        stage=stage,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        error_code=error.code,
        error_message=error.message[:MAX_ERROR_CHARS],
        key=record.key,
        value=record.value,
        headers=dict(record.headers),
        replays=replays_of(record.headers),
    )


def dlq_topic(stage: str) -> Topic[DeadLetter]:
    try:
        return DEAD_LETTERS[stage]
    except KeyError:
        raise ReelstreamError(f"unknown stage {stage!r}: one of {', '.join(DEAD_LETTERS)}") from None


async def park(publisher: Publisher, stage: str, record: SourceRecord, error: ReelstreamError) -> DeadLetter:
    """Publish the dead letter of `record` to `stage`'s dead-letter topic and return it once acknowledged."""
    letter = dead_letter(stage, record, error)
    key = record.key.decode("utf-8", "replace") if record.key else ""
    await publisher.publish(dlq_topic(stage), key, letter)
    logger.error(
        "record dead-lettered: %s: %s",
        letter.error_code,
        letter.error_message,
        extra={"topic": record.topic, "partition": record.partition, "offset": record.offset},
    )
    return letter


PublisherSource = Publisher | Callable[[], Awaitable[Publisher]]
Counted = Callable[[str, str], None]  # (source topic, reason): e.g. Metrics.dead_lettered


class DeadLetterWriter:
    """The one way a stage writes `reelstream.dlq.<stage>`: the record's original bytes and headers, where
    it was read, the error; counted through `counted` (by source topic and reason) and logged.

    `publisher` is a Publisher, or an async factory of one (a Faust app opens its publisher lazily)."""

    def __init__(self, stage: str, publisher: PublisherSource, counted: Counted | None = None) -> None:
        dlq_topic(stage)  # an unknown stage fails here, not on the first poison record
        self.stage = stage
        self._publisher = publisher
        self._counted = counted

    async def write(
        self, source: SourceRecord, error: ReelstreamError, reason: str | None = None
    ) -> DeadLetter:
        """Park `source` because of `error`; `reason` labels the count (the error's code by default)."""
        if self._counted is not None:
            self._counted(source.topic, reason or error.code)
        publisher = self._publisher
        if not isinstance(publisher, Publisher):
            publisher = await publisher()
        return await park(publisher, self.stage, source, error)

    async def write_record(
        self, record: ConsumedRecord, error: ReelstreamError, reason: str | None = None
    ) -> DeadLetter:
        """`write` for a record as the Kafka client handed it over."""
        return await self.write(source_of(record), error, reason)


@dataclass(frozen=True)
class Parked:
    """A dead letter and its own offset on the dead-letter topic."""

    offset: int
    timestamp_ms: int
    letter: DeadLetter


async def read_dead_letters(
    bootstrap: str,
    serde: AvroSerde,
    stage: str,
    *,
    limit: int | None = None,
    offsets: set[int] | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> list[Parked]:
    """The dead letters of `stage` (the latest `limit`, or those at `offsets`), oldest first."""
    topic = dlq_topic(stage)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security.aiokafka())
    await consumer.start()
    try:
        tps = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(tps)
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        found: list[Parked] = []
        for tp in tps:
            start = begin[tp] if limit is None else max(begin[tp], end[tp] - limit)
            if offsets is not None:
                wanted = [o for o in offsets if begin[tp] <= o < end[tp]]
                if not wanted:
                    continue
                start = min(wanted)
            async for record in read_range(consumer, tp, start, end[tp]):
                if offsets is None or record.offset in offsets:
                    letter = await serde.deserialize(topic, record.value)
                    found.append(Parked(record.offset, record.timestamp, letter))
        found.sort(key=lambda p: p.offset)
        return found[-limit:] if limit is not None else found
    finally:
        await consumer.stop()


def replay_headers(letter: DeadLetter) -> Headers:
    """The original headers with `reelstream-replays` set to one more than the letter's count."""
    headers = {k: v for k, v in letter.headers.items() if k != REPLAYS_HEADER}
    return [*headers.items(), (REPLAYS_HEADER, str(letter.replays + 1).encode())]


async def replay(send: SendAndWait, letters: Sequence[Parked]) -> int:
    """Re-produce each letter's original key/value/headers to its source topic (its original partition)."""
    for parked in letters:
        letter = parked.letter
        await send(
            letter.source_topic,
            letter.key or b"",
            letter.value or b"",
            letter.partition,
            replay_headers(letter),
        )
    return len(letters)


def describe(parked: Parked) -> str:
    """One line for `reelstream dlq list`: never the payload, only its size."""
    letter = parked.letter
    size = len(letter.value) if letter.value is not None else 0
    return (
        f"{parked.offset}\t{letter.occurred_at.isoformat()}\t"
        f"{letter.source_topic}[{letter.partition}]@{letter.offset}\t"
        f"{letter.error_code}: {letter.error_message[:120]}\t{size} bytes\treplays={letter.replays}"
    )


async def list_stage(
    bootstrap: str,
    registry_url: str,
    stage: str,
    limit: int,
    security: KafkaSecurity = PLAINTEXT,
    registry_auth: RegistryAuth = OPEN_REGISTRY,
) -> list[Parked]:
    """`reelstream dlq list`: the latest `limit` dead letters of `stage`."""
    registry = ConfluentRegistry(registry_url, registry_auth)
    try:
        return await read_dead_letters(bootstrap, AvroSerde(registry), stage, limit=limit, security=security)
    finally:
        await registry.aclose()


async def replay_stage(
    bootstrap: str,
    registry_url: str,
    stage: str,
    offsets: set[int] | None,
    security: KafkaSecurity = PLAINTEXT,
    registry_auth: RegistryAuth = OPEN_REGISTRY,
) -> int:
    """`reelstream dlq replay`: re-produce the dead letters at `offsets` (all of them if None)."""
    registry = ConfluentRegistry(registry_url, registry_auth)
    producer = new_producer(bootstrap, f"reelstream-dlq-replay-{stage}", security)
    try:
        letters = await read_dead_letters(
            bootstrap, AvroSerde(registry), stage, offsets=offsets, security=security
        )
        if offsets is not None and len(letters) != len(offsets):
            missing = sorted(offsets - {p.offset for p in letters})
            raise ReelstreamError(f"no dead letter at offset(s) {missing} of {dlq_topic(stage).name}")
        await producer.start()
        try:
            return await replay(sender_of(producer), letters)
        finally:
            await producer.stop()
    finally:
        await registry.aclose()
