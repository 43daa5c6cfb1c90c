"""The CLI without a stack: profiles (file < env < flags), exit codes and messages for an unreachable API,
a missing key and a bad key (never a traceback), --json, completion, version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Reply, ScriptedServer, job, problem
from reelstream_client import __version__
from reelstream_client.cli.main import main
from reelstream_client.cli.profiles import resolve, write_profile


def run(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelstream_client", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {
        "XDG_CONFIG_HOME": str(tmp_path),
        "REELSTREAM_API_URL": "",
        "REELSTREAM_API_KEY": "",
        "REELSTREAM_PROFILE": "",
    }


def test_profiles_then_environment_then_flags(home: dict[str, str]) -> None:
    write_profile(home, "staging", {"api_url": "http://staging:8000", "api_key": "rs_from_file"})
    write_profile(home, "staging", {"timeout": 5.0})
    assert Path(home["XDG_CONFIG_HOME"], "reelstream", "config.toml").stat().st_mode & 0o077 == 0
    from_file = resolve(home, {"profile": "staging"})
    assert (from_file.api_url, from_file.api_key, from_file.timeout) == (
        "http://staging:8000",
        "rs_from_file",
        5.0,
    )
    from_env = resolve({**home, "REELSTREAM_API_KEY": "rs_from_env"}, {"profile": "staging"})
    assert (from_env.api_key, from_env.sources["api_key"]) == ("rs_from_env", "env")
    from_flag = resolve(
        {**home, "REELSTREAM_API_KEY": "rs_from_env"}, {"profile": "staging", "api_key": "rs_flag"}
    )
    assert (from_flag.api_key, from_flag.api_url) == ("rs_flag", "http://staging:8000")
    assert resolve(home, {}).name == "staging"  # the first profile written became the default


def test_an_unreachable_api_exits_7_with_a_hint(home: dict[str, str]) -> None:
    result = run("status", "j1", "--api-url", "http://127.0.0.1:9", "--api-key", "rs_x", env=home)
    assert result.returncode == 7
    assert "cannot reach the API" in result.stderr
    assert "hint: is the API running at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_key_exits_3(home: dict[str, str]) -> None:
    result = run("list", env=home)
    assert (result.returncode, "Traceback" in result.stderr) == (3, False)
    assert "no API key" in result.stderr


def test_a_bad_key_exits_3_with_the_problem_title(server: ScriptedServer, home: dict[str, str]) -> None:
    server.script = lambda _seen: Reply(401, problem(401, "Unauthorized", detail="unknown API key"))
    result = run(
        "status", "j1", "--json", env={**home, "REELSTREAM_API_URL": server.url, "REELSTREAM_API_KEY": "x"}
    )
    assert result.returncode == 3
    assert "reelstream: Unauthorized: unknown API key" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_status_json_and_the_exit_code_of_a_failed_job(
    server: ScriptedServer, home: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**home, "REELSTREAM_API_URL": server.url, "REELSTREAM_API_KEY": "x"}
    server.script = lambda _seen: Reply(200, job(7, "succeeded", progress=1.0))
    assert main(["status", "j1", "--json"], env) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 7
    server.script = lambda seen: Reply(
        200, job(3, "failed", error={"code": "oom", "message": "out of memory"})
    )
    assert main(["watch", "j1", "--api-url", server.url], env) == 1
    assert "job j1 failed: out of memory" in capsys.readouterr().err
    server.script = lambda _seen: Reply(404, problem(404, "Not Found"))
    assert main(["cancel", "j1"], env) == 4


def test_version_completion_and_usage(home: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"], home) == 0
    assert capsys.readouterr().out.strip() == __version__
    assert main(["--version"], home) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["completion", "bash"], home) == 0
    assert "_REELSTREAM_COMPLETE" in capsys.readouterr().out
    assert main(["submit"], home) == 2  # the prompt is missing
    assert main(["profile", "set", "api_url", "http://x:1", "--name", "dev", "--json"], home) == 0
    assert json.loads(capsys.readouterr().out)["profile"] == "dev"


def test_the_progress_line_shows_the_queue_then_the_percent() -> None:
    from reelstream_client.cli.output import progress_line
    from reelstream_client.models import Job, from_json

    queued = from_json(Job, job(2, "queued", queue_position=2, eta_seconds=41.6))
    assert progress_line(queued) == "queued, #3 in line, ETA 42 s"
    throttled = from_json(Job, job(2, "queued", queue_position=0, reason="throttled"))
    assert progress_line(throttled) == "queued, #1 in line, throttled"
    rendering = from_json(Job, job(5, "running", progress=0.5, stage="denoise", eta_seconds=10))
    assert progress_line(rendering) == "[" + "#" * 15 + "." * 15 + "]  50.0% denoise ETA 10 s"
    done = from_json(Job, job(9, "succeeded", progress=1.0))
    assert progress_line(done).endswith("100.0% succeeded")
