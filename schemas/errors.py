"""Errors of the contract layer: serialization, schema registry and compatibility."""

from __future__ import annotations

from reelstream.errors import ReelstreamError


class SerializationError(ReelstreamError):
    """Bytes that are not a valid record of the topic's contract (malformed, wrong magic byte, …)."""

    code = "serialization"


class UnknownSchemaError(SerializationError):
    """The record names a schema id the registry does not know."""

    code = "unknown_schema"


class SchemaIncompatibleError(ReelstreamError):
    """The registry refused a schema because it breaks the subject's compatibility rule."""

    code = "schema_incompatible"


class RegistryUnavailableError(ReelstreamError):
    """The schema registry could not be reached or answered with a server error."""

    code = "registry_unavailable"
    retriable = True
