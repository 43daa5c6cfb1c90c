"""The materialized view of `reelstream.usage.events`, in the local store (`reelstream.kafka.stored_view`:
checkpointed, a warm restart reads only the tail).

One record per attempt id counts: a record read again for the same attempt replaces the first (its usage
subtracted, the new one added), a tombstone removes it. Keys (`reelstream.local_store` namespace):

- `a<attempt id>` → the attempt's usage (JSON: tenant, model, end µs, GPU µs, frames, outcome): what a
  repeat or a tombstone subtracts;
- `d<len BE2><tenant><day ordinal BE4><model>` → the totals of that tenant's attempts that ended that day
  (UTC) on that model: a report's whole days are one range scan of these, never the attempts;
- `u<len BE2><tenant><end µs><attempt id>` and `g<end µs><attempt id>` → the attempts by end time, per
  tenant and for all: a window's partial first and last days are read attempt by attempt from these.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ingest.job_keys import micros, ordered
from ingest.usage_report import Piece, UsageQuery, piece_of
from reelstream.errors import InvalidRecordError
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.kafka.stored_view import CHECKPOINT_MAX_AGE_SECONDS, StoredView
from reelstream.local_store import Namespace
from schemas.events import GpuUsageRecorded
from schemas.serde import AvroSerde
from schemas.topics import USAGE_EVENTS, Topic

ATTEMPT, DAY, BY_TENANT, BY_TIME = b"a", b"d", b"u", b"g"
_LEN, _DAY = struct.Struct(">H"), struct.Struct(">I")


def _tenant(kind: bytes, tenant_id: str) -> bytes:
    raw = tenant_id.encode()
    return kind + _LEN.pack(len(raw)) + raw


def _encode(piece: Piece, ended: int) -> bytes:
    fields = [piece.tenant_id, piece.model, ended, piece.gpu_micros, piece.frames, piece.by_outcome]
    return json.dumps(fields, separators=(",", ":")).encode()


def _decode(raw: bytes) -> tuple[Piece, int]:
    tenant_id, model, ended, used, frames, by_outcome = json.loads(raw)
    day = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ended)).date()
    return Piece(tenant_id, day, model, 1, used, frames, by_outcome), ended


def _totals(piece: Piece) -> bytes:
    fields = [piece.attempts, piece.gpu_micros, piece.frames, piece.by_outcome]
    return json.dumps(fields, separators=(",", ":")).encode()


def _full_days(query: UsageQuery) -> tuple[datetime, datetime]:
    """`[first, last)`: the midnights bounding the whole days inside the window (first ≥ last: none)."""
    first = datetime.combine(query.start.date(), time(), UTC)
    try:
        if first < query.start:
            first += timedelta(days=1)
    except OverflowError:
        return query.end, query.end
    return first, datetime.combine(query.end.date(), time(), UTC)


class UsageView(StoredView[GpuUsageRecorded]):
    """Construct freely (no I/O); `await start()` / `await stop()` from the application's lifespan."""

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        state: Namespace,
        *,
        topic: Topic[GpuUsageRecorded] = USAGE_EVENTS,
        client_id: str = "reelstream-ingest-usage",
        security: KafkaSecurity = PLAINTEXT,
        max_age: float = CHECKPOINT_MAX_AGE_SECONDS,
    ) -> None:
        super().__init__(
            bootstrap, serde, state, topic=topic, client_id=client_id, security=security, max_age=max_age
        )

    def _check(self, key: str | None, value: GpuUsageRecorded) -> None:
        if key != value.attempt_id:
            raise InvalidRecordError(f"usage record keyed {key!r} is for attempt {value.attempt_id!r}")

    def _on_stored(self, key: str | None, value: GpuUsageRecorded, raw: bytes) -> None:
        self._drop(value.attempt_id)
        piece, ended, attempt = piece_of(value), micros(value.occurred_at), value.attempt_id.encode()
        self.batch.put(ATTEMPT + attempt, _encode(piece, ended))
        self.batch.put(_tenant(BY_TENANT, value.tenant_id) + ordered(ended) + attempt, b"")
        self.batch.put(BY_TIME + ordered(ended) + attempt, b"")
        self._add(piece, 1)

    def _on_tombstone(self, key: str) -> bool:
        return self._drop(key)

    def _drop(self, attempt_id: str) -> bool:
        attempt = attempt_id.encode()
        kept = self.batch.get(ATTEMPT + attempt)
        if kept is None:
            return False
        piece, ended = _decode(kept)
        self.batch.delete(ATTEMPT + attempt)
        self.batch.delete(_tenant(BY_TENANT, piece.tenant_id) + ordered(ended) + attempt)
        self.batch.delete(BY_TIME + ordered(ended) + attempt)
        self._add(piece, -1)
        return True

    def _add(self, piece: Piece, sign: int) -> None:
        key = _tenant(DAY, piece.tenant_id) + _DAY.pack(piece.day.toordinal()) + piece.model.encode()
        kept = self.batch.get(key)
        attempts, used, frames, outcomes = json.loads(kept) if kept is not None else (0, 0, 0, {})
        for outcome, seconds in piece.by_outcome.items():
            outcomes[outcome] = outcomes.get(outcome, 0) + sign * seconds
        attempts += sign * piece.attempts
        if attempts <= 0:
            self.batch.delete(key)
            return
        total = Piece(
            piece.tenant_id,
            piece.day,
            piece.model,
            attempts,
            used + sign * piece.gpu_micros,
            frames + sign * piece.frames,
            {k: v for k, v in outcomes.items() if v},
        )
        self.batch.put(key, _totals(total))

    # ---- reports ----------------------------------------------------------------------------------------

    def pieces(self, query: UsageQuery, tenant_id: str | None = None) -> Iterator[Piece]:
        """What counts in the query's window, of one tenant or (None) of every tenant: the whole days as
        their per-day, per-model totals; the partial first and last days attempt by attempt."""
        first, last = _full_days(query)
        if first >= last:
            yield from self._attempts(tenant_id, query.start, query.end)
            return
        yield from self._attempts(tenant_id, query.start, first)
        yield from self._days(tenant_id, first.date(), last.date())
        yield from self._attempts(tenant_id, last, query.end)

    def _attempts(self, tenant_id: str | None, start: datetime, end: datetime) -> Iterator[Piece]:
        prefix = BY_TIME if tenant_id is None else _tenant(BY_TENANT, tenant_id)
        for key, _ in self._state.scan(prefix + ordered(micros(start)), prefix + ordered(micros(end))):
            kept = self._state.get(ATTEMPT + key[len(prefix) + 8 :])
            if kept is not None:
                yield _decode(kept)[0]

    def _days(self, tenant_id: str | None, first: date, last: date) -> Iterator[Piece]:
        """The totals of the days `[first, last)`: one range per tenant (every tenant: the day keys)."""
        if tenant_id is not None:
            prefix = _tenant(DAY, tenant_id)
            ranges = [(prefix + _DAY.pack(first.toordinal()), prefix + _DAY.pack(last.toordinal()))]
        else:
            ranges = [(DAY, DAY[:-1] + bytes([DAY[-1] + 1]))]
        for start, stop in ranges:
            for key, value in self._state.scan(start, stop):
                piece = _day_piece(key, value)
                if first <= piece.day < last:
                    yield piece


def _day_piece(key: bytes, value: bytes) -> Piece:
    size = _LEN.unpack_from(key, 1)[0]
    tenant_id = key[3 : 3 + size].decode()
    day = date.fromordinal(_DAY.unpack_from(key, 3 + size)[0])
    model = key[3 + size + 4 :].decode()
    attempts, used, frames, outcomes = json.loads(value)
    by_outcome: dict[str, Any] = outcomes
    return Piece(tenant_id, day, model, attempts, used, frames, by_outcome)
