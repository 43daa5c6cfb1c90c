"""Usage reports, pure: the query (`from`, `to`, `group_by`) parsed with errors that name the field, and the
totals of a set of usage records over a window, per day or per model, or per tenant for the operator.

A record counts in the window that holds its end (`occurred_at`): `from` inclusive, `to` exclusive. Each
attempt counts once (the view keeps one record per attempt id). A report adds up `Piece`s: the usage of
some attempts of one tenant, day (UTC) and model; the view gives whole days as one piece per day and model
(`ingest.usage_view`) and the window's partial days attempt by attempt (`piece_of`). GPU time is added in
whole microseconds, so a sum does not depend on the order, nor on what was subtracted on the way.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from reelstream.params import FieldError, InvalidRequest
from schemas.events import USAGE_OUTCOMES, GpuUsageRecorded

GROUPS = ("day", "model")
DEFAULT_DAYS = 30
EARLIEST = datetime.min.replace(tzinfo=UTC)
BEFORE_TO = "must be before to"  # the one rule between fields (tests/reliability/schemathesis_hooks.py)
QUERY_FIELDS = frozenset({"from", "to", "group_by"})


@dataclass(frozen=True)
class UsageQuery:
    start: datetime
    end: datetime
    group_by: str = "day"

    def holds(self, record: GpuUsageRecorded) -> bool:
        return self.start <= record.occurred_at < self.end


LEAP_SECOND = re.compile(r"(T\d{2}:\d{2}:)60")


def instant(name: str, text: str) -> datetime:
    """An RFC 3339 timestamp (with an offset or Z; a leap second is read as :59) or a date (`2026-12-06`: its
    midnight UTC). Instants beyond what Python represents in UTC are clamped to its first or last."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        parsed = datetime.fromisoformat(LEAP_SECOND.sub(r"\g<1>59", text.upper()))
    except ValueError:
        raise InvalidRequest(
            [FieldError(name, "must be an RFC 3339 timestamp (2026-12-06T10:00:00Z) or a date (2026-12-06)")]
        ) from None
    if parsed.tzinfo is None:
        raise InvalidRequest([FieldError(name, "must carry a time zone offset or Z")])
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        return datetime.min.replace(tzinfo=UTC) if parsed.year == 1 else datetime.max.replace(tzinfo=UTC)


def parse_query(params: Mapping[str, str], now: datetime, groups: tuple[str, ...] = GROUPS) -> UsageQuery:
    """`to` defaults to now, `from` to 30 days before `to` (no earlier than year 1); `from` must be before
    `to`. A window may be of any length: a report costs the tenant's records, whatever the window."""
    fields = QUERY_FIELDS if len(groups) > 1 else QUERY_FIELDS - {"group_by"}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise InvalidRequest([FieldError(name, "is not a parameter of this route") for name in unknown])
    end = instant("to", params["to"]) if "to" in params else now
    if "from" in params:
        start = instant("from", params["from"])
    else:
        start = max(end, EARLIEST + timedelta(days=DEFAULT_DAYS)) - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise InvalidRequest([FieldError("from", BEFORE_TO)])
    group_by = params.get("group_by", groups[0])
    if group_by not in groups:
        raise InvalidRequest([FieldError("group_by", f"must be one of {', '.join(groups)}")])
    return UsageQuery(start, end, group_by)


@dataclass(frozen=True)
class Piece:
    """The usage of some attempts of one tenant, on one day (UTC) and one model."""

    tenant_id: str
    day: date
    model: str
    attempts: int
    gpu_micros: int
    frames: int  # of the succeeded attempts
    by_outcome: Mapping[str, int]  # GPU µs per outcome


def gpu_micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


def piece_of(record: GpuUsageRecorded) -> Piece:
    """One attempt's usage."""
    used = gpu_micros(record.gpu_seconds)
    frames = record.num_frames if record.outcome == "succeeded" else 0
    day = record.occurred_at.date()
    return Piece(record.tenant_id, day, record.model, 1, used, frames, {record.outcome: used})


def within(records: Iterable[GpuUsageRecorded], query: UsageQuery) -> list[Piece]:
    """The pieces of the records that count in the query's window, one per attempt."""
    return [piece_of(record) for record in records if query.holds(record)]


@dataclass
class Totals:
    attempts: int = 0
    gpu_micros: int = 0
    frames: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)

    def add(self, piece: Piece) -> None:
        self.attempts += piece.attempts
        self.gpu_micros += piece.gpu_micros
        self.frames += piece.frames
        for outcome, used in piece.by_outcome.items():
            self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + used

    def resource(self) -> dict[str, Any]:
        outcomes = {**dict.fromkeys(USAGE_OUTCOMES, 0), **self.by_outcome}
        return {
            "attempts": self.attempts,
            "gpu_seconds": round(self.gpu_micros / 1e6, 6),
            "frames": self.frames,
            "gpu_seconds_by_outcome": {k: round(v / 1e6, 6) for k, v in outcomes.items()},
        }


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _group_key(piece: Piece, group_by: str) -> str:
    return piece.day.isoformat() if group_by == "day" else piece.model


def tenant_report(tenant_id: str, pieces: Iterable[Piece], query: UsageQuery) -> dict[str, Any]:
    """One tenant's usage in the window (`pieces`: what counts in it): its totals and one row per day
    (UTC) or model with any usage."""
    total, groups = Totals(), defaultdict[str, Totals](Totals)
    for piece in pieces:
        total.add(piece)
        groups[_group_key(piece, query.group_by)].add(piece)
    return {
        "object": "usage",
        "tenant": tenant_id,
        "from": _stamp(query.start),
        "to": _stamp(query.end),
        "group_by": query.group_by,
        "total": total.resource(),
        "data": [{query.group_by: key, **groups[key].resource()} for key in sorted(groups)],
    }


def tenants_report(pieces: Iterable[Piece], query: UsageQuery) -> dict[str, Any]:
    """Every tenant's totals in the window (the operator's view), by tenant id."""
    total, tenants = Totals(), defaultdict[str, Totals](Totals)
    for piece in pieces:
        total.add(piece)
        tenants[piece.tenant_id].add(piece)
    return {
        "object": "usage_totals",
        "from": _stamp(query.start),
        "to": _stamp(query.end),
        "total": total.resource(),
        "data": [{"tenant": key, **tenants[key].resource()} for key in sorted(tenants)],
    }
