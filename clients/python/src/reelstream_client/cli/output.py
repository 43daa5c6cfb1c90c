"""How the CLI shows things: JSON for scripts, a progress line for people, errors with a hint and an exit
code.

Exit codes (documented in the README and `reelstream --help`):
  0 success · 1 the job ended without succeeding (or `--timeout` passed) · 2 bad usage ·
  3 authentication or permission (no key, bad key, missing role) · 4 not found ·
  5 the request was refused (400, 409, 413, 422) · 6 rate limited (429) ·
  7 the API is unreachable or unavailable (connection, timeout, 5xx) · 130 interrupted
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any, TextIO

from reelstream_client import errors
from reelstream_client.cli.profiles import ConfigError
from reelstream_client.models import Job, to_json

OK, JOB_UNSUCCESSFUL, USAGE, AUTH, NOT_FOUND, REFUSED, RATE_LIMITED, UNREACHABLE = range(8)
INTERRUPTED = 130
BAR = 30


def emit_json(value: Any, out: TextIO | None = None) -> None:
    print(json.dumps(plain(value), indent=2, sort_keys=True), file=out or sys.stdout)


def plain(value: Any) -> Any:
    """Dataclasses (and lists of them) as JSON-ready data."""
    if isinstance(value, list):
        return [plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(value)  # the API's field names (`from`, not `from_`)
    return value


def progress_line(job: Job) -> str:
    """`[######....]  42.0% denoise` while rendering; `queued, #3 in line, ETA 12 s` while waiting."""
    if job.status in ("accepted", "queued", "dispatched"):
        parts: list[str] = [job.status]
        if job.queue_position is not None:
            parts.append(f"#{job.queue_position + 1} in line")
        if job.reason:
            parts.append(job.reason)
        if job.eta_seconds is not None:
            parts.append(f"ETA {job.eta_seconds:.0f} s")
        return ", ".join(parts)
    done = int(job.progress * BAR)
    label = job.stage or job.status
    eta = f" ETA {job.eta_seconds:.0f} s" if job.eta_seconds is not None and not job.terminal else ""
    return f"[{'#' * done}{'.' * (BAR - done)}] {job.progress * 100:5.1f}% {label}{eta}"


class ProgressView:
    """Redraws one line on a terminal; elsewhere (logs, CI) prints a line when it changes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.last = stream, ""
        self.tty = stream.isatty()

    def __call__(self, job: Job) -> None:
        line = progress_line(job)
        if line == self.last:
            return
        if self.tty:
            print(f"\r{line:<70}", end="", file=self.stream, flush=True)
        else:
            print(line, file=self.stream, flush=True)
        self.last = line

    def done(self) -> None:
        if self.tty and self.last:
            print(file=self.stream)


def _hint(exc: errors.ReelstreamError, api_url: str) -> str | None:
    if isinstance(exc, errors.AuthenticationError):
        return "check the API key: REELSTREAM_API_KEY, --api-key or the profile (`reelstream profile show`)"
    if isinstance(exc, errors.PermissionDenied):
        return "this needs a key with another role (admin routes need an admin key)"
    if isinstance(exc, errors.NotFound):
        return "no such resource for this key (another tenant's jobs are not visible)"
    if isinstance(exc, errors.RateLimited):
        wait = f"{exc.retry_after:.0f} s" if exc.retry_after is not None else "a moment"
        return f"try again in {wait}"
    if isinstance(exc, errors.ApiConnectionError | errors.ApiUnavailable | errors.ServerError):
        return f"is the API running at {api_url}? (`make dev` starts one; --api-url or REELSTREAM_API_URL)"
    if isinstance(exc, ConfigError):
        return "set REELSTREAM_API_KEY, pass --api-key, or `reelstream profile set api_key …`"
    return None


def exit_code(exc: errors.ReelstreamError) -> int:
    table: list[tuple[type[Exception] | tuple[type[Exception], ...], int]] = [
        ((errors.AuthenticationError, errors.PermissionDenied, ConfigError), AUTH),
        (errors.NotFound, NOT_FOUND),
        (errors.RateLimited, RATE_LIMITED),
        ((errors.ApiConnectionError, errors.ApiUnavailable, errors.ServerError), UNREACHABLE),
        (errors.ApiError, REFUSED),
    ]
    return next((code for kind, code in table if isinstance(exc, kind)), JOB_UNSUCCESSFUL)


def report_error(exc: errors.ReelstreamError, api_url: str, stream: TextIO | None = None) -> int:
    """`reelstream: <problem title>: <detail>` and a hint on stderr (never a traceback); the exit code."""
    stream = stream or sys.stderr
    print(f"reelstream: {exc.message}", file=stream)
    hint = _hint(exc, api_url)
    if hint:
        print(f"  hint: {hint}", file=stream)
    return exit_code(exc)
