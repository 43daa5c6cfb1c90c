"""Dead letters on the real broker: a notifier subprocess parks what it cannot decode and moves on, and
`reelstream dlq list|replay` read and re-produce parked records (replays go to a scratch topic only)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from devstack import cli
from reelstream.dlq import REPLAYS_HEADER, read_dead_letters
from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import Publisher, sender_of
from schemas.events import DeadLetter, JobEventType, JobState
from schemas.serde import AvroSerde
from schemas.topics import DEAD_LETTERS, JOB_EVENTS
from tests.integration.notifier_process import NotifierProcess, running_notifier
from tests.integration.test_notifier import TENANT, _event, _received
from tests.webhook_receiver import Receiver

DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def notifier(
    stack: Endpoints, topics: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NotifierProcess]:
    notifier_dir = tmp_path_factory.mktemp("dlq-notifier")
    with running_notifier(stack, notifier_dir, "test-dlq", tenants=[TENANT]) as handle:
        yield handle


async def _end_offset(stack: Endpoints, topic: str) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


async def _parked_value(
    stack: Endpoints, serde: AvroSerde, stage: str, start: int, value: bytes, notifier: NotifierProcess
) -> DeadLetter:
    """The first dead letter of `stage` from offset `start` whose value is `value` (polled, to a deadline)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        notifier.check_running()
        for parked in await read_dead_letters(
            stack.kafka_bootstrap, serde, stage, security=stack.kafka_security
        ):
            if parked.offset >= start and parked.letter.value == value:
                return parked.letter
    pytest.fail(f"no dead letter with the garbage within {DEADLINE_S:g}s:\n{notifier.log()[-4000:]}")


async def test_an_undecodable_event_is_dead_lettered_and_the_notifier_moves_on(
    notifier: NotifierProcess,
    receiver: Receiver,
    producer: AIOKafkaProducer,
    serde: AvroSerde,
    stack: Endpoints,
) -> None:
    start = await _end_offset(stack, DEAD_LETTERS["notifier"].name)
    job_id = f"job-{uuid.uuid4().hex}"
    garbage = b"\x00\x00\x00\x00\x07not avro " + uuid.uuid4().hex.encode()
    meta = await producer.send_and_wait(
        JOB_EVENTS.name, garbage, key=job_id.encode(), headers=[("trace", b"t-1")]
    )
    later = _event(job_id, f"{receiver.url}/{job_id}?t=1", JobEventType.SUCCEEDED, JobState.SUCCEEDED)
    await Publisher(sender_of(producer), serde).publish(JOB_EVENTS, job_id, later, partition=meta.partition)

    await _received(receiver, notifier, job_id)  # the valid event after the garbage is still delivered
    letter = await _parked_value(stack, serde, "notifier", start, garbage, notifier)

    assert letter.stage == "notifier"
    assert letter.source_topic == JOB_EVENTS.name
    assert (letter.partition, letter.offset) == (meta.partition, meta.offset)
    assert letter.key == job_id.encode()
    assert letter.headers == {"trace": b"t-1"}
    assert letter.error_code in {"serialization", "unknown_schema"}
    assert letter.replays == 0


async def _scratch_topic(stack: Endpoints) -> str:
    name = f"test-dlq-scratch-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    return name


async def test_dlq_list_and_replay_re_produce_the_original_record(
    stack: Endpoints,
    serde: AvroSerde,
    producer: AIOKafkaProducer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scratch = await _scratch_topic(stack)
    payload = b"secret-payload-" + uuid.uuid4().hex.encode()
    letter = DeadLetter(
        stage="worker",
        source_topic=scratch,
        partition=1,
        offset=7,
        error_code="serialization",
        error_message="not avro",
        key=b"job-x",
        value=payload,
        headers={"trace": b"t-2"},
        replays=2,
    )
    meta = await Publisher(sender_of(producer), serde).publish(DEAD_LETTERS["worker"], "job-x", letter)
    for name, value in stack.as_env().items():
        monkeypatch.setenv(name, value)

    assert await asyncio.to_thread(cli.main, ["dlq", "list", "worker", "--limit", "50"]) == 0
    listed = capsys.readouterr().out
    assert f"{meta.offset}\t" in listed
    assert f"{scratch}[1]@7" in listed
    assert f"{len(payload)} bytes" in listed
    assert payload.decode() not in listed

    assert await asyncio.to_thread(cli.main, ["dlq", "replay", "worker", "--offset", str(meta.offset)]) == 0
    assert "replayed 1 record" in capsys.readouterr().out

    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp = TopicPartition(scratch, 1)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        batch = await consumer.getmany(tp, timeout_ms=int(DEADLINE_S * 1000))
        records = batch.get(tp, [])
    finally:
        await consumer.stop()
    assert len(records) == 1
    assert (records[0].key, records[0].value) == (b"job-x", payload)
    assert dict(records[0].headers) == {"trace": b"t-2", REPLAYS_HEADER: b"3"}


def test_dlq_replay_needs_an_offset_or_all() -> None:
    with pytest.raises(SystemExit):
        cli.main(["dlq", "replay", "worker"])
