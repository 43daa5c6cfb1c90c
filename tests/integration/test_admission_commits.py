"""Admission queues its outputs without waiting for each ack (reelstream.kafka.pending_acks): on the real
broker, every command is admitted and its offset is committed once its outputs were acknowledged."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from ingest.submission import parse_submission, submit_command
from reelstream.endpoints import Endpoints
from schemas.errors import SerializationError
from schemas.events import JobAdmitted
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS, SCHEDULER_INBOX
from tests.integration.admission_process import AdmissionProcess, running_admission
from tests.integration.ingest.support import eventually

JOBS = 200
BODY = {"prompt": "a red fox", "model": "tiny-mochi", "width": 64, "height": 48, "num_frames": 7}


@pytest.fixture(scope="module")
def admission(
    stack: Endpoints, topics: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AdmissionProcess]:
    limits = "*=rate:100000,burst:100000,queued:100000"
    with running_admission(stack, tmp_path_factory.mktemp("admission"), "commits", limits) as process:
        yield process


async def test_a_burst_is_admitted_and_its_offsets_committed_after_the_acks(
    stack: Endpoints, serde: AvroSerde, producer: AIOKafkaProducer, admission: AdmissionProcess
) -> None:
    tenant = f"commits-{uuid.uuid4().hex[:8]}"
    submission = parse_submission(json.dumps(BODY).encode(), default_model="tiny-mochi")
    commands = [submit_command(submission, tenant) for _ in range(JOBS)]
    sends = [
        await producer.send(COMMANDS.name, serde.serialize(COMMANDS, c), key=tenant.encode())
        for c in commands
    ]
    metas = [await send for send in sends]
    last = max(metas, key=lambda meta: meta.offset)  # all on the tenant's partition
    inbox = AIOKafkaConsumer(
        SCHEDULER_INBOX.name,
        bootstrap_servers=stack.kafka_bootstrap,
        **stack.kafka_security.aiokafka(),
        auto_offset_reset="earliest",
    )
    await inbox.start()
    admitted: set[str] = set()
    wanted = {c.job_id for c in commands}

    async def read() -> set[str]:
        admission.check_running()
        for records in (await inbox.getmany(timeout_ms=200)).values():
            for record in records:
                try:
                    value = await serde.deserialize(SCHEDULER_INBOX, record.value)
                except SerializationError:
                    continue  # another test's poison record on the shared broker: not ours
                if isinstance(value, JobAdmitted) and value.job_id in wanted:
                    admitted.add(value.job_id)
        return admitted

    try:
        await eventually(read, lambda seen: seen == wanted, within=90)
    finally:
        await inbox.stop()

    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka())
    await admin.start()
    partition = TopicPartition(COMMANDS.name, last.partition)

    async def committed() -> int:
        offsets = await admin.list_consumer_group_offsets(admission.group, partitions=[partition])
        return offsets[partition].offset if partition in offsets else -1

    try:  # committed: the offset after the burst's last command (commits run every 0.5 s)
        await eventually(committed, lambda offset: offset > last.offset, within=30)
    finally:
        await admin.close()
