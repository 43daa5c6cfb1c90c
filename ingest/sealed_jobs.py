"""Ingest's side of jobs' sealed fields (reelstream.crypto.job_fields): every submission gets a key of its
own, acknowledged by the broker before the SubmitJob sealed with it; the API shows a job's prompt in clear;
deleting a job shreds its key; `shred_tenant` shreds a deleted tenant's data keys.

Nothing here logs a prompt or a URL: only job and tenant ids.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from reelstream.crypto.job_keys_view import FieldOpener, JobKeyWriter, Tombstone
from reelstream.crypto.job_keys_view import shred_tenant as shred_tenant_keys
from reelstream.errors import ReelstreamError
from schemas.events import JobStatus, SubmitJob

TAKE_OVER_KEY_WAIT_SECONDS = 5.0  # how long a take-over looks for the key of the attempt it takes over


@dataclass(frozen=True)
class SealedJobs:
    opener: FieldOpener  # over the tenants' keyring ingest follows already (its webhook views)
    writer: JobKeyWriter
    tombstone_tenant_key: Tombstone  # a tombstone of reelstream.keys.tenants

    async def sealed(self, command: SubmitJob, *, taking_over: bool = False) -> SubmitJob:
        """The command with its prompt, negative prompt and webhook URL sealed under a new job key; when
        `taking_over` an acceptance another replica left unfinished, under the key it may have published
        (waited for a moment: a second key would orphan what the first one sealed)."""
        if taking_over:
            await self.opener.view.wait_for(command.tenant_id, command.job_id, TAKE_OVER_KEY_WAIT_SECONDS)
        key_id = await self.writer.issue(command.tenant_id, command.job_id)
        return self.opener.job_keys.seal(command, key_id)

    def in_clear(self, status: JobStatus) -> JobStatus:
        """The job as the API shows it. A key this replica has not read yet (another replica's submission,
        a moment ago) or that was shredded shows no prompt rather than ciphertext."""
        try:
            return self.opener.job_keys.open(status)
        except ReelstreamError:
            return dataclasses.replace(status, prompt="", negative_prompt=None, job_key_id=None)

    async def shred_job(self, tenant_id: str, job_id: str) -> None:
        await self.writer.shred(tenant_id, job_id)

    async def shred_tenant(self, tenant_id: str) -> int:
        """For the tenant deletion route (issue #22's registry work): every data key of the tenant
        tombstoned, so every job key, prompt, negative prompt, webhook URL and webhook secret sealed under
        them is unreadable for good. Idempotent; how many keys it shredded."""
        return await shred_tenant_keys(self.opener.job_keys, self.tombstone_tenant_key, tenant_id)
