"""Property-based fuzzing of every operation of the served `/openapi.json` (schemathesis) against a real
ingest API (uvicorn on 127.0.0.1, real Kafka, registry and MinIO).

With an admin key (so no scope check hides a code path), for schema-valid and schema-violating requests:
no response is a 5xx, every 4xx is `application/problem+json` with type/title/status, and status codes,
content types, headers and bodies conform to what the document declares. Without a key every operation
but the public ones is a 401 problem. Derandomized and bounded, so a run is repeatable and quick.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ingest.app import PUBLIC_PATHS
from ingest.openapi import openapi_document
from reelstream.endpoints import Endpoints
from tests.integration.ingest.support import RunningApi, api_with_roles

# schemathesis' strategies draw from `random` (a hypothesis deprecation); nothing this module can fix
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

MAX_EXAMPLES = 15  # per operation and generation mode (test_api_contract.py runs the CLI too)
REQUEST_TIMEOUT_S = 10.0
PROBLEM_JSON = "application/problem+json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
OPERATIONS = sorted(
    f"{method.upper()} {path}"
    for path, item in openapi_document()["paths"].items()
    for method in item
    if method in {"get", "put", "post", "delete", "patch"}
)


@pytest.fixture(scope="module")
async def fuzzed(stack: Endpoints, topics: None) -> AsyncIterator[RunningApi]:
    tenant = f"fuzz-{uuid.uuid4().hex[:10]}"
    also = (FUZZ_TENANT, "fuzz-inf")  # the tenants the targeted cases name must exist
    async with api_with_roles(stack, {"root": tenant}, admins=["root"], also=also) as api:
        yield api


@pytest.fixture(scope="module")
async def served_schema(fuzzed: RunningApi) -> Any:
    """The document the running API serves (not the module's copy)."""
    async with httpx.AsyncClient(base_url=fuzzed.base_url) as client:
        response = await client.get("/openapi.json", headers=_auth(fuzzed))
    assert response.status_code == 200
    return schemathesis.openapi.from_dict(response.json())


def _auth(api: RunningApi) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.keys['root']}"}


def _is_problem(response: Any) -> str | None:
    """Why a 4xx/5xx response is not a problem document (None when it is one)."""
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if content_type.split(";")[0].strip() != PROBLEM_JSON:
        return f"content-type {content_type!r}"
    try:
        body = response.json()
    except ValueError:
        return "body is not JSON"
    if not isinstance(body, dict) or not {"type", "title", "status"} <= body.keys():
        return f"body lacks type/title/status: {body!r}"
    if body["status"] != response.status_code:
        return f"body status {body['status']} != {response.status_code}"
    return None


def _fuzz(
    schema: Any,
    label: str,
    base_url: str,
    headers: dict[str, str],
    modes: list[GenerationMode],
    check: Callable[[Case, Any], None],
) -> None:
    """Drive `label` with generated cases (blocking: run it in a thread while the API's loop serves)."""
    operation = schema[label.split(" ", 1)[1]][label.split(" ", 1)[0]]
    strategy = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))

    @settings(
        max_examples=MAX_EXAMPLES * len(modes),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=strategy)
    def run(case: Case) -> None:
        merged = {**(case.headers or {}), **headers}
        if "Authorization" not in headers:
            merged.pop("Authorization", None)
        response = case.call(base_url=base_url, headers=merged, timeout=REQUEST_TIMEOUT_S)
        check(case, response)

    run()


@pytest.mark.parametrize("label", OPERATIONS)
async def test_fuzzed_requests_with_an_admin_key_get_no_5xx_and_conform(
    fuzzed: RunningApi, served_schema: Any, label: str
) -> None:
    def check(case: Case, response: Any) -> None:
        case.validate_response(response, checks=CHECKS, headers=_auth(fuzzed))
        if response.status_code >= 400:
            why = _is_problem(response)
            assert why is None, f"{case.method} {case.formatted_path} -> {response.status_code}: {why}"

    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    await asyncio.to_thread(_fuzz, served_schema, label, fuzzed.base_url, _auth(fuzzed), modes, check)


