"""A local store for the session and a factory of fresh job indexes over it (hypothesis-friendly: the
factory is called inside each example)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ingest.retention import Retention
from reelstream.local_store import LocalStore
from schemas.serde import AvroSerde
from tests.local_stores import (
    CommittingIdempotencyIndex,
    RecordIndex,
    fresh_namespace,
    status_serde,
    temporary_store,
)

IndexFactory = Callable[..., RecordIndex]
IdempotencyFactory = Callable[[], CommittingIdempotencyIndex]


@pytest.fixture(scope="session")
def local_store() -> Iterator[LocalStore]:
    yield from temporary_store()


@pytest.fixture(scope="session")
async def record_serde() -> AvroSerde:
    return await status_serde()


@pytest.fixture(scope="session")
def new_index(local_store: LocalStore, record_serde: AvroSerde) -> IndexFactory:
    def make(retention: Retention | None = None) -> RecordIndex:
        return RecordIndex(fresh_namespace(local_store), record_serde, retention)

    return make


@pytest.fixture(scope="session")
def new_idempotency_index(local_store: LocalStore, record_serde: AvroSerde) -> IdempotencyFactory:
    return lambda: CommittingIdempotencyIndex(fresh_namespace(local_store), record_serde)
