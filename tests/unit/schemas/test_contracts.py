"""The dataclasses and the .avsc files describe the same records, and every record survives Avro."""

from __future__ import annotations

import dataclasses
import io
import json
import typing

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import events as ev
from schemas.codec import AVRO_DIR, NAMESPACE, from_datum, schema_for, to_datum
from schemas.topics import ALL_TOPICS
from tests.samples import every_record, job_status

RECORD_CLASSES = [c for c in vars(ev).values() if dataclasses.is_dataclass(c) and isinstance(c, type)]


def test_every_dataclass_has_a_schema_file_and_every_record_file_a_dataclass() -> None:
    files = {p.name.removeprefix(NAMESPACE + ".").removesuffix(".avsc") for p in AVRO_DIR.glob("*.avsc")}
    records = {
        n for n in files if json.loads((AVRO_DIR / f"{NAMESPACE}.{n}.avsc").read_text())["type"] == "record"
    }
    assert records == {c.__name__ for c in RECORD_CLASSES}


@pytest.mark.parametrize("cls", RECORD_CLASSES, ids=lambda c: c.__name__)
def test_dataclass_fields_match_the_schema(cls: type) -> None:
    schema = json.loads(schema_for((cls.__name__,)))
    avro_fields = {f["name"]: f for f in schema["fields"]}
    py_fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(avro_fields) == set(py_fields)
    for name, field in py_fields.items():
        has_default = (
            field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
        )
        optional = type(None) in typing.get_args(typing.get_type_hints(cls)[name])
        # an optional Python field is a nullable Avro field with a null default, and vice versa
        assert optional == (
            avro_fields[name].get("default", "absent") is None and isinstance(avro_fields[name]["type"], list)
        ), name
        if name not in ("event_id", "occurred_at") and not has_default:
            assert "default" not in avro_fields[name], f"{name}: required in Python, defaulted in Avro"


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda t: t.name)
def test_topic_schemas_parse_and_define_each_named_type_once(topic: typing.Any) -> None:
    fastavro.parse_schema(json.loads(topic.schema))
    assert topic.schema.count('"name": "RenderParams"') <= 1


def _avro_round_trip(schema: str, value: object) -> object:
    parsed = fastavro.parse_schema(json.loads(schema))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, to_datum(value))
    buf.seek(0)
    return from_datum(
        type(value),
        fastavro.schemaless_reader(
            buf, parsed, None, return_record_name=True, return_record_name_override=True
        ),
    )


@pytest.mark.parametrize("record", every_record(), ids=lambda r: type(r).__name__)
def test_every_record_round_trips_through_avro(record: object) -> None:
    assert _avro_round_trip(schema_for((type(record).__name__,)), record) == record


@given(
    progress=st.floats(0, 1),
    position=st.none() | st.integers(0, 2**31 - 1),
    prompt=st.text(max_size=200),
    metadata=st.dictionaries(st.text(max_size=10), st.text(max_size=10)),
    state=st.sampled_from(ev.JobState),
)
def test_status_snapshots_round_trip_for_any_values(
    progress: float, position: int | None, prompt: str, metadata: dict[str, str], state: ev.JobState
) -> None:
    status = job_status(
        progress=progress, queue_position=position, prompt=prompt, metadata=metadata, state=state
    )
    assert _avro_round_trip(schema_for(("JobStatus",)), status) == status


def test_terminal_states_are_exactly_the_final_ones() -> None:
    assert {s for s in ev.JobState if s.terminal} == {
        "succeeded",
        "failed",
        "canceled",
        "rejected",
        "expired",
    }
