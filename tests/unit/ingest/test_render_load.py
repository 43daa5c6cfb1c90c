"""The load visualization's aggregates (ingest.render_load): the query's 422s, the classes of the Grafana
panel, nearest-rank percentiles; and that the histogram and the report class a job alike."""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from ingest.job_index import JobIndex
from ingest.render_load import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    LoadQuery,
    nearest_rank,
    newest_succeeded,
    parse_query,
    render_load_report,
    stats,
)
from reelstream.load_metrics import (
    FRAME_CLASS_NAMES,
    PROMPT_WORD_CLASS_NAMES,
    observe_render_load,
    render_load_histogram,
)
from reelstream.params import InvalidRequest
from schemas import events as ev
from tests.samples import T0, job_status, render_params
from tests.unit.ingest.conftest import IndexFactory


def done(job_id: str, seconds: float, frames: int = 13, words: int = 4) -> ev.JobStatus:
    return job_status(
        job_id=job_id,
        prompt=" ".join(["fox"] * words),
        params=render_params(num_frames=frames),
        state_times={"queued": T0, "running": T0, "succeeded": T0 + timedelta(seconds=seconds)},
    )


def field_of(params: dict[str, str]) -> list[str]:
    with pytest.raises(InvalidRequest) as raised:
        parse_query(params)
    return [error.field for error in raised.value.errors]


def test_the_query_defaults_and_bounds() -> None:
    assert parse_query({}) == LoadQuery(None, None, DEFAULT_LIMIT)
    query = parse_query({"from": "2026-12-01", "to": "2026-12-06T10:00:00+01:00", "limit": str(MAX_LIMIT)})
    assert query == LoadQuery(
        datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 6, 9, tzinfo=UTC), MAX_LIMIT
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": str(MAX_LIMIT + 1)}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "9" * 5000}, "limit"),  # more digits than int() reads: still a 422
        ({"limit": "٣"}, "limit"),  # a digit, but not an ASCII one
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-12-06T10:00:00"}, "to"),  # no offset
        ({"from": "2026-12-06", "to": "2026-12-06"}, "from"),  # not before `to`
        ({"tenant": "-other"}, "tenant"),  # not a tenant id (another tenant: the route answers 404)
        ({"tenants": "other"}, "tenants"),  # no such parameter
    ],
)
def test_each_bad_value_names_its_parameter(params: dict[str, str], field: str) -> None:
    assert field_of(params) == [field]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert (nearest_rank(values, 50), nearest_rank(values, 95), nearest_rank([7.0], 95)) == (10.0, 19.0, 7.0)
    assert stats([]) == {"count": 0, "mean_seconds": None, "p50_seconds": None, "p95_seconds": None}
    assert stats([3.0, 1.0, 2.0]) == {"count": 3, "mean_seconds": 2.0, "p50_seconds": 2.0, "p95_seconds": 3.0}


def test_the_report_groups_by_the_panels_classes_and_skips_jobs_without_times() -> None:
    jobs = [
        done("a", 10, frames=13, words=4),
        done("b", 30, frames=13, words=40),
        done("c", 200, frames=200, words=40),
        job_status(job_id="d"),  # no running time: left out
    ]
    report = render_load_report("t1", jobs, LoadQuery(None, datetime(2026, 12, 6, tzinfo=UTC)), complete=True)
    assert (report["object"], report["tenant"], report["from"], report["to"], report["limit"]) == (
        "render_load",
        "t1",
        None,
        "2026-12-06T00:00:00Z",
        DEFAULT_LIMIT,
    )
    assert report["total"] == {"count": 3, "mean_seconds": 80.0, "p50_seconds": 30.0, "p95_seconds": 200.0}
    frames = {row["class"]: row for row in report["by_frames"]}
    words = {row["class"]: row for row in report["by_prompt_words"]}
    assert list(frames) == list(FRAME_CLASS_NAMES)
    assert list(words) == list(PROMPT_WORD_CLASS_NAMES)
    assert (frames["0-31"]["count"], frames["0-31"]["p95_seconds"], frames["170+"]["mean_seconds"]) == (
        2,
        30,
        200,
    )
    empty = {"count": 0, "mean_seconds": None, "p50_seconds": None, "p95_seconds": None}
    assert frames["32-85"] == {"class": "32-85", **empty}
    assert (words["0-15"]["count"], words["32-63"]["count"], words["32-63"]["p50_seconds"]) == (1, 2, 30.0)


