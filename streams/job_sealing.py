"""Admission's side of jobs' sealed fields (reelstream.crypto.job_fields): it decides on a submission in
clear (the model's prompt limits, the webhook URL's rules, the long-job estimator's prompt features) and
forwards it sealed under the job's key.

- A SubmitJob ingest sealed is opened with the job's key (ingest published it before the command).
- A Kafka client's plaintext SubmitJob gets a job key here (the tenant's first data key too, if it has
  none), published before anything sealed with it: from admission on, its prompt, negative prompt and webhook
  URL travel sealed; the plaintext stays only on reelstream.jobs.commands, whose retention is one day.
- What it forwards of the job (JobAdmitted, a rejection's snapshot and event) is sealed under that key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from reelstream.crypto.job_keys_view import FieldOpener, JobKeyWriter, following_job_keys
from reelstream.crypto.keys_view import KeyIssuer
from reelstream.crypto.provider import FileKeyProvider
from reelstream.kafka.clients import Publisher
from reelstream.settings import PipelineSettings
from schemas.events import Command, JobAdmitted, SubmitJob
from streams.admission_service import Output, Record, Rejection


@dataclass(frozen=True)
class AdmissionSealing:
    opener: FieldOpener
    writer: JobKeyWriter

    async def opened(self, command: Command) -> tuple[Command, str | None]:
        """The command in clear, and the job key its outputs are sealed with (None: not a submission)."""
        if not isinstance(command, SubmitJob):
            return command, None
        if command.job_key_id is not None:
            return await self.opener.open(command), command.job_key_id
        return command, await self.writer.issue(command.tenant_id, command.job_id)

    def sealed(self, outputs: list[Output], key_id: str | None) -> list[Output]:
        """The outputs with the job's fields sealed under `key_id`."""
        if key_id is None:
            return outputs
        keys = self.opener.job_keys
        out: list[Output] = []
        for output in outputs:
            match output:
                case Record(topic, key, JobAdmitted() as admitted, partition):
                    out.append(Record(topic, key, keys.seal(admitted, key_id), partition))
                case Rejection(status, event_type):
                    out.append(Rejection(keys.seal(status, key_id), event_type))
                case _:
                    out.append(output)
        return out


class SealingResource:
    """The keys' views, started in Faust's loop by `follow` (an app task) and stopped when it ends;
    `get()` waits for them to have caught up."""

    def __init__(self, settings: PipelineSettings) -> None:
        self.settings = settings
        self._ready: asyncio.Future[AdmissionSealing] | None = None

    def _future(self) -> asyncio.Future[AdmissionSealing]:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
        return self._ready

    async def get(self) -> AdmissionSealing:
        return await asyncio.shield(self._future())

    async def follow(self, publisher: Publisher) -> None:
        endpoints = self.settings.endpoints
        provider = FileKeyProvider.load(self.settings.require_key_dir())
        client_id = f"{self.settings.app_prefix}-admission"
        async with following_job_keys(
            endpoints.kafka_bootstrap, publisher.serde, provider, client_id, endpoints.kafka_security
        ) as opener:
            issuer = KeyIssuer(opener.job_keys.keyring, publisher)
            writer = JobKeyWriter(opener.job_keys, issuer, publisher)
            self._future().set_result(AdmissionSealing(opener, writer))
            await asyncio.Event().wait()  # until the app stops this task
