"""The invariants every fault test asserts, as one pure check over what a run observed.

Given the jobs the API accepted (202) and what was read back (terminal events on jobs.events, webhook
deliveries at the receiver, artifact records), a run is sound when: every accepted job reached exactly one
terminal state (none lost, none finished twice), every webhook-id was delivered with one payload only
(several deliveries of one id with the same payload are allowed: delivery is at-least-once), and no job has
more than one artifact recorded. No Kafka or HTTP here: the tests feed it, and unit tests feed it by hand.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from schemas.events import TERMINAL_STATES, JobEvent, JobEventType

TERMINAL_TYPES = frozenset(JobEventType(s.value) for s in TERMINAL_STATES)


@dataclass(frozen=True)
class Terminal:
    """One terminal event read from jobs.events."""

    job_id: str
    state: str
    event_id: str


@dataclass(frozen=True)
class Hook:
    """One webhook request the receiver got, and what it answered."""

    webhook_id: str
    body: bytes
    status: int = 204


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact recorded for a job (a `succeeded` event's artifact)."""

    job_id: str
    key: str


@dataclass(frozen=True)
class Verdict:
    """The counts of one run and the violations found (empty when the run is sound)."""

    jobs: int
    states: Mapping[str, int]
    lost: Sequence[str] = ()  # accepted, never terminal
    doubled: Sequence[str] = ()  # more than one terminal event
    conflicting_hooks: Sequence[str] = ()  # one webhook-id delivered with two different payloads
    undelivered_hooks: Sequence[str] = ()  # terminal event ids no 2xx delivery was seen for
    doubled_artifacts: Sequence[str] = ()  # jobs with more than one artifact record
    redelivered_hooks: int = 0  # deliveries of an id already answered 2xx (allowed, counted)
    violations: Sequence[str] = field(default_factory=tuple)

    @property
    def duplicated(self) -> int:
        return len(self.doubled) + len(self.conflicting_hooks) + len(self.doubled_artifacts)

    def summary(self) -> dict[str, object]:
        return {
            "jobs": self.jobs,
            "states": dict(self.states),
            "lost": len(self.lost),
            "duplicated": self.duplicated,
            "undelivered_hooks": len(self.undelivered_hooks),
            "redelivered_hooks": self.redelivered_hooks,
        }


def check(
    accepted: Iterable[str],
    terminals: Iterable[Terminal],
    hooks: Iterable[Hook],
    artifacts: Iterable[ArtifactRecord],
    *,
    hooks_expected: bool = False,
) -> Verdict:
    """Check a run; `hooks_expected`: every accepted job's terminal event must have been delivered (2xx)."""
    jobs = list(dict.fromkeys(accepted))
    ours = set(jobs)
    by_job: dict[str, list[Terminal]] = defaultdict(list)
    for terminal in terminals:
        if terminal.job_id in ours:
            by_job[terminal.job_id].append(terminal)
    lost = [j for j in jobs if not by_job[j]]
    doubled = [j for j in jobs if len(by_job[j]) > 1]
    states = Counter(by_job[j][0].state for j in jobs if by_job[j])

    bodies: dict[str, set[bytes]] = defaultdict(set)
    delivered: Counter[str] = Counter()
    for hook in hooks:
        bodies[hook.webhook_id].add(hook.body)
        if 200 <= hook.status < 300:
            delivered[hook.webhook_id] += 1
    conflicting = sorted(h for h, seen in bodies.items() if len(seen) > 1)
    undelivered = (
        [t.event_id for j in jobs for t in by_job[j] if not delivered[t.event_id]] if hooks_expected else []
    )
    recorded = Counter(a.job_id for a in artifacts if a.job_id in ours)
    doubled_artifacts = sorted(j for j, n in recorded.items() if n > 1)

    violations = [
        *(f"job {j} was accepted and never reached a terminal state" for j in lost),
        *(f"job {j} ended {len(by_job[j])} times: {[t.state for t in by_job[j]]}" for j in doubled),
        *(f"webhook-id {h} was delivered with {len(bodies[h])} different payloads" for h in conflicting),
        *(f"terminal event {e} was never delivered" for e in undelivered),
        *(f"job {j} has {recorded[j]} artifact records" for j in doubled_artifacts),
    ]
    return Verdict(
        jobs=len(jobs),
        states=dict(states),
        lost=lost,
        doubled=doubled,
        conflicting_hooks=conflicting,
        undelivered_hooks=undelivered,
        doubled_artifacts=doubled_artifacts,
        redelivered_hooks=sum(n - 1 for n in delivered.values() if n > 1),
        violations=tuple(violations),
    )


def terminals_of(events: Mapping[str, Sequence[JobEvent]]) -> list[Terminal]:
    return [
        Terminal(e.job_id, e.type.value, e.event_id)
        for job_events in events.values()
        for e in job_events
        if e.type in TERMINAL_TYPES
    ]


def artifacts_of(events: Mapping[str, Sequence[JobEvent]]) -> list[ArtifactRecord]:
    return [
        ArtifactRecord(e.job_id, e.status.artifact.key)
        for job_events in events.values()
        for e in job_events
        if e.type == JobEventType.SUCCEEDED and e.status.artifact is not None
    ]
