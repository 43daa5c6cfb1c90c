"""A deletion (CancelRequested.delete) ends the job canceled with error code "deleted", whatever its attempt
reports afterwards: a success that raced it leaves no artifact, a lost lease never renders it again."""

from __future__ import annotations

from schemas import events as ev
from streams.scheduling import SendToSlot
from tests.samples import T0
from tests.unit.streams.test_scheduling import _finish, admitted, heartbeat, run, statuses, tick


def delete(job_id: str, tenant: str = "t1") -> ev.CancelRequested:
    return ev.CancelRequested(job_id=job_id, tenant_id=tenant, pool_id="default", occurred_at=T0, delete=True)


def test_deleting_a_queued_job_ends_it_deleted_at_once() -> None:
    state, _ = run([admitted("a")])
    state, out = run([delete("a")], state)
    (last,) = statuses(out, "a")
    assert (last.state, last.error and last.error.code) == ("canceled", "deleted")
    assert ev.is_deleted(last)
    assert "a" not in state.jobs


def test_a_success_that_races_the_deletion_ends_deleted_without_artifact() -> None:
    state, _ = run([admitted("a"), heartbeat(0)])
    state, out = run([delete("a")], state)
    assert [type(o.command) for o in out if isinstance(o, SendToSlot)] == [ev.CancelRender]
    assert all(ev.is_deleted(s) for s in statuses(out, "a"))
    _, out = run([_finish("a", 0)], state)
    (last,) = statuses(out, "a")
    assert (last.state, last.artifact, ev.is_deleted(last)) == ("canceled", None, True)


def test_a_failure_after_the_deletion_is_not_retried() -> None:
    state, _ = run([admitted("a"), heartbeat(0), delete("a")])
    error = ev.ErrorInfo("oom", "out of memory", True)
    _, out = run([ev.RenderFailed(job_id="a", slot=0, attempt=1, error=error, occurred_at=T0)], state)
    (last,) = statuses(out, "a")
    assert (last.state, ev.is_deleted(last)) == ("canceled", True)


def test_a_deleted_job_whose_slot_went_quiet_is_never_dispatched_again() -> None:
    state, _ = run([admitted("a"), heartbeat(0), delete("a")])
    _, out = run([tick(3600), heartbeat(1), tick(3601)], state)
    assert [o for o in out if isinstance(o, SendToSlot)] == []
    assert [(s.state, ev.is_deleted(s)) for s in statuses(out, "a")] == [("canceled", True)]


def test_another_tenant_cannot_delete_a_job() -> None:
    state, _ = run([admitted("a", tenant="t1")])
    _, out = run([delete("a", tenant="t2")], state)
    assert out == []


def test_a_plain_cancel_is_not_a_deletion() -> None:
    state, _ = run([admitted("a")])
    _, out = run([ev.CancelRequested(job_id="a", tenant_id="t1", pool_id="default", occurred_at=T0)], state)
    assert not ev.is_deleted(statuses(out, "a")[-1])
