"""Prometheus (Debian's package, or REELSTREAM_PROMETHEUS_BIN) scraping reelstream's /metrics ports."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.prereqs import MissingPrerequisite
from devstack.process import ManagedProcess
from reelstream.config import load_config


def find_prometheus(env: Mapping[str, str], tool: str = "prometheus") -> Path:
    """`prometheus` (or `promtool`, next to it) from REELSTREAM_PROMETHEUS_BIN or PATH."""
    configured = load_config(env).values.prometheus_bin
    if configured:
        path = Path(configured).with_name(tool)
        if not path.is_file():
            raise MissingPrerequisite("prometheus", "scraping the services' metrics", f"no {path}")
        return path
    found = shutil.which(tool, path=env.get("PATH", ""))
    if found is None:
        raise MissingPrerequisite("prometheus", "scraping the services' metrics")
    return Path(found)


def scrape_config(
    targets: Mapping[str, int], interval_seconds: float, rule_files: Sequence[Path] = ()
) -> str:
    """A prometheus.yml (JSON is YAML) with one job per service, all on loopback, and the rule files."""
    interval = f"{interval_seconds:g}s"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path.resolve()) for path in rule_files],
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            for name, port in sorted(targets.items())
        ],
    }
    return json.dumps(config, indent=2)


@dataclass(frozen=True)
class PrometheusService:
    data_dir: Path
    log_dir: Path
    port: int
    targets: Mapping[str, int]
    interval_seconds: float = 15.0
    rule_files: tuple[Path, ...] = ()

    name = "prometheus"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def process(self, binary: Path, env: Mapping[str, str]) -> ManagedProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "prometheus.yml"
        config.write_text(scrape_config(self.targets, self.interval_seconds, self.rule_files))
        argv = [
            str(binary),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        return ManagedProcess(
            self.name, argv, self.log_dir / "prometheus.log", dict(env), die_with_parent=True
        )
