"""The server's tool commands reach the SDK's `reelstream` command through the `reelstream.commands`
entry points (pyproject.toml): `make` installs both, and `make dev` runs `reelstream dev`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

TOOLS = ("config", "dev", "dlq", "models", "stack", "topics")


def reelstream(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelstream_client", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_tool_commands_are_listed_beside_the_client_commands() -> None:
    listed = reelstream("--help").stdout
    for name in (*TOOLS, "submit", "watch", "keys", "webhooks", "version"):
        assert f"\n  {name} " in listed, name


@pytest.mark.parametrize("argv", [("config", "--json"), ("models",)])
def test_a_tool_command_runs_through_the_client_command(argv: tuple[str, ...]) -> None:
    result = reelstream(*argv)
    assert result.returncode == 0, result.stderr
    if argv[0] == "config":
        assert "REELSTREAM_KAFKA_BOOTSTRAP" in {s["name"] for s in json.loads(result.stdout)["settings"]}
    else:
        assert "`tiny-mochi`" in result.stdout


def test_a_tool_commands_usage_error_is_its_own() -> None:
    result = reelstream("stack", "sideways")
    assert result.returncode == 2
    assert "invalid choice: 'sideways'" in result.stderr
