"""The `reelstream` CLI (the SDK's) against the real pipeline: submit --wait with its progress, --json on the
job commands, and the exit code and message for another tenant's job and for a bad key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from devstack.services import PipelineConfig
from gpu_consumers.video import probe_mp4
from tests.e2e.conftest import TENANT_A_KEY, TENANT_B_KEY

Run = Callable[..., subprocess.CompletedProcess[str]]
TINY = ["--model", "tiny-mochi", "--width", "64", "--height", "48", "--num-frames", "13", "--steps", "2"]


@pytest.fixture
def cli(pipeline: PipelineConfig, tmp_path: Path) -> Run:
    env = {
        **os.environ,
        "REELSTREAM_API_URL": pipeline.api_url,
        "REELSTREAM_API_KEY": TENANT_A_KEY,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # no profile of the machine's user
    }

    def run(*argv: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = {"REELSTREAM_API_KEY": key} if key else {}
        return subprocess.run(
            [sys.executable, "-m", "reelstream_client", *argv],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=150,
            check=False,
            cwd=tmp_path,
        )

    return run


def test_submit_wait_shows_progress_and_saves_the_video(cli: Run, tmp_path: Path) -> None:
    target = tmp_path / "fox.mp4"
    result = cli("submit", "a red fox in snow", "--wait", "-o", str(target), *TINY)
    assert result.returncode == 0, result.stderr
    assert "100.0%" in result.stderr
    assert result.stdout.strip() == str(target)
    assert probe_mp4(target).width == 64


def test_the_job_commands_speak_json(cli: Run, tmp_path: Path) -> None:
    """...on a `fast` tier job: its status says the tier, its artifact the cache it rendered with."""
    submitted = cli(
        "submit", "a heron at dawn", "--wait", "--json", "-o", "heron.mp4", "--tier", "fast", *TINY
    )
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    assert (job["status"], Path(job["saved_to"]).name) == ("succeeded", "heron.mp4")
    assert job["parameters"]["tier"] == "fast"
    settings = job["artifact"]["render_settings"]
    assert (settings["tier"], settings["first_block_cache"]) == ("fast", "0.2")  # tiny-mochi's threshold
    status = cli("status", job["id"], "--json")
    assert json.loads(status.stdout)["version"] == job["version"]
    assert f"{job['id']}  succeeded  100%  fast  " in cli("status", job["id"]).stdout
    listed = json.loads(cli("list", "--limit", "3", "--json").stdout)
    assert job["id"] in [j["id"] for j in listed]
    assert len(listed) <= 3
    downloaded = json.loads(cli("download", job["id"], "-o", "again.mp4", "--json").stdout)
    assert downloaded["bytes"] == job["artifact"]["bytes"] == (tmp_path / "again.mp4").stat().st_size
    watched = cli("watch", job["id"], "--json")
    assert [json.loads(line)["status"] for line in watched.stdout.splitlines()] == ["succeeded"]
    queued = json.loads(cli("submit", "a slow glacier", "--model", "mochi-1", "--json").stdout)
    canceled = cli("cancel", queued["id"], "--reason", "test", "--json")
    assert json.loads(canceled.stdout)["id"] == queued["id"]
    ended = cli("watch", queued["id"], "--timeout", "60")
    assert ended.returncode == 1
    assert "canceled" in ended.stderr
    version = json.loads(cli("version", "--server", "--json").stdout)
    assert version["server"]
    assert version["client"]


def test_refusals_have_exit_codes_and_no_traceback(cli: Run) -> None:
    job = json.loads(cli("submit", "a lighthouse", "--model", "mochi-1", "--json").stdout)
    other = cli("status", job["id"], key=TENANT_B_KEY)
    assert other.returncode == 4
    assert "reelstream: not found: job" in other.stderr.lower()
    assert "hint:" in other.stderr
    bad_key = cli("list", key="rs_test_" + "0" * 32)
    assert bad_key.returncode == 3
    assert "Traceback" not in other.stderr + bad_key.stderr
    invalid = cli("submit", "a fox", "--width", "17", "--model", "tiny-mochi")
    assert invalid.returncode == 5
    assert "width" in invalid.stderr
    assert cli("cancel", job["id"]).returncode == 0


def test_delete_asks_first_and_a_second_delete_is_not_found(cli: Run) -> None:
    job = json.loads(cli("submit", "a glacier to forget", "--model", "mochi-1", "--json").stdout)
    declined = cli("delete", job["id"])  # no terminal to confirm on: aborted, nothing deleted
    assert declined.returncode != 0
    assert cli("status", job["id"]).returncode == 0
    deleted = cli("delete", job["id"], "--yes", "--json")
    assert (deleted.returncode, json.loads(deleted.stdout)) == (0, {"id": job["id"], "deleted": True})
    assert cli("status", job["id"]).returncode == 4
    assert cli("delete", job["id"], "--yes").returncode == 4
    assert cli("delete", job["id"], "--yes", "--missing-ok").returncode == 0
    assert cli("delete", job["id"], "--yes", key=TENANT_B_KEY).returncode == 4
