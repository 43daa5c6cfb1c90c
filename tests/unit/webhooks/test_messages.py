"""Standard Webhooks signing: a signature verifies only its own message, within the time tolerance."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelstream.errors import ConfigurationError
from reelstream.webhooks.messages import (
    WebhookVerificationError,
    event_payload,
    generate_secret,
    is_notifiable,
    sign,
    verify,
    webhook_headers,
)
from schemas.events import DELETED_CODE, ErrorInfo, JobEvent, JobEventType, JobState
from schemas.views import job_resource
from tests.samples import T0, job_status

NOW = 1_800_000_000

# Equal-length keys: HMAC zero-pads keys shorter than its block, so key and key + b"\0" sign alike.
secrets_ = st.binary(min_size=24, max_size=24).map(lambda k: "whsec_" + base64.b64encode(k).decode())
msg_ids = st.text(min_size=1, max_size=40)
timestamps = st.integers(min_value=0, max_value=4_000_000_000)
bodies = st.binary(max_size=512)


def _event(**overrides: Any) -> JobEvent:
    base: dict[str, Any] = dict(
        job_id="j1",
        tenant_id="t1",
        type=JobEventType.SUCCEEDED,
        status=job_status(),
        event_id="evt_1",
        occurred_at=T0,
    )
    return JobEvent(**{**base, **overrides})


def test_generated_secrets_are_whsec_base64_of_24_random_bytes() -> None:
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 24
    assert first != second


def test_signed_headers_verify() -> None:
    secret = generate_secret()
    body = b'{"type":"job.succeeded"}'
    headers = webhook_headers(secret, "evt_1", NOW, body)
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(NOW)
    assert headers["content-type"] == "application/json"
    assert headers["webhook-signature"].startswith("v1,")
    verify(secret, headers, body, now=NOW)


def test_header_names_are_case_insensitive() -> None:
    secret = generate_secret()
    headers = {k.title(): v for k, v in webhook_headers(secret, "evt_1", NOW, b"{}").items()}
    verify(secret, headers, b"{}", now=NOW)


def test_published_standard_webhooks_test_vector() -> None:
    """The example of the Standard Webhooks reference libraries (signature computed there, not here)."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, timestamp, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, msg_id, timestamp, body) == expected
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": expected}
    verify(secret, headers, body, now=timestamp + 10)


def test_signature_matches_an_independent_hmac() -> None:
    key = bytes(range(24))
    secret = "whsec_" + base64.b64encode(key).decode()
    body = '{"data":{"id":"j1","prompt":"ein Fuchs im Schnee ❄"}}'.encode()
    mac = hmac.new(key, b"evt_42.1700000000." + body, hashlib.sha256).digest()
    assert sign(secret, "evt_42", 1700000000, body) == "v1," + base64.b64encode(mac).decode()


@given(secret=secrets_, msg_id=msg_ids, timestamp=timestamps, body=bodies)
def test_a_signature_verifies_its_own_message(secret: str, msg_id: str, timestamp: int, body: bytes) -> None:
    verify(secret, webhook_headers(secret, msg_id, timestamp, body), body, now=timestamp)


@given(
    secret=secrets_,
    msg_id=msg_ids,
    timestamp=timestamps,
    body=bodies,
    field=st.sampled_from(["secret", "msg_id", "timestamp", "body"]),
    data=st.data(),
)
def test_a_signature_verifies_only_its_own_message(
    secret: str, msg_id: str, timestamp: int, body: bytes, field: str, data: st.DataObject
) -> None:
    signed: dict[str, Any] = {"secret": secret, "msg_id": msg_id, "timestamp": timestamp, "body": body}
    strategy: st.SearchStrategy[Any] = {
        "secret": secrets_,
        "msg_id": msg_ids,
        "timestamp": timestamps,
        "body": bodies,
    }[field]
    changed: dict[str, Any] = {
        **signed,
        field: data.draw(strategy.filter(lambda v: v != signed[field]), label=field),
    }
    signature = sign(signed["secret"], signed["msg_id"], signed["timestamp"], signed["body"])
    headers = {
        "webhook-id": changed["msg_id"],
        "webhook-timestamp": str(changed["timestamp"]),
        "webhook-signature": signature,
    }
    with pytest.raises(WebhookVerificationError):
        verify(changed["secret"], headers, changed["body"], now=changed["timestamp"])


@pytest.mark.parametrize("skew", [-300, -1, 0, 1, 300])
def test_timestamps_within_the_tolerance_are_accepted(skew: int) -> None:
    secret = generate_secret()
    verify(secret, webhook_headers(secret, "evt_1", NOW + skew, b"{}"), b"{}", now=NOW)


