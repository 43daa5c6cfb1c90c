"""The limits admission applies: configured ones, replaced per tenant by what an admin set at run time.

Admin calls write `TenantLimitsSet` records to the compacted `reelstream.tenants.limit-settings` topic; every
admission replica replays it whole (the same consume loop as ingest's views,
`reelstream.kafka.compacted_view`) and keeps following it, so a change takes effect without a restart, within
a fetch interval.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.errors import KafkaError

from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.settings import TenantLimit, TenantLimits
from schemas.events import TenantLimitsSet
from schemas.serde import AvroSerde
from schemas.topics import TENANT_LIMIT_SETTINGS, Topic
from streams.limit_state import limit_from_settings

logger = logging.getLogger(__name__)

RETRY_SECONDS = 2.0


class LimitSettingsView(CompactedView[TenantLimitsSet]):
    """The newest admin-set limits per tenant; each tenant whose limits changed is put on `changed`."""

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        *,
        topic: Topic[TenantLimitsSet] = TENANT_LIMIT_SETTINGS,
        client_id: str = "reelstream-admission-limit-settings",
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        super().__init__(bootstrap, serde, topic=topic, client_id=client_id, security=security)
        self._set: dict[str, TenantLimitsSet] = {}
        self.changed: asyncio.Queue[str] = asyncio.Queue()

    def _on_value(self, key: str | None, value: TenantLimitsSet) -> None:
        known = self._set.get(value.tenant_id)
        if known is not None and known.occurred_at > value.occurred_at:
            return
        self._set[value.tenant_id] = value
        self.changed.put_nowait(value.tenant_id)

    def _on_tombstone(self, key: str) -> bool:
        removed = self._set.pop(key, None) is not None
        if removed:
            self.changed.put_nowait(key)
        return removed

    def _size(self) -> int:
        return len(self._set)

    def get(self, tenant_id: str) -> TenantLimitsSet | None:
        return self._set.get(tenant_id)


class TenantLimitSource:
    """`of(tenant)`: the admin-set limits when there are some, else the configured ones. Until `start`
    has replayed the settings topic, only the configured ones."""

    def __init__(self, configured: TenantLimits) -> None:
        self.configured = configured
        self.view: LimitSettingsView | None = None
        self.ready = asyncio.Event()

    async def start(
        self, bootstrap: str, serde: AvroSerde, security: KafkaSecurity = PLAINTEXT
    ) -> LimitSettingsView:
        """Replay the settings topic (retrying while it cannot be read), then follow it."""
        while True:
            view = LimitSettingsView(bootstrap, serde, security=security)
            try:
                await view.start()
                await view.wait_caught_up()
            except (TimeoutError, KafkaError) as exc:
                await view.stop()
                logger.warning(
                    "admin-set limits unreadable (%r); retrying in %gs",
                    exc,
                    RETRY_SECONDS,
                    extra={"topic": TENANT_LIMIT_SETTINGS.name},
                )
                await asyncio.sleep(RETRY_SECONDS)
                continue
            except BaseException:
                await view.stop()
                raise
            self.view = view
            self.ready.set()
            return view

    async def stop(self) -> None:
        if self.view is not None:
            await self.view.stop()

    def of(self, tenant_id: str) -> TenantLimit:
        record = self.view.get(tenant_id) if self.view is not None else None
        return limit_from_settings(record) if record is not None else self.configured.of(tenant_id)
