"""Verify a webhook the service sent: Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`,
`webhook-signature`), checked by the `standardwebhooks` library (`pip install 'reelstream-client[webhooks]'`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from reelstream_client.errors import ReelstreamError


class WebhookVerificationError(ReelstreamError):
    """The signature does not match the body under any of the secrets, or the timestamp is too far off."""


def verify_webhook(
    payload: bytes | str, headers: Mapping[str, str], secrets: str | Sequence[str]
) -> dict[str, Any]:
    """The decoded event when `payload` was signed with one of `secrets` (`whsec_…`; several while a
    secret is being rotated) and its timestamp is within five minutes; `WebhookVerificationError` if not.
    Pass the raw body, exactly as received."""
    try:
        from standardwebhooks.webhooks import Webhook
        from standardwebhooks.webhooks import WebhookVerificationError as Refused
    except ImportError as exc:  # the optional extra
        raise ReelstreamError("install reelstream-client[webhooks] to verify webhooks") from exc
    lowered = {key.lower(): value for key, value in headers.items()}
    for secret in [secrets] if isinstance(secrets, str) else secrets:
        try:
            Webhook(secret).verify(payload, lowered)
        except Refused:
            continue
        event: dict[str, Any] = json.loads(payload)
        return event
    raise WebhookVerificationError("the webhook's signature does not verify under the given secret(s)")
