"""What every view of reelstream.keys.jobs does with what it reads, wherever it keeps the records: in
memory (`reelstream.crypto.job_keys_view.JobKeysView`) or in the local store
(`reelstream.crypto.stored_job_keys.StoredJobKeysView`). Readers wait here for a key not read yet."""

from __future__ import annotations

import asyncio
import contextlib

from reelstream.crypto.job_fields import JobKeys, split_key

KEY_WAIT_SECONDS = 30.0  # how long a reader waits for a job key written just before the job's record


class FollowsJobKeys:
    """What a view of reelstream.keys.jobs does with what it reads, wherever it keeps the records (in
    memory: `JobKeysView`; in the local store: `reelstream.crypto.stored_job_keys.StoredJobKeysView`)."""

    job_keys: JobKeys
    caught_up: bool

    def _follow(self, job_keys: JobKeys, shred_delay: float) -> None:
        self.job_keys = job_keys
        # a tombstone read live is applied this much later (the notifier: the job.deleted webhook, written
        # just before the key's tombstone, still goes to the job's own URL); one read at start-up at once
        self.shred_delay = shred_delay
        self._arrived = asyncio.Event()  # set (and replaced) whenever a key arrives

    def _wake(self) -> None:
        """Wake every reader waiting for a key: one arrived, or one was shredded."""
        self._arrived.set()
        self._arrived = asyncio.Event()

    def _on_tombstone(self, key: str) -> bool:
        ids = split_key(key)
        if ids is None:
            return False
        if self.shred_delay > 0 and self.caught_up:
            asyncio.get_running_loop().call_later(self.shred_delay, self.job_keys.shred, *ids)
            return False
        shredded = self.job_keys.shred(*ids)
        self._wake()
        return shredded

    def _size(self) -> int:
        return len(self.job_keys)

    async def wait_for(self, tenant_id: str, job_id: str, wait_seconds: float = KEY_WAIT_SECONDS) -> bool:
        """Whether the job's key is held, waiting up to `wait_seconds` for it (the writer acknowledged the key
        before the record that needs it, but this view may not have read it yet)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_seconds):
                while not self.job_keys.has(tenant_id, job_id):
                    if self.job_keys.shredded(tenant_id, job_id):
                        return False  # deleted: its key never comes back
                    await self._arrived.wait()
        return self.job_keys.has(tenant_id, job_id)
