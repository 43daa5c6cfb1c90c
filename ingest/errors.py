"""Errors the HTTP layer raises on purpose; `ingest.problems` maps each to its HTTP status in one table."""

from __future__ import annotations

from reelstream.errors import ReelstreamError
from reelstream.params import InvalidRequest


class MalformedRequest(ReelstreamError):
    """The body is not JSON at all (or not UTF-8)."""

    code = "malformed_request"


class PayloadTooLarge(ReelstreamError):
    code = "payload_too_large"


class UnsupportedMediaType(ReelstreamError):
    """A body that is not declared `application/json` (or another `+json` type)."""

    code = "unsupported_media_type"


class RequestTimeout(ReelstreamError):
    """The body did not arrive within the body-read timeout."""

    code = "request_timeout"


class Unauthenticated(ReelstreamError):
    """No bearer token, or one that names no tenant."""

    code = "unauthenticated"


class IdentityProviderUnavailable(ReelstreamError):
    """The OIDC provider's JWKS could not be fetched, so no bearer JWT can be checked now."""

    code = "identity_provider_unavailable"
    retriable = True


class ApiKeyNotFound(ReelstreamError):
    """No key with this key_id in the key store."""

    code = "api_key_not_found"


class JobNotFound(ReelstreamError):
    """No such job for the caller. Another tenant's job is reported exactly like an unknown one."""

    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class JobStateConflict(ReelstreamError):
    """The job exists but its state does not allow the operation (cancel a finished job, …)."""

    code = "job_state_conflict"


class ContentExpired(ReelstreamError):
    """The job succeeded, but its video and poster were deleted by its retention."""

    code = "content_expired"


class NotReady(ReelstreamError):
    """This replica cannot serve yet (producer not started, status view still catching up)."""

    code = "not_ready"
    retriable = True


class StorageUnavailable(ReelstreamError):
    """Object storage could not be reached to sign a download URL."""

    code = "storage_unavailable"
    retriable = True


class InvalidHeader(InvalidRequest):
    """A request header is malformed; `errors` names the header (400, not 422: nothing in the body)."""

    code = "invalid_header"


class IdempotencyKeyReused(ReelstreamError):
    """The Idempotency-Key was already used with a different request body."""

    code = "idempotency_key_reused"


class IdempotencyInProgress(ReelstreamError):
    """A request with the same Idempotency-Key is still being accepted; retry shortly."""

    code = "idempotency_in_progress"
    retriable = True


class JobIdUnavailable(ReelstreamError):
    """`PUT /v1/jobs/{id}` names an id that exists with another body or belongs to someone else.

    Both read the same, so the answer shows only that the id is taken, never whose job it is."""

    code = "job_id_unavailable"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job id {job_id} is not available for this request; choose another id")
        self.job_id = job_id


class RateLimited(ReelstreamError):
    """The tenant is clearly over its submission rate or queue cap (admission's published state): 429 with
    Retry-After and the RateLimit headers in `headers`."""

    code = "rate_limited"
    retriable = True

    def __init__(self, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.headers = headers


class Forbidden(ReelstreamError):
    """The caller is authenticated but its roles do not grant the route's scope."""

    code = "forbidden"


class WebhookConfigNotFound(ReelstreamError):
    """No such webhook secret or endpoint for the tenant named in the path."""

    code = "not_found"


class WebhookNotResendable(ReelstreamError):
    """A logged delivery that cannot be sent again (its job is gone, its endpoint disabled, its kind)."""

    code = "webhook_not_resendable"


class TooManyWebhookSecrets(ReelstreamError):
    """A rotation while the tenant already has its most active secrets (each one signs every delivery)."""

    code = "too_many_webhook_secrets"


class TenantNotFound(ReelstreamError):
    """No such tenant in the registry, or one the caller may not see (answered alike)."""

    code = "tenant_not_found"


class TenantExists(ReelstreamError):
    """A tenant with this id was created already."""

    code = "tenant_exists"


class LimitAboveCeiling(ReelstreamError):
    """A tenant admin asked for limits above the ceiling the operator set (admins may only lower them)."""

    code = "limit_above_ceiling"


class KeyNotActive(ReelstreamError):
    """The key is revoked or expired: it cannot be rotated (create a new one)."""

    code = "api_key_not_active"


class TenantSuspended(ReelstreamError):
    """The caller's tenant is suspended by the platform operator: its keys and tokens are refused (403)."""

    code = "tenant_suspended"
