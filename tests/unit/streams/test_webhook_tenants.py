"""A tenant's own webhooks: every active secret signs (rotation), registered endpoints get what their
filters name, each (event, endpoint) pair under its own stable webhook-id."""

from __future__ import annotations

import base64
import dataclasses
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelstream.crypto.keyring import Keyring
from reelstream.crypto.provider import StaticKeyProvider, new_key
from reelstream.errors import ConfigurationError
from reelstream.webhooks.messages import WebhookVerificationError, generate_secret, verify, webhook_headers
from reelstream.webhooks.sealing import revealed, sealed
from reelstream.webhooks.tenants import TenantWebhooks, endpoint_webhook_id, record_key, split_key
from schemas.events import (
    JobEvent,
    JobEventType,
    WebhookEndpointRegistered,
    WebhookPingRequested,
    WebhookSecretIssued,
)
from streams.webhook_delivery import key_of, ping_request, requests_for, tenant_of
from tests.samples import T0, job_status

NOW = 1_800_000_000
RING = Keyring(StaticKeyProvider({"k1": new_key()}, "k1"))
for _tenant in ("t1", "t2"):
    RING.put(RING.issue(_tenant))
secrets_ = st.binary(min_size=24, max_size=24).map(lambda k: "whsec_" + base64.b64encode(k).decode())


def _secret(tenant: str = "t1", sid: str = "whsk_a", **overrides: Any) -> tuple[WebhookSecretIssued, str]:
    """A record as ingest writes it (the secret sealed), and the secret."""
    fields: dict[str, Any] = {"occurred_at": T0, **overrides}
    secret = generate_secret()
    return sealed(RING, WebhookSecretIssued(tenant_id=tenant, secret_id=sid, **fields), secret), secret


def _state() -> TenantWebhooks:
    return TenantWebhooks(reveal=partial(revealed, RING))


def _endpoint(eid: str, types: list[str], tenant: str = "t1") -> WebhookEndpointRegistered:
    return WebhookEndpointRegistered(
        tenant_id=tenant,
        endpoint_id=eid,
        url=f"https://hooks.example/{eid}",
        event_types=types,
        occurred_at=T0,
    )


def _event(
    event_type: JobEventType = JobEventType.SUCCEEDED, url: str | None = "https://own.example/h"
) -> JobEvent:
    status = job_status(webhook_url=url)
    return JobEvent(
        job_id="j1", tenant_id="t1", type=event_type, status=status, event_id="evt_1", occurred_at=T0
    )


@given(st.lists(secrets_, min_size=1, max_size=4, unique=True), secrets_, st.binary(max_size=256))
def test_a_message_signed_with_several_secrets_verifies_with_each_and_with_no_other(
    signing: list[str], other: str, body: bytes
) -> None:
    headers = webhook_headers(signing, "msg_1", NOW, body)
    assert len(headers["webhook-signature"].split()) == len(signing)
    for secret in signing:
        verify(secret, headers, body, now=NOW)
    if other not in signing:
        with pytest.raises(WebhookVerificationError):
            verify(other, headers, body, now=NOW)


def test_signing_with_no_secret_at_all_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        webhook_headers([], "msg_1", NOW, b"{}")


def test_a_tenant_without_secrets_gets_none_and_one_with_secrets_gets_each_of_them() -> None:
    state = _state()
    assert state.signing_secrets("t1", T0) == ()  # no global secret
    (old, old_value), (new, new_value) = (
        _secret(sid="whsk_old"),
        _secret(sid="whsk_new", occurred_at=T0 + timedelta(seconds=1)),
    )
    assert old.secret is None
    assert old_value.encode() not in (old.sealed_secret or "").encode()
    state.put_secret(new)
    state.put_secret(old)
    assert state.signing_secrets("t1", T0) == (old_value, new_value)  # oldest first
    assert state.signing_secrets("t2", T0) == ()  # tenants do not share secrets
    assert state.retire_secret("t1", "whsk_old")
    assert not state.retire_secret("t1", "whsk_old")
    assert state.signing_secrets("t1", T0) == (new_value,)
    state.retire_secret("t1", "whsk_new")
    assert state.signing_secrets("t1", T0) == ()


def test_a_sealed_secret_copied_into_another_tenant_s_or_another_record_signs_nothing() -> None:
    state = _state()
    record, _ = _secret(tenant="t1", sid="whsk_1")
    state.put_secret(dataclasses.replace(record, tenant_id="t2"))
    state.put_secret(dataclasses.replace(record, secret_id="whsk_2"))
    assert state.signing_secrets("t2", T0) == ()
    assert state.signing_secrets("t1", T0) == ()


def test_an_expired_secret_no_longer_signs() -> None:
    state = _state()
    (lasting, value), (expiring, _) = (
        _secret(sid="whsk_1"),
        _secret(sid="whsk_2", expires_at=T0 + timedelta(hours=1)),
    )
    state.put_secret(lasting)
    state.put_secret(expiring)
    assert len(state.signing_secrets("t1", T0 + timedelta(minutes=59))) == 2
    assert state.signing_secrets("t1", T0 + timedelta(hours=1)) == (value,)


def test_keys_name_tenant_and_item_and_tenants_may_not_be_confused() -> None:
    assert split_key(record_key("t1", "ep_1")) == ("t1", "ep_1")
    assert split_key("no-separator") is None
    assert split_key("/ep_1") is None


def test_a_job_event_goes_to_its_own_url_and_to_each_endpoint_whose_filter_names_its_type() -> None:
    state = TenantWebhooks()
    state.put_endpoint(_endpoint("ep_ok", ["job.succeeded"]))
    state.put_endpoint(_endpoint("ep_fail", ["job.failed"]))
    state.put_endpoint(_endpoint("ep_all", []))
    state.put_endpoint(_endpoint("ep_other_tenant", [], tenant="t2"))

    requests = requests_for(_event(), state, None)
    assert [r.endpoint_id for r in requests] == [None, "ep_all", "ep_ok"]  # own URL, then by age and id
    ids = [r.webhook_id or r.job_event.event_id for r in requests if r.job_event is not None]
    assert ids[0] == "evt_1"
    assert len(set(ids)) == 3  # each pair its own webhook-id
    assert requests[2].webhook_id == endpoint_webhook_id("evt_1", "ep_ok")  # stable across redeliveries
    assert all(r.attempt == 1 and r.due_at == T0 for r in requests)

    failed = requests_for(_event(JobEventType.FAILED, url=None), state, None)
    assert [r.endpoint_id for r in failed] == ["ep_all", "ep_fail"]
    assert requests_for(_event(JobEventType.PROGRESS), state, None) == []


def test_a_deleted_endpoint_gets_nothing_more() -> None:
    state = TenantWebhooks()
    state.put_endpoint(_endpoint("ep_1", []))
    assert state.delete_endpoint("t1", "ep_1")
    assert [r.endpoint_id for r in requests_for(_event(), state, None)] == [None]


def test_a_ping_is_addressed_to_its_endpoint_under_its_own_id() -> None:
    ping = WebhookPingRequested(
        tenant_id="t1", endpoint_id="ep_1", url="https://h.example", event_id="ping_1", occurred_at=T0
    )
    request = ping_request(ping)
    assert (request.endpoint_id, request.webhook_id, request.job_event) == ("ep_1", "ping_1", None)
    assert tenant_of(request) == key_of(request) == "t1"
