"""The view's index: the newest snapshot wins whatever the arrival order; pages cover each job once."""

from __future__ import annotations

import gc
import itertools
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.job_index import JobFilter, JobIndex, decode_cursor, encode_cursor, sort_key
from ingest.openapi import openapi_document
from ingest.submission import parse_submission, placeholder_of, submit_command
from reelstream.params import InvalidRequest
from schemas.events import JobState, JobStatus
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS, JOB_STATUS
from tests.kafka_clients import MemoryRegistry
from tests.samples import T0, job_status


def status(version: int, job_id: str = "j1", tenant: str = "t1", minutes: int = 0, **kw: Any) -> JobStatus:
    return job_status(
        job_id=job_id, tenant_id=tenant, version=version, created_at=T0 + timedelta(minutes=minutes), **kw
    )


@given(st.permutations(list(range(8))))
def test_the_highest_version_wins_in_any_arrival_order(order: list[int]) -> None:
    index = JobIndex()
    for version in order:
        index.apply(status(version))
    current = index.get("j1")
    assert current is not None
    assert current.status.version == 7
    assert [s.version for s in index.page("t1", 10)[0]] == [7]


def test_an_older_or_equal_snapshot_changes_nothing() -> None:
    index = JobIndex()
    assert index.apply(status(3, state=JobState.RUNNING))
    assert not index.apply(status(2, state=JobState.QUEUED))
    assert not index.apply(status(3, state=JobState.FAILED))
    current = index.get("j1")
    assert current is not None
    assert current.status.state is JobState.RUNNING


def test_a_local_placeholder_fills_a_gap_and_never_replaces_a_real_snapshot() -> None:
    index = JobIndex()
    assert index.apply(status(0, state=JobState.ACCEPTED), local=True)
    assert index.apply(status(0, state=JobState.QUEUED))  # real beats local at the same version
    assert not index.apply(status(0, state=JobState.ACCEPTED), local=True)
    assert not index.apply(status(9, job_id="j1", state=JobState.ACCEPTED), local=True)
    current = index.get("j1")
    assert current is not None
    assert (current.status.state, current.local) == (JobState.QUEUED, False)


def test_a_tombstone_removes_the_job_from_lookups_and_lists() -> None:
    index = JobIndex()
    index.apply(status(1))
    assert index.remove("j1")
    assert index.get("j1") is None
    assert index.page("t1", 10) == ([], None)
    assert not index.remove("j1")


def test_a_changed_creation_time_moves_the_job_in_the_list() -> None:
    index = JobIndex()
    index.apply(status(1, job_id="a", minutes=1))
    index.apply(status(1, job_id="b", minutes=2))
    index.apply(status(2, job_id="a", minutes=3))
    assert [s.job_id for s in index.page("t1", 10)[0]] == ["a", "b"]


@given(
    st.lists(st.tuples(st.integers(0, 50), st.sampled_from(["t1", "t2"])), max_size=40),
    st.integers(1, 7),
)
def test_pages_list_each_of_a_tenants_jobs_once_newest_first(jobs: list[tuple[int, str]], limit: int) -> None:
    index = JobIndex()
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
    jobs: list[tuple[int, JobState, str]],
    states: frozenset[str],
    model: str | None,
    window: tuple[int | None, int | None],
    limit: int,
    max_scan: int,
) -> None:
    """Whatever the filter, page size and scan bound (pages may be short, even empty, with a cursor)."""
    index = JobIndex()
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


async def test_real_snapshots_are_kept_as_their_record_bytes_out_of_the_collectors_sight() -> None:
    """What a replica holds per job: a tuple of plain values and the Avro record, untracked by the garbage
    collector once it has looked at it; lookups and pages decode it to the same snapshot."""
    serde = AvroSerde(MemoryRegistry())
    await serde.register(JOB_STATUS, COMMANDS)
    index = JobIndex(
        lambda raw: serde.decode_seen(JOB_STATUS, raw),
        lambda raw: placeholder_of(serde.decode_seen(COMMANDS, raw)),
    )
    first, second = status(3, "a", minutes=1), status(5, "b", minutes=2)
    for snapshot in (first, second):
        raw = serde.serialize(JOB_STATUS, snapshot)
        await serde.deserialize(JOB_STATUS, raw)  # as the view does: the writer schema is now known
        assert index.apply(snapshot, raw=raw)
    submission = parse_submission(b'{"prompt": "fox"}', default_model="tiny-mochi")
    command = replace(submit_command(submission, "t1", "c"), occurred_at=T0 + timedelta(minutes=3))
    placeholder = placeholder_of(command)  # a local one is kept as the record of the command it is made from
    assert index.apply(placeholder, local=True, raw=serde.serialize(COMMANDS, command))
    gc.collect()
    kept = [index._jobs[job_id] for job_id in ("a", "b", "c")]  # the entries themselves
    assert all(isinstance(entry[6], bytes) and not gc.is_tracked(entry) for entry in kept)
    found, local = index.get("a"), index.get("c")
    assert found is not None
    assert found.status == first
    assert not found.local
    assert local is not None
    assert local.local
    assert index.page("t1", 10)[0] == [placeholder, second, first]
