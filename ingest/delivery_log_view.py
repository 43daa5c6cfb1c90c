"""The delivery log of tenants' registered endpoints, materialized from `reelstream.webhooks.deliveries`
(every attempt the notifiers made) into a bounded `reelstream.webhooks.delivery_log.DeliveryLog`: the
topic's retention is the log's window, REELSTREAM_WEBHOOK_DELIVERY_LOG_PER_ENDPOINT attempts per endpoint
its memory bound. Same consume loop as the other views (`reelstream.kafka.compacted_view`); every replica
reads the whole topic. It does not gate readiness: its routes answer 503 until it has caught up."""

from __future__ import annotations

from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.webhooks.delivery_log import DeliveryLog
from schemas.events import WebhookDelivery
from schemas.serde import AvroSerde
from schemas.topics import WEBHOOK_DELIVERIES


class DeliveryLogView(CompactedView[WebhookDelivery]):
    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        log: DeliveryLog,
        *,
        client_id: str = "reelstream-ingest-deliveries",
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        super().__init__(bootstrap, serde, topic=WEBHOOK_DELIVERIES, client_id=client_id, security=security)
        self.log = log

    def _on_value(self, key: str | None, value: WebhookDelivery) -> None:
        self.log.add(value)

    def _size(self) -> int:
        return len(self.log)
