"""Idempotency-key rules: key syntax, the canonical body hash, what a repeat finds, the in-flight guard."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import IdempotencyInProgress, InvalidHeader
from ingest.idempotency import (
    InFlight,
    Outcome,
    decide,
    put_key,
    request_sha256,
    validate_key,
)
from ingest.problems import kind_of
from schemas.events import IdempotencyRecord
from tests.samples import T0
from tests.unit.ingest.conftest import IdempotencyFactory

STALE = timedelta(seconds=10)
DAY = timedelta(hours=24)


def record(**overrides: object) -> IdempotencyRecord:
    base: dict[str, object] = dict(
        tenant_id="acme",
        idempotency_key="k-1",
        request_sha256="aa",
        job_id="job-1",
        completed=True,
        expires_at=T0 + DAY,
        occurred_at=T0,
    )
    return IdempotencyRecord(**{**base, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["a", "x" * 255, "8e03978e-40d5-43e8-bc93-6894a57f9324", '"quoted"', "!~:/"])
def test_a_valid_key_is_accepted(raw: str) -> None:
    assert validate_key(raw) == raw.strip('"')


@pytest.mark.parametrize("raw", ["", '""', "x" * 256, "has space", "tab\t", "naïve", "nl\n"])
def test_an_invalid_key_is_a_400_naming_the_header(raw: str) -> None:
    with pytest.raises(InvalidHeader) as caught:
        validate_key(raw)
    assert [e.field for e in caught.value.errors] == ["Idempotency-Key"]
    kind = kind_of(caught.value)
    assert kind is not None
    assert kind.status == 400


def test_no_client_key_can_collide_with_a_put_key() -> None:
    with pytest.raises(InvalidHeader):
        validate_key(put_key("abcdefgh"))


def test_the_hash_ignores_field_order_formatting_and_null_fields() -> None:
    assert request_sha256({"prompt": "a", "seed": 1}) == request_sha256({"seed": 1, "prompt": "a"})
    assert request_sha256({"prompt": "a", "seed": None}) == request_sha256({"prompt": "a"})
    assert request_sha256({"prompt": "a"}) != request_sha256({"prompt": "b"})
    assert request_sha256({"prompt": "a", "metadata": {"x": "1"}}) != request_sha256({"prompt": "a"})


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=6))
def test_the_hash_depends_only_on_the_content(data: dict[str, object]) -> None:
    assert request_sha256(dict(reversed(list(data.items())))) == request_sha256(data)


def test_what_a_request_finds() -> None:
    now = T0 + timedelta(seconds=1)
    assert decide(None, "aa", now, stale_after=STALE).outcome is Outcome.NEW
    assert decide(record(), "aa", now, stale_after=STALE).outcome is Outcome.REPLAY
    assert decide(record(), "aa", now, stale_after=STALE).job_id == "job-1"
    assert decide(record(), "bb", now, stale_after=STALE).outcome is Outcome.MISMATCH
    pending = record(completed=False)
    assert decide(pending, "aa", now, stale_after=STALE).outcome is Outcome.IN_PROGRESS
    assert decide(pending, "bb", now, stale_after=STALE).outcome is Outcome.MISMATCH
    taken = decide(pending, "aa", T0 + STALE, stale_after=STALE)
    assert (taken.outcome, taken.job_id) == (Outcome.TAKE_OVER, "job-1")  # the SAME job id is re-produced
    assert decide(record(), "bb", T0 + DAY, stale_after=STALE).outcome is Outcome.NEW  # expired: forgotten


def test_the_index_keeps_the_newest_record_and_completed_wins_a_tie(
    new_idempotency_index: IdempotencyFactory,
) -> None:
    index = new_idempotency_index()
    done = record(completed=True, occurred_at=T0 + timedelta(seconds=1))
    assert index.apply(done)
    assert not index.apply(record(completed=False))  # the older pending record arrives late: ignored
    assert not index.apply(dataclasses.replace(done, completed=False))
    assert index.get("acme", "k-1", T0) == done
    assert index.for_job("job-1", T0) == done


def test_the_index_scopes_keys_to_their_tenant_and_forgets_expired_ones(
    new_idempotency_index: IdempotencyFactory,
) -> None:
    index = new_idempotency_index()
    index.apply(record(tenant_id="a/b", idempotency_key="c"))
    assert index.get("a/b", "c", T0) is not None
    assert index.get("a", "b/c", T0) is None  # same `tenant/key` string, another tenant
    assert index.get("acme", "c", T0) is None
    assert index.get("a/b", "c", T0 + DAY) is None
    assert index.for_job("job-1", T0 + DAY) is None
    assert index.remove("a/b/c")
    assert not index.remove("a/b/c")
    assert index.get("a/b", "c", T0) is None


def test_a_concurrent_repeat_on_this_replica_is_refused_and_the_key_is_freed_afterwards() -> None:
    in_flight = InFlight()
    with in_flight.claim("acme", "k"):
        with pytest.raises(IdempotencyInProgress), in_flight.claim("acme", "k"):
            pass
        with in_flight.claim("other", "k"):  # keys are per tenant
            assert ("other", "k") in in_flight
    assert ("acme", "k") not in in_flight
    with in_flight.claim("acme", "k"):
        pass
    kind = kind_of(IdempotencyInProgress("x"))
    assert kind is not None
    assert (kind.status, kind.retry) == (409, True)


def test_the_first_live_claim_of_a_key_owns_it(new_idempotency_index: IdempotencyFactory) -> None:
    """Two replicas both found the key unknown and both wrote a claim: read in log order, every index keeps
    the first one (and its later records); another claim replaces it only once it expired."""
    index = new_idempotency_index()
    first = record(completed=False, job_id="job-1")
    second = record(completed=False, job_id="job-2", occurred_at=T0 + timedelta(seconds=1))
    assert index.apply(first)
    assert not index.apply(second)
    assert not index.apply(dataclasses.replace(first, request_sha256="bb"))  # same id, another body
    assert index.get("acme", "k-1", T0) == first
    done = dataclasses.replace(first, completed=True, occurred_at=T0 + timedelta(seconds=2))
    assert index.apply(done)
    assert not index.apply(first)  # the loser writes the owner's record again: nothing changes
    assert index.get("acme", "k-1", T0) == done
    later = record(job_id="job-3", occurred_at=done.expires_at)
    assert index.apply(later)  # the owner's record expired: the key is free again
    assert index.get("acme", "k-1", T0) == later


def test_expired_keys_are_one_range_and_a_reclaimed_key_answers_for_its_new_job_only(
    new_idempotency_index: IdempotencyFactory,
) -> None:
    index = new_idempotency_index()
    index.apply(record(job_id="job-1", expires_at=T0 + DAY))
    index.apply(record(idempotency_key="k-2", job_id="job-2", expires_at=T0 + 2 * DAY))
    assert index.expired(T0 + DAY) == ["acme/k-1"]
    later = record(job_id="job-3", occurred_at=T0 + DAY, expires_at=T0 + 3 * DAY)
    assert index.apply(later)  # the key's claim had expired: a new claim owns it
    assert index.expired(T0 + 2 * DAY) == ["acme/k-2"]  # k-1's due time moved with its record
    assert index.for_job("job-1", T0) is None
    assert index.for_job("job-3", T0 + DAY) == later
    assert index.remove("acme/k-1")
    assert index.for_job("job-3", T0 + DAY) is None
    assert index.expired(T0 + 4 * DAY) == ["acme/k-2"]
