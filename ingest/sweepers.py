"""Tombstones for compacted records that can never matter again, so compaction removes them.

- API keys: a revoked or expired key's record stays on `reelstream.auth.keys` for a grace period (so the 401
  says "revoked"/"expired" and listings show it), then it is tombstoned; afterwards it reads as unknown,
  still a 401. A revocation is final, so nothing can race it back to life.
- Idempotency keys: a record on `reelstream.ingest.idempotency` is tombstoned once it expired (≥ 24 h after
  its request); a repeat after that is a new request, as the Idempotency-Key draft allows.
Every replica sweeps these: a second tombstone for the same key is harmless. (The retention sweep, which
deletes objects and jobs, runs on one replica at a time: `lease`, in `ingest.context`.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

from ingest.api_keys import KeyTable, sweepable
from ingest.idempotency_view import IdempotencyView
from reelstream.kafka.clients import PRODUCE_ERRORS
from schemas.events import utc_now

logger = logging.getLogger(__name__)

Tombstone = Callable[[str], Awaitable[None]]
Sweep = Callable[[], Awaitable[list[str]]]


async def sweep(table: KeyTable, tombstone: Tombstone, grace: timedelta) -> list[str]:
    """Tombstone every API key that ended `grace` ago; returns their ids."""
    gone = sweepable(table.records(), utc_now(), grace)
    for key_id in gone:
        await tombstone(key_id)
        table.remove(key_id)
        logger.info("API key %s tombstoned (ended more than %s ago)", key_id, grace)
    return gone


async def sweep_idempotency(view: IdempotencyView, tombstone: Tombstone) -> list[str]:
    """Tombstone every expired Idempotency-Key record; returns their record keys."""
    gone = view.expired(utc_now())
    for key in gone:
        await tombstone(key)
        view.forget(key)
    if gone:
        logger.info("%d expired idempotency keys tombstoned", len(gone))
    return gone


class Lease(Protocol):
    """Whether this replica is the one that sweeps now (`reelstream.kafka.lease.GroupLease`)."""

    @property
    def held(self) -> bool: ...


async def sweep_forever(what: str, sweep_once: Sweep, interval: float, lease: Lease | None = None) -> None:
    """Run `sweep_once` every `interval` seconds until cancelled; with a `lease`, only while it is held
    (a sweep under way when it is lost runs to its end: every deletion is idempotent)."""
    try:
        while True:
            await asyncio.sleep(interval)  # a period, not a synchronization: the next sweep is due
            if lease is not None and not lease.held:
                continue
            try:
                await sweep_once()
            except PRODUCE_ERRORS as exc:  # the broker is away: the next sweep tries again
                logger.warning("%s sweep failed: %s", what, type(exc).__name__)
    except Exception:  # logged, not swallowed: sweeping stops (records stay as they are), serving goes on
        logger.exception("%s sweeper stopped", what)
