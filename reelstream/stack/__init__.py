"""The local stack: real Kafka, a Confluent-compatible schema registry and MinIO, fetched and run here.

Used by `reelstream dev`, `reelstream stack up|down|status` and the test fixtures alike.
"""

from reelstream.endpoints import Endpoints
from reelstream.stack.manager import LocalStack, StackLayout

__all__ = ["Endpoints", "LocalStack", "StackLayout"]
