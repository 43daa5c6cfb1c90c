"""The scheduler's outputs, written in batches behind its agent (group commit).

Awaiting the broker's acknowledgement of each event's outputs before taking the next event held the
scheduler to one event per two round trips (about 215 events/s on the 2-core machine). Now the agent applies
an event to the pool's state in memory and hands over what it decided: the records to write and the table
entries that make the state durable. One writer task takes everything handed over since its last batch and
writes it in two steps: first the job snapshots and the dispatches, in the order they were decided; then,
once the broker has all of those, the job events (a snapshot is readable before its event announces it, as
publishing.publish_change promises one at a time), with a JobFinished for admission on the commands topic
for each job that finished (it frees the job's place in its tenant's queue). Once the broker has those too,
the batch's table entries are `durable()`: the agent writes them to the table with its next event (Faust
lets a table be written only while a record of its partition is being processed; a tick comes every second).

Why nothing is lost or reordered:
- The table only ever holds a state whose outputs were all acknowledged (its entries go in in order). A
  crash loses at most the events applied after it; the state's inbox offset makes the next owner read
  those again from the log (streams.faust_compensation) and decide them again.
- Records for one partition are queued in the order decided and the producer is idempotent, so they land
  in that order. A batch the broker does not acknowledge is written again, whole and in the same order; a
  record written twice carries the same version and event id.
- The agent waits when `most_pending` events are not written yet (memory stays bounded while the broker
  is away).
- On a rebalance `drop` forgets what is not in the table: the table is what the pool's next owner restores.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reelstream.kafka.clients import BrokerUnavailableError, Publisher
from reelstream.tracing import linked_span
from schemas.events import DispatchRender, JobEvent, JobFinished, JobState, JobStatus
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS, JOB_EVENTS, JOB_STATUS, RENDER_DISPATCH, Topic
from streams.pool_store import Write
from streams.publishing import job_event
from streams.scheduling import Output, Publish, SendToSlot

logger = logging.getLogger(__name__)
MOST_PENDING = 2000  # events decided but not yet written before the agent waits for the writer


def _serialized(serde: AvroSerde, record: Record, snapshots: dict[int, tuple[JobStatus, bytes]]) -> bytes:
    value = record.value
    if isinstance(value, JobStatus):
        data = serde.serialize(record.topic, value)
        snapshots[id(value)] = (value, data)
        return data
    if isinstance(value, JobEvent) and (kept := snapshots.get(id(value.status))) is not None:
        return serde.serialize_enclosing(record.topic, value, kept[1])
    return serde.serialize(record.topic, value)


class WriterCrashed(RuntimeError):
    """The writer ended on an unexpected error; what was decided since the table's state is dropped."""


@dataclass(frozen=True)
class Record:
    """One record to write, and the trace it continues (None: none)."""

    topic: Topic[Any]
    key: str
    value: Any
    partition: int | None
    trace: str | None


@dataclass(frozen=True)
class Decided:
    """What one inbox event decided: records in two steps, then the table entries."""

    first: tuple[Record, ...]  # snapshots and dispatches
    then: tuple[Record, ...]  # job events, and JobFinished for admission
    writes: tuple[Write, ...]


def decided(outputs: Sequence[Output], traces: Sequence[str | None], writes: Sequence[Write]) -> Decided:
    """The records of `outputs` (each with its trace). Job events and JobFinished records are made here, once,
    so that a batch written again carries the same event ids."""
    first: list[Record] = []
    then: list[Record] = []
    for output, trace in zip(outputs, traces, strict=True):
        match output:
            case SendToSlot(command):
                first.append(Record(RENDER_DISPATCH, command.job_id, command, command.slot, trace))
            case Publish(status, event_type):
                first.append(Record(JOB_STATUS, status.job_id, status, None, trace))
                then.append(Record(JOB_EVENTS, status.job_id, job_event(status, event_type), None, trace))
                if status.state.terminal:
                    done = finished_record(status)
                    then.append(Record(COMMANDS, status.tenant_id, done, None, trace))
    return Decided(tuple(first), tuple(then), tuple(writes))


def finished_record(status: JobStatus) -> JobFinished:
    """What admission learns of a job that ended: its place is free, and for the long-job estimator what
    was predicted and, for a successful render, the truth (how long it ran)."""
    started = status.state_times.get(JobState.RUNNING.value)
    ended = status.state_times.get(JobState.SUCCEEDED.value)
    render_seconds = (ended - started).total_seconds() if started and ended else None
    return JobFinished(
        status.job_id,
        status.tenant_id,
        status.state,
        model=status.params.model if status.params else None,
        predicted_long=status.predicted_long if status.long_probability is not None else None,
        render_seconds=render_seconds,
        started=started is not None,
        occurred_at=status.updated_at,
    )


