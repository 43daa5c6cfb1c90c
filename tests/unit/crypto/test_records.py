"""API key records' MACs: a record verifies only as written by the key holder, and survives Avro."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime

import fastavro

from reelstream.crypto.provider import StaticKeyProvider, new_key
from reelstream.crypto.records import signed, verified
from schemas.codec import from_datum, schema_for, to_datum
from schemas.events import ApiKeyRecord

PROVIDER = StaticKeyProvider({"k1": new_key()}, "k1")
T0 = datetime(2026, 12, 6, 21, 0, 0, 123456, tzinfo=UTC)


def _through_avro(record: ApiKeyRecord) -> ApiKeyRecord:
    schema = fastavro.parse_schema(json.loads(schema_for(("ApiKeyRecord",))))
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, to_datum(record))
    decoded = from_datum(ApiKeyRecord, fastavro.schemaless_reader(io.BytesIO(out.getvalue()), schema, schema))
    assert isinstance(decoded, ApiKeyRecord)
    return decoded


def _record() -> ApiKeyRecord:
    return ApiKeyRecord("abc", "acme", ("viewer",), "00" * 16, "ff" * 32, created_at=T0, occurred_at=T0)


def test_a_signed_record_verifies_after_an_avro_round_trip() -> None:
    record = signed(_record(), PROVIDER)
    assert verified(record, PROVIDER)
    decoded = _through_avro(record)
    assert decoded.created_at != record.created_at  # Avro kept whole milliseconds
    assert verified(decoded, PROVIDER)


def test_unsigned_forged_or_altered_records_fail() -> None:
    record = signed(_record(), PROVIDER)
    assert not verified(_record(), PROVIDER)
    assert not verified(dataclasses.replace(record, roles=("admin",)), PROVIDER)
    assert not verified(dataclasses.replace(record, tenant_id="globex"), PROVIDER)
    assert not verified(
        dataclasses.replace(record, revoked=False, expires_at=None, secret_sha256="00"), PROVIDER
    )
    other = StaticKeyProvider({"k1": new_key()}, "k1")
    assert not verified(signed(_record(), other), PROVIDER)
