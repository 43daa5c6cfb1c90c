"""Faults injected while jobs flow through the real processes; after each, every accepted job ended exactly
once, no webhook-id carried two payloads, no job got two artifacts (tests.reliability.invariants), and the
counts are recorded (the session's summary prints them)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from datetime import UTC, datetime

from devstack.manager import LocalStack
from reelstream.object_store import minio_client
from schemas.events import JobEvent, JobEventType, RenderStage
from tests.job_keys import job_key_reader
from tests.reliability.invariants import artifacts_of
from tests.reliability.support import (
    ANSWER_WITHIN,
    LONG_STEPS,
    RETRY_SCHEDULE,
    Answer,
    RunFactory,
    job_of,
    webhook_id,
)
from tests.webhook_receiver import Delivery


def _long_render_denoising(event: JobEvent) -> bool:
    params = event.status.params
    return (
        event.type == JobEventType.PROGRESS
        and event.status.stage == RenderStage.DENOISE
        and params is not None
        and params.num_inference_steps == LONG_STEPS
    )


async def test_a_worker_killed_mid_render(fault_run: RunFactory) -> None:
    """The killed attempt is run again: requeued to a slot once its lease is gone, or re-read by the
    respawned worker while the lease still holds; either way it ends once, after the kill."""
    async with fault_run("worker SIGKILL mid-render") as run:
        await run.submit([run.body(i, long=i < 2) for i in range(8)])
        started = await run.until(_long_render_denoising)
        victim = f"worker-{started.status.slot}"
        run.kill(victim)
        killed_at = datetime.now(UTC)
        run.respawn(victim)
        await run.finish()
    final = run.tail.events[started.job_id][-1]
    assert final.status.state == "succeeded"
    assert final.occurred_at > killed_at, "the victim's job ended before the kill: the fault missed it"


async def test_admission_killed_while_jobs_arrive(fault_run: RunFactory) -> None:
    async with fault_run("admission SIGKILL") as run:
        await run.submit([run.body(i, long=i == 0) for i in range(3)])
        await run.until(lambda e: e.type == JobEventType.QUEUED)
        run.kill("admission")
        await run.submit([run.body(i) for i in range(3, 7)])  # accepted while admission is down
        run.respawn("admission")
        await run.submit([run.body(i) for i in range(7, 9)])
        await run.finish()


async def test_the_notifier_crashing_while_webhooks_go_out(fault_run: RunFactory) -> None:
    """The notifier is SIGKILLed and its supervisor starts it again: webhooks still arrive for every
    terminal event, and a webhook-id sent again after the restart carries the same payload."""
    async with fault_run("notifier SIGKILL") as run, run.supervised() as restarted:
        await run.submit([run.body(i, long=i in (2, 5)) for i in range(8)])
        await asyncio.to_thread(run.receiver.wait_for, lambda d: job_of(d) in run.accepted, 90)
        run.crash("notifier")
        await run.finish(restarted=restarted)
    assert restarted == ["notifier"]


async def test_the_scheduler_killed_with_jobs_queued_and_running(fault_run: RunFactory) -> None:
    async with fault_run("scheduler SIGKILL") as run:
        await run.submit([run.body(i, long=i < 2) for i in range(8)])
        await run.until(lambda e: e.type == JobEventType.DISPATCHED)
        run.kill("scheduler")
        run.respawn("scheduler")
        await run.submit([run.body(i) for i in range(8, 10)])
        await run.finish()


async def test_minio_stopped_during_uploads(fault_run: RunFactory, local_stack: LocalStack) -> None:
    """Uploads that hit the outage fail retriably and are requeued; once MinIO is back every job
    succeeds, with one artifact, which is really in the bucket."""
    async with fault_run("MinIO outage") as run:
        await run.submit([run.body(i, long=i < 2) for i in range(6)])
        await run.until(_long_render_denoising)
        await asyncio.to_thread(local_stack.stop_service, "minio")
        try:
            requeued = await run.until(lambda e: e.type == JobEventType.REQUEUED, within=90)
        finally:
            await asyncio.to_thread(local_stack.start_service, "minio")
        verdict = await run.finish()
    assert run.tail.events[requeued.job_id][-1].status.attempt >= 2  # the requeued job ran again
    assert verdict.states == {"succeeded": len(run.accepted)}
    store = minio_client(run.endpoints)
    for record in artifacts_of(run.tail.events):
        if record.job_id in run.accepted:
            assert store.stat_object(run.endpoints.s3_bucket, record.key).size > 0


async def test_a_webhook_receiver_failing_for_a_while_then_recovering(fault_run: RunFactory) -> None:
    """The receiver answers 500/503 to its first requests, then 204: every terminal event is delivered,
    and each webhook-id's attempts came one after the other, each at least its schedule's delay later."""
    failures = 6  # fewer than the schedule's attempts: no webhook-id can exhaust them

    async with fault_run("webhook receiver 5xx then 2xx") as run:

        def respond(delivery: Delivery) -> tuple[int, dict[str, str]]:
            failed = sum(1 for d in run.receiver.deliveries if d.status >= 500)
            return (500 + 3 * (failed % 2), {}) if failed < failures else (204, {})

        run.receiver.respond = respond
        await run.submit([run.body(i) for i in range(8)])
        await run.finish(failures_answered=failures)
        hooks = run.hooks()
    attempts: dict[str, list[Delivery]] = {}
    for hook in hooks:
        attempts.setdefault(webhook_id(hook), []).append(hook)
    assert sum(1 for h in hooks if h.status >= 500) == failures
    for tries in attempts.values():
        statuses = [t.status for t in tries]
        assert statuses[-1] == 204, statuses
        assert all(s >= 500 for s in statuses[:-1]), statuses
        for n, (before, after) in enumerate(itertools.pairwise(tries), start=1):
            gap = after.received_at - before.received_at
            assert RETRY_SCHEDULE[n] - 0.05 <= gap < RETRY_SCHEDULE[n] + 15, (n, gap)
    assert max(len(t) for t in attempts.values()) > 1


async def test_the_broker_restarted_under_load(fault_run: RunFactory, local_stack: LocalStack) -> None:
    """While the broker is down the API answers within a bounded time, 202 or 503 problem+json with
    Retry-After; a 503'd request retried under its Idempotency-Key after the restart is accepted once;
    every accepted job finishes."""
    async with fault_run("Kafka broker restart") as run, run.supervised() as restarted:
        await run.submit([run.body(i, long=i < 2) for i in range(6)])
        await run.until(lambda e: e.type == JobEventType.DISPATCHED)
        await asyncio.to_thread(local_stack.stop_service, "kafka")
        outage = {f"outage-{uuid.uuid4().hex}": run.body(10 + i) for i in range(3)}
        answers = await asyncio.gather(*(run.post(body, key) for key, body in outage.items()))
        await asyncio.to_thread(local_stack.start_service, "kafka")
        for answer in answers:
            assert answer.status in (202, 503), answer
            assert answer.seconds < ANSWER_WITHIN, answer
            if answer.status == 503:
                assert answer.content_type.startswith("application/problem+json"), answer
                assert int(answer.retry_after or 0) > 0, answer
        for key, body in outage.items():
            assert (await run.post_until_accepted(body, key)).status == 202
        await run.submit([run.body(i) for i in range(20, 23)])
        await run.finish(outage_answers=sorted(a.status for a in answers), restarted=restarted)
    assert len(run.accepted) == 6 + len(outage) + 3


async def test_an_ingest_replica_killed_while_clients_retry_with_their_keys(fault_run: RunFactory) -> None:
    """Clients post jobs under Idempotency-Keys and, when the connection drops or is refused, post again
    under the same key until accepted; ingest is SIGKILLed and started again meanwhile. Every 202 maps its
    key to one job, the same on every retry, and each prompt became exactly one job."""
    clients, per_client = 4, 6
    async with fault_run("ingest SIGKILL under load") as run:
        bodies = {f"ingest-kill-{uuid.uuid4().hex}": run.body(i) for i in range(clients * per_client)}
        keys = list(bodies)
        answers: dict[str, list[Answer]] = {key: [] for key in keys}

        async def client(own: list[str]) -> None:
            for key in own:
                deadline = time.monotonic() + 90
                while not answers[key] or answers[key][-1].status != 202:
                    assert time.monotonic() < deadline, answers[key]
                    answer = await run.post(bodies[key], key)
                    answers[key].append(answer)
                    assert answer.status in (0, 202, 409, 503), answer
                    if answer.status != 202:  # the client contract's pause before trying again
                        await asyncio.sleep(min(float(answer.retry_after or 0.5), 2.0))

        flows = [asyncio.create_task(client(keys[c::clients])) for c in range(clients)]
        await run.until(lambda e: e.type == JobEventType.QUEUED)  # under load: jobs flow already
        run.kill("ingest")
        run.respawn("ingest")
        await asyncio.gather(*flows)
        retried = sum(1 for tries in answers.values() if len(tries) > 1)
        await run.finish(retried_requests=retried, dropped=sum(a.status == 0 for a in run.answers))
    assert retried > 0, "no client had to retry: the kill missed the load"
    for key, tries in answers.items():
        accepted = {a.job_id for a in tries if a.status == 202}
        assert len(accepted) == 1, (key, tries)
    jobs_of_prompt: dict[str, set[str]] = {}
    async with job_key_reader(run.endpoints, run._serde, run.pipeline.key_dir) as reader:  # prompts: sealed
        prompts = {
            job_id: reader.job_keys.open(events[0].status).prompt
            for job_id, events in run.tail.events.items()
        }
    for job_id, prompt in prompts.items():
        if prompt.startswith(run.name):
            jobs_of_prompt.setdefault(prompt, set()).add(job_id)
    assert {p: len(j) for p, j in jobs_of_prompt.items()} == {b["prompt"]: 1 for b in bodies.values()}
