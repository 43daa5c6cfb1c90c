"""The root of every error reelstream raises on purpose.

Third-party exceptions are converted at the adapter that meets them, so code above an adapter only ever
sees these. Each error says whether repeating the same operation may succeed (`retriable`), which is what
retry policies, dead-letter routing and HTTP mapping decide on.

The root class itself is defined in the contract layer (`schemas.errors`), the lowest layer, because the
contract errors derive from it and schemas imports nothing of ours; it is the same class re-exported here.
"""

from __future__ import annotations

from schemas.errors import ReelstreamError

__all__ = ["ConfigurationError", "InvalidRecordError", "ReelstreamError"]


class ConfigurationError(ReelstreamError):
    code = "configuration"


class InvalidRecordError(ReelstreamError):
    """A decodable record that breaks an invariant of the stage reading it (see streams/invariants.py):
    however often it is retried it cannot be processed, so it is dead-lettered."""

    code = "invalid_record"
    retriable = False
