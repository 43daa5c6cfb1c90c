"""The developer's and operator's tools, above the services: the local stack (real Kafka, a
Confluent-compatible schema registry and MinIO, fetched and run here), the dev runner, the services run as
processes for `reelstream dev` and the tests, the deploy helpers and the `reelstream` command.

Used by `reelstream dev`, `reelstream stack up|down|status` and the test fixtures alike. Nothing in the
core or the services imports it (import-linter's layers contract, pyproject.toml).
"""

from devstack.manager import LocalStack, StackLayout
from reelstream.endpoints import Endpoints

__all__ = ["Endpoints", "LocalStack", "StackLayout"]
