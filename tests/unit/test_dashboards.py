"""Dashboards as code: the committed JSON (and the chart's copies) is what devstack/dashboards.py generates;
every recording rule a panel reads is defined; no gauge is rated; lag is taken once per partition."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from devstack.dashboards import BOARDS, generated

ROOT = Path(__file__).parents[2]
GAUGES = ("reelstream_consumer_lag", "reelstream_topic_end_offset", "reelstream_consumer_committed_offset")


def exprs() -> list[str]:
    return [q.expr for board in BOARDS for panel in board.panels for q in panel.queries]


def test_the_committed_dashboards_are_the_generated_ones() -> None:
    for path, text in generated().items():
        assert path.read_text() == text, f"{path} is stale: run python -m devstack.dashboards"
    on_disk = {p.name for p in (ROOT / "dashboards").glob("*.json")}
    assert on_disk == {f"{board.uid}.json" for board in BOARDS}  # none hand-made beside them


def test_every_recording_rule_a_panel_reads_is_defined() -> None:
    recorded = {
        rule["record"]
        for name in ("alerts.yml", "slo_rules.yml")
        for group in yaml.safe_load((ROOT / "dashboards" / name).read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    used = {name for expr in exprs() for name in re.findall(r"\breelstream:[a-z0-9_:]+", expr)}
    assert used
    assert used <= recorded, used - recorded


def test_no_gauge_is_rated_and_lag_is_counted_once_per_partition() -> None:
    for expr in exprs():
        for gauge in GAUGES:
            assert not re.search(rf"\b(rate|increase|irate)\({gauge}\b", expr), expr
        if "reelstream_consumer_lag" in expr:
            assert "max by (group, topic, partition)" in expr, expr  # standby schedulers export it too


def test_the_load_and_estimator_panels_exist_with_bounded_labels() -> None:
    [board] = [b for b in BOARDS if b.uid == "reelstream-long-jobs"]
    assert {p.by for p in board.panels if p.by} == {"frames", "prompt_words"}
    panels = json.loads((ROOT / "dashboards" / "reelstream-long-jobs.json").read_text())["panels"]
    assert {p["type"] for p in panels} == {"timeseries", "barchart"}
    assert any("long_job_accuracy" in t["expr"] for p in panels for t in p["targets"])
