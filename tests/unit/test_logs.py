"""reelstream.logs: the one logging set-up, installed exactly as a service's `__main__` installs it."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider

from reelstream.errors import ConfigurationError
from reelstream.logs import NOISY, LogSettings, bind, log_context, logging_config
from reelstream.redact import MASK, redact_text

Capture = Callable[..., io.StringIO]
log = logging.getLogger("reelstream.test")


@pytest.fixture
def capture() -> Iterator[Capture]:
    """factory(format=..., service=...) → the buffer the root handler now writes to; restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in NOISY})

    def install(format: str = "json", service: str = "reelstream-test") -> io.StringIO:
        buffer = io.StringIO()
        config = logging_config(service, LogSettings(format=format, level="DEBUG"))
        config["handlers"]["stderr"]["stream"] = buffer  # the same handler, writing where the test reads
        logging.config.dictConfig(config)
        return buffer

    yield install
    root.handlers[:], _, levels = saved
    root.setLevel(saved[1])
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_json_line_has_the_base_fields_and_nothing_else_without_context(capture: Capture) -> None:
    buffer = capture(service="reelstream-admission")
    log.info("admitted %d jobs", 3)
    [entry] = lines(buffer)
    assert entry.keys() == {"ts", "level", "logger", "message", "service"}
    assert entry["message"] == "admitted 3 jobs"
    assert (entry["level"], entry["logger"], entry["service"]) == ("INFO", log.name, "reelstream-admission")
    assert entry["ts"].endswith("+00:00")


def test_a_record_logged_inside_a_span_carries_that_spans_ids(capture: Capture) -> None:
    buffer = capture()
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("outer"), tracer.start_as_current_span("inner") as span:
        log.info("inside")
    log.info("outside")
    inside, outside = lines(buffer)
    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert not {"trace_id", "span_id"} & outside.keys()


def test_record_context_and_extra_fields_reach_the_line(capture: Capture) -> None:
    buffer = capture()
    with log_context(topic="reelstream.jobs.submitted", partition=3, offset=42, job_id=None):
        bind(job_id="job-1")
        log.info("admitted", extra={"tenant_id": "tenant-a", "attempt": 2})
        log.info("overridden", extra={"offset": 7})
    log.info("after")
    admitted, overridden, after = lines(buffer)
    assert admitted | {"ts": None} == {
        "ts": None,
        "level": "INFO",
        "logger": log.name,
        "message": "admitted",
        "service": "reelstream-test",
        "job_id": "job-1",
        "tenant": "tenant-a",
        "attempt": 2,
        "topic": "reelstream.jobs.submitted",
        "partition": 3,
        "offset": 42,
    }
    assert overridden["offset"] == 7  # extra= wins over the record context
    assert not {"job_id", "topic", "partition", "offset"} & after.keys()


async def test_concurrent_tasks_keep_their_own_record_context(capture: Capture) -> None:
    buffer = capture()
    both_inside = asyncio.Barrier(2)

    async def handle(job_id: str) -> None:
        with log_context(job_id=job_id):
            await both_inside.wait()  # the other task's context is set too before either logs
            log.info("processing")
            await asyncio.to_thread(log.info, "in a worker thread")

    await asyncio.gather(handle("job-a"), handle("job-b"))
    entries = lines(buffer)
    assert sorted((e["job_id"], e["message"]) for e in entries) == [
        ("job-a", "in a worker thread"),
        ("job-a", "processing"),
        ("job-b", "in a worker thread"),
        ("job-b", "processing"),
    ]


SECRETS = {
    "bearer": "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig",
    "api_key": "rs_live_" + "k" * 30,
    "webhook": "whsec_" + "Q" * 32,
    "amz": "f" * 64,
    "token": "t0k3n-abcdef",
}


def test_secret_looking_values_are_redacted_in_message_fields_and_traceback(capture: Capture) -> None:
    buffer = capture()
    presigned = (
        "http://127.0.0.1:9000/videos/job-1.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential=minio%2F20260101&X-Amz-Signature={SECRETS['amz']}"
    )
    log.info("headers: {'Authorization': 'Bearer %s'}", SECRETS["bearer"])
    log.info("client key %s rejected, webhook secret %s", SECRETS["api_key"], SECRETS["webhook"])
    log.info("artifact at %s", presigned)
    log.info(
        "delivery",
        extra={
            "token": SECRETS["token"],
            "webhook_url": f"https://hooks.example/cb?token={SECRETS['token']}",
            "prompt": "a red fox in snow",
        },
    )
    try:
        raise ValueError(f"POST https://hooks.example/cb?token={SECRETS['token']} failed")
    except ValueError:
        log.exception("delivery crashed")

    text = buffer.getvalue()
    leaked = [name for name, secret in SECRETS.items() if secret in text]
    assert not leaked, text
    assert "red fox" not in text
    bearer, keys, artifact, delivery, crashed = lines(buffer)
    assert bearer["message"] == f"headers: {{'Authorization': 'Bearer {MASK}'}}"
    assert keys["message"] == f"client key rs_{MASK} rejected, webhook secret whsec_{MASK}"
    assert artifact["message"] == f"artifact at http://127.0.0.1:9000/videos/job-1.mp4?{MASK}"
    assert delivery["token"] == delivery["prompt"] == MASK
    assert delivery["webhook_url"] == f"https://hooks.example/cb?{MASK}"
    assert "ValueError: POST https://hooks.example/cb?" in crashed["exc_info"]


