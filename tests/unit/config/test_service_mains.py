"""A bad setting stops each service in its `main`: exit status 2, one message naming the variable, no
traceback, and nothing asked of Kafka (the bootstrap here is a port where nothing listens)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MAINS = {
    "ingest": ["-m", "ingest"],
    "admission": ["-m", "streams.admission"],
    "scheduler": ["-m", "streams.scheduler"],
    "notifier": ["-m", "streams.notifier"],
    "worker": ["-m", "gpu_consumers", "--slot", "0"],
}


def _run(args: list[str], settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - the interpreter's own start-up only
        "REELSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:9",  # discard: a service that reached Kafka would hang
        "REELSTREAM_S3_ACCESS_KEY": "ak",
        "REELSTREAM_S3_SECRET_KEY": "sk",
        "REELSTREAM_API_KEYS": "k=tenant-a",
        "REELSTREAM_KEY_DIR": "/nonexistent-reelstream-keys",
        **settings,
    }
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("service", sorted(MAINS))
def test_a_bad_value_exits_2_with_the_variable_named_and_no_traceback(service: str) -> None:
    result = _run(MAINS[service], {"REELSTREAM_REPLICATION_FACTOR": "three", "REELSTREAM_LOG_LEVEL": "INFO"})
    assert result.returncode == 2, result.stderr
    assert "configuration error" in result.stderr
    assert "REELSTREAM_REPLICATION_FACTOR='three'" in result.stderr
    assert "expected an integer >= 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_required_setting_exits_2_without_echoing_the_secrets() -> None:
    result = _run(
        MAINS["notifier"], {"REELSTREAM_KEY_DIR": "", "REELSTREAM_S3_SECRET_KEY": "plain-text-secret"}
    )
    assert result.returncode == 2, result.stderr
    assert "REELSTREAM_KEY_DIR is not set" in result.stderr
    assert "plain-text-secret" not in result.stderr
