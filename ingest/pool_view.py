"""The materialized view of `reelstream.pools.state`: each GPU pool's newest snapshot as its scheduler
published it (streams.pool_snapshot), one record per pool, in memory (same consume loop as the other views,
`reelstream.kafka.compacted_view`)."""

from __future__ import annotations

from reelstream.errors import InvalidRecordError
from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from schemas.events import PoolSnapshot
from schemas.serde import AvroSerde
from schemas.topics import POOL_STATE, Topic


class PoolView(CompactedView[PoolSnapshot]):
    """Each pool's newest snapshot (a snapshot older than the one held is ignored)."""

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        *,
        topic: Topic[PoolSnapshot] = POOL_STATE,
        client_id: str = "reelstream-ingest-pools",
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        super().__init__(bootstrap, serde, topic=topic, client_id=client_id, security=security)
        self._pools: dict[str, PoolSnapshot] = {}

    def _check(self, key: str | None, value: PoolSnapshot) -> None:
        if key != value.pool_id:
            raise InvalidRecordError(f"pool snapshot keyed {key!r} is of pool {value.pool_id!r}")

    def _on_value(self, key: str | None, value: PoolSnapshot) -> None:
        known = self._pools.get(value.pool_id)
        if known is None or known.occurred_at <= value.occurred_at:
            self._pools[value.pool_id] = value

    def _on_tombstone(self, key: str) -> bool:
        return self._pools.pop(key, None) is not None

    def _size(self) -> int:
        return len(self._pools)

    def pools(self) -> list[PoolSnapshot]:
        return [self._pools[pool_id] for pool_id in sorted(self._pools)]
