"""Dead-letter policy: which errors park a record; how a dead letter carries the record and its replays."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelstream.dlq import (
    REPLAYS_HEADER,
    SourceRecord,
    dead_letter,
    headers_dict,
    replay_headers,
    replays_of,
)
from reelstream.errors import ReelstreamError
from reelstream.settings import PipelineSettings
from schemas.errors import SerializationError
from streams.app import StreamContext

# what dead_lettering reads of a Faust event: its message's coordinates and headers (the processing span)
RECORD = SimpleNamespace(message=SimpleNamespace(topic="t", partition=0, offset=1, headers=[]))


class RecordingContext(StreamContext):
    """A StreamContext whose dead-letter topic is a list (no broker, no Faust app needed)."""

    def __init__(self) -> None:
        self.parked: list[tuple[Any, ReelstreamError, str]] = []
        self.stage = "test"

    async def dead_letter(self, record: Any, error: ReelstreamError, reason: str) -> None:
        self.parked.append((record, error, reason))


async def test_a_non_retriable_error_is_dead_lettered_and_swallowed() -> None:
    ctx = RecordingContext()
    error = ReelstreamError("bad command")
    async with ctx.dead_lettering(RECORD):  # type: ignore[arg-type]
        raise error
    assert ctx.parked == [(RECORD, error, "failed")]


async def test_a_retriable_error_propagates_and_is_not_dead_lettered() -> None:
    ctx = RecordingContext()
    with pytest.raises(ReelstreamError):
        async with ctx.dead_lettering(RECORD):  # type: ignore[arg-type]
            raise ReelstreamError("broker down", retriable=True)
    assert ctx.parked == []


async def test_other_exceptions_propagate() -> None:
    ctx = RecordingContext()
    with pytest.raises(RuntimeError):
        async with ctx.dead_lettering(RECORD):  # type: ignore[arg-type]
            raise RuntimeError("a bug")
    assert ctx.parked == []


def test_the_context_knows_its_stage() -> None:
    ctx = StreamContext(object(), PipelineSettings.__new__(PipelineSettings), "notifier", metrics=object())  # type: ignore[arg-type]
    assert ctx.stage == "notifier"


def _record(headers: dict[str, bytes]) -> SourceRecord:
    return SourceRecord("reelstream.jobs.events", 3, 42, b"job-1", b"\x00garbage", headers)


def test_a_dead_letter_keeps_the_original_record_and_the_error() -> None:
    letter = dead_letter("notifier", _record({"trace": b"abc"}), SerializationError("not avro"))
    assert (letter.stage, letter.source_topic, letter.partition, letter.offset) == (
        "notifier",
        "reelstream.jobs.events",
        3,
        42,
    )
    assert (letter.key, letter.value, letter.headers) == (b"job-1", b"\x00garbage", {"trace": b"abc"})
    assert (letter.error_code, letter.error_message, letter.replays) == ("serialization", "not avro", 0)


@given(st.integers(min_value=0, max_value=10_000), st.dictionaries(st.text(min_size=1), st.binary()))
def test_a_replayed_record_that_fails_again_has_one_more_replay(
    replays: int, headers: dict[str, bytes]
) -> None:
    headers = {k: v for k, v in headers.items() if k != REPLAYS_HEADER}
    first = dead_letter(
        "worker", _record({**headers, REPLAYS_HEADER: str(replays).encode()}), ReelstreamError("x")
    )
    replayed = headers_dict(replay_headers(first))
    again = dead_letter("worker", _record(replayed), ReelstreamError("x"))
    assert again.replays == first.replays + 1 == replays + 1
    assert {k: v for k, v in again.headers.items() if k != REPLAYS_HEADER} == headers


@pytest.mark.parametrize("raw", [b"", b"x", b"-3", b"\xff"])
def test_an_unreadable_replay_count_counts_as_zero(raw: bytes) -> None:
    assert replays_of({REPLAYS_HEADER: raw}) == 0


def test_headers_as_pairs_or_mapping() -> None:
    assert headers_dict([("a", b"1"), ("b", b"2")]) == {"a": b"1", "b": b"2"}
    assert headers_dict({"a": b"1"}) == {"a": b"1"}
    assert headers_dict(None) == {}
