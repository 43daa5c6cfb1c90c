"""`reelstream dev`'s Prometheus: a real one (Debian's package) scraping a real /metrics endpoint with the
project's alert rules loaded, and dev running on, with a warning, where Prometheus is not installed."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, start_http_server

from devstack.dev import RULE_FILES, prometheus, with_metrics_ports
from devstack.manager import StackLayout
from devstack.process import free_port
from devstack.services import PipelineConfig, service_commands

DEADLINE_S = 30.0


@pytest.fixture
def metrics_port() -> Iterator[int]:
    """A real /metrics endpoint on loopback, serving one reelstream counter."""
    registry = CollectorRegistry()
    Counter("reelstream_dev_probe", "A series for Prometheus to scrape", registry=registry).inc()
    port = free_port()
    server, thread = start_http_server(port, "127.0.0.1", registry=registry)
    yield port
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def api(url: str, path: str, **params: str) -> Any:
    response = httpx.get(f"{url}/api/v1/{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_dev_gives_every_service_a_metrics_port() -> None:
    config = with_metrics_ports(PipelineConfig(api_keys={}, webhook_secret="s", http_port=8000))
    assert set(config.metrics_ports) == set(service_commands(config))
    ports = list(config.metrics_ports.values())
    assert len(set(ports)) == len(ports)
    assert all(port > 0 for port in ports)


def test_prometheus_scrapes_the_services_with_the_alert_rules_loaded(
    metrics_port: int, tmp_path: Path
) -> None:
    layout = StackLayout(data_dir=tmp_path, cache_dir=tmp_path / "cache")
    env = {**os.environ, "REELSTREAM_PROMETHEUS_PORT": str(free_port())}
    expected_alerts = {  # alerts and recording rules, by name
        rule.get("alert") or rule["record"]
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    }
    with prometheus(layout, {"ingest": metrics_port}, env) as url:
        assert url == f"http://127.0.0.1:{env['REELSTREAM_PROMETHEUS_PORT']}"
        loaded = {rule["name"] for group in api(url, "rules")["groups"] for rule in group["rules"]}
        assert loaded == expected_alerts
        deadline = time.monotonic() + DEADLINE_S
        while not (series := api(url, "query", query='reelstream_dev_probe_total{job="ingest"}')["result"]):
            assert time.monotonic() < deadline, api(url, "targets")
            time.sleep(0.5)  # polling Prometheus' API for its first scrape, with a deadline
        assert series[0]["metric"]["instance"] == f"127.0.0.1:{metrics_port}"
    with pytest.raises(httpx.ConnectError):  # stopped with the block
        httpx.get(f"{url}/-/ready", timeout=2)


def test_without_prometheus_dev_runs_on_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    layout = StackLayout(data_dir=tmp_path, cache_dir=tmp_path / "cache")
    with caplog.at_level(logging.WARNING, "devstack.dev"):
        with prometheus(layout, {"ingest": free_port()}, {"PATH": str(tmp_path)}) as url:
            assert url is None
        with prometheus(layout, {}, {"REELSTREAM_PROMETHEUS_BIN": str(tmp_path / "prometheus")}) as url:
            assert url is None
    messages = [r.getMessage() for r in caplog.records if r.name == "devstack.dev"]
    assert len(messages) == 2
    assert all(
        m.startswith("Prometheus not started, metrics are not scraped: prometheus is required")
        for m in messages
    )
