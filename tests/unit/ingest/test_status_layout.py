"""A status view resumes only from data written in its own layout (StoredView.LAYOUT): an older replica's
disk or snapshot (layout 1: the record in the job's entry) is discarded and the topic replayed."""

from __future__ import annotations

import time

from ingest.status_view import StatusView
from reelstream.local_store import LocalStore
from schemas.serde import AvroSerde
from tests.local_stores import fresh_namespace


def test_data_of_another_layout_is_discarded(local_store: LocalStore, record_serde: AvroSerde) -> None:
    store, serde = local_store, record_serde
    now = time.time_ns() // 1000
    old, new = fresh_namespace(store), fresh_namespace(store)
    for namespace in (old, new):
        batch = namespace.batch()
        batch.put(b"jsome-job", b"an entry")
        batch.commit({0: 7}, now)
    new_view = StatusView("unused:9092", serde, new)
    new_view.batch.put(b"jother", b"x")
    new_view._commit({0: 8})  # what a view writes: its layout with its offsets
    assert new_view._resume() == {0: 8}
    assert StatusView("unused:9092", serde, old)._resume() == {}  # written without a layout: layout 1
    assert old.get(b"jsome-job") is None
    assert old.checkpoint() == ({}, None)
