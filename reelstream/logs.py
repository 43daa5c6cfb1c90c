"""Logging set-up for every entry point: one line per record, with the structured fields we pass in `extra`.

Only ids, topics and offsets ever go into fields; prompts, secrets, keys and URLs never do.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

NOISY = ("httpx", "httpx2", "aiokafka", "faust", "mode")
FIELDS = ("job_id", "tenant_id", "slot", "attempt", "topic", "partition", "offset", "status_code")


class FieldsFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{name}={getattr(record, name)}" for name in FIELDS if hasattr(record, name))
        return f"{line} {fields}" if fields else line


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """The same set-up as a dictConfig, for runners that install their own (Faust's Worker does)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "fields": {"()": FieldsFormatter, "fmt": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "fields", "stream": "ext://sys.stderr"}
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {name: {"level": "WARNING"} for name in NOISY},
    }


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FieldsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in NOISY:  # httpx logs full URLs at INFO: webhook tokens and presigned URLs must not leak
        logging.getLogger(noisy).setLevel(logging.WARNING)
