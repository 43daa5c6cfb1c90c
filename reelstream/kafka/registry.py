"""The serde's SchemaRegistry, on confluent-kafka's own async schema-registry client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from confluent_kafka.schema_registry import AsyncSchemaRegistryClient, Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from reelstream.endpoints import Endpoints
from reelstream.errors import ReelstreamError
from reelstream.registry_auth import OPEN_REGISTRY, RegistryAuth
from schemas.errors import (
    RegistryAccessDeniedError,
    RegistryUnavailableError,
    SchemaIncompatibleError,
    UnknownSchemaError,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _convert(exc: Exception, what: str) -> ReelstreamError:
    if isinstance(exc, SchemaRegistryError):
        status = exc.http_status_code
        if status == 409:
            return SchemaIncompatibleError(
                f"{what}: the registry refused it as incompatible ({exc.error_message})"
            )
        if status in (401, 403):
            reason = "refused the credentials" if status == 401 else "refused this user"
            return RegistryAccessDeniedError(f"{what}: the registry {reason} ({status}: {exc.error_message})")
        if status == 404:
            return UnknownSchemaError(f"{what}: not found in the registry ({exc.error_message})")
        if status is not None and 400 <= status < 500:
            return SchemaIncompatibleError(f"{what}: the registry refused it ({status}: {exc.error_message})")
    return RegistryUnavailableError(f"{what}: schema registry unavailable ({exc!r})")


class ConfluentRegistry:
    """Owns an AsyncSchemaRegistryClient; `aclose()` when done.

    Every call is bounded by `timeout` and retried (with a short backoff) while the failure is retriable: a
    request on a pooled connection the registry has silently dropped hangs until the timeout, and the next
    attempt on a fresh connection succeeds. Refusals (4xx) are never retried.
    """

    def __init__(
        self, url: str, auth: RegistryAuth = OPEN_REGISTRY, timeout: float = 10.0, attempts: int = 3
    ) -> None:
        self._client = AsyncSchemaRegistryClient({"url": url, "timeout": timeout, **auth.confluent()})
        self._attempts = attempts

    @classmethod
    def of(cls, endpoints: Endpoints, timeout: float = 10.0) -> ConfluentRegistry:
        """The registry of `endpoints`, with the credentials this process presents to it."""
        return cls(endpoints.schema_registry_url, endpoints.registry_auth, timeout)

    async def _call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, self._attempts + 1):
            try:
                return await call()
            except Exception as exc:  # the client raises its own errors and httpx's; all are converted
                error = _convert(exc, what)
                if not error.retriable or attempt == self._attempts:
                    raise error from exc
                logger.warning("schema registry call failed (%s), retrying", type(exc).__name__)
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def register(self, subject: str, schema: str) -> int:
        return await self._call(
            f"registering {subject}", lambda: self._client.register_schema(subject, Schema(schema, "AVRO"))
        )

    async def schema_by_id(self, schema_id: int) -> str:
        schema = await self._call(f"schema id {schema_id}", lambda: self._client.get_schema(schema_id))
        return str(schema.schema_str)

    async def set_backward_compatibility(self, subject: str) -> None:
        await self._call(
            f"setting compatibility of {subject}",
            lambda: self._client.set_compatibility(subject_name=subject, level="BACKWARD"),
        )

    async def aclose(self) -> None:
        await self._client.aclose()
