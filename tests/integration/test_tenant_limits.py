"""Tenant limits seen by ingest, on the real broker, registry and a real admission process.

A tenant with a tiny burst submits over HTTP until admission rejects it; ingest then answers 429 problem+json
with a Retry-After and the RateLimit headers (from the state admission published) and accepts again once
the bucket has refilled. An admin changes another tenant's limits over HTTP and admission applies them
without a restart.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from reelstream.endpoints import Endpoints
from schemas.events import JobAdmitted, TenantLimitState
from schemas.serde import AvroSerde
from schemas.topics import SCHEDULER_INBOX, TENANT_LIMITS, Topic
from tests.integration.admission_process import AdmissionProcess, running_admission
from tests.integration.ingest.support import RunningApi, api_with_roles, eventually

RUN = uuid.uuid4().hex[:8]
TINY, SLOW = f"tiny-{RUN}", f"slow-{RUN}"  # burst 2 refilling at 0.5/s; burst 1 refilling once in 100 s
LIMITS = f"{TINY}=rate:0.5,burst:2,queued:1000;{SLOW}=rate:0.01,burst:1,queued:1000;*=rate:100,burst:1000"
JOB = {"prompt": "a red fox", "model": "tiny-mochi", "width": 64, "height": 48, "num_frames": 7}
DEADLINE_S = 90.0
MEMBER = re.compile(r'"[a-z]+"(;[a-z]+=\d+)+')


@pytest.fixture(scope="module")
def admission(
    stack: Endpoints, topics: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AdmissionProcess]:
    with running_admission(stack, tmp_path_factory.mktemp("admission"), "limits", LIMITS) as process:
        yield process


@pytest.fixture(scope="module")
async def limits_api(stack: Endpoints, topics: None) -> AsyncIterator[RunningApi]:
    async with api_with_roles(
        stack, {"tiny": TINY, "slow": SLOW, "ops": f"ops-{RUN}"}, admins=["ops"]
    ) as api:
        yield api


class TopicTail:
    """Reads a topic from its beginning through the registry and keeps every value."""

    def __init__(self, consumer: AIOKafkaConsumer, serde: AvroSerde, topic: Topic[Any]) -> None:
        self.consumer, self.serde, self.topic = consumer, serde, topic
        self.values: list[Any] = []

    async def until(self, done: Callable[[Any], bool], within: float = DEADLINE_S) -> Any:
        deadline = time.monotonic() + within
        seen = 0
        while time.monotonic() < deadline:
            for value in self.values[seen:]:
                if done(value):
                    return value
            seen = len(self.values)
            for records in (await self.consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    self.values.append(await self.serde.deserialize(self.topic, record.value))
        raise AssertionError(f"no such record on {self.topic.name} within {within}s")

    async def state(
        self, tenant_id: str, done: Callable[[TenantLimitState], bool] = lambda s: True
    ) -> TenantLimitState:
        found = await self.until(
            lambda v: isinstance(v, TenantLimitState) and v.tenant_id == tenant_id and done(v)
        )
        assert isinstance(found, TenantLimitState)
        return found


@asynccontextmanager
async def tail(stack: Endpoints, serde: AvroSerde, topic: Topic[Any]) -> AsyncIterator[TopicTail]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        **stack.kafka_security.aiokafka(),
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    parts = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
    consumer.assign(parts)
    await consumer.seek_to_beginning(*parts)
    try:
        yield TopicTail(consumer, serde, topic)
    finally:
        await consumer.stop()


@pytest.fixture(scope="module")
async def states(stack: Endpoints, serde: AvroSerde) -> AsyncIterator[TopicTail]:
    async with tail(stack, serde, TENANT_LIMITS) as states:
        yield states


async def submit_until_throttled(
    client: httpx.AsyncClient, admission: AdmissionProcess
) -> tuple[list[str], httpx.Response]:
    """POST jobs (a few a second) until ingest answers 429; the ids it accepted meanwhile and the 429."""
    accepted: list[str] = []

    async def post() -> httpx.Response:
        admission.check_running()
        response = await client.post("/v1/jobs", json=JOB)
        if response.status_code == 202:
            accepted.append(response.json()["id"])
        return response

    throttled = await eventually(post, lambda r: r.status_code == 429, within=DEADLINE_S, interval=0.25)
    return accepted, throttled


def assert_rate_limited_problem(response: httpx.Response, burst: int, window: int) -> None:
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 429
    assert body["type"].endswith("/rate-limited")
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-policy"] == f'"burst";q={burst};w={window}, "queued";q=1000'
    members = response.headers["ratelimit"].split(", ")
    assert all(MEMBER.fullmatch(m) for m in members), members
    assert members[0].startswith('"burst";r=0;t=')


async def test_a_tenant_over_its_burst_gets_429_with_headers_and_is_accepted_after_the_refill(
    admission: AdmissionProcess, limits_api: RunningApi, states: TopicTail
) -> None:
    client = limits_api.client("tiny")
    first = await client.post("/v1/jobs", json=JOB)  # admission may still be starting: wait for its state
    assert first.status_code == 202
    await states.state(TINY)

    # a burst faster than the state's round trip: ingest lets it through, admission (the authority)
    # rejects what the bucket cannot pay for
    crowd = await asyncio.gather(*(client.post("/v1/jobs", json=JOB) for _ in range(4)))
    assert [r.status_code for r in crowd] == [202] * 4
    outcomes = await eventually(
        lambda: jobs_of(client, [r.json()["id"] for r in crowd]),
        lambda jobs: any((j.get("error") or {}).get("code") == "rate_limited" for j in jobs),
    )
    assert all(j["status"] in ("accepted", "rejected") for j in outcomes)

    _, throttled = await submit_until_throttled(client, admission)
    assert_rate_limited_problem(throttled, burst=2, window=4)
    over = await states.state(TINY, lambda s: s.over == "rate")
    assert over.throttled_until is not None

    again = await eventually(
        lambda: client.post("/v1/jobs", json=JOB), lambda r: r.status_code != 429, within=30, interval=0.2
    )
    assert again.status_code == 202  # refilled (0.5 tokens/s): that may be any moment after the 429
    assert again.headers["ratelimit-policy"] == '"burst";q=2;w=4, "queued";q=1000'
    assert MEMBER.fullmatch(again.headers["ratelimit"].split(", ")[0])


async def jobs_of(client: httpx.AsyncClient, job_ids: list[str]) -> list[dict[str, Any]]:
    responses = await asyncio.gather(*(client.get(f"/v1/jobs/{job_id}") for job_id in job_ids))
    return [r.json() for r in responses]


async def test_an_admin_limits_change_takes_effect_without_restart(
    admission: AdmissionProcess, limits_api: RunningApi, states: TopicTail
) -> None:
    client, ops = limits_api.client("slow"), limits_api.client("ops")
    first = await client.post("/v1/jobs", json=JOB)
    assert first.status_code == 202
    _, throttled = await submit_until_throttled(client, admission)
    assert_rate_limited_problem(throttled, burst=1, window=100)

    refused = await client.put(f"/v1/admin/tenants/{SLOW}/limits", json={"rate": 50, "burst": 10})
    assert (refused.status_code, refused.headers["content-type"]) == (403, "application/problem+json")
    invalid = await ops.put(f"/v1/admin/tenants/{SLOW}/limits", json={"rate": 0, "burst": 10})
    assert invalid.status_code == 422
    changed = await ops.put(f"/v1/admin/tenants/{SLOW}/limits", json={"rate": 50, "burst": 10})
    assert changed.status_code == 200
    assert {k: changed.json()[k] for k in ("tenant", "rate", "burst", "queued")} == {
        "tenant": SLOW,
        "rate": 50,
        "burst": 10,
        "queued": 1000,
    }

    # admission (still the same process) republishes the tenant's state under the new limits
    await states.state(SLOW, lambda s: (s.rate, s.burst) == (50.0, 10.0))
    admission.check_running()
    accepted = await eventually(
        lambda: client.post("/v1/jobs", json=JOB),
        lambda r: (
            r.status_code == 202 and r.headers.get("ratelimit-policy", "").startswith('"burst";q=10;w=1')
        ),
        within=30,
        interval=0.2,
    )
    job_id = accepted.json()["id"]
    async with tail(limits_api.settings.pipeline.endpoints, states.serde, SCHEDULER_INBOX) as inbox:
        admitted = await inbox.until(lambda v: isinstance(v, JobAdmitted) and v.job_id == job_id)
    assert admitted.tenant_id == SLOW  # the old limits (a token per 100 s) would have rejected it
