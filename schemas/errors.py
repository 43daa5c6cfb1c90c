"""The root error type, and the errors of the contract layer: serialization, schema registry, compatibility.

`ReelstreamError` lives here, in the lowest layer, so that the contract errors can derive from it without
schemas importing anything of ours; `reelstream.errors` re-exports it with the core's own errors.
"""

from __future__ import annotations


class ReelstreamError(Exception):
    """Base class. `code` is a stable machine-readable name; `retriable` says whether a retry may help."""

    code: str = "internal"
    retriable: bool = False

    def __init__(self, message: str, *, retriable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retriable is not None:
            self.retriable = retriable


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


class RegistryAccessDeniedError(ReelstreamError):
    """The schema registry refused this client's credentials (401) or what they may do (403)."""

    code = "registry_access_denied"
