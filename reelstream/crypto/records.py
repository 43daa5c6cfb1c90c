"""MACs over key-store records: ingest writes API key records with one, and applies only those that verify,
so a record produced by anyone without the key-encryption key (a forged key, a role escalation) is ignored.

The MAC covers every field but `mac` itself, in a canonical JSON form (times in whole milliseconds, as Avro's
timestamp-millis keeps them). Pure apart from the provider's HMAC.
"""

from __future__ import annotations

import calendar
import dataclasses
import json
from datetime import datetime
from typing import Any

from reelstream.crypto.provider import KeyProvider
from schemas.events import ApiKeyRecord


def _canonical(record: ApiKeyRecord) -> bytes:
    fields = {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.name != "mac"}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=_plain).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):  # as Avro's timestamp-millis keeps it: whole milliseconds, UTC
        return calendar.timegm(value.utctimetuple()) * 1000 + value.microsecond // 1000
    raise TypeError(type(value).__name__)


def signed(record: ApiKeyRecord, provider: KeyProvider) -> ApiKeyRecord:
    """The record with its MAC under the provider's current key-encryption key."""
    return dataclasses.replace(record, mac=provider.mac(_canonical(record)))


def verified(record: ApiKeyRecord, provider: KeyProvider) -> bool:
    return record.mac is not None and provider.verify_mac(_canonical(record), record.mac)
