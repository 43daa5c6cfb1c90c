"""Deployment test fixtures: a pinned helm (fetched once, like the stack's binaries) and rendered charts.

No cluster is needed: everything here is `helm lint` / `helm template` plus offline schema checks.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.deploy import fetch_helm
from devstack.fetch import default_cache_dir

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "reelstream"
SCENARIOS = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))
KUBE_VERSION = "1.33.0"

Manifest = list[dict[str, Any]]


@pytest.fixture(scope="session")
def helm() -> Path:
    return fetch_helm(default_cache_dir(os.environ), os.environ)


@pytest.fixture(scope="session")
def run_helm(helm: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        return subprocess.run(
            [str(helm), *args], capture_output=True, text=True, timeout=120, check=False, env=env
        )

    return run


@pytest.fixture(scope="session")
def render(run_helm: Callable[..., subprocess.CompletedProcess[str]]) -> Callable[..., Manifest]:
    """`render(*values_files, **set_values)` → the rendered objects; cached per argument set."""
    cache: dict[tuple[Any, ...], Manifest] = {}

    def _render(*values: str | Path, sets: tuple[str, ...] = ()) -> Manifest:
        key = (values, sets)
        if key not in cache:
            args = ["template", "rs", str(CHART), "--kube-version", KUBE_VERSION, "--namespace", "video"]
            for v in values:
                args += ["-f", str(v if Path(v).is_absolute() else CHART / "ci" / v)]
            for s in sets:
                args += ["--set", s]
            result = run_helm(*args)
            assert result.returncode == 0, result.stderr
            cache[key] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        return cache[key]

    return _render
