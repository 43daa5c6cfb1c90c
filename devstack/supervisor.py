"""`reelstream dev` keeps what it started running, as an orchestrator's restart policy would: a service
that exits is started again after a backoff that doubles with each crash in a row (1 s, 2 s, 4 s … 30 s) and
starts over once the service has stayed up a while; every exit and restart is said on the console.

`Backoff` is the policy, plain arithmetic over the clock it is given; `Supervisor` applies it to a
`Pipeline`'s processes. Restarts happen in the caller's thread: Linux signals a child started with
`die_with_parent` when the *thread* that started it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from devstack.services import Pipeline
from reelstream.endpoints import Endpoints


@dataclass
class Backoff:
    """How long to wait before restarting a service that exited: `first` doubled per crash in a row, at most
    `longest`; a service that ran `stable_after` seconds before it exited counts as a first crash again."""

    first: float = 1.0
    longest: float = 30.0
    stable_after: float = 60.0
    _crashes: dict[str, int] = field(default_factory=dict)
    _started_at: dict[str, float] = field(default_factory=dict)

    def started(self, name: str, now: float) -> None:
        self._started_at[name] = now

    def delay(self, name: str, now: float) -> float:
        """The wait before restarting `name`, which exited at `now`; counts the crash."""
        ran = now - self._started_at.get(name, now)
        crashes = 1 if ran >= self.stable_after else self._crashes.get(name, 0) + 1
        self._crashes[name] = crashes
        return float(min(self.first * 2 ** (crashes - 1), self.longest))

    def crashes(self, name: str) -> int:
        return self._crashes.get(name, 0)


@dataclass
class Supervisor:
    """Call `check(now)` every fraction of a second: it notices exits, and restarts each when its backoff
    is over. `say` hears a line per exit and per restart."""

    pipeline: Pipeline
    endpoints: Endpoints
    env: Mapping[str, str]
    say: Callable[[str], None]
    backoff: Backoff = field(default_factory=Backoff)
    _due: dict[str, float] = field(default_factory=dict)  # service → when it is restarted

    def watch_from(self, now: float) -> None:
        """The pipeline's services count as started at `now`."""
        for proc in self.pipeline.processes:
            self.backoff.started(proc.name, now)

    def check(self, now: float) -> list[str]:
        """Handle what happened since the last check; the names restarted now."""
        for proc in self.pipeline.exited():
            self.pipeline.forget(proc)
            wait = self.backoff.delay(proc.name, now)
            self._due[proc.name] = now + wait
            self.say(
                f"{proc.name} exited (status {proc.returncode}); restarting it in {wait:g}s "
                f"(crash {self.backoff.crashes(proc.name)} in a row; log {proc.log_path})"
            )
        restarted = [name for name, at in self._due.items() if at <= now]
        for name in restarted:
            del self._due[name]
            proc = self.pipeline.respawn(name, self.endpoints, self.env)
            self.backoff.started(name, now)
            self.say(f"{name} restarted (pid {proc.pid})")
        return restarted
