"""API keys of the key store: format, salted hashing, the verdicts, which version of a key wins, requests."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest import api_keys
from ingest.admin_keys import key_resource, parse_key_request
from ingest.api_keys import KeyTable, Verdict, check, digest, merged, mint, parse, revoke, sweepable
from ingest.auth import FirstOf, KeyStoreKeys, Principal, StaticApiKeys
from ingest.errors import Unauthenticated
from ingest.sweepers import sweep
from reelstream.params import InvalidRequest
from schemas.events import ApiKeyRecord, utc_now
from tests.samples import T0


def test_a_minted_key_has_the_identifiable_format_and_its_record_only_a_salted_hash() -> None:
    key, record = mint("acme", ["viewer", "submitter", "viewer"], now=T0)
    assert api_keys.KEY_PATTERN.fullmatch(key)
    assert key.startswith(f"rs_live_{record.key_id}_")
    key_id, secret = parse(key) or ("", "")
    assert key_id == record.key_id
    assert record.roles == ("submitter", "viewer")
    assert record.secret_sha256 == hashlib.sha256(bytes.fromhex(record.salt) + secret.encode()).hexdigest()
    assert secret not in repr(record)
    assert key not in repr(record)
    assert len(bytes.fromhex(record.salt)) == 16


def test_equal_secrets_hash_differently_under_their_own_salts() -> None:
    _, one = mint("acme", ["viewer"], now=T0)
    _, two = mint("acme", ["viewer"], now=T0)
    assert one.salt != two.salt
    assert one.key_id != two.key_id
    assert digest(one.salt, "same") != digest(two.salt, "same")


@pytest.mark.parametrize(
    "token",
    [
        "rs_live_0123456789abcdef",
        "rs_live_0123456789ABCDEF_" + "a" * 43,
        "rs_test_0123456789abcdef_" + "a" * 43,
        "rs_live_0123456789abcdef_" + "a" * 42,
        "rs_live_0123456789abcdef_" + "a" * 43 + "\n",
        "",
    ],
)
def test_malformed_keys_do_not_parse(token: str) -> None:
    assert parse(token) is None


def test_verdicts() -> None:
    key, record = mint("acme", ["submitter"], expires_at=T0 + timedelta(hours=1), now=T0)
    _, secret = parse(key) or ("", "")
    assert check(record, secret, T0) is Verdict.VALID
    assert check(record, secret[:-1] + ("A" if secret[-1] != "A" else "B"), T0) is Verdict.UNKNOWN
    assert check(None, secret, T0) is Verdict.UNKNOWN
    assert check(record, secret, T0 + timedelta(hours=1)) is Verdict.EXPIRED
    assert check(revoke(record, now=T0), secret, T0) is Verdict.REVOKED
    # a wrong secret never learns the key's state
    assert check(revoke(record, now=T0), "wrong", T0) is Verdict.UNKNOWN


async def test_the_store_authenticator_finds_keys_by_id_and_says_why_it_refuses() -> None:
    table = KeyTable()
    key, record = mint("acme", ["viewer"], now=T0)
    store = KeyStoreKeys(table)
    assert await store.authenticate(key) is None  # not in the table yet
    table.apply(record)
    assert await store.authenticate(key) == Principal("acme", frozenset({"viewer"}))
    table.apply(revoke(record))
    with pytest.raises(Unauthenticated, match="revoked"):
        await store.authenticate(key)
    now = utc_now()
    expired_key, expired = mint("acme", ["viewer"], expires_at=now, now=now - timedelta(days=1))
    table.apply(expired)
    with pytest.raises(Unauthenticated, match="expired"):
        await store.authenticate(expired_key)
    chain = FirstOf(store, StaticApiKeys({"configured": "ops"}, {"configured": frozenset({"admin"})}))
    assert await chain.authenticate("configured") == Principal("ops", frozenset({"admin"}))
    assert await chain.authenticate("rs_live_nothing") is None


records = st.builds(
    lambda revoked, seconds: replace(
        mint("acme", ["viewer"], now=T0)[1],
        key_id="k",
        revoked=revoked,
        occurred_at=T0 + timedelta(seconds=seconds),
    ),
    st.booleans(),
    st.integers(0, 1000),
)


@given(st.lists(records, min_size=1, max_size=8), st.randoms())
def test_a_revocation_is_final_whatever_order_the_versions_arrive_in(
    versions: list[ApiKeyRecord], rnd: random.Random
) -> None:
    shuffled = list(versions)
    rnd.shuffle(shuffled)
    table = KeyTable()
    for version in shuffled:
        table.apply(version)
    kept = table.get("k")
    assert kept is not None
    assert kept.revoked == any(v.revoked for v in versions)
    if not kept.revoked:
        assert kept.occurred_at == max(v.occurred_at for v in versions)
    assert merged(kept, kept) == kept


def test_a_key_request_is_validated_field_by_field() -> None:
    tenant, roles, expires_at, name = parse_key_request(
        b'{"tenant": "acme", "roles": ["viewer"], "expires_at": "2030-01-01T00:00:00.123456+02:00"}', T0
    )
    assert (tenant, roles, name) == ("acme", ("viewer",), None)
    assert expires_at is not None
    assert expires_at.isoformat() == "2029-12-31T22:00:00.123000+00:00"
    assert parse_key_request(b'{"tenant": "acme"}', T0)[1] == ("submitter",)
    with pytest.raises(InvalidRequest) as refused:
        parse_key_request(
            b'{"tenant": "", "roles": ["root"], "expires_at": "2000-01-01T00:00:00Z", "extra": 1}', T0
        )
    fields = {e.field for e in refused.value.errors}
    assert fields == {"extra"}  # unknown fields are refused before anything else
    with pytest.raises(InvalidRequest) as refused:
        parse_key_request(b'{"tenant": "", "roles": ["root"], "expires_at": "2000-01-01T00:00:00"}', T0)
    assert {e.field for e in refused.value.errors} == {"tenant", "roles", "expires_at"}
    with pytest.raises(InvalidRequest):
        parse_key_request(b'{"tenant": "acme", "expires_at": "2030-01-01T00:00:00"}', T0)  # no offset


def test_the_key_resource_shows_metadata_only() -> None:
    key, record = mint("acme", ["viewer"], expires_at=T0 + timedelta(days=1), name="ci", now=T0)
    shown = key_resource(record, T0)
    assert shown["status"] == "active"
    assert shown["prefix"] == f"rs_live_{record.key_id}"
    assert key_resource(record, T0 + timedelta(days=2))["status"] == "expired"
    assert key_resource(revoke(record, now=T0), T0)["status"] == "revoked"
    text = repr(shown)
    assert record.secret_sha256 not in text
    assert record.salt not in text
    assert key not in text


async def test_keys_that_ended_a_grace_period_ago_are_tombstoned_and_forgotten() -> None:
    now, grace = utc_now(), timedelta(days=7)
    table = KeyTable()
    _, active = mint("acme", ["viewer"], now=now - timedelta(days=30))
    _, expiring = mint("acme", ["viewer"], expires_at=now + timedelta(days=1), now=now - timedelta(days=30))
    _, expired_long_ago = mint("acme", ["viewer"], expires_at=now - grace, now=now - timedelta(days=30))
    _, expired_lately = mint(
        "acme", ["viewer"], expires_at=now - timedelta(days=1), now=now - timedelta(days=9)
    )
    revoked_long_ago = revoke(mint("acme", ["viewer"], now=now - timedelta(days=30))[1], now=now - grace)
    revoked_lately = revoke(mint("acme", ["viewer"], now=now - timedelta(days=30))[1], now=now)
    for record in (active, expiring, expired_long_ago, expired_lately, revoked_long_ago, revoked_lately):
        table.apply(record)
    assert set(sweepable(table.records(), now, grace)) == {expired_long_ago.key_id, revoked_long_ago.key_id}
    sent: list[str] = []

    async def tombstone(key_id: str) -> None:
        sent.append(key_id)

    assert (
        set(await sweep(table, tombstone, grace))
        == set(sent)
        == {expired_long_ago.key_id, revoked_long_ago.key_id}
    )
    assert table.get(revoked_long_ago.key_id) is None
    assert table.get(revoked_lately.key_id) is not None
    assert len(table) == 4


def test_the_last_use_is_kept_to_the_minute_and_written_at_most_once_a_minute() -> None:
    table = KeyTable()
    start = datetime(2026, 12, 7, 10, 15, 42, 123, tzinfo=UTC)
    assert table.last_used("k1") is None
    table.touch("k1", start)
    assert table.last_used("k1") == datetime(2026, 12, 7, 10, 15, tzinfo=UTC)
    table.touch("k1", start + timedelta(seconds=10))  # the same minute: nothing written
    assert table.last_used("k1") == datetime(2026, 12, 7, 10, 15, tzinfo=UTC)
    table.touch("k1", start + timedelta(seconds=80))
    assert table.last_used("k1") == datetime(2026, 12, 7, 10, 17, tzinfo=UTC)
    table.remove("k1")
    assert table.last_used("k1") is None
