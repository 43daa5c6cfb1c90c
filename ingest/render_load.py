"""The load visualization served to the console, without I/O: `GET /v1/stats/render-load`'s query (`from`,
`to`, `limit`, and `tenant`: the platform operator reads any tenant's, others only their own) parsed with
errors that name the field, and the render seconds (running to succeeded) of a tenant's succeeded jobs
aggregated per clip-length class and per prompt-length class: the bounded classes of the Grafana panel
(`reelstream.load_metrics`), never a job's own numbers.

Bounded work: a report reads at most `limit` succeeded jobs (default 1,000, at most 10,000), the newest by
creation time in the window (`from` inclusive, `to` exclusive, on the job's creation time: the order the
status view keeps a tenant's jobs in), and looks at no more than `ingest.job_index.MAX_SCAN` (20,000) of the
tenant's jobs to find them, in steps of `STEP_SCAN` jobs decoding at most `STEP_JOBS`, handing the event loop
back between steps (decoding 10,000 snapshots at once took ~0.5 s on a loaded 2-core machine); `complete`
is true when the read reached the window's oldest job (every succeeded job in it counted), false when it
stopped at `limit` or at the scan bound (older ones may be left out). Percentiles are
nearest-rank (p95 of 20 values is the 19th smallest), so each is a render time some job took.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest.job_index import MAX_SCAN, JobFilter, SortKey, decode_cursor
from ingest.tenant_registry import valid_tenant_id
from ingest.usage_report import BEFORE_TO, instant
from reelstream.load_metrics import FRAME_CLASS_NAMES, PROMPT_WORD_CLASS_NAMES, render_sample
from reelstream.params import FieldError, InvalidRequest, parse_int
from schemas.events import JobState, JobStatus

DEFAULT_LIMIT = 1_000
MAX_LIMIT = 10_000
QUERY_FIELDS = frozenset({"from", "to", "limit", "tenant"})
NOT_A_TENANT = "is not a tenant id"
STEP_JOBS, STEP_SCAN = 1_000, 2_000
# (limit, after, where, max_scan) -> (jobs, next cursor): a status view's page of the caller's tenant
Pages = Callable[[int, SortKey | None, JobFilter, int], tuple[list[JobStatus], str | None]]


@dataclass(frozen=True)
class LoadQuery:
    start: datetime | None = None
    end: datetime | None = None
    limit: int = DEFAULT_LIMIT
    tenant: str | None = None  # None: the caller's own


def parse_query(params: Mapping[str, str]) -> LoadQuery:
    """Unknown parameters, instants that are not RFC 3339 (or a date), `from` not before `to` and a `limit`
    outside 1..MAX_LIMIT are 422s naming the parameter."""
    unknown = sorted(set(params) - QUERY_FIELDS)
    if unknown:
        raise InvalidRequest([FieldError(name, "is not a parameter of this route") for name in unknown])
    start = instant("from", params["from"]) if "from" in params else None
    end = instant("to", params["to"]) if "to" in params else None
    if start is not None and end is not None and start >= end:
        raise InvalidRequest([FieldError("from", BEFORE_TO)])
    limit = parse_int("limit", params.get("limit"), 1, MAX_LIMIT, default=DEFAULT_LIMIT)
    tenant = params.get("tenant")
    if tenant is not None and not valid_tenant_id(tenant):
        raise InvalidRequest([FieldError("tenant", NOT_A_TENANT)])
    return LoadQuery(start, end, limit, tenant)


async def newest_succeeded(
    pages: Pages,
    query: LoadQuery,
    *,
    step_jobs: int = STEP_JOBS,
    step_scan: int = STEP_SCAN,
    max_scan: int = MAX_SCAN,
) -> tuple[list[JobStatus], bool]:
    """The newest `query.limit` succeeded jobs of the window, newest first, and whether they are all of them;
    at most `max_scan` jobs looked at, `step_scan` (decoding at most `step_jobs`) between yields."""
    where = JobFilter(frozenset({JobState.SUCCEEDED.value}), None, query.start, query.end)
    jobs: list[JobStatus] = []
    after: SortKey | None = None
    for _ in range(max(max_scan // step_scan, 1)):
        page, cursor = pages(min(step_jobs, query.limit - len(jobs)), after, where, step_scan)
        jobs += page
        if cursor is None:
            return jobs, True
        if len(jobs) >= query.limit:
            return jobs, False
        after = decode_cursor(cursor)
        await asyncio.sleep(0)
    return jobs, False


def nearest_rank(ordered: list[float], percent: float) -> float:
    """The nearest-rank percentile of ascending, non-empty values."""
    return ordered[max(math.ceil(percent / 100 * len(ordered)), 1) - 1]


def stats(seconds: Iterable[float]) -> dict[str, Any]:
    """Count, mean, p50 and p95 of render seconds (the three are null when there are none)."""
    ordered = sorted(seconds)
    if not ordered:
        return {"count": 0, "mean_seconds": None, "p50_seconds": None, "p95_seconds": None}
    return {
        "count": len(ordered),
        "mean_seconds": round(math.fsum(ordered) / len(ordered), 6),
        "p50_seconds": round(nearest_rank(ordered, 50), 6),
        "p95_seconds": round(nearest_rank(ordered, 95), 6),
    }


def _stamp(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat().replace("+00:00", "Z")


def render_load_report(
    tenant_id: str, jobs: Iterable[JobStatus], query: LoadQuery, *, complete: bool
) -> dict[str, Any]:
    """The report over `jobs` (the tenant's succeeded ones the query chose): every class in its order,
    empty ones too; a job without a running and a succeeded time is left out."""
    samples = [sample for job in jobs if (sample := render_sample(job)) is not None]
    by_frames = {name: [s for f, _, s in samples if f == name] for name in FRAME_CLASS_NAMES}
    by_words = {name: [s for _, w, s in samples if w == name] for name in PROMPT_WORD_CLASS_NAMES}
    return {
        "object": "render_load",
        "tenant": tenant_id,
        "from": _stamp(query.start),
        "to": _stamp(query.end),
        "limit": query.limit,
        "complete": complete,
        "total": stats(s for _, _, s in samples),
        "by_frames": [{"class": name, **stats(values)} for name, values in by_frames.items()],
        "by_prompt_words": [{"class": name, **stats(values)} for name, values in by_words.items()],
    }
