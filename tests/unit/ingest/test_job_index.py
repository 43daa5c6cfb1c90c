"""The view's index over the local store: the newest snapshot wins whatever the arrival order; pages cover
each job once; a tombstone takes every key of its job; a tenant's range never shows another tenant's job."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.job_index import JobFacts, JobFilter, JobIndex, decode_cursor, encode_cursor, sort_key
from ingest.job_keys import Entry, Listing, job_key, tenant_key
from ingest.openapi import openapi_document
from ingest.retention import Retention
from ingest.submission import parse_submission, placeholder_of, submit_command
from reelstream.local_store import LocalStore
from reelstream.params import InvalidRequest
from schemas.events import DELETED_CODE, ErrorInfo, JobState, JobStatus
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS, JOB_STATUS
from tests.kafka_clients import MemoryRegistry
from tests.local_stores import RecordIndex, fresh_namespace
from tests.samples import T0, artifact, job_status
from tests.unit.ingest.conftest import IndexFactory


def status(version: int, job_id: str = "j1", tenant: str = "t1", minutes: int = 0, **kw: Any) -> JobStatus:
    return job_status(
        job_id=job_id, tenant_id=tenant, version=version, created_at=T0 + timedelta(minutes=minutes), **kw
    )


@given(st.permutations(list(range(8))))
def test_the_highest_version_wins_in_any_arrival_order(new_index: IndexFactory, order: list[int]) -> None:
    index = new_index()
    for version in order:
        index.apply(status(version))
    current = index.get("j1")
    assert current is not None
    assert current.status.version == 7
    assert [s.version for s in index.page("t1", 10)[0]] == [7]


def test_an_older_or_equal_snapshot_changes_nothing(new_index: IndexFactory) -> None:
    index = new_index()
    assert index.apply(status(3, state=JobState.RUNNING))
    assert not index.apply(status(2, state=JobState.QUEUED))
    assert not index.apply(status(3, state=JobState.FAILED))
    current = index.get("j1")
    assert current is not None
    assert current.status.state is JobState.RUNNING


def test_a_local_placeholder_fills_a_gap_and_never_replaces_a_real_snapshot(new_index: IndexFactory) -> None:
    index = new_index()
    assert index.apply(status(0, state=JobState.ACCEPTED), local=True)
    assert index.apply(status(0, state=JobState.QUEUED))  # real beats local at the same version
    assert not index.apply(status(0, state=JobState.ACCEPTED), local=True)
    assert not index.apply(status(9, job_id="j1", state=JobState.ACCEPTED), local=True)
    current = index.get("j1")
    assert current is not None
    assert (current.status.state, current.local) == (JobState.QUEUED, False)


def test_a_tombstone_removes_the_job_from_lookups_and_lists(new_index: IndexFactory) -> None:
    index = new_index()
    index.apply(status(1))
    assert index.remove("j1")
    assert index.get("j1") is None
    assert index.page("t1", 10) == ([], None)
    assert not index.remove("j1")


def test_a_changed_creation_time_moves_the_job_in_the_list(new_index: IndexFactory) -> None:
    index = new_index()
    index.apply(status(1, job_id="a", minutes=1))
    index.apply(status(1, job_id="b", minutes=2))
    index.apply(status(2, job_id="a", minutes=3))
    assert [s.job_id for s in index.page("t1", 10)[0]] == ["a", "b"]


@given(
    st.lists(st.tuples(st.integers(0, 50), st.sampled_from(["t1", "t2"])), max_size=40),
    st.integers(1, 7),
)
def test_pages_list_each_of_a_tenants_jobs_once_newest_first(
    new_index: IndexFactory, jobs: list[tuple[int, str]], limit: int
) -> None:
    index = new_index()
    for n, (minutes, tenant) in enumerate(jobs):
        index.apply(status(1, job_id=f"j{n:03d}", tenant=tenant, minutes=minutes))
    listed, cursor, pages = [], None, 0
    while True:
        page, cursor = index.page("t1", limit, decode_cursor(cursor) if cursor else None)
        assert len(page) <= limit
        listed += page
        pages += 1
        if cursor is None:
            break
    expected = sorted(
        (s for s in (index.get(f"j{n:03d}") for n in range(len(jobs))) if s), key=lambda s: sort_key(s.status)
    )
    assert [s.job_id for s in listed] == [s.status.job_id for s in expected if s.status.tenant_id == "t1"]
    assert all(a.created_at >= b.created_at for a, b in itertools.pairwise(listed))


STATES = (JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED)


@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(STATES), st.sampled_from(["m1", "m2"])), max_size=40
    ),
    st.frozensets(st.sampled_from([s.value for s in STATES])),
    st.sampled_from([None, "m1", "m2"]),
    st.tuples(st.none() | st.integers(0, 40), st.none() | st.integers(0, 40)),
    st.integers(1, 5),
    st.integers(1, 6),
)
def test_a_filtered_listing_pages_through_exactly_the_jobs_it_admits(
    new_index: IndexFactory,
    jobs: list[tuple[int, JobState, str]],
    states: frozenset[str],
    model: str | None,
    window: tuple[int | None, int | None],
    limit: int,
    max_scan: int,
) -> None:
    """Whatever the filter, page size and scan bound (pages may be short, even empty, with a cursor)."""
    index = new_index()
    for n, (minutes, state, model_id) in enumerate(jobs):
        params = replace(job_status().params, model=model_id)  # type: ignore[type-var]
        index.apply(status(1, job_id=f"j{n:03d}", minutes=minutes, state=state, params=params))
    after, before = (T0 + timedelta(minutes=m) if m is not None else None for m in window)
    where = JobFilter(states, model, after, before)
    listed, cursor = [], None
    for _ in range(len(jobs) + 2):  # each page moves on by at least one job
        page, cursor = index.page("t1", limit, decode_cursor(cursor) if cursor else None, where, max_scan)
        assert len(page) <= limit
        listed += page
        if cursor is None:
            break
    assert cursor is None
    everything, _ = index.page("t1", 1000)
    expected = [
        s.job_id
        for s in everything
        if (not states or s.state.value in states)
        and (model is None or (s.params is not None and s.params.model == model))
        and (after is None or s.created_at >= after)
        and (before is None or s.created_at < before)
    ]
    assert [s.job_id for s in listed] == expected


def test_cursors_round_trip_and_garbage_names_the_after_parameter() -> None:
    key = sort_key(status(1, job_id="abc"))
    assert decode_cursor(encode_cursor(key)) == key
    assert re.fullmatch(
        openapi_document()["paths"]["/v1/jobs"]["get"]["parameters"][1]["schema"]["pattern"],
        encode_cursor(key),
    )
    for garbage in ["", "%%%", "bm90LWEtY3Vyc29y", "12.", ".abc", "-1.abc", "1.a b"]:
        with pytest.raises(InvalidRequest) as raised:
            decode_cursor(garbage)
        assert [e.field for e in raised.value.errors] == ["after"]


async def test_real_snapshots_are_kept_as_their_record_bytes(local_store: LocalStore) -> None:
    """What a replica keeps per job: its entry on disk holds the Avro record as it came (a placeholder: its
    command's record); lookups and pages decode it to the same snapshot."""
    serde = AvroSerde(MemoryRegistry())
    await serde.register(JOB_STATUS, COMMANDS)
    namespace = fresh_namespace(local_store)
    index = JobIndex(
        namespace,
        lambda raw: serde.decode_seen(JOB_STATUS, raw),
        lambda raw: placeholder_of(serde.decode_seen(COMMANDS, raw)),
    )
    first, second = status(3, "a", minutes=1), status(5, "b", minutes=2)
    records = {}
    for snapshot in (first, second):
        records[snapshot.job_id] = raw = serde.serialize(JOB_STATUS, snapshot)
        facts = JobFacts.of_datum(await serde.writer_datum(raw))  # as the view reads the topic
        assert facts == JobFacts.of(snapshot)
        assert index.apply(facts, raw=raw)
    submission = parse_submission(b'{"prompt": "fox"}', default_model="tiny-mochi")
    command = replace(submit_command(submission, "t1", "c"), occurred_at=T0 + timedelta(minutes=3))
    placeholder = placeholder_of(command)  # a local one is kept as the record of the command it is made from
    records["c"] = serde.serialize(COMMANDS, command)
    assert index.apply(JobFacts.of(placeholder), local=True, raw=records["c"])
    index.batch.commit()
    for job_id, raw in records.items():  # kept as they came, in the tenant's listing beside the filters
        packed = namespace.get(job_key(job_id))
        assert packed is not None
        entry = Entry.unpack(packed)
        listing = namespace.get(tenant_key(entry.tenant_id, (entry.first, job_id)))
        assert listing is not None
        assert Listing.unpack(listing) == Listing(entry.state, entry.model, entry.real, raw)
    found, local = index.get("a"), index.get("c")
    assert found is not None
    assert found.status == first
    assert not found.local
    assert local is not None
    assert local.local
    assert index.page("t1", 10)[0] == [placeholder, second, first]


def test_a_tombstone_removes_the_entry_and_every_key_pointing_at_it(new_index: IndexFactory) -> None:
    index = new_index(Retention())
    done = status(4, "gone", state=JobState.SUCCEEDED, artifact=artifact(), state_times={"succeeded": T0})
    index.apply(done)
    index.apply(status(1, "kept", minutes=1))
    before = {key[:1] for key, _ in index.store.scan(b"", b"\xff")}
    assert {b"j", b"t", b"R", b"V"} <= before  # the entry, its tenant key, its two finish-time keys
    assert index.remove("gone")
    left = [key for key, _ in index.store.scan(b"", b"\xff") if b"gone" in key]
    assert left == []
    assert [s.job_id for s in index.page("t1", 10)[0]] == ["kept"]


TENANTS = ["t", "t1", "t10", "t1\u00e9", "u"]  # prefixes of one another, and not ASCII


@given(st.lists(st.tuples(st.sampled_from(TENANTS), st.integers(0, 20)), max_size=30), st.integers(1, 4))
def test_a_tenants_range_never_shows_another_tenants_jobs(
    new_index: IndexFactory, jobs: list[tuple[str, int]], limit: int
) -> None:
    index = new_index()
    for n, (tenant, minutes) in enumerate(jobs):
        index.apply(status(1, job_id=f"j{n:03d}", tenant=tenant, minutes=minutes))
    for tenant in TENANTS:
        listed, cursor = [], None
        while True:
            page, cursor = index.page(tenant, limit, decode_cursor(cursor) if cursor else None)
            listed += page
            if cursor is None:
                break
        assert sorted(s.job_id for s in listed) == [
            f"j{n:03d}" for n, (t, _) in enumerate(jobs) if t == tenant
        ]


def test_the_store_keeps_data_and_checkpoint_across_a_reopen(tmp_path: Path, record_serde: AvroSerde) -> None:
    """What a restart resumes from: the data and the offsets committed with it, in one write."""
    store = LocalStore(str(tmp_path)).open()
    index = RecordIndex(store.namespace(b"status"), record_serde)
    index.apply(status(2, "a"))
    JobIndex.apply(index, JobFacts.of(status(3, "b")), raw=record_serde.serialize(JOB_STATUS, status(3, "b")))
    index.batch.commit({0: 17, 2: 5}, at_micros=1_000)
    store.close()
    reopened = LocalStore(str(tmp_path)).open()
    try:
        namespace = reopened.namespace(b"status")
        assert namespace.checkpoint() == ({0: 17, 2: 5}, 1_000)
        again = RecordIndex(namespace, record_serde)
        assert [s.job_id for s in again.page("t1", 10)[0]] == ["a", "b"]
        namespace.clear()
        assert namespace.checkpoint() == ({}, None)
        assert again.get("a") is None
    finally:
        reopened.close()


@pytest.mark.parametrize(
    "shape",
    [
        {"state": JobState.SUCCEEDED, "artifact": artifact(), "state_times": {"succeeded": T0}},
        {"state": JobState.QUEUED, "params": None, "artifact": None},
        {"state": JobState.CANCELED, "artifact": None, "error": ErrorInfo(DELETED_CODE, "deleted", False)},
        {"state": JobState.FAILED, "artifact": None, "error": ErrorInfo("oom", "out of memory", True)},
    ],
)
async def test_what_a_replay_reads_of_a_record_is_what_the_decoded_snapshot_says(
    record_serde: AvroSerde, shape: dict[str, Any]
) -> None:
    """The view decodes only the writer's datum of each record (no JobStatus is built during a replay)."""
    snapshot = status(7, "x", **shape)
    facts = JobFacts.of_datum(await record_serde.writer_datum(record_serde.serialize(JOB_STATUS, snapshot)))
    assert facts == JobFacts.of(snapshot)
    assert facts.deleted == (shape.get("error") is not None and shape["error"].code == DELETED_CODE)
