"""Jobs' key records in the local store (ingest's): what the topic brought, what this process issued, and
what a tombstone shredded survive a restart over the same store, and open (or fail to open) the same."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from reelstream.crypto.job_fields import record_key
from reelstream.crypto.keyring import Keyring
from reelstream.crypto.provider import KeyUnavailableError, StaticKeyProvider, new_key
from reelstream.crypto.stored_job_keys import StoredJobKeysView
from reelstream.local_store import LocalStore, Namespace
from schemas.events import RequestedParams, SubmitJob
from schemas.serde import AvroSerde
from schemas.topics import JOB_KEYS
from tests.kafka_clients import MemoryRegistry
from tests.local_stores import fresh_namespace, temporary_store


@pytest.fixture
def local_store() -> Iterator[LocalStore]:
    yield from temporary_store()


@pytest.fixture
async def serde() -> AvroSerde:
    serde = AvroSerde(MemoryRegistry())
    await serde.register(JOB_KEYS)
    return serde


@pytest.fixture
def keyring() -> Keyring:
    ring = Keyring(StaticKeyProvider({"k1": new_key()}, "k1"))
    ring.put(ring.issue("acme"))
    return ring


def view_over(state: Namespace, serde: AvroSerde, keyring: Keyring, **kw: float) -> StoredJobKeysView:
    return StoredJobKeysView("unused:9092", serde, state, keyring, "test", **kw)


def submission(job_id: str) -> SubmitJob:
    return SubmitJob(job_id, "acme", f"a fox for {job_id}", RequestedParams())


async def test_keys_read_issued_and_shredded_survive_a_restart_over_the_store(
    local_store: LocalStore, serde: AvroSerde, keyring: Keyring
) -> None:
    state = fresh_namespace(local_store)
    view = view_over(state, serde, keyring)
    keys = view.job_keys
    read = keys.issue("acme", "read")  # written by another replica: the view reads its bytes
    view._on_stored(record_key("acme", "read"), read, serde.serialize(JOB_KEYS, read))
    gone = keys.issue("acme", "gone")
    view._on_stored(record_key("acme", "gone"), gone, serde.serialize(JOB_KEYS, gone))
    view.batch.commit({0: 3})  # the consume loop's commit, with its offsets
    issued = keys.issue("acme", "mine")
    keys.put(issued)  # issued here (JobKeyWriter.issue): written at once, no offsets
    sealed = {
        job: keys.seal(submission(job), record.key_id) for job, record in (("read", read), ("mine", issued))
    }
    view._on_tombstone(record_key("acme", "gone"))
    view.batch.commit({0: 4})

    restarted = view_over(state, serde, keyring).job_keys  # a new process: nothing from memory
    assert restarted.open(sealed["read"]).prompt == "a fox for read"
    assert restarted.open(sealed["mine"]).prompt == "a fox for mine"
    assert not restarted.has("acme", "gone")
    assert state.checkpoint()[0] == {0: 4}


async def test_a_delayed_shred_is_written_when_it_happens(
    local_store: LocalStore, serde: AvroSerde, keyring: Keyring
) -> None:
    """The notifier's grace, if a reader with a store used one: the tombstone read live is applied later,
    outside the consume loop's batch, and written then."""
    state = fresh_namespace(local_store)
    view = view_over(state, serde, keyring, shred_delay=0.01)
    record = view.job_keys.issue("acme", "j1")
    view._on_stored(record_key("acme", "j1"), record, serde.serialize(JOB_KEYS, record))
    view.batch.commit({0: 1})
    sealed = view.job_keys.seal(submission("j1"), record.key_id)
    view._caught_up.set()
    view._on_tombstone(record_key("acme", "j1"))
    assert view.job_keys.open(sealed).prompt == "a fox for j1"  # still open during the grace
    async with asyncio.timeout(10):  # a condition with a deadline: the shred is a timer of the loop
        while view.job_keys.has("acme", "j1"):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    with pytest.raises(KeyUnavailableError):
        view_over(state, serde, keyring).job_keys.open(sealed)
