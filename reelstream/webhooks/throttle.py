"""How often a registered endpoint gets `job.progress` for one job: at most once per interval.

Pure: no Kafka, Faust or HTTP. The notifier keeps one `ProgressThrottle`; a job's events share a partition,
so one notifier replica sees all of a job's progress. The state is bounded: the least recently sent pairs
are forgotten first (a forgotten pair may get one more event sooner, never a flood).
"""

from __future__ import annotations

from collections import OrderedDict

DEFAULT_CAPACITY = 10_000


class ProgressThrottle:
    """`admit(key, now)`: whether an event for `key` (an endpoint and a job) may go now."""

    def __init__(self, min_interval_seconds: float, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.min_interval = min_interval_seconds
        self.capacity = capacity
        self._sent: OrderedDict[str, float] = OrderedDict()

    def admit(self, key: str, now: float) -> bool:
        last = self._sent.get(key)
        if last is not None and now - last < self.min_interval:
            return False
        self._sent[key] = now
        self._sent.move_to_end(key)
        while len(self._sent) > self.capacity:
            self._sent.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._sent)