@pytest.mark.parametrize("label", [op for op in OPERATIONS if op.split(" ", 1)[1] not in PUBLIC_PATHS])
async def test_fuzzed_requests_without_a_key_are_401_problems(
    fuzzed: RunningApi, served_schema: Any, label: str
) -> None:
    def check(case: Case, response: Any) -> None:
        assert response.status_code == 401, f"{case.method} {case.formatted_path} -> {response.status_code}"
        assert _is_problem(response) is None, _is_problem(response)
        assert response.headers.get("www-authenticate")

    await asyncio.to_thread(
        _fuzz, served_schema, label, fuzzed.base_url, {}, [GenerationMode.POSITIVE], check
    )


async def test_every_served_operation_is_fuzzed(fuzzed: RunningApi) -> None:
    """The operations parametrized above are exactly those of the served document."""
    async with httpx.AsyncClient(base_url=fuzzed.base_url, headers=_auth(fuzzed)) as client:
        served = (await client.get("/openapi.json")).json()
    labels = sorted(
        f"{method.upper()} {path}"
        for path, item in served["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch"}
    )
    assert labels == OPERATIONS
    assert len(OPERATIONS) >= 20


# ---- one regression test per bug the fuzzer found -------------------------------------------------------


def _call_and_validate(schema: Any, api: RunningApi, label: str, **case: Any) -> Any:
    """One hand-written case of `label`, checked exactly as the fuzzer checks its own."""
    method, path = label.split(" ", 1)
    built = schema[path][method].Case(**case)
    response = built.call(base_url=api.base_url, headers=_auth(api), timeout=REQUEST_TIMEOUT_S)
    built.validate_response(response, checks=CHECKS, headers=_auth(api))
    if response.status_code >= 400:
        assert _is_problem(response) is None, _is_problem(response)
    return response


async def test_regression_a_reused_idempotency_key_422_conforms_to_the_document(
    fuzzed: RunningApi, served_schema: Any
) -> None:
    """Bug 1: the 422 of POST /v1/jobs was declared a ValidationProblem (`errors` required), but a key
    reused with another body answers a plain problem without `errors`."""
    headers = {"Idempotency-Key": f"fuzz-{uuid.uuid4()}"}
    body = {"prompt": "a heron", "model": "tiny-mochi"}

    def run() -> Any:
        _call_and_validate(served_schema, fuzzed, "POST /v1/jobs", body=body, headers=headers)
        return _call_and_validate(
            served_schema, fuzzed, "POST /v1/jobs", body={**body, "seed": 3}, headers=headers
        )

    response = await asyncio.to_thread(run)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/idempotency-key-reused")


