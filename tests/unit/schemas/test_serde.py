"""The registry serde's shortcut for a record that encloses one serialized already (a job event and its
snapshot): byte for byte what serializing the whole record gives."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import events as ev
from schemas.errors import SerializationError
from schemas.serde import AvroSerde
from schemas.topics import ALL_TOPICS, JOB_EVENTS, JOB_STATUS, SCHEDULER_INBOX
from streams.publishing import job_event
from tests.kafka_clients import MemoryRegistry
from tests.samples import artifact, every_record, job_status

SERDE = AvroSerde(MemoryRegistry())
asyncio.run(SERDE.register(*ALL_TOPICS))


@given(
    state=st.sampled_from(ev.JobState),
    event_type=st.sampled_from(ev.JobEventType),
    prompt=st.text(max_size=200),
    position=st.none() | st.integers(0, 2**31 - 1),
    metadata=st.dictionaries(st.text(max_size=10), st.text(max_size=10)),
    with_artifact=st.booleans(),
)
def test_an_event_around_a_serialized_snapshot_is_the_event_serialized_whole(
    state: ev.JobState,
    event_type: ev.JobEventType,
    prompt: str,
    position: int | None,
    metadata: dict[str, str],
    with_artifact: bool,
) -> None:
    status = job_status(
        state=state,
        prompt=prompt,
        queue_position=position,
        metadata=metadata,
        artifact=artifact() if with_artifact else None,
    )
    event = job_event(status, event_type)
    snapshot = SERDE.serialize(JOB_STATUS, status)
    enclosing = SERDE.serialize_enclosing(JOB_EVENTS, event, snapshot)
    assert enclosing == SERDE.serialize(JOB_EVENTS, event)
    assert SERDE.decode_seen(JOB_EVENTS, enclosing) == event


def test_only_a_value_of_a_single_record_topic_encloses_a_serialized_record() -> None:
    status = job_status()
    snapshot = SERDE.serialize(JOB_STATUS, status)
    with pytest.raises(SerializationError):
        SERDE.serialize_enclosing(JOB_EVENTS, status, snapshot)  # type: ignore[arg-type]
    admitted = next(r for r in every_record() if isinstance(r, ev.JobAdmitted))
    with pytest.raises(SerializationError):  # the inbox is a union of records
        SERDE.serialize_enclosing(SCHEDULER_INBOX, admitted, snapshot)
