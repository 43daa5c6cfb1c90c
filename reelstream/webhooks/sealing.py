"""Webhook signing secrets travel sealed (reelstream.crypto): under the tenant's data key, bound to the
tenant and the secret's id, so a secret copied into another tenant's record, or another record, opens to
nothing. Pure apart from the keyring's key-encryption key provider."""

from __future__ import annotations

import dataclasses
import logging

from reelstream.crypto.keyring import Keyring
from reelstream.crypto.provider import DecryptionError, KeyUnavailableError
from schemas.events import WebhookSecretIssued

logger = logging.getLogger(__name__)


def _context(secret_id: str) -> str:
    return f"webhook-secret/{secret_id}"


def sealed(keyring: Keyring, record: WebhookSecretIssued, secret: str) -> WebhookSecretIssued:
    """`record` carrying `secret` sealed (and no plaintext); the tenant must hold a data key."""
    value = keyring.seal(record.tenant_id, _context(record.secret_id), secret.encode())
    return dataclasses.replace(record, secret=None, sealed_secret=value)


def revealed(keyring: Keyring, record: WebhookSecretIssued) -> str | None:
    """The secret of a record, None if it cannot be opened (its data key unknown or shredded, or forged).
    A legacy record still carries plaintext: ingest re-seals those at start (`legacy`)."""
    if record.sealed_secret is None:
        return record.secret
    try:
        return keyring.open(record.tenant_id, _context(record.secret_id), record.sealed_secret).decode()
    except (KeyUnavailableError, DecryptionError) as exc:
        logger.warning(
            "webhook secret %s cannot be opened: %s",
            record.secret_id,
            exc.code,
            extra={"tenant_id": record.tenant_id},
        )
        return None


def is_legacy(record: WebhookSecretIssued) -> bool:
    return record.sealed_secret is None and record.secret is not None
