"""One fault run: jobs submitted with webhooks to a real receiver, jobs.events read as they flow, the fault
injected by the test, then the invariants (tests.reliability.invariants) checked and the counts recorded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from devstack.services import Pipeline
from reelstream.endpoints import Endpoints
from reelstream.webhooks.messages import HEADER_ID
from schemas.events import JobEvent
from schemas.serde import AvroSerde
from tests.e2e.support import SMALL, EventTail
from tests.reliability.invariants import Hook, Verdict, artifacts_of, check, terminals_of
from tests.webhook_receiver import Delivery, Receiver, webhook_receiver

TENANT = "tenant-reliability"
TENANT_KEY = "rs_test_" + uuid.uuid4().hex
OTHER_TENANT = "tenant-reliability-other"  # a second tenant, for the faults one tenant must not spread
OTHER_TENANT_KEY = "rs_test_" + uuid.uuid4().hex
WEBHOOK_DEADLINE = 2.0  # seconds: the notifier's deadline of one attempt (REELSTREAM_WEBHOOK_TIMEOUT_SECONDS)
RETRY_SCHEDULE = (0.0, 0.5, *[1.0] * 10)  # twelve attempts: more than any test fails one
LONG = {"width": 128, "height": 128, "num_frames": 25, "num_inference_steps": 48}  # seconds of denoising
LONG_STEPS = LONG["num_inference_steps"]
ANSWER_WITHIN = 25.0  # seconds: an API answer (202 or 503) never takes longer, even with the broker down

FaultRecorder = Callable[[dict[str, object]], None]


@dataclass(frozen=True)
class Answer:
    """What POST /v1/jobs answered, and how long it took."""

    status: int
    seconds: float
    job_id: str | None = None
    content_type: str = ""
    retry_after: str | None = None


def webhook_id(delivery: Delivery) -> str:
    return delivery.headers[HEADER_ID]


def job_of(delivery: Delivery) -> str:
    return str(json.loads(delivery.body)["data"]["id"])


class FaultRun:
    """`async with run:` opens a webhook receiver and a tail of jobs.events; `submit` posts jobs (each
    with the receiver as its webhook_url); `finish` waits for every accepted job's end and its webhook,
    checks the invariants and records the counts."""

    def __init__(
        self,
        name: str,
        pipeline: Pipeline,
        endpoints: Endpoints,
        serde: AvroSerde,
        record: FaultRecorder,
        base_env: Mapping[str, str],
    ) -> None:
        self.name = name
        self.pipeline = pipeline
        self.endpoints = endpoints
        self._serde = serde
        self._record = record
        self._base_env = base_env
        self._stack = contextlib.AsyncExitStack()
        self.accepted: list[str] = []
        self.answers: list[Answer] = []
        self.receiver: Receiver
        self.tail: EventTail

    async def __aenter__(self) -> FaultRun:
        self.receiver = self._stack.enter_context(webhook_receiver())
        self.tail = await self._stack.enter_async_context(EventTail(self.endpoints, self._serde))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def body(self, i: int, *, long: bool = False, hook_path: str = "") -> dict[str, Any]:
        size = LONG if long else {}
        url = self.receiver.url + hook_path
        return {"prompt": f"{self.name} {i}", **SMALL, **size, "webhook_url": url}

    async def post(
        self, body: dict[str, Any], idempotency_key: str | None = None, api_key: str = TENANT_KEY
    ) -> Answer:
        """One POST /v1/jobs; a 202 is added to the accepted jobs. A connection refused or dropped is
        answer 0, as is a timeout."""
        answer = await asyncio.to_thread(self._post, body, idempotency_key, api_key)
        self.answers.append(answer)
        if answer.status == 202 and answer.job_id is not None and answer.job_id not in self.accepted:
            self.accepted.append(answer.job_id)
        return answer

    def _post(self, body: dict[str, Any], idempotency_key: str | None, api_key: str) -> Answer:
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {api_key}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        url = f"{self.pipeline.config.api_url}/v1/jobs"
        try:
            response = httpx.post(url, json=body, headers=headers, timeout=ANSWER_WITHIN + 5)
        except httpx.TransportError:  # timed out, refused, or the connection dropped (a killed server)
            return Answer(0, time.monotonic() - started)
        job_id = response.json().get("id") if response.status_code == 202 else None
        return Answer(
            response.status_code,
            time.monotonic() - started,
            job_id,
            response.headers.get("content-type", ""),
            response.headers.get("retry-after"),
        )

    async def submit(self, bodies: Sequence[dict[str, Any]], api_key: str = TENANT_KEY) -> list[str]:
        """Post each body in turn; every one must be accepted (202)."""
        ids = []
        for body in bodies:
            answer = await self.post(body, api_key=api_key)
            assert answer.status == 202, answer
            assert answer.job_id is not None
            ids.append(answer.job_id)
        return ids

    async def post_until_accepted(
        self, body: dict[str, Any], idempotency_key: str, within: float = 60.0
    ) -> Answer:
        """Post `body` under `idempotency_key` until it is accepted, as a client does: a 503 or a 409 (the
        key's first request still being accepted) or a connection refused or dropped (answer 0) is tried
        again after its Retry-After."""
        deadline = time.monotonic() + within
        while True:
            answer = await self.post(body, idempotency_key)
            if answer.status == 202 or time.monotonic() > deadline:
                return answer
            assert answer.status in (0, 409, 503), answer
            await asyncio.sleep(min(float(answer.retry_after or 1), 2.0))  # the client contract's pause

    async def until(self, done: Callable[[JobEvent], bool], within: float = 90.0) -> JobEvent:
        """The first event of an accepted job that satisfies `done`."""
        return await self.tail.until_any(lambda e: e.job_id in self.accepted and done(e), within)

    def kill(self, service: str) -> None:
        self.pipeline.kill(service)

    def respawn(self, service: str) -> None:
        self.pipeline.respawn(service, self.endpoints, self._base_env)

    def crash(self, service: str) -> None:
        """SIGKILL a service behind the pipeline's back: only a supervisor (`supervised`) restarts it."""
        pid = next(p.pid for p in self.pipeline.processes if p.name == service)
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)

    def supervised(self) -> contextlib.AbstractAsyncContextManager[list[str]]:
        """Services that exit are restarted, as their orchestrator would; yields the names restarted."""
        return self.pipeline.supervised(self.endpoints, self._base_env)

    def hooks(self) -> list[Delivery]:
        ours = set(self.accepted)
        return self.receiver.matching(lambda d: job_of(d) in ours)

    async def finish(self, within: float = 150.0, **extra: object) -> Verdict:
        """Wait (with one deadline) for every accepted job's terminal event and its delivered webhook;
        check the invariants, record the counts, and fail on any violation."""
        deadline = time.monotonic() + within
        for job_id in self.accepted:
            await self.tail.until_terminal(job_id, within=max(1.0, deadline - time.monotonic()))
        terminal_ids = {t.event_id for t in terminals_of(self._ours())}

        def all_delivered(deliveries: list[Delivery]) -> bool:
            done = {webhook_id(d) for d in deliveries if 200 <= d.status < 300}
            return terminal_ids <= done

        with contextlib.suppress(TimeoutError):  # what is missing is reported as a violation below
            await asyncio.to_thread(
                self.receiver.wait_until, all_delivered, max(1.0, deadline - time.monotonic())
            )
        hooks = [Hook(webhook_id(d), d.body, d.status) for d in self.hooks()]
        verdict = check(
            self.accepted,
            terminals_of(self._ours()),
            hooks,
            artifacts_of(self._ours()),
            hooks_expected=True,
        )
        self._record({"fault": self.name, **verdict.summary(), **extra})
        assert not verdict.violations, "\n".join(verdict.violations)
        return verdict

    def _ours(self) -> dict[str, list[JobEvent]]:
        return {job_id: self.tail.events[job_id] for job_id in self.accepted}


RunFactory = Callable[[str], FaultRun]
