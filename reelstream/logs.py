"""Logging set-up for every entry point: one line per record, with the structured fields we pass in `extra`.

Only ids, topics and offsets ever go into fields; prompts, secrets, keys and URLs never do.
"""

from __future__ import annotations

import logging
import sys

FIELDS = ("job_id", "tenant_id", "slot", "attempt", "topic", "partition", "offset", "status_code")


class FieldsFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{name}={getattr(record, name)}" for name in FIELDS if hasattr(record, name))
        return f"{line} {fields}" if fields else line


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FieldsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpx2", "aiokafka", "faust", "mode"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
