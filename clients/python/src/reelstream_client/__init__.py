"""reelstream-client: the Python SDK of the reelstream text-to-video API (sync `Client`, async
`AsyncClient`, one surface), with typed models, typed errors and retries that honour Retry-After."""

from reelstream_client._async import AsyncClient
from reelstream_client._core import RetryPolicy, WaitTimeout
from reelstream_client._sync import Client
from reelstream_client._version import __version__
from reelstream_client.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeout,
    ApiUnavailable,
    AuthenticationError,
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ReelstreamError,
    ServerError,
    ValidationError,
)
from reelstream_client.models import Job, JobList
from reelstream_client.webhooks import WebhookVerificationError, verify_webhook

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "ApiTimeout",
    "ApiUnavailable",
    "AsyncClient",
    "AuthenticationError",
    "BadRequest",
    "Client",
    "Conflict",
    "Job",
    "JobList",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "ReelstreamError",
    "RetryPolicy",
    "ServerError",
    "ValidationError",
    "WaitTimeout",
    "WebhookVerificationError",
    "__version__",
    "verify_webhook",
]
