"""How each webhook endpoint is doing, and whether an attempt to it may start now: pure rules, no I/O.

An endpoint is a tenant's origin (scheme, host and port of the URL): every job's own webhook_url on one
host shares the bound of that host, whatever its path. Each endpoint has

- a bound on attempts in flight at once; a first attempt may wait for a slot while few others wait, a retry
  (read from a tier partition, which must not stall) never waits; otherwise the attempt is deferred;
- its own backoff: after its n-th failure in a row (timeouts, connection errors, 5xx, 408, 429, redirects)
  no attempt starts before the n-th delay of the schedule, or before the receiver's Retry-After (capped),
  whichever is later; a success clears it;
- a failure window: failing that long with no success in between, it is to be disabled.

Other endpoints never wait for a failing one: the caller defers what may not start now to a retry tier and
moves on.

Slots are one notifier's own. The rest (failures in a row, failing since, backoff until) is shared between
notifier replicas: each state change an attempt makes is a `SharedState` (`Finished.shared`) that the
notifier publishes on a compacted topic, and every replica `apply`s what it reads there, the later state
winning. So a second replica, and a restarted one, honour an endpoint's backoff and failure window.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit


def endpoint_of(tenant_id: str, url: str) -> str:
    """The endpoint a webhook URL belongs to: the tenant and the URL's origin (never its path or query)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{tenant_id} {url}"
    return f"{tenant_id} {parts.scheme}://{parts.hostname or ''}:{port or ''}"


def tenant_of(endpoint: str) -> str:
    """The tenant of an endpoint (`endpoint_of`'s first part)."""
    return endpoint.partition(" ")[0]


@dataclass(frozen=True)
class HealthPolicy:
    max_in_flight: int  # attempts at once to one endpoint
    backoff: tuple[float, ...]  # seconds after the n-th failure in a row (the last one repeats)
    retry_after_max: float  # a receiver's Retry-After is honoured up to this
    disable_after: float  # failing this long with no success in between disables the endpoint

    @property
    def max_waiting(self) -> int:
        """First attempts that may wait for a slot of one endpoint; more are deferred."""
        return self.max_in_flight


class Gate(StrEnum):
    GO = "go"  # start the attempt now (the caller holds a slot until `finished`)
    WAIT = "wait"  # wait for a slot (`waiting`), then ask again
    DEFER = "defer"  # do not attempt now: queue it until `Admission.until`


@dataclass(frozen=True)
class Admission:
    gate: Gate
    until: float = 0.0  # for DEFER: the earliest time (Unix seconds) worth trying again


@dataclass(frozen=True)
class SharedState:
    """What notifier replicas share of an endpoint (Unix seconds): the later `at` wins."""

    failures: int  # in a row; 0: healthy
    failing_since: float | None
    not_before: float  # 0: no backoff
    at: float  # when the endpoint reached this state


@dataclass(frozen=True)
class Finished:
    disable: bool = False  # the endpoint failed for the whole window: disable it
    backoff_until: float = 0.0  # no attempt starts before this (0: none)
    shared: SharedState | None = None  # the endpoint's new state, to share; None: it did not change


@dataclass
class _State:
    in_flight: int = 0
    waiting: int = 0
    failures: int = 0  # in a row
    failing_since: float | None = None
    not_before: float = 0.0
    updated_at: float = 0.0  # when failures / failing_since / not_before last changed

    def shared(self) -> SharedState:
        return SharedState(self.failures, self.failing_since, self.not_before, self.updated_at)

    @property
    def idle_and_healthy(self) -> bool:
        return self.in_flight == 0 and self.waiting == 0 and self.failures == 0


class EndpointHealth:
    """Every endpoint's state, kept only while it has attempts in flight or is failing."""

    def __init__(self, policy: HealthPolicy) -> None:
        if policy.max_in_flight < 1 or not policy.backoff:
            raise ValueError("an endpoint needs at least one slot and a backoff schedule")
        self.policy = policy
        self._states: dict[str, _State] = {}

    def admit(self, endpoint: str, now: float, *, may_wait: bool) -> Admission:
        """Whether an attempt to `endpoint` starts now; GO takes one of its slots."""
        state = self._states.setdefault(endpoint, _State())
        if state.not_before > now:
            self._forget_if_idle(endpoint)
            return Admission(Gate.DEFER, state.not_before)
        if state.in_flight < self.policy.max_in_flight:
            state.in_flight += 1
            return Admission(Gate.GO)
        if may_wait and state.waiting < self.policy.max_waiting:
            return Admission(Gate.WAIT)
        return Admission(Gate.DEFER, now + self.policy.backoff[0])

    def waiting(self, endpoint: str, delta: int) -> None:
        """A first attempt starts (+1) or stops (-1) waiting for a slot of `endpoint`."""
        state = self._states.setdefault(endpoint, _State())
        state.waiting = max(0, state.waiting + delta)
        self._forget_if_idle(endpoint)

    def finished(self, endpoint: str, now: float, *, ok: bool, retry_after: float | None = None) -> Finished:
        """An attempt that held a slot is over: `ok` (delivered, or refused for good) or failed retriably."""
        state = self._states.setdefault(endpoint, _State())
        state.in_flight = max(0, state.in_flight - 1)
        if ok:
            recovered = state.failures > 0 or state.not_before > 0.0
            state.failures, state.failing_since, state.not_before, state.updated_at = 0, None, 0.0, now
            shared = state.shared() if recovered else None
            self._forget_if_idle(endpoint)
            return Finished(shared=shared)
        state.failures += 1
        if state.failing_since is None:
            state.failing_since = now
        delay = self.policy.backoff[min(state.failures, len(self.policy.backoff)) - 1]
        asked = min(retry_after or 0.0, self.policy.retry_after_max)
        state.not_before = max(state.not_before, now + max(delay, asked))
        state.updated_at = now
        disable = now - state.failing_since >= self.policy.disable_after
        return Finished(disable=disable, backoff_until=state.not_before, shared=state.shared())

    def apply(self, endpoint: str, shared: SharedState) -> bool:
        """Another replica's (or, replayed at start, any replica's) state of `endpoint`, unless this one
        holds a later state; its slots stay this replica's own. True if it was applied."""
        state = self._states.get(endpoint)
        if state is not None and shared.at < state.updated_at:
            return False
        state = state if state is not None else self._states.setdefault(endpoint, _State())
        state.failures, state.failing_since = shared.failures, shared.failing_since
        state.not_before, state.updated_at = shared.not_before, shared.at
        self._forget_if_idle(endpoint)
        return True

    def backoff_until(self, endpoint: str) -> float:
        """No attempt to `endpoint` starts before this (0: none)."""
        state = self._states.get(endpoint)
        return state.not_before if state is not None else 0.0

    def in_flight(self, endpoint: str) -> int:
        state = self._states.get(endpoint)
        return state.in_flight if state is not None else 0

    def __len__(self) -> int:
        return len(self._states)

    def _forget_if_idle(self, endpoint: str) -> None:
        state = self._states.get(endpoint)
        if state is not None and state.idle_and_healthy and state.not_before == 0.0:
            del self._states[endpoint]
