"""Admission decides in clear and forwards sealed: an ingest-sealed submission is opened for the decision,
what it produces of the job is sealed under the same key (a rejection too), the scheduler carries the key
into statuses and dispatches, and a plaintext submission seen again keeps the key it got the first time."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reelstream.crypto.job_keys_view import FieldOpener, JobKeyWriter
from reelstream.crypto.keyring import Keyring
from reelstream.crypto.keys_view import KeyIssuer
from reelstream.crypto.provider import StaticKeyProvider, new_key
from reelstream.kafka.security import PLAINTEXT
from reelstream.settings import TenantLimit
from schemas import events as ev
from schemas.serde import AvroSerde
from streams.admission_service import Record, Rejection
from streams.invariants import check_job_event
from streams.job_sealing import AdmissionSealing
from streams.scheduling import SendToSlot
from tests.kafka_clients import MemoryRegistry
from tests.unit.streams.test_admission_service import DictStore, service_factory, submit
from tests.unit.streams.test_scheduling import admitted, heartbeat, run, statuses

URL = "https://hooks.example.com/x?token=s3cret"


def _sealing() -> AdmissionSealing:
    keyring = Keyring(StaticKeyProvider({"k1": new_key()}, "k1"))
    keyring.put(keyring.issue("t1"))
    opener = FieldOpener(
        "unused:9092", AvroSerde(MemoryRegistry()), keyring, "test", PLAINTEXT, tenant_view=False
    )
    writer = JobKeyWriter(opener.job_keys, KeyIssuer(keyring, None), None)  # type: ignore[arg-type]
    return AdmissionSealing(opener, writer)


def _sealed_submit(sealing: AdmissionSealing, **overrides: Any) -> ev.SubmitJob:
    keys = sealing.opener.job_keys
    record = keys.issue("t1", "j1")
    keys.put(record)
    command = submit()
    return keys.seal(ev.SubmitJob(**{**command.__dict__, "webhook_url": URL, **overrides}), record.key_id)


def _texts(value: Any) -> str:
    return f"{value.prompt} {value.negative_prompt} {value.webhook_url}"


async def test_an_admitted_job_is_decided_in_clear_and_forwarded_sealed_under_its_own_key() -> None:
    sealing = _sealing()
    command = _sealed_submit(sealing)
    opened, key_id = await sealing.opened(command)
    assert key_id == command.job_key_id
    assert isinstance(opened, ev.SubmitJob)
    assert opened.prompt == "a fox"
    outputs = sealing.sealed(service_factory().handle(opened, DictStore()), key_id)
    [admitted] = [o.value for o in outputs if isinstance(o, Record) and isinstance(o.value, ev.JobAdmitted)]
    assert admitted.job_key_id == key_id
    assert "a fox" not in _texts(admitted)
    assert "s3cret" not in _texts(admitted)
    assert admitted.prompt_words == 2  # counted in clear, for the load classes downstream
    assert sealing.opener.job_keys.open(admitted).webhook_url == URL


async def test_a_rejection_is_sealed_too_and_its_sealed_url_passes_the_invariants() -> None:
    sealing = _sealing()
    command = _sealed_submit(sealing, params=ev.RequestedParams(model="no-such-model"))
    opened, key_id = await sealing.opened(command)
    outputs = sealing.sealed(service_factory(TenantLimit(running=3)).handle(opened, DictStore()), key_id)
    [rejection] = [o for o in outputs if isinstance(o, Rejection)]
    assert rejection.status.job_key_id == key_id
    assert "s3cret" not in _texts(rejection.status)
    event = ev.JobEvent("j1", "t1", ev.JobEventType.REJECTED, rejection.status)
    check_job_event(event)  # a sealed URL is checked in clear, by the notifier, not here
    check_job_event(
        ev.JobEvent("j1", "t1", ev.JobEventType.REJECTED, sealing.opener.job_keys.open(rejection.status))
    )


async def test_a_plaintext_submission_seen_again_keeps_the_key_it_got_first() -> None:
    sealing = _sealing()
    held = sealing.opener.job_keys.issue("t1", "j1")
    sealing.opener.job_keys.put(held)
    opened, key_id = await sealing.opened(submit())  # in clear: a Kafka client's
    assert key_id == held.key_id
    assert isinstance(opened, ev.SubmitJob)
    assert opened.job_key_id is None


async def test_commands_that_carry_no_job_fields_pass_through() -> None:
    sealing = _sealing()
    cancel = ev.CancelJob("j1", "t1")
    assert await sealing.opened(cancel) == (cancel, None)
    assert sealing.sealed([], None) == []


def test_the_scheduler_carries_the_key_and_the_word_count_into_statuses_and_dispatches() -> None:
    sealed = replace(admitted("a"), prompt="rsenc1.jk_1.QUJD", job_key_id="jk_1", prompt_words=7)
    _, out = run([sealed, heartbeat(0)])
    assert {(s.job_key_id, s.prompt, s.prompt_words) for s in statuses(out, "a")} == {
        ("jk_1", sealed.prompt, 7)
    }
    [dispatch] = [o.command for o in out if isinstance(o, SendToSlot)]
    assert isinstance(dispatch, ev.DispatchRender)
    assert (dispatch.job_key_id, dispatch.prompt) == ("jk_1", sealed.prompt)
