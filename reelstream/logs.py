"""One logging set-up for every process: JSON lines (default) or human-readable text (REELSTREAM_LOG_FORMAT).

Each JSON line is one object: `ts`, `level`, `logger`, `message`, `service`, then the structured fields that
apply: `trace_id`/`span_id` of the current OpenTelemetry span, `job_id`, `tenant`, `topic`/`partition`/
`offset` and whatever else the call passed in `extra=`. Fields come from `extra=` first, then from the
record context that stream stages and the worker set while they process a record (`log_context`).

JSON is the default everywhere a service runs (containers, CI, `reelstream dev`'s log files); the
`reelstream` command line defaults to text, and REELSTREAM_LOG_FORMAT=text|json overrides either.

Only ids, topics and offsets ever go into fields; prompts, secrets, keys and URLs never do. A redacting
filter (reelstream.redact) masks anything that looks like one anyway, before any handler writes it.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Any

import orjson
from opentelemetry import trace

from reelstream.config import Config, load_config
from reelstream.errors import ConfigurationError
from reelstream.redact import redact_field, redact_text

NOISY = ("httpx", "httpx2", "aiokafka", "faust", "mode")
FORMATS = ("json", "text")
# the structured fields, in the order lines show them; any other `extra=` field follows in JSON lines
FIELDS = (
    "trace_id",
    "span_id",
    "job_id",
    "tenant",
    "attempt",
    "slot",
    "topic",
    "partition",
    "offset",
    "status_code",
)
ALIASES = {"tenant_id": "tenant"}  # older call sites pass tenant_id
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "service",
    "taskName",  # Python 3.12's
}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_context: ContextVar[Mapping[str, Any]] = ContextVar("reelstream_log_context", default=MappingProxyType({}))


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Fields every record logged inside the block carries (None values are left out); nests."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Adds fields to the current record context until the enclosing `log_context` block ends."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def current_context() -> Mapping[str, Any]:
    return _context.get()


@dataclass(frozen=True)
class LogSettings:
    format: str = "json"
    level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str], default_format: str = "json") -> LogSettings:
        return cls.from_config(load_config(env), default_format)

    @classmethod
    def from_config(cls, config: Config, default_format: str = "json") -> LogSettings:
        """REELSTREAM_LOG_FORMAT (else `default_format`) and REELSTREAM_LOG_LEVEL, checked by the registry."""
        if default_format not in FORMATS:
            raise ConfigurationError(
                f"log format must be one of {', '.join(FORMATS)}, not {default_format!r}"
            )
        return cls(config.values.log_format or default_format, config.values.log_level)


class ContextFilter(logging.Filter):
    """Adds `service`, the record context and the current span's ids to each record (never overriding
    what `extra=` set)."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        span = trace.get_current_span().get_span_context()
        if span.is_valid and not hasattr(record, "trace_id"):
            record.trace_id = format(span.trace_id, "032x")
            record.span_id = format(span.span_id, "016x")
        return True


class RedactingFilter(logging.Filter):
    """Masks secret-looking values in the message, the `extra=` fields and the traceback (see
    reelstream.redact). The message is rendered here, so its arguments are scrubbed too."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: logging reports it when it formats
            return True
        record.msg, record.args = redact_text(message), None
        for name in _extra_names(record):
            setattr(record, name, redact_field(name, getattr(record, name)))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def structured_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's fields by their logged names: FIELDS in order, then other `extra=` fields by name."""
    found: dict[str, Any] = {}
    fields = vars(record)
    for name in _extra_names(record):  # in the order they were set: `extra=` before the context's
        found.setdefault(ALIASES.get(name, name), fields[name])
    ordered = {name: found.pop(name) for name in FIELDS if name in found}
    return ordered | dict(sorted(found.items()))


def _extra_names(record: logging.LogRecord) -> list[str]:
    """The names of the fields set on `record` beyond a LogRecord's own (`extra=`, ContextFilter)."""
    return [name for name in vars(record) if name not in _RECORD_ATTRS and not name.startswith("_")]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": getattr(record, "service", ""),
            **structured_fields(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        try:  # orjson: a third of json's cost, on a line every job leaves in each service
            return orjson.dumps(entry, default=str).decode()
        except orjson.JSONEncodeError:  # what orjson refuses (an int beyond 64 bits) the json module writes
            return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value…` with the FIELDS that apply (for people reading a terminal)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = structured_fields(record)
        shown = " ".join(f"{name}={fields[name]}" for name in FIELDS if name in fields and name != "span_id")
        if not shown:
            return line
        head, newline, rest = line.partition("\n")  # fields stay on the message's line, before a traceback
        return f"{head} {shown}{newline}{rest}"


def logging_config(service: str, settings: LogSettings) -> dict[str, Any]:
    """The whole set-up as a dictConfig: `configure_logging` installs it, and Faust's Worker (which
    replaces the root handlers with its own at start) is handed the same dict."""
    formatter = JsonFormatter if settings.format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": ContextFilter, "service": service},
            "redact": {"()": RedactingFilter},
        },
        "formatters": {"main": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "main",
                "filters": ["context", "redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": settings.level, "handlers": ["stderr"]},
        # httpx logs full URLs at INFO: webhook tokens and presigned URLs must not even reach the filter
        "loggers": {name: {"level": "WARNING"} for name in NOISY},
    }


def configure_logging(service: str, settings: LogSettings) -> None:
    """Called once in a process's `__main__`. An exception nothing caught is logged too (one JSON line with
    its traceback, redacted) rather than printed raw."""
    logging.config.dictConfig(logging_config(service, settings))
    process_wide_logging()
    sys.excepthook = _log_uncaught


def _log_uncaught(kind: type[BaseException], exc: BaseException, traceback: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, traceback)
        return
    logging.getLogger("reelstream").critical("uncaught exception, exiting", exc_info=(kind, exc, traceback))


def process_wide_logging() -> None:
    """What a service's process sets once, beside its handlers:
    - Python warnings (a library's UserWarning) become log records on `py.warnings`, so they are JSON lines
      too instead of raw text on stderr;
    - records leave out what no line of ours shows (the caller's file and line, found by walking the stack;
      the process id, a system call; thread and process names), as the logging HOWTO's "Optimization"
      section describes (bench/log_line.py: 11.9 -> 10.5 µs for the line every job leaves in each service)."""
    logging.captureWarnings(True)
    logging._srcfile = None  # the documented switch for the caller lookup
    logging.logProcesses = False
    logging.logThreads = False
    logging.logMultiprocessing = False