class GroupCommit:
    """`hand` what an event decided; a writer task writes it in batches (see the module's docstring)."""

    def __init__(
        self,
        publisher: Callable[[], Awaitable[Publisher]],
        most_pending: int = MOST_PENDING,
        first_wait: float = 0.5,
        longest_wait: float = 10.0,
    ) -> None:
        self._publisher = publisher
        self._durable: list[Write] = []  # table entries whose events' outputs are all acknowledged
        self._most_pending = most_pending
        self._first_wait, self._longest_wait = first_wait, longest_wait
        self._pending: list[Decided] = []
        self._generation = 0  # bumped by `drop`: a batch in flight then writes no table entries
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # batches written (for tests and metrics)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def hand(self, what: Decided) -> None:
        """Queue what one event decided; waits only while `most_pending` events are not written. Raises
        WriterCrashed, once, if the writer ended on an error (a bug): what it held is dropped, and the caller
        must restore the pool's state from the table, as after a rebalance."""
        writer = self._writer
        if writer is not None and writer.done() and not writer.cancelled() and writer.exception() is not None:
            self._writer = None
            self.drop()
            raise WriterCrashed("the scheduler's output writer crashed") from writer.exception()
        while len(self._pending) >= self._most_pending:
            self._room.clear()
            await self._room.wait()
        self._pending.append(what)
        self._idle.clear()
        self._wake.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches(), name="scheduler-group-commit")

    def durable(self) -> list[Write]:
        """The table entries of the events written since the last call, in order (to write to the table)."""
        writes, self._durable = self._durable, []
        return writes

    def drop(self) -> None:
        """Forget what is not in the table yet (the pool's state is restored from the table next)."""
        self._generation += 1
        self._pending.clear()
        self._durable.clear()
        self._room.set()

    async def drained(self, within: float) -> bool:
        """Whether everything handed over was written within `within` seconds."""
        try:
            async with asyncio.timeout(within):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_batches(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending, []
                self._room.set()
                generation = self._generation
                if await self._written(batch, generation) and generation == self._generation:
                    self._durable.extend(write for what in batch for write in what.writes)
                    self.batches += 1
            self._idle.set()

    async def _written(self, batch: list[Decided], generation: int) -> bool:
        """Write the batch's records until the broker takes them all; False when a `drop` came first."""
        wait = self._first_wait
        while generation == self._generation:
            try:
                publisher = await self._publisher()
                snapshots: dict[int, tuple[JobStatus, bytes]] = {}
                await _write_in_order(publisher, [r for what in batch for r in what.first], snapshots)
                await _write_in_order(publisher, [r for what in batch for r in what.then], snapshots)
                return True
            except BrokerUnavailableError as exc:
                logger.warning(
                    "broker unavailable; writing the batch again",
                    extra={"events": len(batch), "retry_in_s": wait, "error": str(exc)},
                )
                await asyncio.sleep(wait)  # back off while the broker is away (not a synchronization)
                wait = min(wait * 2, self._longest_wait)
        return False


async def _write_in_order(
    publisher: Publisher, records: list[Record], snapshots: dict[int, tuple[JobStatus, bytes]]
) -> None:
    """Queue every record in order (each run of one trace inside its span, which the records and the log
    lines carry), then wait for all the acks. `snapshots` keeps each job snapshot serialized, with the status
    itself (so that no other object can take its id meanwhile), by the id of the status: the job event that
    carries it reuses its bytes (half the serializing)."""
    acks = []
    async with publisher.queueing() as enqueue:
        for trace, run in itertools.groupby(records, key=lambda r: r.trace):
            with linked_span("scheduler publish", trace):
                for record in run:
                    data = _serialized(publisher.serde, record, snapshots)
                    acks.append(await enqueue(record.topic, record.key, record.value, record.partition, data))
                    if isinstance(command := record.value, DispatchRender):
                        fields = {"job_id": command.job_id, "slot": command.slot, "attempt": command.attempt}
                        logger.info("dispatched", extra=fields)
    outcomes = await asyncio.gather(*acks, return_exceptions=True)
    refused = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if refused:  # the producer gave up on a record: the batch is written again
        message = f"{len(refused)} records not acknowledged: {refused[0]!r}"
        raise BrokerUnavailableError(message) from refused[0]
