"""Standard Webhooks (standardwebhooks.com) signing and the payload reelstream sends for a job event.

Pure: no Faust, Kafka or HTTP import. A secret is `whsec_` + base64 of the key bytes; a signature is
`v1,` + base64(HMAC-SHA256(key, f"{msg_id}.{timestamp}.{body}")); the signature header may hold several
space-separated signatures (key rotation), and a receiver accepts the message if any of them matches.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime

from reelstream.errors import ConfigurationError, ReelstreamError

# the SSRF guard lives in reelstream.webhooks.targets; its names stay importable from here
from reelstream.webhooks.targets import BLOCKED_TARGET as BLOCKED_TARGET
from reelstream.webhooks.targets import Network as Network
from reelstream.webhooks.targets import is_blocked_address as is_blocked_address
from reelstream.webhooks.targets import parse_networks as parse_networks
from schemas.events import JobEvent, JobEventType, WebhookEndpointDisabled, is_deleted
from schemas.views import job_resource

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format prefix, not a secret
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"

NOTIFIABLE_TYPES = frozenset(
    {
        JobEventType.SUCCEEDED,
        JobEventType.FAILED,
        JobEventType.CANCELED,
        JobEventType.REJECTED,
        JobEventType.EXPIRED,
        JobEventType.DELETED,
    }
)


class WebhookVerificationError(ReelstreamError):
    """A webhook whose signature is missing or wrong, or whose timestamp is outside the tolerance."""

    code = "webhook_verification"


def generate_secret() -> str:
    """A new signing secret: `whsec_` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError("webhook secret is not valid base64 after the whsec_ prefix") from exc
    if not key:
        raise ConfigurationError("webhook secret is empty")
    return key


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one message: `v1,<base64 HMAC-SHA256>`."""
    digest = _digest(_key(secret), msg_id, timestamp, body)
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def sign_all(signing_secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value signed with each secret, space-separated (`v1,<a> v1,<b>`): while a
    tenant rotates its secret, receivers holding either the old or the new one can verify the message."""
    if not signing_secrets:
        raise ConfigurationError("no secret to sign a webhook with")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in signing_secrets)


def webhook_headers(secret: str | Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one message, signed with `secret` (or with each of several)."""
    signing_secrets = (secret,) if isinstance(secret, str) else tuple(secret)
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign_all(signing_secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"missing {name} header")


def _timestamp(raw: str, now: int, tolerance: int) -> int:
    try:
        timestamp = int(raw)
    except ValueError as exc:
        raise WebhookVerificationError(f"{HEADER_TIMESTAMP} is not an integer") from exc
    if timestamp < now - tolerance:
        raise WebhookVerificationError("message timestamp is too old")
    if timestamp > now + tolerance:
        raise WebhookVerificationError("message timestamp is too new")
    return timestamp


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Check a received webhook (header names case-insensitive); raise WebhookVerificationError if bad.

    `now` is the receiver's clock in Unix seconds; timestamps further than `tolerance` seconds from it, in
    either direction, are refused (replay protection). Any one matching `v1` signature is enough.
    """
    msg_id = _header(headers, HEADER_ID)
    timestamp = _timestamp(_header(headers, HEADER_TIMESTAMP), now, tolerance)
    expected = _digest(_key(secret), msg_id, timestamp, body)
    for candidate in _header(headers, HEADER_SIGNATURE).split():
        version, _, encoded = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        try:
            received = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(received, expected):
            return
    raise WebhookVerificationError("no matching signature")


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def event_payload(event: JobEvent) -> bytes:
    """The webhook body: compact JSON `{"type": "job.<type>", "timestamp": ..., "data": <the job>}`."""
    payload = {
        "type": event_type_name(event.type),
        "timestamp": _iso(event.occurred_at),
        "data": job_resource(event.status),
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def event_type_name(event_type: JobEventType) -> str:
    """`job.succeeded`: the `type` of the payload, and what a registered endpoint's filter names."""
    return f"job.{event_type.value}"


ENDPOINT_DISABLED_TYPE = "endpoint.disabled"  # another endpoint of the tenant was disabled
# what a registered endpoint gets with an empty filter: the terminal job events, and endpoint.disabled
NOTIFIABLE_TYPE_NAMES = frozenset({*(event_type_name(t) for t in NOTIFIABLE_TYPES), ENDPOINT_DISABLED_TYPE})
DEFAULT_TYPE_NAMES = NOTIFIABLE_TYPE_NAMES
# job events a registered endpoint only gets when its filter names them (job.progress is throttled)
OPT_IN_TYPES = frozenset({JobEventType.QUEUED, JobEventType.STARTED, JobEventType.PROGRESS})
# what a registered endpoint's filter may name
SUBSCRIBABLE_TYPE_NAMES = NOTIFIABLE_TYPE_NAMES | {event_type_name(t) for t in OPT_IN_TYPES}
PROGRESS_TYPE = event_type_name(JobEventType.PROGRESS)
PING_TYPE = "ping"


def ping_payload(tenant_id: str, endpoint_id: str, occurred_at: datetime) -> bytes:
    """A ping body: `{"type": "ping", "timestamp": ..., "data": {"tenant": ..., "endpoint_id": ...}}`."""
    payload = {
        "type": PING_TYPE,
        "timestamp": _iso(occurred_at),
        "data": {"tenant": tenant_id, "endpoint_id": endpoint_id},
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def endpoint_disabled_payload(record: WebhookEndpointDisabled) -> bytes:
    """The notice that one of a tenant's endpoints was disabled (never its URL: it may carry a token)."""
    payload = {
        "type": ENDPOINT_DISABLED_TYPE,
        "timestamp": _iso(record.occurred_at),
        "data": {
            "tenant": record.tenant_id,
            "endpoint_id": record.endpoint_id,
            "endpoint_sha256": record.endpoint_sha256,
            "status_code": record.status_code or None,
            "last_webhook_id": record.webhook_event_id,
        },
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def notifies(event: JobEvent) -> bool:
    """A terminal event; of a deleted job, only `job.deleted` (its cancel, or a success that raced the
    deletion, sends nothing)."""
    if event.type is JobEventType.DELETED:
        return True
    return event.type in NOTIFIABLE_TYPES and not is_deleted(event.status)


def endpoint_notifies(event: JobEvent) -> bool:
    """Whether a job event may go to registered endpoints (their filters choose): a notifiable one, or an
    opt-in type of a job not being deleted (`job.queued` as the job enters the queue, not a refresh of its
    queue position)."""
    if notifies(event):
        return True
    if event.type not in OPT_IN_TYPES or is_deleted(event.status):
        return False
    return event.type is not JobEventType.QUEUED or event.status.version <= 1


def is_notifiable(event: JobEvent) -> bool:
    """Terminal events of jobs that asked for a webhook."""
    return notifies(event) and bool(event.status.webhook_url)
