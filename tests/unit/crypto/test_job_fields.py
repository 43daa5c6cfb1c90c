"""Jobs' sealed fields: every record kind round-trips, a field opens only in its own job and field, a
shredded job key or tenant key opens nothing, and a job key is unwrapped once however often it is used."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelstream.crypto.job_fields import JobKeys, record_key, split_key
from reelstream.crypto.job_keys_view import JobKeysView, shred_tenant
from reelstream.crypto.keyring import Keyring
from reelstream.crypto.provider import (
    DecryptionError,
    KeyUnavailableError,
    StaticKeyProvider,
    Wrapped,
    new_key,
)
from schemas.events import (
    DispatchRender,
    JobAdmitted,
    JobState,
    JobStatus,
    RenderParams,
    RequestedParams,
    SubmitJob,
)
from schemas.serde import AvroSerde
from tests.kafka_clients import MemoryRegistry

NOW = datetime(2026, 12, 7, tzinfo=UTC)
PARAMS = RenderParams(
    model="tiny", width=32, height=32, num_frames=7, num_inference_steps=2, guidance_scale=1.0, seed=1, fps=8
)


class CountingProvider(StaticKeyProvider):
    unwraps = 0

    def unwrap(self, wrapped: Wrapped, aad: bytes) -> bytes:
        self.unwraps += 1
        return super().unwrap(wrapped, aad)


def _keys(*tenants: str) -> JobKeys:
    ring = Keyring(CountingProvider({"k1": new_key()}, "k1"))
    for tenant in tenants:
        ring.put(ring.issue(tenant))
    return JobKeys(ring)


def _issued(keys: JobKeys, tenant: str, job: str) -> str:
    record = keys.issue(tenant, job)
    keys.put(record)
    return record.key_id


def _records(prompt: str, negative: str | None, url: str | None) -> list[object]:
    return [
        SubmitJob("j1", "acme", prompt, RequestedParams(), negative_prompt=negative, webhook_url=url),
        JobAdmitted("j1", "acme", "pool", prompt, PARAMS, NOW, negative_prompt=negative, webhook_url=url),
        DispatchRender("j1", 0, 1, "acme", prompt, PARAMS, "a/b", negative_prompt=negative),
        JobStatus("j1", "acme", JobState.QUEUED, prompt, NOW, NOW, negative_prompt=negative, webhook_url=url),
    ]


@given(
    st.text(min_size=1, max_size=200),
    st.none() | st.text(min_size=1, max_size=50),
    st.none() | st.just("https://hooks.example.com/x?token=s3cret"),
)
def test_every_record_kind_round_trips_and_carries_no_plaintext(
    prompt: str, negative: str | None, url: str | None
) -> None:
    keys = _keys("acme")
    key_id = _issued(keys, "acme", "j1")
    for record in _records(prompt, negative, url):
        sealed = keys.seal(record, key_id)  # type: ignore[type-var]
        assert sealed.job_key_id == key_id
        for field in ("prompt", "negative_prompt", "webhook_url"):
            value = getattr(sealed, field, None)
            if value is not None:
                assert value.startswith("rsenc1.")
                clear = getattr(record, field)
                assert len(clear) < 8 or clear not in value.split(".", 2)[2]
        assert keys.seal(sealed, key_id) is sealed  # sealing twice changes nothing
        assert keys.open(sealed) == record
        assert keys.open(record) is record  # plaintext passes through


def test_a_field_opens_only_in_its_own_job_and_field() -> None:
    keys = _keys("acme")
    key_id = _issued(keys, "acme", "j1")
    _issued(keys, "acme", "j2")
    sealed = keys.seal(
        SubmitJob("j1", "acme", "a fox", RequestedParams(), webhook_url="https://x.example"), key_id
    )
    with pytest.raises(DecryptionError):  # fields swapped
        keys.open(dataclasses.replace(sealed, prompt=sealed.webhook_url))
    with pytest.raises(KeyUnavailableError):  # moved to another job: that job's key is another key
        keys.open(dataclasses.replace(sealed, job_id="j2"))


def test_a_shredded_job_key_opens_nothing_and_the_other_jobs_still_open() -> None:
    keys = _keys("acme")
    gone, kept = _issued(keys, "acme", "gone"), _issued(keys, "acme", "kept")
    a = keys.seal(SubmitJob("gone", "acme", "a fox", RequestedParams()), gone)
    b = keys.seal(SubmitJob("kept", "acme", "a hare", RequestedParams()), kept)
    assert keys.open(a).prompt == "a fox"  # opened once: cached
    assert keys.shred("acme", "gone")
    with pytest.raises(KeyUnavailableError):
        keys.open(a)
    assert keys.open(b).prompt == "a hare"
    assert not keys.shred("acme", "gone")


def test_a_shredded_tenant_key_shreds_every_job_key_under_it_even_cached_ones() -> None:
    keys = _keys("acme", "globex")
    a = keys.seal(SubmitJob("j1", "acme", "a fox", RequestedParams()), _issued(keys, "acme", "j1"))
    g = keys.seal(SubmitJob("j1", "globex", "a hare", RequestedParams()), _issued(keys, "globex", "j1"))
    assert keys.open(a).prompt == "a fox"
    for key_id in keys.keyring.key_ids("acme"):
        keys.keyring.shred("acme", key_id)
    with pytest.raises(KeyUnavailableError):
        keys.open(a)
    assert keys.open(g).prompt == "a hare"


def test_one_unwrap_per_tenant_key_and_one_open_per_job_however_often_used() -> None:
    keys = _keys("acme")
    provider = keys.keyring.provider
    assert isinstance(provider, CountingProvider)
    key_id = _issued(keys, "acme", "j1")
    sealed = keys.seal(DispatchRender("j1", 0, 1, "acme", "a fox", PARAMS, "a/b"), key_id)
    before = provider.unwraps
    for _ in range(50):
        assert keys.open(sealed).prompt == "a fox"
    assert provider.unwraps == before  # the tenant key was unwrapped when the job key was issued


def test_the_cache_is_bounded() -> None:
    ring = Keyring(StaticKeyProvider({"k1": new_key()}, "k1"))
    ring.put(ring.issue("acme"))
    keys = JobKeys(ring, cached=3)
    for n in range(10):
        sealed = keys.seal(SubmitJob(f"j{n}", "acme", "p", RequestedParams()), _issued(keys, "acme", f"j{n}"))
        assert keys.open(sealed).prompt == "p"
    assert len(keys._opened) == 3


def test_record_keys_round_trip() -> None:
    assert split_key(record_key("acme", "job-1")) == ("acme", "job-1")
    assert split_key("nokey") is None
    assert split_key("/x") is None


async def test_shredding_a_tenant_tombstones_each_of_its_data_keys_and_nothing_of_others() -> None:
    keys = _keys("acme", "globex")
    keys.keyring.put(keys.keyring.issue("acme"))  # a tenant may hold several data keys
    a = keys.seal(SubmitJob("j1", "acme", "a fox", RequestedParams()), _issued(keys, "acme", "j1"))
    g = keys.seal(SubmitJob("j1", "globex", "a hare", RequestedParams()), _issued(keys, "globex", "j1"))
    tombstoned: list[str] = []

    async def tombstone(key: str) -> None:
        tombstoned.append(key)

    assert await shred_tenant(keys, tombstone, "acme") == 2
    assert sorted(k.partition("/")[0] for k in tombstoned) == ["acme", "acme"]
    with pytest.raises(KeyUnavailableError):
        keys.open(a)
    assert keys.open(g).prompt == "a hare"
    assert await shred_tenant(keys, tombstone, "acme") == 0  # idempotent


async def test_a_reader_waiting_for_a_job_key_gets_it_when_it_arrives_and_drops_it_at_its_tombstone() -> None:
    keys = _keys("acme")
    view = JobKeysView("unused:9092", AvroSerde(MemoryRegistry()), keys, "test")
    record = keys.issue("acme", "j1")
    waiting = asyncio.create_task(view.wait_for("acme", "j1", 5.0))
    view._on_value(record_key("acme", "j1"), record)
    assert await waiting
    assert not await view.wait_for("acme", "j2", 0.01)
    assert view._on_tombstone(record_key("acme", "j1"))
    assert not keys.has("acme", "j1")


async def test_a_reader_waiting_for_a_shredded_job_key_is_answered_at_the_tombstone() -> None:
    """A deleted job's events still in a retry tier must not hold a reader (and a notifier's shutdown) for the
    whole key wait: a tombstone read answers every waiter for that job at once, and any later one."""
    keys = _keys("acme")
    view = JobKeysView("unused:9092", AvroSerde(MemoryRegistry()), keys, "test")
    waiting = asyncio.create_task(view.wait_for("acme", "gone", 3600.0))
    await asyncio.sleep(0)  # the reader is waiting
    view._on_tombstone(record_key("acme", "gone"))  # a tombstone without its key (compacted away)
    async with asyncio.timeout(60):  # a deadline for the test only: without the fix this waits an hour
        assert not await waiting
        assert not await view.wait_for("acme", "gone", 3600.0)
    assert keys.shredded("acme", "gone")
    assert not keys.shredded("acme", "other")
