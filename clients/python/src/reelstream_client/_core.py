"""What `Client` and `AsyncClient` share: the calls (method, path, body, whether a retry is safe), the answer
check, the retry policy and the conversion of httpx's exceptions. No I/O here."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from reelstream_client import errors
from reelstream_client._version import __version__
from reelstream_client.models import Job, from_json

USER_AGENT = f"reelstream-client/{__version__}"
DEFAULT_TIMEOUT = 30.0
STREAM_READ_TIMEOUT = 60.0  # the API sends a keep-alive comment far more often than this


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter (stamina) for idempotent calls, on 429, 502-504 and connection
    errors. A `Retry-After` the API sends is waited exactly; one longer than `max_retry_after` is not
    waited at all: the error is raised for the caller to decide."""

    attempts: int = 5
    wait_initial: float = 0.5
    wait_max: float = 10.0
    wait_jitter: float = 1.0
    total_timeout: float = 120.0
    max_retry_after: float = 60.0

    def backoff(self, exc: Exception) -> bool | float:
        """stamina's hook: False = do not retry; True = the exponential wait; a float = wait this long."""
        if isinstance(exc, errors.ApiError):
            if not exc.retriable:
                return False
            if exc.retry_after is None:
                return True
            return exc.retry_after if exc.retry_after <= self.max_retry_after else False
        return isinstance(exc, errors.ApiConnectionError)

    def stamina_args(self) -> dict[str, Any]:
        return {
            "on": self.backoff,
            "attempts": self.attempts,
            "timeout": self.total_timeout,
            "wait_initial": self.wait_initial,
            "wait_max": self.wait_max,
            "wait_jitter": self.wait_jitter,
        }


NO_RETRIES = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class Call:
    """One API request. `idempotent`: repeating it has no further effect, so it may be retried."""

    method: str
    path: str
    idempotent: bool
    params: Mapping[str, Any] | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def request_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"params": self.params, "headers": dict(self.headers)}
        if self.body is not None:
            args["json"] = self.body
        return args


def default_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}


def converted(exc: httpx.HTTPError) -> errors.ReelstreamError:
    """httpx's exception as the SDK's own (they never leave the SDK)."""
    if isinstance(exc, httpx.TimeoutException):
        return errors.ApiTimeout(f"the API did not answer in time ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError):
        return errors.ApiConnectionError(f"cannot reach the API: {exc or type(exc).__name__}")
    return errors.ReelstreamError(f"HTTP client error: {exc}")


def problem_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return {"title": f"HTTP {response.status_code}", "detail": response.text[:300] or None}
    return body if isinstance(body, dict) else {"title": f"HTTP {response.status_code}"}


def checked(response: httpx.Response) -> Any:
    """The decoded body of a 2xx answer; an error answer raised as its typed exception (already read)."""
    if response.status_code >= 400:
        raise errors.error_for(response.status_code, problem_of(response), response.headers)
    if not response.content:
        return None
    return response.json()


def _iso(value: dt.datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def submit_call(body: dict[str, Any], idempotency_key: str | None, job_id: str | None) -> Call:
    """POST /v1/jobs with an Idempotency-Key (one is made when none is given: a retry is then safe), or PUT
    /v1/jobs/{job_id} with an id the caller chose (idempotent by that id)."""
    if job_id is not None:
        return Call("PUT", f"/v1/jobs/{job_id}", idempotent=True, body=cleaned(body))
    key = idempotency_key or str(uuid.uuid4())
    return Call("POST", "/v1/jobs", idempotent=True, body=cleaned(body), headers={"Idempotency-Key": key})


def cleaned(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _iso(v) for k, v in body.items() if v is not None}


def job_of(data: dict[str, Any]) -> Job:
    return from_json(Job, data)


def sse_job(data: str) -> Job:
    return job_of(json.loads(data))


def stream_timeout(connect: float) -> httpx.Timeout:
    return httpx.Timeout(connect, read=STREAM_READ_TIMEOUT)


class Resumable:
    """An event stream's place: the last snapshot version seen, sent back as `Last-Event-ID` when the
    stream is reopened; a snapshot the stream repeats (the API starts with the current one) is dropped."""

    def __init__(self) -> None:
        self.last_version: int | None = None

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self.last_version is not None:
            headers["Last-Event-ID"] = str(self.last_version)
        return headers

    def fresh(self, job: Job) -> bool:
        if self.last_version is not None and job.version <= self.last_version:
            return False
        self.last_version = job.version
        return True


def stream_failed(response: httpx.Response) -> errors.ReelstreamError | None:
    """Why an opened event stream cannot be read (after `response.read()` for an error status)."""
    if response.status_code >= 400:
        return errors.error_for(response.status_code, problem_of(response), response.headers)
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        return StreamUnsupported(f"the events route answered {response.headers.get('content-type')!r}")
    return None


def stream_ended_by_deletion(event: str, data: str) -> errors.NotFound | None:
    """A `job.deleted` event: the job was deleted while it was followed (the stream ends after it)."""
    if event != "job.deleted":
        return None
    job_id = json.loads(data).get("id")
    return errors.NotFound(404, {"title": "Not Found", "detail": f"job {job_id} was deleted"})


class StreamUnsupported(errors.ReelstreamError):
    """The event stream is not available (a proxy strips it): `wait` falls back to polling."""


def reconnect_delay(policy: RetryPolicy, failures: int, jitter: float) -> float:
    """The wait before reopening an event stream after `failures` failures in a row (jitter in [0, 1))."""
    base = min(policy.wait_max, policy.wait_initial * 2.0 ** max(0, failures - 1))
    return base + jitter * policy.wait_jitter


class WaitTimeout(errors.ReelstreamError):
    """`wait` gave up before the job ended; `job` is the last snapshot seen (or None)."""

    retriable = True

    def __init__(self, message: str, job: Job | None) -> None:
        super().__init__(message)
        self.job = job


def redirect_target(response: httpx.Response) -> str:
    """The signed URL a 302 from /content points at; any other answer raised as its error."""
    if response.status_code in (302, 303, 307) and "location" in response.headers:
        return response.headers["location"]
    checked(response)
    raise errors.ReelstreamError(f"the content route answered {response.status_code} without a redirect")
