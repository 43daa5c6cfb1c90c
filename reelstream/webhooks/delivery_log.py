"""The delivery log of tenants' registered endpoints: every attempt the notifier recorded on
reelstream.webhooks.deliveries, newest first, per endpoint, bounded.

Pure: no Kafka or HTTP. Ingest materializes it (`ingest.delivery_log_view`) from the topic, whose retention
is the log's retention window; each endpoint keeps at most `per_endpoint` attempts, the newest (older ones
are dropped first). A page is read newest first after an opaque cursor (the sequence number the view gave
the last attempt of the previous page), optionally only the failed or the delivered ones.

Resending: `failed_since` picks, per webhook-id, the deliveries whose attempts since a time all failed
(none of them delivered), the newest attempt of each, so that one resend goes out per message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from schemas.events import DeliveryOutcome, WebhookDelivery

DEFAULT_PER_ENDPOINT = 500


@dataclass(frozen=True)
class LoggedAttempt:
    sequence: int  # increases with every attempt the view applies: the cursor
    delivery: WebhookDelivery

    @property
    def failed(self) -> bool:
        return self.delivery.outcome is not DeliveryOutcome.DELIVERED


@dataclass(frozen=True)
class Page:
    attempts: list[LoggedAttempt]
    next_cursor: str | None  # None: no older attempt matches


def parse_cursor(raw: str | None) -> int | None:
    """The sequence a cursor names; None for no cursor. ValueError for anything but ASCII digits."""
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ValueError("not a cursor of this log")
    return int(raw)


class DeliveryLog:
    """Attempts per (tenant, endpoint); attempts to a job's own webhook_url (no endpoint) are not kept."""

    def __init__(self, per_endpoint: int = DEFAULT_PER_ENDPOINT) -> None:
        if per_endpoint < 1:
            raise ValueError("per_endpoint must be at least 1")
        self.per_endpoint = per_endpoint
        self._logs: dict[tuple[str, str], deque[LoggedAttempt]] = {}
        self._sequence = 0

    def add(self, delivery: WebhookDelivery) -> bool:
        if delivery.endpoint_id is None:
            return False
        key = (delivery.tenant_id, delivery.endpoint_id)
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = deque(maxlen=self.per_endpoint)
        self._sequence += 1
        log.append(LoggedAttempt(self._sequence, delivery))
        return True

    def forget(self, tenant_id: str, endpoint_id: str) -> None:
        """Drop an endpoint's log (it was deleted)."""
        self._logs.pop((tenant_id, endpoint_id), None)

    def _newest_first(self, tenant_id: str, endpoint_id: str) -> Iterator[LoggedAttempt]:
        return reversed(self._logs.get((tenant_id, endpoint_id), deque()))

    def page(
        self,
        tenant_id: str,
        endpoint_id: str,
        *,
        failed: bool | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> Page:
        """Up to `limit` attempts older than the cursor `after`, newest first; `failed`: only the failed
        (True) or the delivered (False) ones."""
        out: list[LoggedAttempt] = []
        more = False
        for entry in self._newest_first(tenant_id, endpoint_id):
            if after is not None and entry.sequence >= after:
                continue
            if failed is not None and entry.failed != failed:
                continue
            if len(out) == limit:
                more = True
                break
            out.append(entry)
        return Page(out, str(out[-1].sequence) if more and out else None)

    def find(self, tenant_id: str, endpoint_id: str, delivery_id: str) -> WebhookDelivery | None:
        """One attempt by its id (the record's event_id)."""
        for entry in self._newest_first(tenant_id, endpoint_id):
            if entry.delivery.event_id == delivery_id:
                return entry.delivery
        return None

    def failed_since(self, tenant_id: str, endpoint_id: str, since: datetime) -> list[WebhookDelivery]:
        """The newest attempt of each webhook-id attempted since `since` and never delivered, oldest first."""
        newest: dict[str, WebhookDelivery] = {}
        delivered: set[str] = set()
        for entry in self._newest_first(tenant_id, endpoint_id):
            delivery = entry.delivery
            if delivery.occurred_at < since:
                continue  # (partitions interleave: an older attempt may sit among newer ones)
            if not entry.failed:
                delivered.add(delivery.webhook_event_id)
            newest.setdefault(delivery.webhook_event_id, delivery)
        chosen = [d for wid, d in newest.items() if wid not in delivered]
        return sorted(chosen, key=lambda d: d.occurred_at)

    def __len__(self) -> int:
        return sum(map(len, self._logs.values()))