@given(st.text(alphabet=st.characters(codec="ascii", categories=("L", "N")), min_size=12, max_size=64))
def test_a_presigned_links_query_never_survives(signature: str) -> None:
    url = f"http://127.0.0.1:9000/b/k.mp4?X-Amz-Date=20260101T000000Z&X-Amz-Signature={signature}"
    for text in (url, f"uploaded to {url}.", f'{{"url": "{url}"}}', f"key=X-Amz-Signature={signature}"):
        assert signature not in redact_text(text)


def test_ordinary_text_is_left_alone() -> None:
    text = "render of job-1 took 2.5 s at 848x480 (tokenizer loaded, 77 tokens, errors_total=0)"
    assert redact_text(text) == text


def test_text_format_shows_the_fields_after_the_message(capture: Capture) -> None:
    buffer = capture(format="text")
    with log_context(job_id="job-1", topic="t", partition=0, offset=5):
        log.warning("failed")
    [line] = buffer.getvalue().splitlines()
    assert line.endswith(" WARNING reelstream.test: failed job_id=job-1 topic=t partition=0 offset=5")


def test_log_settings_come_from_the_environment_and_refuse_nonsense() -> None:
    assert LogSettings.from_env({}) == LogSettings("json", "INFO")
    assert LogSettings.from_env({}, default_format="text").format == "text"
    env = {"REELSTREAM_LOG_FORMAT": "TEXT", "REELSTREAM_LOG_LEVEL": "debug"}
    assert LogSettings.from_env(env) == LogSettings("text", "DEBUG")
    with pytest.raises(ConfigurationError):
        LogSettings.from_env({"REELSTREAM_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigurationError):
        LogSettings.from_env({"REELSTREAM_LOG_LEVEL": "loud"})


CRASHING_SERVICE = """
import logging, os, warnings
from reelstream.logs import LogSettings, configure_logging
configure_logging("reelstream-probe", LogSettings.from_env(os.environ))
logging.getLogger("probe").info("started")
warnings.warn("a library complains")
raise RuntimeError("POST https://hooks.example/cb?token=t0k3n-abcdef failed")
"""


def test_a_process_writes_only_json_lines_even_for_warnings_and_a_crash() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "REELSTREAM_LOG_FORMAT": ""}
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_SERVICE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    entries = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON (the default)
    assert [(e["level"], e["logger"]) for e in entries] == [
        ("INFO", "probe"),
        ("WARNING", "py.warnings"),
        ("CRITICAL", "reelstream"),
    ]
    assert {e["service"] for e in entries} == {"reelstream-probe"}
    assert "RuntimeError: POST https://hooks.example/cb?<redacted> failed" in entries[2]["exc_info"]
    assert "t0k3n" not in result.stderr


LEAN_SERVICE = """
import json, logging, os
from reelstream.logs import LogSettings, configure_logging
configure_logging("reelstream-probe", LogSettings.from_env(os.environ))
seen = []
class Keep(logging.Handler):
    def emit(self, record):
        seen.append(record)
logging.getLogger().addHandler(Keep())
logging.getLogger("probe").info("job %s accepted", "job-1", extra={"job_id": "job-1", "tenant_id": "t-1"})
[record] = seen
print(json.dumps([record.process, record.thread, record.processName, record.lineno, record.funcName]))
"""


def test_a_services_records_skip_what_no_line_shows_and_its_lines_are_whole() -> None:
    """process_wide_logging: no caller lookup, process id or thread (logging HOWTO, "Optimization")."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "REELSTREAM_LOG_FORMAT": ""}
    result = subprocess.run(
        [sys.executable, "-c", LEAN_SERVICE], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    process, thread, process_name, lineno, function = json.loads(result.stdout)
    assert (process, thread, process_name, lineno) == (None, None, None, 0)
    assert function != "<module>"  # not looked up
    [entry] = [json.loads(line) for line in result.stderr.splitlines()]
    assert entry | {"ts": None} == {
        "ts": None,
        "level": "INFO",
        "logger": "probe",
        "message": "job job-1 accepted",
        "service": "reelstream-probe",
        "job_id": "job-1",
        "tenant": "t-1",
    }


def test_a_bare_jwt_never_survives() -> None:
    header, payload, signature = "eyJhbGciOiJSUzI1NiJ9", "eyJ0ZW5hbnQiOiJhY21lIn0", "c2lnbmF0dXJlLWJ5dGVz"
    token = f"{header}.{payload}.{signature}"
    for text in (f"refused {token}", f'{{"t": "{token}"}}', f"{token},"):
        masked = redact_text(text)
        assert payload not in masked
        assert signature not in masked
