"""Fairness, priorities, aging, leases, deadlines, capacity and the cost model of the pool scheduler."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from reelstream.cost_model import CostModel, work_units
from schemas import events as ev
from streams.fair_queue import QueuedJob, SchedulerPolicy, aging_deadline, retry_backoff
from streams.scheduling import Publish, SchedulerState, apply
from tests.samples import T0, artifact, render_params
from tests.unit.streams.test_scheduling import admitted, dispatches, statuses

POLICY = SchedulerPolicy(weights={"heavy": 1.0, "light": 1.0, "gold": 3.0})


def at(seconds: float) -> ev.SchedulerTick:
    return ev.SchedulerTick(pool_id="default", occurred_at=T0 + timedelta(seconds=seconds))


def beat(
    slot: int,
    seconds: float = 0,
    job: str | None = None,
    attempt: int | None = None,
    max_work_units: int | None = None,
) -> ev.WorkerHeartbeat:
    return ev.WorkerHeartbeat(
        worker_id=f"w{slot}",
        pool_id="default",
        slot=slot,
        state=ev.WorkerState.BUSY if job else ev.WorkerState.IDLE,
        renderer="tiny-mochi",
        job_id=job,
        attempt=attempt,
        max_work_units=max_work_units,
        occurred_at=T0 + timedelta(seconds=seconds),
    )


def done(
    job: str, slot: int, attempt: int = 1, seconds: float = 1.0, at_s: float = 1.0
) -> ev.RenderSucceeded:
    return ev.RenderSucceeded(
        job_id=job,
        slot=slot,
        attempt=attempt,
        artifact=artifact(),
        render_seconds=seconds,
        occurred_at=T0 + timedelta(seconds=at_s),
    )


class Pool:
    """A scheduler driven by events, with the dispatches it made so far."""

    def __init__(self, policy: SchedulerPolicy = POLICY) -> None:
        self.state, self.policy, self.outputs = SchedulerState("default"), policy, []

    def feed(self, *events: ev.InboxEvent) -> list[ev.DispatchRender]:
        new = []
        for event in events:
            self.state, out = apply(self.state, event, self.policy)
            self.outputs += out
            new += dispatches(out)
        return new


def test_a_flooding_tenant_delays_another_tenants_first_job_by_at_most_one_job() -> None:
    pool = Pool()
    pool.feed(*[admitted(f"h{i}", tenant="heavy") for i in range(1000)], beat(0))
    pool.feed(admitted("l0", tenant="light"))
    order = [d.job_id for d in pool.feed(done("h0", 0, at_s=1))]
    assert order == ["l0"]


def test_gpu_time_is_shared_by_weight_under_contention() -> None:
    pool = Pool()
    pool.feed(
        *[admitted(f"g{i}", tenant="gold") for i in range(200)],
        *[admitted(f"h{i}", tenant="heavy") for i in range(200)],
        beat(0),
    )
    served: Counter[str] = Counter()
    running = pool.state.slots[0].job_id
    for n in range(100):
        assert running is not None
        served[running[0]] += 1
        # each render takes what the cost model predicts (0.5 s), so aging never has to step in
        (nxt,) = pool.feed(done(running, 0, seconds=0.5, at_s=(n + 1) * 0.5))
        running = nxt.job_id
    assert 70 <= served["g"] <= 80  # weight 3 : 1 → three quarters of the GPU


def test_higher_priority_runs_first_and_shorter_jobs_before_longer_within_a_tenant() -> None:
    pool = Pool()
    long = admitted("long", params=render_params(num_frames=61))
    short = admitted("short")
    urgent = admitted(
        "urgent", tenant="heavy", priority=ev.Priority.HIGH, params=render_params(num_frames=61)
    )
    pool.feed(long, short, urgent, beat(0))
    assert pool.state.slots[0].job_id == "urgent"
    (nxt,) = pool.feed(done("urgent", 0))
    assert nxt.job_id == "short"


def test_aging_lets_a_long_job_pass_a_stream_of_short_ones() -> None:
    pool = Pool(SchedulerPolicy(min_aging=timedelta(seconds=5)))
    pool.feed(admitted("long", params=render_params(num_frames=61)), beat(0))
    ran = ["long"] if pool.state.slots[0].job_id == "long" else []
    t = 0
    while not ran and t < 60:
        t += 1
        pool.feed(admitted(f"s{t}"))
        running = pool.state.slots[0].job_id
        assert running is not None
        got = pool.feed(done(running, 0, attempt=1, at_s=t))
        ran = [d.job_id for d in got if d.job_id == "long"]
    assert ran == ["long"]
    assert t <= 10  # within the aging bound (5 s) plus one short job, not never


def test_a_slot_that_stops_heartbeating_loses_its_lease_and_the_job_runs_elsewhere() -> None:
    pool = Pool()
    pool.feed(admitted("a"), beat(0))
    pool.feed(beat(1), beat(1, seconds=20), beat(0, seconds=20, job="a", attempt=1))  # renewed until 50 s
    assert pool.feed(at(45)) == []
    pool.feed(beat(1, seconds=45))
    (again,) = pool.feed(at(51))
    assert (again.job_id, again.slot, again.attempt) == ("a", 1, 2)
    assert pool.feed(done("a", 0, attempt=1, at_s=52)) == []  # the zombie's success is fenced off
    pool.feed(done("a", 1, attempt=2, at_s=53))
    finals = [s.state for s in statuses(pool.outputs, "a") if s.state.terminal]
    assert finals == ["succeeded"]


def test_a_slot_still_running_an_attempt_whose_lease_lapsed_gets_no_work_until_it_is_idle() -> None:
    """A broker outage longer than a lease: the job is requeued, but the worker is still rendering the old
    attempt and says so in its heartbeats. A dispatch to it would wait behind that attempt and lose its
    lease too, so the job goes to another slot, and this one gets work once it reports idle."""
    pool = Pool()
    pool.feed(admitted("a"), beat(0))
    assert pool.feed(at(31)) == []  # no heartbeat reached the scheduler for a lease: "a" is requeued
    assert statuses(pool.outputs, "a")[-1].state == "queued"
    assert pool.feed(beat(0, seconds=32, job="a", attempt=1), at(33)) == []
    (moved,) = pool.feed(beat(1, seconds=34))
    assert (moved.job_id, moved.slot, moved.attempt) == ("a", 1, 2)
    assert pool.feed(admitted("b"), beat(0, seconds=35, job="a", attempt=1), at(36)) == []
    (next_job,) = pool.feed(beat(0, seconds=37))
    assert (next_job.job_id, next_job.slot) == ("b", 0)


def test_a_beat_naming_the_attempt_that_just_finished_does_not_hold_the_slot_up() -> None:
    """A heartbeat built while the outcome was on its way arrives after it: the job is finished, so the slot
    takes the next job at once (not after the worker's next heartbeat)."""
    pool = Pool()
    pool.feed(admitted("a"), beat(0))
    pool.feed(done("a", 0, attempt=1, at_s=5))
    assert pool.feed(beat(0, seconds=5, job="a", attempt=1)) == []
    (next_job,) = pool.feed(admitted("b"))
    assert (next_job.job_id, next_job.slot) == ("b", 0)


def test_a_failed_attempt_is_retried_after_a_backoff_then_fails_after_max_attempts() -> None:
    policy = SchedulerPolicy(max_attempts=2)
    pool = Pool(policy)
    error = ev.ErrorInfo("storage_unavailable", "MinIO did not answer", True)
    pool.feed(admitted("a"), beat(0))
    assert pool.feed(ev.RenderFailed(job_id="a", slot=0, attempt=1, error=error, occurred_at=T0)) == []
    wait = retry_backoff("a", 1, policy)
    assert policy.retry_backoff * 0.5 <= wait < policy.retry_backoff * 1.5
    assert pool.feed(ev.SchedulerTick(pool_id="default", occurred_at=T0 + wait * 0.9)) == []  # still waiting
    (retry,) = pool.feed(ev.SchedulerTick(pool_id="default", occurred_at=T0 + wait))
    assert retry.attempt == 2
    pool.feed(ev.RenderFailed(job_id="a", slot=0, attempt=2, error=error, occurred_at=T0 + wait))
    assert statuses(pool.outputs, "a")[-1].state == "failed"


def test_retry_backoff_doubles_per_attempt_up_to_a_cap_with_the_same_jitter_on_every_replay() -> None:
    policy = SchedulerPolicy(retry_backoff=timedelta(seconds=2), retry_backoff_max=timedelta(seconds=10))
    waits = [retry_backoff("job", attempt, policy) for attempt in (1, 2, 3, 4, 5)]
    assert waits == [retry_backoff("job", attempt, policy) for attempt in (1, 2, 3, 4, 5)]
    bases = [2, 4, 8, 10, 10]
    assert all(b * 0.5 <= w.total_seconds() < b * 1.5 for w, b in zip(waits, bases, strict=True))
    assert len({retry_backoff(f"job-{i}", 1, policy) for i in range(20)}) > 10  # jittered across jobs


def test_a_queued_job_past_its_deadline_expires_and_never_starts() -> None:
    pool = Pool()
    pool.feed(admitted("a", deadline=T0 + timedelta(seconds=10)), at(11))
    assert statuses(pool.outputs, "a")[-1].state == "expired"
    assert pool.feed(beat(0, seconds=12)) == []


def test_a_job_goes_only_to_a_slot_that_can_hold_it() -> None:
    pool = Pool()
    big = admitted("big", params=render_params(width=256, height=256, num_frames=61))
    pool.feed(big, beat(0, max_work_units=64 * 48 * 13))
    assert pool.state.slots[0].job_id is None
    (d,) = pool.feed(beat(1))
    assert (d.job_id, d.slot) == ("big", 1)


def test_queued_jobs_carry_position_and_an_eta_that_grows_with_the_work_ahead() -> None:
    pool = Pool()
    pool.feed(*[admitted(f"j{i}") for i in range(3)])
    announced = [o.status for o in pool.outputs if isinstance(o, Publish)]
    assert [(s.job_id, s.state, s.queue_position) for s in announced] == [
        (f"j{i}", "queued", None) for i in range(3)
    ]
    pool.feed(at(1))  # places and ETAs come with the tick
    last = {s.job_id: s for s in (o.status for o in pool.outputs if isinstance(o, Publish))}
    positions = [last[f"j{i}"].queue_position for i in range(3)]
    etas = [last[f"j{i}"].eta_seconds or 0 for i in range(3)]
    assert positions == [0, 1, 2]
    assert etas[0] < etas[1] < etas[2]


def test_the_cost_model_learns_from_observed_renders() -> None:
    params = render_params()
    model = CostModel()
    prior = model.seconds(params, "H100")
    for _ in range(30):
        model = model.observe(params, "H100", 10 * prior)
    assert abs(model.seconds(params, "H100") - 10 * prior) < 0.01 * prior
    assert model.seconds(params, "A10") == prior  # learned per GPU type


EVENTS = st.one_of(
    st.builds(
        lambda i, t: admitted(f"j{i}", tenant=t), st.integers(0, 9), st.sampled_from(["heavy", "light"])
    ),
    st.builds(lambda s, t: beat(s, seconds=t), st.integers(0, 2), st.integers(0, 120)),
    st.builds(
        lambda i, s, a, t: done(f"j{i}", s, attempt=a, at_s=t),
        st.integers(0, 9),
        st.integers(0, 2),
        st.integers(1, 3),
        st.integers(0, 120),
    ),
    st.builds(at, st.integers(0, 200)),
    st.builds(
        lambda i: ev.CancelRequested(job_id=f"j{i}", tenant_id="heavy", pool_id="default", occurred_at=T0),
        st.integers(0, 9),
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(EVENTS, max_size=60))
def test_invariants_hold_for_any_event_sequence(events: list[ev.InboxEvent]) -> None:
    state, terminal = SchedulerState("default"), Counter[str]()
    replayed = SchedulerState("default")
    for event in events:
        before = state
        state, out = apply(state, event, POLICY)
        replayed, _ = apply(replayed, event, POLICY)
        held = [s.job_id for s in state.slots.values() if s.job_id is not None]
        assert len(held) == len(set(held))  # no slot holds two jobs, no job two slots
        for job_id, job in state.jobs.items():
            assert (job.queued is not None) != (job_id in held)
        for o in out:
            if isinstance(o, Publish) and o.status.state.terminal:
                terminal[o.status.job_id] += 1
        stale = (
            isinstance(event, ev.RenderSucceeded)
            and event.job_id in before.jobs
            and before.jobs[event.job_id].status.attempt != event.attempt
        )
        if stale:
            # a stale attempt changes nothing about the job: it neither finishes it nor records its artifact.
            # (Time passes with any event, so the pool's own step may still move a queued job onto a slot
            # that its clock now shows alive: attempt + 1, as any dispatch.)
            after, prior = state.jobs.get(event.job_id), before.jobs[event.job_id]
            assert after is not None
            assert after.status.artifact == prior.status.artifact
            moved = (after.status.state, after.status.attempt) != (prior.status.state, prior.status.attempt)
            if moved:
                assert (prior.status.state, after.status.state) == (
                    ev.JobState.QUEUED,
                    ev.JobState.DISPATCHED,
                )
                assert after.status.attempt == prior.status.attempt + 1
    assert all(n == 1 for n in terminal.values())  # one terminal state per job
    assert replayed == state  # deterministic: the same inbox gives the same state


def _pool_of_one_second_clips(policy: SchedulerPolicy) -> Pool:
    """One slot, and a cost model that knows a small clip takes 1 s (so FIFO waits, and aging, are real)."""
    pool = Pool(policy)
    rate = 1.0 / work_units(render_params())
    pool.state = replace(pool.state, cost_model=CostModel(MappingProxyType({"tiny-mochi|": rate})))
    return pool


@settings(max_examples=25, deadline=None)
@given(
    queued=st.integers(1, 10),
    tenants=st.lists(st.sampled_from(["t1", "t2", "t3"]), min_size=1, max_size=3),
    factor=st.floats(1.0, 4.0),
)
def test_a_job_predicted_long_waits_for_short_ones_only_as_long_as_its_own_aging(
    queued: int, tenants: list[str], factor: float
) -> None:
    """No starvation: however many short jobs keep coming, a job predicted long starts by its own aging
    bound (long_aging_factor × its FIFO wait) plus one short job; no convoy: before that bound it lets the
    short ones of its tenant go first (shortest-first), so one long render does not hold them up."""
    policy = SchedulerPolicy(min_aging=timedelta(seconds=1), long_aging_factor=factor)
    pool = _pool_of_one_second_clips(policy)
    pool.feed(*[admitted(f"s{i}", tenant=tenants[i % len(tenants)]) for i in range(queued)], beat(0))
    shape = render_params(num_frames=61)
    long = admitted("long", tenant=tenants[0], params=shape, predicted_long=True, long_probability=0.9)
    pool.feed(long)
    job = pool.state.jobs["long"].queued
    assert job is not None
    deadline = aging_deadline(job, policy)
    started, t = None, 0
    while started is None and t < 200:
        t += 1
        at = T0 + timedelta(seconds=t)
        pool.feed(admitted(f"n{t}", tenant=tenants[t % len(tenants)], submitted_at=at, occurred_at=at))
        running = pool.state.slots[0].job_id
        assert running is not None
        got = pool.feed(done(running, 0, at_s=t))
        started = t if any(d.job_id == "long" for d in got) else None
    assert started is not None
    assert started <= deadline + 1  # its own bound, plus the short job running when it was reached
    if set(tenants) == {tenants[0]}:  # (across tenants, fair sharing may run it sooner)
        assert started >= deadline - 5  # its tenant's short jobs went first until then (lookahead)


def test_jobs_predicted_long_age_by_their_own_factor() -> None:
    policy = SchedulerPolicy(aging_factor=2.0, long_aging_factor=4.0, min_aging=timedelta(0))
    plain = QueuedJob(admitted("a"), 1, T0, cost=10.0, fifo_wait=10.0)
    long = replace(plain, admitted=admitted("b", predicted_long=True))
    assert (aging_deadline(plain, policy), aging_deadline(long, policy)) == (20.0, 40.0)
