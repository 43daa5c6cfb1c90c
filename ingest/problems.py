"""Every error the API answers with, as `application/problem+json` (RFC 9457), mapped in ONE table.

Route code raises reelstream errors; the exception handlers installed by `exception_handlers()` turn them
into problem documents. Anything not in the table is a 500 whose details stay in the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ingest.errors import (
    ApiKeyNotFound,
    ContentExpired,
    Forbidden,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    IdentityProviderUnavailable,
    InvalidHeader,
    JobIdUnavailable,
    JobNotFound,
    JobStateConflict,
    KeyNotActive,
    LimitAboveCeiling,
    MalformedRequest,
    NotReady,
    PayloadTooLarge,
    RateLimited,
    RequestTimeout,
    StorageUnavailable,
    TenantExists,
    TenantNotFound,
    TenantSuspended,
    TooManyWebhookSecrets,
    Unauthenticated,
    UnsupportedMediaType,
    WebhookConfigNotFound,
    WebhookNotResendable,
)
from reelstream.kafka.clients import BrokerUnavailableError
from reelstream.params import InvalidRequest, WorkloadTooLarge
from schemas.errors import RegistryUnavailableError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://reelstream.dev/problems/"
RETRY_AFTER_SECONDS = 5
WWW_AUTHENTICATE = 'Bearer realm="reelstream"'


@dataclass(frozen=True)
class ProblemKind:
    status: int
    slug: str
    title: str
    detail: str | None = None  # fixed text for errors whose message is for operators, not clients
    retry: bool = False  # answer with Retry-After (every 503 does)


PROBLEMS: dict[type[Exception], ProblemKind] = {
    MalformedRequest: ProblemKind(400, "malformed-request", "Malformed request"),
    # the connection is gone (ingest.server cut a body that came too slowly): nobody reads this answer
    ClientDisconnect: ProblemKind(400, "client-disconnected", "Client disconnected"),
    InvalidHeader: ProblemKind(400, "invalid-header", "Invalid header"),
    Unauthenticated: ProblemKind(401, "unauthenticated", "Unauthenticated"),
    Forbidden: ProblemKind(403, "forbidden", "Forbidden"),
    TenantSuspended: ProblemKind(403, "tenant-suspended", "Tenant suspended"),
    JobNotFound: ProblemKind(404, "not-found", "Not found"),
    WebhookConfigNotFound: ProblemKind(404, "not-found", "Not found"),
    ApiKeyNotFound: ProblemKind(404, "not-found", "Not found"),
    TenantNotFound: ProblemKind(404, "not-found", "Not found"),
    TenantExists: ProblemKind(409, "tenant-exists", "Tenant exists"),
    LimitAboveCeiling: ProblemKind(403, "limit-above-ceiling", "Limit above ceiling"),
    KeyNotActive: ProblemKind(409, "api-key-not-active", "API key not active"),
    JobStateConflict: ProblemKind(409, "job-state-conflict", "Job state conflict"),
    WebhookNotResendable: ProblemKind(409, "webhook-not-resendable", "Webhook not resendable"),
    TooManyWebhookSecrets: ProblemKind(409, "too-many-webhook-secrets", "Too many webhook secrets"),
    ContentExpired: ProblemKind(410, "content-expired", "Content expired"),
    JobIdUnavailable: ProblemKind(409, "job-id-unavailable", "Job id unavailable"),
    IdempotencyInProgress: ProblemKind(409, "idempotency-in-progress", "Request in progress", retry=True),
    RequestTimeout: ProblemKind(408, "request-timeout", "Request timeout"),
    PayloadTooLarge: ProblemKind(413, "payload-too-large", "Payload too large"),
    UnsupportedMediaType: ProblemKind(415, "unsupported-media-type", "Unsupported media type"),
    InvalidRequest: ProblemKind(422, "invalid-request", "Invalid request"),
    WorkloadTooLarge: ProblemKind(
        422, "workload-too-large", "Workload exceeds resource allocation thresholds"
    ),
    IdempotencyKeyReused: ProblemKind(422, "idempotency-key-reused", "Idempotency key reused"),
    RateLimited: ProblemKind(429, "rate-limited", "Too many requests"),
    BrokerUnavailableError: ProblemKind(
        503, "broker-unavailable", "Service unavailable", "the job log did not acknowledge in time; retry"
    ),
    RegistryUnavailableError: ProblemKind(
        503, "registry-unavailable", "Service unavailable", "the schema registry is unavailable; retry"
    ),
    StorageUnavailable: ProblemKind(
        503, "storage-unavailable", "Service unavailable", "object storage is unavailable; retry"
    ),
    IdentityProviderUnavailable: ProblemKind(
        503,
        "identity-provider-unavailable",
        "Service unavailable",
        "the identity provider's keys could not be fetched; retry",
    ),
    NotReady: ProblemKind(503, "not-ready", "Service unavailable"),
}
INTERNAL = ProblemKind(500, "internal", "Internal server error", "an unexpected error occurred")


def kind_of(exc: Exception) -> ProblemKind | None:
    for cls in type(exc).__mro__:
        kind = PROBLEMS.get(cls)
        if kind is not None:
            return kind
    return None


def problem_document(kind: ProblemKind, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE_BASE + kind.slug,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
        "instance": instance,
        **extra,
    }


def problem_response(exc: Exception, instance: str) -> Response:
    """The response for an error of the table (or a 500 for anything else)."""
    kind = kind_of(exc) or INTERNAL
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidRequest):
        extra["errors"] = [{"field": e.field, "message": e.message} for e in exc.errors]
        detail = "the request has invalid fields: " + ", ".join(sorted({e.field for e in exc.errors}))
    if isinstance(exc, WorkloadTooLarge):  # which limit, its value and what the job asked for
        extra.update(limit=exc.limit, maximum=exc.maximum, requested=exc.requested)
        detail = exc.message
    elif kind.detail is not None:
        detail = kind.detail
    else:
        detail = str(exc)
    if kind.status == 401:
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    if kind.status == 503 or kind.retry:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if isinstance(exc, RateLimited):
        headers.update(exc.headers)  # Retry-After with jitter, RateLimit-Policy, RateLimit
    body = problem_document(kind, detail, instance, **extra)
    return JSONResponse(body, status_code=kind.status, headers=headers, media_type=PROBLEM_JSON)


def _http_problem(exc: HTTPException, instance: str) -> Response:
    """Starlette's own errors (no such route, method not allowed) in the same format."""
    kind = ProblemKind(exc.status_code, f"http-{exc.status_code}", str(exc.detail))
    headers = dict(exc.headers or {})
    body = problem_document(kind, str(exc.detail), instance)
    return JSONResponse(body, status_code=exc.status_code, headers=headers, media_type=PROBLEM_JSON)


async def _handle_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_problem(exc, request.url.path)
    kind = kind_of(exc)
    if kind is None:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    elif kind.status >= 500:
        logger.warning("%s on %s: %s", type(exc).__name__, request.url.path, exc)
    return problem_response(exc, request.url.path)


def exception_handlers() -> dict[Any, Any]:
    """For `Starlette(exception_handlers=...)`: every table entry, Starlette's HTTP errors and the rest."""
    handlers: dict[Any, Any] = dict.fromkeys(PROBLEMS, _handle_error)
    handlers[HTTPException] = _handle_error
    handlers[Exception] = _handle_error
    return handlers
