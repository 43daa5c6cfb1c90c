"""The console's and the TypeScript client package's own checks, in `make test`: the package's API types are
what the service's OpenAPI document generates today (the one generated source: the console uses the package,
so an API change that breaks the console fails `tsc`), the package type-checks, passes its Vitest tests and
builds to dist/, and the console passes eslint, `tsc --noEmit` and its Vitest component tests. `make test`
installs both (npm ci) and builds the package first."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CONSOLE = ROOT / "console"
TS_CLIENT = ROOT / "clients" / "typescript"
SCHEMA = TS_CLIENT / "src" / "schema.ts"


@pytest.fixture(scope="module")
def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        pytest.fail("npm is missing: the console needs Node 20 and npm (make test says how)")
    for folder in (TS_CLIENT, CONSOLE):  # the console depends on the package (file:), built first
        if not (folder / "node_modules").is_dir():
            subprocess.run([found, "ci", "--no-audit", "--no-fund"], cwd=folder, check=True)
        if folder == TS_CLIENT and not (TS_CLIENT / "dist" / "index.js").is_file():
            subprocess.run([found, "run", "build"], cwd=TS_CLIENT, check=True)
    return found


def test_the_committed_api_types_are_generated_from_todays_openapi_document(npm: str, tmp_path: Path) -> None:
    regenerated = tmp_path / "schema.ts"
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["sh", "scripts/gen-api.sh", str(regenerated)], cwd=TS_CLIENT, env=env, check=True)
    assert regenerated.read_text() == SCHEMA.read_text(), (
        "clients/typescript/src/schema.ts is stale: run `npm run gen:api` in clients/typescript/, then "
        "`npm run build` there, and fix what tsc reports in the package and in console/"
    )


@pytest.mark.parametrize(
    ("folder", "script"),
    [
        (TS_CLIENT, "typecheck"),
        (TS_CLIENT, "test"),
        (TS_CLIENT, "build"),
        (CONSOLE, "typecheck"),
        (CONSOLE, "lint"),
        (CONSOLE, "test"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_the_console_and_the_typescript_client_pass_their_checks(npm: str, folder: Path, script: str) -> None:
    result = subprocess.run(
        [npm, "run", "--silent", script], cwd=folder, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
