"""`reelstream-ingest` / `python -m ingest`: read the settings from the environment and serve."""

from __future__ import annotations

import logging
import os
from typing import Any

import uvicorn

from ingest.app import create_app
from ingest.server import server_options
from reelstream.config import or_exit
from reelstream.http_settings import HttpServerSettings
from reelstream.logs import configure_logging
from reelstream.metrics import Metrics
from reelstream.settings import IngestSettings
from reelstream.tracing import configure_tracing

logger = logging.getLogger(__name__)

# open event streams get this long to finish once SIGTERM arrives, then they are cut
GRACEFUL_SHUTDOWN_SECONDS = 10

# the server configuration the HTTP floor of bench/ingest_load.py shares (ingest.server): uvloop's event loop
# ("auto") and the httptools parser (C; dependencies of the project) over asyncio's loop and h11 (pure
# Python), about a fifth less CPU per request, with the header, body and connection bounds of the settings
SERVER_OPTIONS: dict[str, Any] = server_options(HttpServerSettings())


def main() -> None:
    settings = or_exit("reelstream-ingest", lambda: IngestSettings.from_env(os.environ))
    configure_logging("reelstream-ingest", settings.pipeline.log)
    configure_tracing("reelstream-ingest", os.environ)
    logger.info("serving ingest on %s:%d", settings.host, settings.port)
    metrics = Metrics(settings.pipeline.metrics.tenant_classes)
    metrics.serve(settings.pipeline.metrics)  # its own port: the API's auth rule stays whole
    uvicorn.run(
        create_app(settings, metrics=metrics, settle_heap_once_started=True),
        host=settings.host,
        port=settings.port,
        access_log=settings.access_log,  # off by default: ~5 % of a request's CPU, and metrics count requests
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        **server_options(settings.server),
    )


if __name__ == "__main__":
    main()
