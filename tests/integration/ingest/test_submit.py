"""POST /v1/jobs: invalid requests are refused before anything reaches Kafka; valid ones are acknowledged
by the broker before the 202, with every parameter resolved and echoed."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx
import pytest

from ingest.app import create_app
from reelstream.endpoints import Endpoints
from reelstream.params import validate_submission
from schemas.events import RenderParams, RequestedParams, SubmitJob
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS
from tests.integration.ingest.support import RunningApi, TopicProbe, serve, shutdown
from tests.job_keys import job_key_reader
from tests.keys import shared_key_dir

INVALID: list[Any] = [
    pytest.param({"prompt": ""}, 422, "prompt", id="empty-prompt"),
    pytest.param({"prompt": "x" * 2001}, 422, "prompt", id="prompt-2001-chars"),
    pytest.param({"prompt": "p", "duration_seconds": 11}, 422, "duration_seconds", id="duration-11s"),
    pytest.param({"prompt": "p", "width": 1024, "height": 1024}, 422, "height", id="1024x1024"),
    pytest.param({"prompt": "p", "width": 850}, 422, "width", id="width-not-x16"),
    pytest.param({"prompt": "p", "model": "sora-9"}, 422, "model", id="unknown-model"),
    pytest.param({"prompt": "p", "num_inference_steps": 0}, 422, "num_inference_steps", id="steps-0"),
    pytest.param(b'{"prompt": "a fox",', 400, None, id="malformed-json"),
    pytest.param(b"\xff\xfe{}", 400, None, id="not-utf8"),
    pytest.param(b'{"prompt": "p", "seed": NaN}', 400, None, id="nan-literal"),
    pytest.param({"prompt": "p", "colour": "red"}, 422, "colour", id="unknown-field"),
    pytest.param(
        {"prompt": "p", "webhook_url": "ftp://example.test/x"}, 422, "webhook_url", id="ftp-webhook"
    ),
    pytest.param({"prompt": "p", "width": "64"}, 422, "width", id="width-as-string"),
    pytest.param({"prompt": "p", "seed": True}, 422, "seed", id="seed-as-bool"),
    pytest.param({"prompt": "p", "metadata": ["x"]}, 422, "metadata", id="metadata-as-list"),
    pytest.param(["prompt"], 422, "body", id="not-an-object"),
    pytest.param(b'{"prompt": ' + b"[" * 1000 + b"]" * 1000 + b"}", 400, None, id="nested-1000-deep"),
    pytest.param(b'{"prompt": "\\ud800"}', 422, "prompt", id="lone-surrogate"),
    pytest.param(b'{"prompt": "p", "metadata": {"k": "a\\u0000b"}}', 422, "metadata", id="nul"),
    pytest.param(
        {"prompt": "p", "webhook_url": "https://h.example/" + "a" * 60_000}, 422, "webhook_url", id="long-url"
    ),
    pytest.param(
        {"prompt": "p", "webhook_url": "http://hooks.example.com/h"}, 422, "webhook_url", id="http-webhook"
    ),
    pytest.param(
        {"prompt": "p", "webhook_url": "https://[2002:7f00:1::1]/h"}, 422, "webhook_url", id="6to4-webhook"
    ),
    pytest.param({"prompt": "p", "duration_seconds": 30}, 422, "duration_seconds", id="duration-named"),
    pytest.param({"prompt": "p", "tier": "turbo"}, 422, "tier", id="unknown-tier"),
    pytest.param({"prompt": "p", "tier": 1}, 422, "tier", id="tier-not-a-string"),
]


@pytest.mark.parametrize(("body", "status", "field"), INVALID)
async def test_an_invalid_submission_is_refused_and_nothing_is_produced(
    ready_api: RunningApi, commands_probe: TopicProbe, body: Any, status: int, field: str | None
) -> None:
    client = ready_api.client("dave")
    before = await commands_probe.end_offsets()
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await client.post("/v1/jobs", content=content, headers={"Content-Type": "application/json"})

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["instance"] == "/v1/jobs"
    assert problem["type"].startswith("https://")
    assert problem["title"]
    assert problem["detail"]
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]]
        assert all(error["message"] for error in problem["errors"])
    produced = await commands_probe.records_since(before, key=ready_api.tenants["dave"].encode())
    assert produced == []


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "json"])
async def test_a_body_not_declared_json_is_a_415(ready_api: RunningApi, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await ready_api.client("dave").post("/v1/jobs", content=b'{"prompt": "p"}', headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_oversized_body_is_refused_with_413(
    ready_api: RunningApi, commands_probe: TopicProbe
) -> None:
    before = await commands_probe.end_offsets()
    body = json.dumps({"prompt": "p", "metadata": {"pad": "x" * 100_000}}).encode()
    response = await ready_api.client("dave").post("/v1/jobs", content=body)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert await commands_probe.records_since(before, key=ready_api.tenants["dave"].encode()) == []


async def submitted_command(
    probe: TopicProbe, serde: AvroSerde, before: dict[Any, int], tenant: str, job_id: str
) -> SubmitJob:
    """The one SubmitJob of `job_id` written since `before`, read back through the registry."""
    records = await probe.records_since(before, key=tenant.encode())
    commands = [await serde.deserialize(COMMANDS, bytes(r.value)) for r in records]
    [submit] = [c for c in commands if isinstance(c, SubmitJob) and c.job_id == job_id]
    return submit


async def test_a_submission_is_on_the_broker_before_202_with_every_parameter_resolved(
    ready_api: RunningApi, commands_probe: TopicProbe, serde: AvroSerde, stack: Endpoints
) -> None:
    client, tenant = ready_api.client("alice"), ready_api.tenants["alice"]
    before = await commands_probe.end_offsets()
    request = {
        "prompt": "a red fox in fresh snow",
        "negative_prompt": "blurry",
        "model": "tiny-mochi",
        "duration_seconds": 0.5,
        "webhook_url": "https://example.test/hook?token=s3cret",
        "metadata": {"project": "p1"},
    }
    response = await client.post("/v1/jobs", json=request)

    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert len(job["id"]) == 32
    assert (job["object"], job["status"], job["version"]) == ("job", "accepted", 0)
    params = job["parameters"]
    assert isinstance(params["seed"], int)
    assert params == {
        "model": "tiny-mochi",
        "width": 64,
        "height": 48,
        "num_frames": 13,
        "fps": 24,
        "num_inference_steps": 4,
        "guidance_scale": 4.5,
        "seed": params["seed"],
        "quality": "standard",
        "tier": "full",
    }
    assert job["has_webhook"] is True
    assert "s3cret" not in response.text
    shown = await client.get(response.headers["location"])
    assert (shown.status_code, shown.json()["id"], shown.json()["parameters"]) == (200, job["id"], params)

    sealed = await submitted_command(commands_probe, serde, before, tenant, job["id"])
    assert sealed.job_key_id is not None  # its fields travel sealed under the job's key (job_fields)
    for text in (request["prompt"], request["negative_prompt"], request["webhook_url"], "s3cret"):
        assert text not in f"{sealed.prompt} {sealed.negative_prompt} {sealed.webhook_url}"
    async with job_key_reader(stack, serde, shared_key_dir()) as reader:
        submit = reader.job_keys.open(sealed)
    assert submit.tenant_id == tenant
    assert (submit.prompt, submit.negative_prompt) == (request["prompt"], request["negative_prompt"])
    assert submit.webhook_url == request["webhook_url"]
    assert submit.metadata == {"project": "p1"}
    assert submit.params == RequestedParams(**params)
    # admission validates the command again and must arrive at exactly what the client was shown
    again = validate_submission(
        submit.prompt,
        submit.negative_prompt,
        submit.params,
        submit.webhook_url,
        submit.metadata,
        default_model="mochi-1",
    )
    assert again == RenderParams(**params)


async def test_given_values_are_kept_and_defaults_come_from_the_model(ready_api: RunningApi) -> None:
    client = ready_api.client("alice")
    request = {"prompt": "waves", "model": "tiny-mochi", "seed": 42, "num_frames": 7, "fps": 12}
    response = await client.post("/v1/jobs", json=request)
    assert response.status_code == 202
    params = response.json()["parameters"]
    assert (params["seed"], params["num_frames"], params["fps"]) == (42, 7, 12)
    assert (params["width"], params["height"], params["num_inference_steps"]) == (64, 48, 4)


async def test_a_submission_the_broker_does_not_acknowledge_in_time_is_a_503(
    ready_api: RunningApi,
) -> None:
    """Same stack, a produce deadline no broker can meet: the client is told to retry, never 202."""
    impatient = dataclasses.replace(ready_api.settings, produce_timeout_seconds=1e-6)
    served = await serve(create_app(impatient))
    try:
        async with httpx.AsyncClient(base_url=served.base_url, timeout=15.0) as client:
            response = await client.post(
                "/v1/jobs",
                json={"prompt": "a fox"},
                headers={"Authorization": f"Bearer {ready_api.keys['erin']}"},
            )
    finally:
        await shutdown(served)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["status"] == 503
