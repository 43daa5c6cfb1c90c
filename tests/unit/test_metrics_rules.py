"""The alert rules are valid (`promtool check rules`) and fire as their tests say (`promtool test rules`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from devstack.prometheus import find_prometheus

DASHBOARDS = Path(__file__).parents[2] / "dashboards"


@pytest.mark.parametrize("args", [["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]])
def test_promtool(args: list[str]) -> None:
    promtool = find_prometheus(os.environ, "promtool")
    result = subprocess.run(
        [str(promtool), *args], cwd=DASHBOARDS, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
