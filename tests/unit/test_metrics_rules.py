"""The alert rules are valid (`promtool check rules`) and fire as their tests say (`promtool test rules`); the
generated burn-rate rules are in step with their generator and the chart; every alert waits (`for:`); one
fault, the brokers down, notifies once after Alertmanager's inhibition."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.prometheus import find_prometheus
from devstack.slo_rules import generated

DASHBOARDS = Path(__file__).parents[2] / "dashboards"
CHART_FILES = Path(__file__).parents[2] / "charts" / "reelstream" / "files"
RULE_FILES = ("alerts.yml", "slo_rules.yml")


@pytest.mark.parametrize(
    "args",
    [
        ["check", "rules", *RULE_FILES],
        ["test", "rules", "alerts_test.yml"],
        ["test", "rules", "slo_rules_test.yml"],
        ["test", "rules", "broker_down_test.yml"],
    ],
    ids=lambda args: " ".join(args[:2] + args[2:3]),
)
def test_promtool(args: list[str]) -> None:
    promtool = find_prometheus(os.environ, "promtool")
    result = subprocess.run(
        [str(promtool), *args], cwd=DASHBOARDS, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_generated_rules_and_the_charts_copies_are_in_step() -> None:
    for path, text in generated().items():
        assert path.read_text() == text, f"{path.name} is stale: run python -m devstack.slo_rules"
    assert (CHART_FILES / "alerts.yml").read_text() == (DASHBOARDS / "alerts.yml").read_text()
    assert (CHART_FILES / "alertmanager.yml").read_text() == (DASHBOARDS / "alertmanager.yml").read_text()


def alerts() -> list[dict[str, Any]]:
    return [
        rule
        for name in RULE_FILES
        for group in yaml.safe_load((DASHBOARDS / name).read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_every_alert_waits_and_the_new_ones_have_a_runbook() -> None:
    assert len(alerts()) >= 23
    for rule in alerts():
        assert rule.get("for"), f"{rule['alert']} has no for: (alert fatigue)"
        if rule["alert"].startswith(("Estimator", "ReelstreamKafka", "LongTask")) or "slo" in rule["labels"]:
            assert rule["annotations"]["runbook"], rule["alert"]
    severities = {r["alert"]: r["labels"]["severity"] for r in alerts()}
    assert severities["EstimatorAccuracyDeclining"] == "2.5"
    assert severities["EstimatorAccuracyCollapsed"] == "2"
    assert severities["LongTaskFailedTwice"] == "critical"


def matches(matcher: str, labels: dict[str, str]) -> bool:
    """An Alertmanager matcher (`name="v"`, `=~`, `!=`, `!~`) against an alert's labels."""
    found = re.fullmatch(r'(\w+)(=~|!~|!=|=)"(.*)"', matcher)
    assert found, matcher
    name, op, value = found.groups()
    actual = labels.get(name, "")
    hit = re.fullmatch(value, actual) is not None if "~" in op else actual == value
    return hit if op in ("=", "=~") else not hit


def inhibited(target: dict[str, str], firing: list[dict[str, str]], rules: list[dict[str, Any]]) -> bool:
    for rule in rules:
        if not all(matches(m, target) for m in rule["target_matchers"]):
            continue
        for source in firing:
            if source is target or not all(matches(m, source) for m in rule["source_matchers"]):
                continue
            if all(source.get(label, "") == target.get(label, "") for label in rule.get("equal", [])):
                return True
    return False


def test_the_brokers_down_notify_only_kafka_unreachable() -> None:
    case = yaml.safe_load((DASHBOARDS / "broker_down_test.yml").read_text())
    [test] = case["tests"]
    listed = {check["alertname"] for check in test["alert_rule_test"]}
    assert listed == {rule["alert"] for rule in alerts()}  # a new alert must say whether it fires here
    firing = [
        {"alertname": check["alertname"], **expected["exp_labels"]}
        for check in test["alert_rule_test"]
        for expected in check["exp_alerts"]
    ]
    assert len(firing) >= 4  # one cause, several symptoms
    rules = yaml.safe_load((DASHBOARDS / "alertmanager.yml").read_text())["inhibit_rules"]
    notified = [alert["alertname"] for alert in firing if not inhibited(alert, firing, rules)]
    assert notified == ["ReelstreamKafkaUnreachable"]


def test_a_collapse_inhibits_the_decline_of_its_own_model_only() -> None:
    rules = yaml.safe_load((DASHBOARDS / "alertmanager.yml").read_text())["inhibit_rules"]
    collapsed = {"alertname": "EstimatorAccuracyCollapsed", "model": "mochi-1", "severity": "2"}
    declining = {"alertname": "EstimatorAccuracyDeclining", "model": "mochi-1", "severity": "2.5"}
    other = {**declining, "model": "tiny-mochi"}
    firing = [collapsed, declining, other]
    assert [inhibited(a, firing, rules) for a in firing] == [False, True, False]
