"""Crypto-shredding on the real stack (issue #23): jobs with distinctive prompts, negative prompts and webhook
URLs run through every process; one is deleted. Then the raw bytes of every record of every topic hold none
of them (sealed everywhere, Faust changelogs and retry tiers included), the deleted job's sealed fields no
longer open with any key on the bus even for a reader holding the key-encryption keys, and the surviving job
still shows its prompt through the API and got its webhook at its own URL."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from reelstream_client import Client, Job

from devstack.services import Pipeline, PipelineConfig
from reelstream.crypto.provider import KeyUnavailableError
from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import Publisher, new_producer, sender_of
from schemas.events import DispatchRender, JobAdmitted, JobEvent, JobStatus, RequestedParams, SubmitJob
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS, JOB_EVENTS, JOB_STATUS, RENDER_DISPATCH, SCHEDULER_INBOX
from tests.e2e.support import SMALL, EventTail
from tests.job_keys import every_value, job_key_reader
from tests.kafka_clients import every_record
from tests.webhook_receiver import webhook_receiver

SCAN_DEADLINE_S = 180.0


def _submit(client: Client, **body: Any) -> Job:
    return client.submit(**{**SMALL, **body})


def _about(job_id: str) -> Any:
    return lambda d: json.loads(d.body)["data"]["id"] == job_id


async def _kafka_job(stack: Endpoints, serde: AvroSerde, job_id: str, prompt: str) -> None:
    """An internal team's SubmitJob, produced in clear straight to the commands topic."""
    producer = new_producer(stack.kafka_bootstrap, "e2e-shredding-team", security=stack.kafka_security)
    await producer.start()
    try:
        command = SubmitJob(
            job_id=job_id, tenant_id="tenant-a", prompt=prompt, params=RequestedParams(**SMALL)
        )
        await Publisher(sender_of(producer), serde).publish(COMMANDS, "tenant-a", command)
    finally:
        await producer.stop()


def _sealed_records(values: list[Any], job_id: str) -> list[Any]:
    out = []
    for value in values:
        record = value.status if isinstance(value, JobEvent) else value
        if (
            isinstance(record, SubmitJob | JobAdmitted | DispatchRender | JobStatus)
            and record.job_id == job_id
        ):
            out.append(record)
    return out


async def test_prompts_and_webhook_urls_travel_sealed_and_a_deleted_job_is_shredded(
    running_pipeline: Pipeline, pipeline: PipelineConfig, client_a: Client, stack: Endpoints, serde: AvroSerde
) -> None:
    run = uuid.uuid4().hex[:12]
    kept_prompt, gone_prompt = f"a zebra crossing {run} kept", f"a walrus dancing {run} gone"
    kafka_prompt = f"an internal team's heron {run}"
    secret_texts = {  # what must not appear in clear in any record (the kafka job's prompt: checked apart)
        kept_prompt,
        gone_prompt,
        f"blurry {run} kept",
        f"noisy {run} gone",
        f"keptpath{run}",
        f"gonepath{run}",
        f"kepttoken{run}",
        f"gonetoken{run}",
    }
    with webhook_receiver() as receiver:
        async with EventTail(stack, serde) as tail:
            kept = await asyncio.to_thread(
                _submit,
                client_a,
                prompt=kept_prompt,
                negative_prompt=f"blurry {run} kept",
                webhook_url=f"{receiver.url}/keptpath{run}?t=kepttoken{run}",
            )
            gone = await asyncio.to_thread(
                _submit,
                client_a,
                prompt=gone_prompt,
                negative_prompt=f"noisy {run} gone",
                webhook_url=f"{receiver.url}/gonepath{run}?t=gonetoken{run}",
            )
            kafka_job = uuid.uuid4().hex
            await _kafka_job(stack, serde, kafka_job, kafka_prompt)
            for job_id in (kept.id, gone.id, kafka_job):
                assert (await tail.until_terminal(job_id))[-1].status.state == "succeeded"
            await asyncio.to_thread(client_a.delete, gone.id)
            await tail.until(gone.id, lambda e: e.type == "deleted")
        # the notifier opened each job's own URL: the success, and the deletion (within its grace)
        await asyncio.to_thread(receiver.wait_for, _about(kept.id), 60.0)
        await asyncio.to_thread(
            receiver.wait_for,
            lambda d: _about(gone.id)(d) and json.loads(d.body)["type"] == "job.deleted",
            60.0,
        )
        kept_hook = next(d for d in receiver.matching(_about(kept.id)))
    assert json.loads(kept_hook.body)["data"]["prompt"] == kept_prompt  # the payload in clear, to its owner

    # 1. no plaintext anywhere; the Kafka client's own plaintext only on the commands topic it wrote
    forms = {text.encode() for text in secret_texts}
    hits: dict[str, set[str]] = {}
    kafka_hits: set[str] = set()
    scanned = 0
    async for topic, raw in every_record(
        stack.kafka_bootstrap, stack.kafka_security, deadline=SCAN_DEADLINE_S
    ):
        scanned += 1
        for form in forms:
            if form in raw:
                hits.setdefault(topic, set()).add(form.decode())
        if kafka_prompt.encode() in raw:
            kafka_hits.add(topic)
    print(f"scanned {scanned} records of every topic for {len(forms)} texts")
    assert scanned > 0
    assert hits == {}
    assert kafka_hits == {COMMANDS.name}  # admission sealed everything it forwarded

    # 2. with the key-encryption keys and every key left on the bus: the deleted job opens nowhere
    async with job_key_reader(stack, serde, running_pipeline.key_dir) as reader:
        assert not reader.job_keys.has("tenant-a", gone.id)
        opened_kept = 0
        for topic in (COMMANDS, SCHEDULER_INBOX, RENDER_DISPATCH, JOB_STATUS, JOB_EVENTS):
            values = await every_value(stack, serde, topic)
            for record in _sealed_records(values, gone.id):
                assert record.job_key_id is not None
                with pytest.raises(KeyUnavailableError):
                    reader.job_keys.open(record)
            for record in _sealed_records(values, kept.id):
                assert record.job_key_id is not None
                assert reader.job_keys.open(record).prompt == kept_prompt
                opened_kept += 1
            for record in _sealed_records(values, kafka_job):
                if topic is not COMMANDS:
                    assert record.job_key_id is not None
                    assert reader.job_keys.open(record).prompt == kafka_prompt
        assert opened_kept > 0

    # 3. the surviving job still shows its prompt through the API; the deleted one is gone
    shown = await asyncio.to_thread(client_a.get, kept.id)
    assert (shown.prompt, shown.negative_prompt) == (kept_prompt, f"blurry {run} kept")
