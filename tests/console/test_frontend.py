"""The console's own checks, in `make test`: its API types are what the service's OpenAPI document
generates today (so an API change that breaks the console fails `tsc`), and eslint, `tsc --noEmit` and the
Vitest component tests pass. `make test` installs the console's dependencies first (npm ci)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONSOLE = Path(__file__).parents[2] / "console"
SCHEMA = CONSOLE / "src" / "api" / "schema.d.ts"


@pytest.fixture(scope="module")
def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        pytest.fail("npm is missing: the console needs Node 20 and npm (make test says how)")
    if not (CONSOLE / "node_modules").is_dir():
        subprocess.run([found, "ci", "--no-audit", "--no-fund"], cwd=CONSOLE, check=True)
    return found


def test_the_committed_api_types_are_generated_from_todays_openapi_document(npm: str, tmp_path: Path) -> None:
    regenerated = tmp_path / "schema.d.ts"
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["sh", "scripts/gen-api.sh", str(regenerated)], cwd=CONSOLE, env=env, check=True)
    assert regenerated.read_text() == SCHEMA.read_text(), (
        "console/src/api/schema.d.ts is stale: run `npm run gen:api` in console/ and fix what tsc reports"
    )


@pytest.mark.parametrize("script", ["typecheck", "lint", "test"])
def test_the_console_passes_its_checks(npm: str, script: str) -> None:
    result = subprocess.run(
        [npm, "run", "--silent", script], cwd=CONSOLE, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
