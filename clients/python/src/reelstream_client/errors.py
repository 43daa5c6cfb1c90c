"""One exception hierarchy. Every error the API answers carries its problem+json (RFC 9457) body.

`ReelstreamError` is the root; `retriable` says whether the same request may succeed later. httpx's
exceptions never leave the SDK: they are converted here (`ApiConnectionError`, `ApiTimeout`).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


class ReelstreamError(Exception):
    """The root of the SDK's errors."""

    retriable: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApiConnectionError(ReelstreamError):
    """The API could not be reached (refused, reset, DNS)."""

    retriable = True


class ApiTimeout(ApiConnectionError):
    """The API did not answer in time."""


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ApiError(ReelstreamError):
    """The API answered with an error status; `problem` is its problem+json body (or `{}`)."""

    def __init__(self, status: int, problem: Mapping[str, Any], retry_after: float | None = None) -> None:
        self.status = status
        self.problem = dict(problem)
        self.title: str = str(problem.get("title") or f"HTTP {status}")
        self.detail: str | None = problem.get("detail")
        self.type: str | None = problem.get("type")
        self.retry_after = retry_after
        super().__init__(f"{self.title}: {self.detail}" if self.detail else self.title)


class BadRequest(ApiError):
    """400: the request could not be read."""


class AuthenticationError(ApiError):
    """401: no key, or a key that is unknown, expired or revoked."""


class PermissionDenied(ApiError):
    """403: the key's roles do not allow this."""


class NotFound(ApiError):
    """404: no such resource for the caller (another tenant's job is reported the same way)."""


class Conflict(ApiError):
    """409: the resource's state does not allow it (e.g. the job has no video yet)."""


class PayloadTooLarge(ApiError):
    """413."""


class ValidationError(ApiError):
    """422: the body was refused; `errors` names each field, `field` the first."""

    def __init__(self, status: int, problem: Mapping[str, Any], retry_after: float | None = None) -> None:
        super().__init__(status, problem, retry_after)
        self.errors = [
            FieldError(str(item.get("field", "")), str(item.get("message", "")))
            for item in problem.get("errors") or []
            if isinstance(item, Mapping)
        ]
        self.field: str | None = self.errors[0].field if self.errors else None
        if self.errors:
            self.message = self.title + "".join(f"\n  {e.field}: {e.message}" for e in self.errors)
            self.args = (self.message,)


class RateLimited(ApiError):
    """429: too many requests; `retry_after` (seconds) says when to try again."""

    retriable = True


class ApiUnavailable(ApiError):
    """503 (and 502, 504): the service cannot take the request now."""

    retriable = True


class ServerError(ApiError):
    """500 and other 5xx answers."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationError,
    429: RateLimited,
    502: ApiUnavailable,
    503: ApiUnavailable,
    504: ApiUnavailable,
}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²", which isdigit() takes and float() refuses
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_for(status: int, problem: Mapping[str, Any], headers: Mapping[str, str]) -> ApiError:
    """The typed exception for an error answer."""
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return kind(status, problem, parse_retry_after(headers.get("retry-after")))
