"""The serde's SchemaRegistry, on confluent-kafka's own async schema-registry client."""

from __future__ import annotations

from confluent_kafka.schema_registry import AsyncSchemaRegistryClient, Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from reelstream.errors import ReelstreamError
from schemas.errors import RegistryUnavailableError, SchemaIncompatibleError, UnknownSchemaError


def _convert(exc: Exception, what: str) -> ReelstreamError:
    if isinstance(exc, SchemaRegistryError):
        status = exc.http_status_code
        if status == 409:
            return SchemaIncompatibleError(
                f"{what}: the registry refused it as incompatible ({exc.error_message})"
            )
        if status == 404:
            return UnknownSchemaError(f"{what}: not found in the registry ({exc.error_message})")
        if status is not None and 400 <= status < 500:
            return SchemaIncompatibleError(f"{what}: the registry refused it ({status}: {exc.error_message})")
    return RegistryUnavailableError(f"{what}: schema registry unavailable ({exc!r})")


class ConfluentRegistry:
    """Owns an AsyncSchemaRegistryClient; `aclose()` when done."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self._client = AsyncSchemaRegistryClient({"url": url, "timeout": timeout})

    async def register(self, subject: str, schema: str) -> int:
        try:
            return await self._client.register_schema(subject, Schema(schema, "AVRO"))
        except Exception as exc:  # the client raises its own errors and httpx's; all are converted
            raise _convert(exc, f"registering {subject}") from exc

    async def schema_by_id(self, schema_id: int) -> str:
        try:
            schema = await self._client.get_schema(schema_id)
        except Exception as exc:
            raise _convert(exc, f"schema id {schema_id}") from exc
        return str(schema.schema_str)

    async def set_backward_compatibility(self, subject: str) -> None:
        try:
            await self._client.set_compatibility(subject_name=subject, level="BACKWARD")
        except Exception as exc:
            raise _convert(exc, f"setting compatibility of {subject}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()
