"""Tombstones for API keys that can never be valid again, once a grace period has passed.

A revoked or expired key's record stays on the compacted `reelstream.auth.keys` topic for the grace period
(so the 401 says "revoked"/"expired" and listings show it), then this replica writes a tombstone and
compaction removes the key; afterwards it reads as unknown, still a 401. Every replica sweeps: a second
tombstone for the same key is harmless, and a revocation is final, so nothing can race it back to life.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiokafka.errors import KafkaError

from ingest.api_keys import KeyTable, sweepable
from schemas.events import utc_now

logger = logging.getLogger(__name__)

Tombstone = Callable[[str], Awaitable[None]]


async def sweep(table: KeyTable, tombstone: Tombstone, grace: timedelta) -> list[str]:
    """Tombstone every key that ended `grace` ago; returns their ids."""
    gone = sweepable(table.records(), utc_now(), grace)
    for key_id in gone:
        await tombstone(key_id)
        table.remove(key_id)
        logger.info("API key %s tombstoned (ended more than %s ago)", key_id, grace)
    return gone


async def sweep_forever(table: KeyTable, tombstone: Tombstone, grace: timedelta, interval: float) -> None:
    try:
        while True:
            await asyncio.sleep(interval)  # a period, not a synchronization: the next sweep is due
            try:
                await sweep(table, tombstone, grace)
            except (KafkaError, TimeoutError) as exc:  # the broker is away: the next sweep tries again
                logger.warning("API key sweep failed: %s", type(exc).__name__)
    except Exception:  # logged, not swallowed: sweeping stops (keys stay refused), serving goes on
        logger.exception("API key sweeper stopped")
