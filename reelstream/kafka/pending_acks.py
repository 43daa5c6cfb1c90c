"""Broker acknowledgements in flight on behalf of consumed records, so a stage need not wait for each in turn.

A stage queues the records it writes for one consumed record (`Publisher.enqueue`) and hands their ack
futures to `PendingAcks.track` with what marks the consumed record done (`on_acked`: Faust's `event.ack`,
which makes its offset committable). `on_acked` runs only once every one of them is in, so an offset is
never committed before what its record produced is durable: at-least-once as with one ack awaited after
the other. A failed ack never marks its record done (its offset, and every later one of the partition,
stays uncommitted and is redelivered after a restart); `room` raises it as BrokerUnavailableError, once,
before the stage takes its next record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from reelstream.kafka.clients import BrokerUnavailableError

DEFAULT_LIMIT = 1000  # acks in flight at most; past it `room` waits for the oldest


class PendingAcks:
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit
        self._pending: set[asyncio.Future[Any]] = set()
        self._failure: BaseException | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def track(self, acks: Sequence[asyncio.Future[Any]], on_acked: Callable[[], object]) -> None:
        """Call `on_acked` once every future of `acks` succeeded (at once when there is none)."""
        if not acks:
            on_acked()
            return
        remaining = len(acks)

        def done(ack: asyncio.Future[Any]) -> None:
            nonlocal remaining
            self._pending.discard(ack)
            failure = asyncio.CancelledError() if ack.cancelled() else ack.exception()
            if failure is not None:
                self._failure = self._failure or failure
                remaining = -1  # never done
                return
            remaining -= 1
            if remaining == 0:
                on_acked()

        for ack in acks:
            self._pending.add(ack)
            ack.add_done_callback(done)

    async def room(self) -> None:
        """Wait while `limit` acks or more are in flight; raise the first failed ack since the last call."""
        while len(self._pending) >= self._limit:
            await asyncio.wait(set(self._pending), return_when=asyncio.FIRST_COMPLETED)
            await asyncio.sleep(0)  # the done callbacks of those acks run (and leave the set)
        failure, self._failure = self._failure, None
        if failure is not None:
            raise BrokerUnavailableError(f"a record was not acknowledged: {failure!r}") from failure

    async def drained(self) -> None:
        """Wait until no ack is in flight (then `room` raises any failure)."""
        while self._pending:
            await asyncio.wait(set(self._pending))
            await asyncio.sleep(0)
