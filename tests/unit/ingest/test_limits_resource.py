"""`GET /v1/limits`' body: admission's last state refilled to now (the GPU budget's used and remaining
included), or the configured limits unused; every body is valid against the document's `Limits` schema."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.limits import gpu_resource, limits_resource
from ingest.openapi import openapi_document
from reelstream.settings import TenantLimit
from schemas.events import TenantLimitState
from tests.samples import T0

LIMIT = TenantLimit(rate=2.0, burst=4.0, queued=10, running=2)
BUDGET = (100.0, 1000.0)  # GPU seconds per window, and the window


def _validate(body: dict[str, Any]) -> None:
    schema = {"$ref": "#/components/schemas/Limits", "components": openapi_document()["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)


def _state(remaining: float | None, **overrides: Any) -> TenantLimitState:
    fields: dict[str, Any] = dict(
        tenant_id="t1",
        rate=2.0,
        burst=4.0,
        tokens=1.0,
        tokens_at=T0,
        full_at=T0 + timedelta(seconds=1.5),
        queued=3,
        queued_cap=10,
        running_cap=2,
        gpu_budget_seconds=None if remaining is None else 100.0,
        gpu_window_seconds=None if remaining is None else 1000.0,
        gpu_remaining_seconds=remaining,
        occurred_at=T0,
    )
    return TenantLimitState(**{**fields, **overrides})


def test_the_state_is_shown_refilled_to_now_with_the_budgets_use() -> None:
    body = limits_resource("t1", _state(40.0), LIMIT, BUDGET, T0 + timedelta(seconds=100))
    _validate(body)
    assert body["as_of"] == T0.isoformat().replace("+00:00", "Z")
    assert body["tokens"] == 4.0  # 1 + 100 s × 2/s, capped at the burst
    assert body["queued"] == 3
    assert body["gpu_seconds"] == {"budget": 100.0, "window_seconds": 1000.0, "used": 50.0, "remaining": 50.0}


def test_before_any_state_the_configured_limits_unused() -> None:
    body = limits_resource("t1", None, LIMIT, BUDGET, T0)
    _validate(body)
    assert body["as_of"] is None
    assert (body["rate"], body["queued_cap"], body["running_cap"]) == (2.0, 10, 2)
    assert body["gpu_seconds"] == {"budget": 100.0, "window_seconds": 1000.0, "used": 0.0, "remaining": 100.0}


def test_no_budget_is_null() -> None:
    body = limits_resource("t1", _state(None, over="rate"), LIMIT, BUDGET, T0)
    _validate(body)
    assert body["gpu_seconds"] is None
    assert body["over"] == "rate"


@given(remaining=st.floats(-10, 200), elapsed=st.floats(-100, 10**6))
def test_used_and_remaining_add_up_to_the_budget_and_stay_in_it(remaining: float, elapsed: float) -> None:
    gpu = gpu_resource(100.0, 1000.0, remaining, elapsed)
    assert 0 <= gpu["remaining"] <= 100.0
    assert gpu["used"] + gpu["remaining"] == pytest.approx(100.0, abs=0.002)
