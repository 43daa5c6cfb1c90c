"""Helpers of the end-to-end tests: following a job on jobs.events, and polling the API with a deadline."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from reelstream_client import Client

from reelstream.endpoints import Endpoints
from schemas.events import JobEvent
from schemas.serde import AvroSerde
from schemas.topics import JOB_EVENTS

SMALL = {
    "model": "tiny-mochi",
    "width": 64,
    "height": 48,
    "num_frames": 13,
    "fps": 24,
    "num_inference_steps": 3,
}


class EventTail:
    """Reads jobs.events from the offsets current when it was opened, through the registry, and keeps
    every event per job."""

    def __init__(self, stack: Endpoints, serde: AvroSerde) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=stack.kafka_bootstrap,
            **stack.kafka_security.aiokafka(),
            enable_auto_commit=False,
        )
        self._serde = serde
        self.events: dict[str, list[JobEvent]] = defaultdict(list)
        self.read: list[JobEvent] = []  # every event, in the order read

    async def __aenter__(self) -> EventTail:
        await self._consumer.start()
        tps = [TopicPartition(JOB_EVENTS.name, p) for p in range(JOB_EVENTS.partitions)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:
            await self._consumer.position(tp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def until(self, job_id: str, done: Callable[[JobEvent], bool], within: float = 90.0) -> JobEvent:
        """Read until an event of `job_id` satisfies `done`; that event."""
        try:
            return await self.until_any(lambda e: e.job_id == job_id and done(e), within)
        except TimeoutError:
            types = [e.type.value for e in self.events[job_id]]
            raise TimeoutError(f"job {job_id}: no such event within {within:g}s (saw {types})") from None

    async def until_any(self, done: Callable[[JobEvent], bool], within: float = 90.0) -> JobEvent:
        """Read until any event read so far or from now on satisfies `done`; the first such event."""
        deadline = time.monotonic() + within
        checked = 0
        while time.monotonic() < deadline:
            for event in self.read[checked:]:
                if done(event):
                    return event
            checked = len(self.read)
            batch = await self._consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    event = await self._serde.deserialize(JOB_EVENTS, record.value)
                    self.events[event.job_id].append(event)
                    self.read.append(event)
        raise TimeoutError(f"no such event within {within:g}s ({len(self.read)} events read)")

    async def until_terminal(self, job_id: str, within: float = 90.0) -> list[JobEvent]:
        await self.until(job_id, lambda e: e.status.state.terminal, within)
        return self.events[job_id]


def wait_status(
    client: Client, job_id: str, states: set[str], extra: Any = None, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(job_id)
        if job.status in states and (extra is None or extra(job)):
            return
        time.sleep(0.05)  # polling the API with a deadline: the condition is the job's state
    raise TimeoutError(f"job {job_id} never reached {states}")