async def test_regression_limits_beyond_an_avro_int_are_a_422_not_a_500(
    fuzzed: RunningApi, served_schema: Any
) -> None:
    """Bug 2: `queued`/`running` above 2**31-1 passed validation and failed to serialize (Avro int): 500."""
    body = {"rate": 1.0, "burst": 5, "queued": 10, "running": 48296985028159357539319808}
    response = await asyncio.to_thread(
        _call_and_validate,
        served_schema,
        fuzzed,
        "PUT /v1/admin/tenants/{tenant}/limits",
        path_parameters={"tenant": FUZZ_TENANT},  # a recorded tenant: another answers 404 first
        body=body,
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["running"]


@pytest.mark.parametrize(
    ("label", "path_parameters", "raw"),
    [
        ("PUT /v1/admin/tenants/{tenant}/limits", {"tenant": "fuzz-inf"}, b'{"rate": 1e400, "burst": 2}'),
        ("POST /v1/jobs", {}, b'{"prompt": "a heron", "guidance_scale": 1e400}'),
    ],
)
async def test_regression_a_number_too_large_for_a_double_is_a_400(
    fuzzed: RunningApi, label: str, path_parameters: dict[str, str], raw: bytes
) -> None:
    """Bug 3: JSON numbers such as 1e400 were read as infinity, which passed `> 0` checks and then could
    not be written back as JSON (500)."""
    method, path = label.split(" ", 1)
    async with httpx.AsyncClient(base_url=fuzzed.base_url, headers=_auth(fuzzed)) as client:
        response = await client.request(
            method,
            path.format(**path_parameters),
            content=raw,
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400, response.text
    assert _is_problem(response) is None
    assert response.json()["type"].endswith("/malformed-request")


# ---- issue #21's cases, as explicit examples checked like the fuzzer's own ------------------------------

NESTED: dict[str, object] = {}
_level = NESTED
for _ in range(100):
    _level["n"] = {}
    _level = _level["n"]  # type: ignore[assignment]
PAST = "2000-01-01T00:00:00Z"
FUZZ_TENANT = "fuzz-issue-21"
TENANT_PATH = {"tenant": FUZZ_TENANT}
LONG_URL = "https://h.example/" + "a" * 60_000
SIX_TO_FOUR = "https://[2002:7f00:1::1]/h"  # 6to4 wrapping 127.0.0.1


@pytest.mark.parametrize(
    ("label", "case", "status", "field"),
    [
        ("POST /v1/jobs", {"body": {"prompt": "\ud800"}}, 422, "prompt"),
        ("POST /v1/jobs", {"body": {"prompt": "p", "metadata": {"k": "a\x00b"}}}, 422, "metadata"),
        ("POST /v1/jobs", {"body": {"prompt": "p", "metadata": NESTED}}, 400, None),
        (
            "POST /v1/jobs",
            {"body": {"prompt": "p", "webhook_url": "https://h.example/" + "a" * 60_000}},
            422,
            "webhook_url",
        ),
        (
            "POST /v1/jobs",
            {"body": {"prompt": "p", "webhook_url": "http://hooks.example.com/h"}},
            422,
            "webhook_url",
        ),
        (
            "POST /v1/jobs",
            {"body": {"prompt": "p", "webhook_url": "https://[2002:7f00:1::1]/h"}},
            422,
            "webhook_url",
        ),
        ("POST /v1/jobs", {"body": {"prompt": "p", "num_frames": 8}}, 422, "num_frames"),
        ("POST /v1/jobs", {"body": {"prompt": "p", "duration_seconds": 30}}, 422, "duration_seconds"),
        ("POST /v1/jobs", {"body": {"prompt": "p", "seed": None}}, 422, "seed"),
        ("POST /v1/jobs", {"body": {"prompt": "p", "model": "tiny-mochi", "deadline": PAST}}, 202, None),
        (
            "PUT /v1/admin/tenants/{tenant}/limits",
            {
                "path_parameters": {"tenant": FUZZ_TENANT},
                "body": {"rate": 1, "burst": 2, "running": 304862457.0},
            },
            200,
            None,
        ),
        ("POST /v1/admin/keys", {"body": {"tenant": FUZZ_TENANT, "expires_at": None}}, 422, "expires_at"),
        ("POST /v1/admin/keys", {"body": {"tenant": FUZZ_TENANT, "roles": []}}, 422, "roles"),
        ("POST /v1/admin/keys", {"body": {"tenant": FUZZ_TENANT, "expires_at": PAST}}, 201, None),
        (
            "POST /v1/admin/tenants/{tenant}/webhook-endpoints",
            {
                "path_parameters": {"tenant": FUZZ_TENANT},
                "body": {"url": "https://h.example/", "description": 5},
            },
            422,
            "description",
        ),
        ("GET /v1/jobs", {"query": {"after": ""}}, 422, "after"),
    ],
)
async def test_issue_21_cases_conform(
    fuzzed: RunningApi, served_schema: Any, label: str, case: dict[str, Any], status: int, field: str | None
) -> None:
    response = await asyncio.to_thread(_call_and_validate, served_schema, fuzzed, label, **case)
    assert response.status_code == status, response.text[:500]
    if field is not None:
        assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_a_body_not_declared_json_is_a_415_problem(fuzzed: RunningApi, content_type: str) -> None:
    async with httpx.AsyncClient(base_url=fuzzed.base_url, headers=_auth(fuzzed)) as client:
        response = await client.post(
            "/v1/jobs", content=b'{"prompt": "p"}', headers={"Content-Type": content_type}
        )
    assert response.status_code == 415
    assert _is_problem(response) is None