@pytest.mark.parametrize(("skew", "reason"), [(-301, "too old"), (301, "too new"), (-86400, "too old")])
def test_timestamps_outside_the_tolerance_are_refused(skew: int, reason: str) -> None:
    secret = generate_secret()
    headers = webhook_headers(secret, "evt_1", NOW + skew, b"{}")
    with pytest.raises(WebhookVerificationError, match=reason):
        verify(secret, headers, b"{}", now=NOW)


def test_a_custom_tolerance_applies() -> None:
    secret = generate_secret()
    headers = webhook_headers(secret, "evt_1", NOW - 10, b"{}")
    verify(secret, headers, b"{}", now=NOW, tolerance=10)
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, b"{}", now=NOW, tolerance=9)


def test_any_of_several_signatures_verifies_during_rotation() -> None:
    old, new = generate_secret(), generate_secret()
    body = b'{"a":1}'
    both = f"{sign(old, 'evt_1', NOW, body)} {sign(new, 'evt_1', NOW, body)}"
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(NOW), "webhook-signature": both}
    verify(old, headers, body, now=NOW)
    verify(new, headers, body, now=NOW)
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), headers, body, now=NOW)


def test_signatures_of_other_versions_or_malformed_ones_are_skipped() -> None:
    secret = generate_secret()
    good = sign(secret, "evt_1", NOW, b"{}")
    digest = good.removeprefix("v1,")
    for header, accepted in [
        (f"v1a,{digest} v2,{digest}", False),
        (f"v1,not-base64!! {good}", True),
        (f"v1,{digest[:-4]}", False),
        ("", False),
    ]:
        headers = {"webhook-id": "evt_1", "webhook-timestamp": str(NOW), "webhook-signature": header}
        if accepted:
            verify(secret, headers, b"{}", now=NOW)
        else:
            with pytest.raises(WebhookVerificationError):
                verify(secret, headers, b"{}", now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(missing: str) -> None:
    secret = generate_secret()
    headers = webhook_headers(secret, "evt_1", NOW, b"{}")
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match=missing):
        verify(secret, headers, b"{}", now=NOW)


def test_a_non_integer_timestamp_is_refused() -> None:
    secret = generate_secret()
    headers = {**webhook_headers(secret, "evt_1", NOW, b"{}"), "webhook-timestamp": "soon"}
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, b"{}", now=NOW)


def test_a_secret_that_is_not_base64_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        sign("whsec_***", "evt_1", NOW, b"{}")


def test_payload_is_compact_json_with_type_timestamp_and_the_job() -> None:
    status = job_status(webhook_url="https://hooks.example.test/in?token=s3cr3t", prompt="Füchse im Schnee")
    event = _event(type=JobEventType.SUCCEEDED, status=status)
    body = event_payload(event)
    payload = json.loads(body)
    assert payload == {
        "type": "job.succeeded",
        "timestamp": "2026-11-27T12:00:00.123000Z",
        "data": json.loads(json.dumps(job_resource(status))),
    }
    assert payload["data"]["id"] == "j1"
    assert payload["data"]["status"] == "succeeded"
    assert body == json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert b"s3cr3t" not in body  # the webhook URL (and its token) is never echoed


@pytest.mark.parametrize("event_type", list(JobEventType), ids=str)
def test_only_terminal_events_of_jobs_with_a_webhook_are_notifiable(event_type: JobEventType) -> None:
    terminal = event_type.value in {s.value for s in JobState if s.terminal} | {"deleted"}
    with_hook = _event(type=event_type, status=job_status(webhook_url="https://example.test/hook"))
    without_hook = _event(type=event_type, status=dataclasses.replace(job_status(), webhook_url=None))
    assert is_notifiable(with_hook) is terminal
    assert is_notifiable(without_hook) is False


def test_the_terminal_event_types_are_the_terminal_job_states() -> None:
    notifiable = {
        t.value for t in JobEventType if is_notifiable(_event(type=t, status=job_status(webhook_url="x")))
    }
    assert notifiable == {"succeeded", "failed", "canceled", "rejected", "expired", "deleted"}


def test_a_deleted_jobs_snapshots_notify_nothing_but_job_deleted() -> None:
    gone = job_status(webhook_url="x", error=ErrorInfo(DELETED_CODE, "deleted (client)", False))
    notifiable = {t.value for t in JobEventType if is_notifiable(_event(type=t, status=gone))}
    assert notifiable == {"deleted"}