@given(
    st.lists(
        st.tuples(st.floats(0, 7200, allow_nan=False), st.integers(1, 400), st.integers(0, 300)),
        max_size=40,
    )
)
def test_the_report_agrees_with_the_histogram(samples: list[tuple[float, int, int]]) -> None:
    jobs = [done(f"j{i}", s, f, w) for i, (s, f, w) in enumerate(samples)]
    report = render_load_report("t1", jobs, LoadQuery(), complete=True)
    histogram = render_load_histogram(registry := CollectorRegistry())
    for job in jobs:
        observe_render_load(histogram, job)
    for key, names in (("by_frames", FRAME_CLASS_NAMES), ("by_prompt_words", PROMPT_WORD_CLASS_NAMES)):
        rows = report[key]
        assert sum(row["count"] for row in rows) == report["total"]["count"] == len(jobs)
        for row, name in zip(rows, names, strict=True):
            label = "frames" if key == "by_frames" else "prompt_words"
            count = sum(
                sample.value
                for metric in registry.collect()
                for sample in metric.samples
                if sample.name.endswith("_count") and sample.labels[label] == name
            )
            assert row["count"] == count
            if row["count"]:
                assert 0 <= row["p50_seconds"] <= row["p95_seconds"] <= 7200
                assert math.isclose(
                    row["mean_seconds"] * row["count"],
                    sum(
                        sample.value
                        for metric in registry.collect()
                        for sample in metric.samples
                        if sample.name.endswith("_sum") and sample.labels[label] == name
                    ),
                    rel_tol=1e-6,
                    abs_tol=1e-3,
                )


def indexed(new_index: IndexFactory, jobs: list[tuple[str, int]]) -> JobIndex:
    """A status view's index of one tenant's jobs: (state, minute created) each."""
    index = new_index()
    for i, (state, minute) in enumerate(jobs):
        status = done(f"j{i:05}", float(minute))
        index.apply(replace(status, state=ev.JobState(state), created_at=T0 + timedelta(minutes=minute)))
    return index


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["succeeded", "failed", "queued"]), st.integers(0, 30)), max_size=40),
    st.integers(1, 25),
    st.one_of(st.none(), st.integers(0, 30)),
    st.integers(1, 4),
    st.integers(1, 6),
)
async def test_the_newest_succeeded_jobs_are_read_in_bounded_steps(
    new_index: IndexFactory,
    jobs: list[tuple[str, int]],
    limit: int,
    since: int | None,
    step_jobs: int,
    step_scan: int,
) -> None:
    index = indexed(new_index, jobs)
    start = None if since is None else T0 + timedelta(minutes=since)
    found, complete = await newest_succeeded(
        functools.partial(index.page, "t1"),
        LoadQuery(start, None, limit),
        step_jobs=step_jobs,
        step_scan=step_scan,
        max_scan=1000,
    )
    newest = sorted(
        (j for j in jobs if j[0] == "succeeded" and (since is None or j[1] >= since)),
        key=lambda j: -j[1],
    )
    assert [job.created_at for job in found] == [T0 + timedelta(minutes=m) for _, m in newest[:limit]]
    assert complete or len(found) == limit  # it stops at `limit` (never at the scan bound here)
    if len(newest) > limit:
        assert not complete


async def test_at_most_max_scan_jobs_are_looked_at(new_index: IndexFactory) -> None:
    index = indexed(new_index, [("succeeded", 0), *[("queued", 1)] * 50])  # the succeeded one is the oldest
    pages = functools.partial(index.page, "t1")
    assert await newest_succeeded(pages, LoadQuery(), step_scan=10, max_scan=50) == ([], False)
    found, complete = await newest_succeeded(pages, LoadQuery(), step_scan=10, max_scan=60)
    assert (len(found), complete) == (1, True)
