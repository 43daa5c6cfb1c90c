"""The notifier's door to each webhook endpoint: reelstream.webhooks.endpoint_health's rules, with waiting.

`enter` answers at once (a slot, or the time to defer to) except for a first attempt to a healthy endpoint
whose slots are all taken: that one waits for a slot, alongside at most as many others. Every slot taken is
given back with `leave`, whatever the attempt's outcome; an attempt that changed its endpoint's state hands
the new state to `on_change` (the notifier shares it with its other replicas: streams.webhook_health).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from reelstream.webhooks.endpoint_health import Admission, EndpointHealth, Finished, Gate, HealthPolicy

OnChange = Callable[[str, Finished], Awaitable[None]]


class EndpointGate:
    def __init__(
        self, policy: HealthPolicy, clock: Callable[[], float] = time.time, on_change: OnChange | None = None
    ) -> None:
        self.health = EndpointHealth(policy)
        self._clock = clock
        self._on_change = on_change
        self._freed = asyncio.Condition()

    async def enter(self, endpoint: str, *, may_wait: bool) -> Admission:
        """GO (holding a slot of `endpoint`) or DEFER (until when); never WAIT."""
        admission = self.health.admit(endpoint, self._clock(), may_wait=may_wait)
        if admission.gate is not Gate.WAIT:
            return admission
        self.health.waiting(endpoint, +1)
        try:
            async with self._freed:
                while (admission := self._admit_waiting(endpoint)).gate is Gate.WAIT:
                    await self._freed.wait()
        finally:
            self.health.waiting(endpoint, -1)
        return admission

    def _admit_waiting(self, endpoint: str) -> Admission:
        self.health.waiting(endpoint, -1)  # it is counted again if it must go on waiting
        admission = self.health.admit(endpoint, self._clock(), may_wait=True)
        self.health.waiting(endpoint, +1)
        return admission

    async def leave(self, endpoint: str, *, ok: bool, retry_after: float | None = None) -> Finished:
        """Give the slot back: `ok` unless the attempt failed retriably (see EndpointHealth.finished)."""
        finished = self.health.finished(endpoint, self._clock(), ok=ok, retry_after=retry_after)
        async with self._freed:
            self._freed.notify_all()
        if finished.shared is not None and self._on_change is not None:
            await self._on_change(endpoint, finished)
        return finished
