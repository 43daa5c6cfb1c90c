"""`GET /v1/jobs`' filters: `status` (one or more, comma-separated or repeated), `model`, `created_after`
(inclusive) and `created_before` (exclusive), RFC 3339 date-times with an offset. Each bad value is a 422
naming its parameter; the OpenAPI document states the same (`list_filter_parameters`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from starlette.datastructures import QueryParams

from ingest.job_index import JobFilter
from reelstream.params import FieldError, InvalidRequest
from schemas.events import JobState

STATES = tuple(state.value for state in JobState)
# RFC 3339's date-time: a `T`, seconds (a leap second counts as :59), a fraction of any length, an offset
RFC3339 = re.compile(
    r"([0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]):"
    r"([0-5][0-9]|60)(\.[0-9]+)?([Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
TIME_FIELDS = ("created_after", "created_before")


def job_filter(query: QueryParams, models: Iterable[str]) -> JobFilter:
    errors: list[FieldError] = []
    states = frozenset(part for value in query.getlist("status") for part in value.split(","))
    if "status" in query and (not states or not states <= set(STATES)):
        errors.append(FieldError("status", f"must be one or more of {', '.join(STATES)}, comma-separated"))
    model = query.get("model")
    served = sorted(models)
    if model is not None and model not in served:
        errors.append(FieldError("model", f"must be one of {', '.join(served)}"))
    times = {name: _time(query.get(name), name, errors) for name in TIME_FIELDS}
    if errors:
        raise InvalidRequest(errors)
    return JobFilter(states, model, times["created_after"], times["created_before"])


def _time(value: str | None, name: str, errors: list[FieldError]) -> datetime | None:
    if value is None:
        return None
    if (parts := RFC3339.fullmatch(value)) is not None:
        minute, second, fraction, offset = parts.groups()
        second = min(second, "59")
        offset = "+00:00" if offset in ("Z", "z") else offset
        try:
            return datetime.fromisoformat(f"{minute.upper()}:{second}{(fraction or '')[:7]}{offset}")
        except ValueError:  # a day the month does not have, or year 0
            pass
    errors.append(FieldError(name, "must be an RFC 3339 date-time with an offset, e.g. 2026-12-06T09:30:00Z"))
    return None


def list_filter_parameters(models: Sequence[str]) -> list[dict[str, Any]]:
    """The filters' OpenAPI parameters."""
    time_schema = {"type": "string", "format": "date-time"}
    return [
        {
            "name": "status",
            "in": "query",
            "description": "only jobs in one of these states",
            "style": "form",
            "explode": False,
            "schema": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(STATES)}},
        },
        {
            "name": "model",
            "in": "query",
            "description": "only jobs of this model",
            "schema": {"type": "string", "enum": sorted(models)},
        },
        {
            "name": "created_after",
            "in": "query",
            "description": "only jobs created at or after this instant",
            "schema": time_schema,
        },
        {
            "name": "created_before",
            "in": "query",
            "description": "only jobs created before this instant",
            "schema": time_schema,
        },
    ]
