"""A real browser on the console: Debian's chromium driven by Playwright, axe-core, screenshots."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).parents[2]
CONSOLE = ROOT / "console"
TS_CLIENT = ROOT / "clients" / "typescript"
AXE = CONSOLE / "node_modules" / "axe-core" / "axe.min.js"
# The README's screenshots (docs/console/) are rewritten only when asked for, so a test run leaves the tree
# clean: REELSTREAM_TEST_SCREENSHOTS=1 pytest tests/e2e/test_console.py
SCREENSHOTS = (
    ROOT / "docs" / "console"
    if os.environ.get("REELSTREAM_TEST_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "reelstream-console-screenshots"
)
CHROMIUM = os.environ.get("REELSTREAM_CHROMIUM", "/usr/bin/chromium")
SERIOUS = ("serious", "critical")


def ensure_console_built() -> None:
    """`make test` builds the console first; a direct pytest run builds it here when it is missing."""
    if not (CONSOLE / "dist" / "index.html").is_file() or not (TS_CLIENT / "dist" / "index.js").is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("the console is not built and npm is missing: install Node 20 and npm")
        for folder in (TS_CLIENT, CONSOLE):  # the console depends on the TypeScript client package
            if not (folder / "node_modules").is_dir():
                subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=folder, check=True)
            subprocess.run([npm, "run", "build"], cwd=folder, check=True)


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does it as root)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def serious_violations(page: Page) -> list[str]:
    """axe-core on the page as it is: the serious and critical violations, one line each."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in json.loads(result)
        if v["impact"] in SERIOUS
    ]


def check_page(page: Page, name: str) -> None:
    """No serious accessibility violation; a screenshot of the page (SCREENSHOTS/<name>.png)."""
    violations = serious_violations(page)
    assert violations == [], f"{name}: {violations}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, base_url: str, key: str) -> None:
    page.goto(f"{base_url}/console/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Jobs").wait_for()
