"""The operator's pool view: a snapshot as the `PoolState` document, and the newest snapshot per pool."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import jsonschema

from ingest.openapi import openapi_document
from ingest.pool import pool_body
from ingest.pool_view import PoolView
from schemas.serde import AvroSerde
from tests.samples import T0, pool_snapshot


def _validate(body: object) -> None:
    schema = {"$ref": "#/components/schemas/PoolState", "components": openapi_document()["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)


def test_a_snapshot_is_served_as_its_documented_slots_and_queues() -> None:
    body = pool_body([pool_snapshot()])
    _validate(body)
    (pool,) = body["data"]
    assert (pool["pool"], pool["busy"], pool["idle"], pool["queued"]) == ("default", 1, 1, 3)
    busy, idle = pool["slots"]
    assert busy["state"] == "busy"
    assert busy["job"] == {
        "id": "j1",
        "tenant": "t1",
        "model": "tiny-mochi",
        "attempt": 1,
        "since": T0.isoformat(),
        "gang": [],
    }
    assert (idle["state"], idle["job"], idle["gpu_name"]) == ("idle", None, None)
    assert pool["queues"] == [{"tenant": "t1", "queued": 2}, {"tenant": "t2", "queued": 1}]


def test_no_pool_published_yet_is_an_empty_list() -> None:
    body = pool_body([])
    _validate(body)
    assert body == {"object": "pool_state", "data": []}


def test_the_view_keeps_each_pools_newest_snapshot_in_pool_order() -> None:
    view = PoolView("127.0.0.1:1", AvroSerde.__new__(AvroSerde))
    newer = pool_snapshot(occurred_at=T0 + timedelta(seconds=1), queues=())
    view._on_value("default", newer)
    view._on_value("default", pool_snapshot())  # older: a replica's late write
    view._on_value("b-pool", replace(pool_snapshot(), pool_id="b-pool"))
    assert [(p.pool_id, p.queues) for p in view.pools()] == [
        ("b-pool", pool_snapshot().queues),
        ("default", ()),
    ]
    assert view._on_tombstone("b-pool")
    assert [p.pool_id for p in view.pools()] == ["default"]
