"""The root of every error reelstream raises on purpose.

Third-party exceptions are converted at the adapter that meets them, so code above an adapter only ever
sees these. Each error says whether repeating the same operation may succeed (`retriable`), which is what
retry policies, dead-letter routing and HTTP mapping decide on.
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


class ConfigurationError(ReelstreamError):
    code = "configuration"


class InvalidRecordError(ReelstreamError):
    """A decodable record that breaks an invariant of the stage reading it (see streams/invariants.py):
    however often it is retried it cannot be processed, so it is dead-lettered."""

    code = "invalid_record"
    retriable = False
