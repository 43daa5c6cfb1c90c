"""Ingest's producer (librdkafka behind asyncio) on the real broker: what it says it wrote is in the log, a
key lands where aiokafka and the stream stages put it, and a missing broker is an error, not a hang."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka import KafkaException

from devstack.process import free_port
from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import BrokerUnavailableError, Publisher, sender_of
from reelstream.kafka.librdkafka import LibrdkafkaProducer, Written
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS
from tests.kafka_clients import started


@pytest.fixture
async def producer(stack: Endpoints, topics: None) -> AsyncIterator[LibrdkafkaProducer]:
    client = LibrdkafkaProducer(
        stack.kafka_bootstrap, f"test-rdkafka-{uuid.uuid4().hex[:8]}", security=stack.kafka_security
    )
    async with started(client) as producer:
        yield producer


async def read_at(
    stack: Endpoints, written: Written
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        partition = TopicPartition(written.topic, written.partition)
        consumer.assign([partition])
        consumer.seek(partition, written.offset)
        async with asyncio.timeout(30):
            record = await consumer.getone()
        assert record.offset == written.offset
        return record.key, record.value, list(record.headers)
    finally:
        await consumer.stop()


async def test_an_acknowledged_record_is_in_the_log_where_the_acknowledgement_says(
    stack: Endpoints, producer: LibrdkafkaProducer
) -> None:
    value = uuid.uuid4().bytes
    headers = [("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    written = await producer.send_and_wait(COMMANDS.name, value, key=b"tenant-rd", headers=headers)
    assert written.topic == COMMANDS.name
    assert await read_at(stack, written) == (b"tenant-rd", value, headers)
    again = await producer.send_and_wait(COMMANDS.name, value, key=b"tenant-rd")
    assert (again.partition, again.offset) == (written.partition, written.offset + 1)  # one log, in order


async def test_a_key_goes_to_the_partition_aiokafka_and_the_stream_stages_choose(
    producer: LibrdkafkaProducer,
) -> None:
    keys = [f"tenant-{n}".encode() for n in range(64)]
    written = await asyncio.gather(*(producer.send_and_wait(COMMANDS.name, b"x", key=k) for k in keys))
    partitions = list(range(COMMANDS.partitions))
    expected = [DefaultPartitioner()(key, partitions, partitions) for key in keys]
    assert [w.partition for w in written] == expected
    assert len(set(expected)) > 1  # the keys spread: the check above compares choices, not one constant


async def test_a_chosen_partition_is_kept(producer: LibrdkafkaProducer) -> None:
    last = COMMANDS.partitions - 1
    written = await producer.send_and_wait(COMMANDS.name, b"x", key=b"any", partition=last)
    assert written.partition == last


async def test_no_broker_fails_start_and_sends_in_time() -> None:
    nobody = f"127.0.0.1:{free_port()}"
    producer = LibrdkafkaProducer(nobody, "test-rdkafka-nobody", delivery_timeout=1.0, connect_timeout=2.0)
    with pytest.raises(KafkaException):
        async with asyncio.timeout(20):
            await producer.start()
    with pytest.raises(KafkaException):  # never started: a clear error, not a hang
        await producer.send_and_wait(COMMANDS.name, b"x", key=b"k")


async def test_a_record_the_broker_does_not_take_fails_its_publish_and_the_producer_goes_on(
    serde: AvroSerde, producer: LibrdkafkaProducer
) -> None:
    """A record for a partition the topic does not have is never acknowledged: its publish fails with
    BrokerUnavailableError (the 503 ingest answers) within the Publisher's timeout; later sends work."""
    publisher = Publisher(sender_of(producer), serde, timeout=1.0)
    with pytest.raises(BrokerUnavailableError):
        async with asyncio.timeout(20):
            await publisher._publish(COMMANDS, "tenant-rd", b"x", COMMANDS.partitions + 5, None)
    written = await producer.send_and_wait(COMMANDS.name, b"still works", key=b"tenant-rd")
    assert written.offset >= 0
