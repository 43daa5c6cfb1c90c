"""Multi-window burn-rate alerts for the seed's service-level objectives, generated with their promtool tests.

    python -m devstack.slo_rules     # writes dashboards/slo_rules.yml and dashboards/slo_rules_test.yml

Each objective is an error ratio (bad events / all events) and an error budget. Recording rules give the
ratio over 5m, 30m, 1h and 6h; two alerts per objective follow the SRE workbook's multi-window,
multi-burn-rate recipe: a page (severity critical) when both the 1h and the 5m ratios burn the budget 14.4×
as fast as allowed (2 % of a 30-day budget in an hour), a ticket (severity warning) when the 6h and 30m
ratios burn it 6× as fast. The short window makes an alert stop soon after the burn does. The chart ships
the same file (charts/reelstream/files/slo_rules.yml); tests/unit/test_metrics_rules.py checks all three
are in step.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "dashboards" / "slo_rules.yml"
RULES_TEST = ROOT / "dashboards" / "slo_rules_test.yml"
CHART_RULES = ROOT / "charts" / "reelstream" / "files" / "slo_rules.yml"
WINDOWS = ("5m", "30m", "1h", "6h")
BURNS = (  # (severity, long window, short window, burn rate, for)
    ("critical", "1h", "5m", 14.4, "2m"),
    ("warning", "6h", "30m", 6.0, "15m"),
)
RUNBOOK = "docs/architecture.md#service-level-objectives"


@dataclass(frozen=True)
class Objective:
    name: str  # CamelCase, in the alert's name
    record: str  # the recording rules' metric: reelstream:<record>:ratio_rate<window>
    target: str  # the objective in words
    budget: float  # the share of bad events allowed
    bad: str  # PromQL of bad events per second over [{w}], grouped by `by`
    total: str  # PromQL of all events per second over [{w}]
    by: tuple[str, ...]
    healthy: dict[str, str]  # synthetic series (promtool values) that keep within the objective
    burning: dict[str, str]  # synthetic series that burn the budget fast
    burning_ratio: str  # their error ratio, as the alert's summary shows it


def _events(events: str) -> str:
    return 'rate(reelstream_job_events_total{{event=~"' + events + '"}}[{w}])'


OBJECTIVES = (
    Objective(
        "Availability",
        "http_errors",
        "availability ≥ 99.9 % (requests answered without a 5xx)",
        0.001,
        'sum(rate(reelstream_http_requests_total{{status=~"5.."}}[{w}]))',
        "sum(rate(reelstream_http_requests_total[{w}]))",
        (),
        {'reelstream_http_requests_total{route="/v1/jobs",method="POST",status="202"}': "0+1000x400"},
        {
            'reelstream_http_requests_total{route="/v1/jobs",method="POST",status="202"}': "0+100x400",
            'reelstream_http_requests_total{route="/v1/jobs",method="POST",status="503"}': "0+10x400",
        },
        "9.091%",
    ),
    Objective(
        "JobSuccess",
        "job_failures",
        "job success ≥ 95 %",
        0.05,
        "sum by (pool) (" + _events("failed|expired") + ")",
        "sum by (pool) (" + _events("succeeded|failed|expired") + ")",
        ("pool",),
        {'reelstream_job_events_total{pool="default",event="succeeded",tenant_class="other"}': "0+10x400"},
        {
            'reelstream_job_events_total{pool="default",event="succeeded",tenant_class="other"}': "0+1x400",
            'reelstream_job_events_total{pool="default",event="failed",tenant_class="other"}': "0+9x400",
        },
        "90%",
    ),
    Objective(
        "EndToEndLatency",
        "jobs_over_6m",
        "end-to-end P95 ≤ 6 min (at most 5 % of jobs over 6 min)",
        0.05,
        'sum by (pool) (rate(reelstream_job_duration_seconds_count{{state="succeeded"}}[{w}]))'
        ' - sum by (pool) (rate(reelstream_job_duration_seconds_bucket{{state="succeeded",le="360"}}[{w}]))',
        'sum by (pool) (rate(reelstream_job_duration_seconds_count{{state="succeeded"}}[{w}]))',
        ("pool",),
        {
            'reelstream_job_duration_seconds_bucket{pool="default",state="succeeded",tenant_class="other",le="360"}': "0+10x400",  # noqa: E501
            'reelstream_job_duration_seconds_count{pool="default",state="succeeded",tenant_class="other"}': "0+10x400",  # noqa: E501
        },
        {
            'reelstream_job_duration_seconds_bucket{pool="default",state="succeeded",tenant_class="other",le="360"}': "0+1x400",  # noqa: E501
            'reelstream_job_duration_seconds_count{pool="default",state="succeeded",tenant_class="other"}': "0+10x400",  # noqa: E501
        },
        "90%",
    ),
    Objective(
        "QueueWait",
        "queue_waits_over_2m",
        "queue wait P95 ≤ 2 min (at most 5 % of waits over 2 min)",
        0.05,
        "sum by (pool) (rate(reelstream_queue_wait_seconds_count[{w}]))"
        ' - sum by (pool) (rate(reelstream_queue_wait_seconds_bucket{{le="120"}}[{w}]))',
        "sum by (pool) (rate(reelstream_queue_wait_seconds_count[{w}]))",
        ("pool",),
        {
            'reelstream_queue_wait_seconds_bucket{pool="default",priority="normal",le="120"}': "0+10x400",
            'reelstream_queue_wait_seconds_count{pool="default",priority="normal"}': "0+10x400",
        },
        {
            'reelstream_queue_wait_seconds_bucket{pool="default",priority="normal",le="120"}': "0+2x400",
            'reelstream_queue_wait_seconds_count{pool="default",priority="normal"}': "0+10x400",
        },
        "80%",
    ),
    Objective(
        "Retries",
        "retries",
        "retries < 1 % of dispatches",
        0.01,
        "sum by (pool) (" + _events("requeued") + ")",
        "sum by (pool) (" + _events("dispatched") + ")",
        ("pool",),
        {
            'reelstream_job_events_total{pool="default",event="dispatched",tenant_class="other"}': "0+99x400",
            'reelstream_job_events_total{pool="default",event="requeued",tenant_class="other"}': "0x400",
        },
        {
            'reelstream_job_events_total{pool="default",event="dispatched",tenant_class="other"}': "0+10x400",
            'reelstream_job_events_total{pool="default",event="requeued",tenant_class="other"}': "0+3x400",
        },
        "30%",
    ),
    Objective(
        "DeadLetters",
        "dead_letters",
        "dead letters < 0.1 % of the commands admission handles",
        0.001,
        "sum(rate(reelstream_dead_letters_total[{w}]))",
        "sum(rate(reelstream_admission_decisions_total[{w}]))",
        (),
        {
            'reelstream_admission_decisions_total{decision="admit",tenant_class="other"}': "0+100x400",
            'reelstream_dead_letters_total{topic="reelstream.jobs.commands",reason="undecodable"}': "0x400",
        },
        {
            'reelstream_admission_decisions_total{decision="admit",tenant_class="other"}': "0+100x400",
            'reelstream_dead_letters_total{topic="reelstream.jobs.commands",reason="undecodable"}': "0+5x400",
        },
        "5%",
    ),
)


def recorded(objective: Objective, window: str) -> str:
    return f"reelstream:{objective.record}:ratio_rate{window}"


def alert_name(objective: Objective, severity: str) -> str:
    return f"Reelstream{objective.name}BudgetBurn" + ("Fast" if severity == "critical" else "Slow")


def annotations_of(o: Objective, burn: float, long: str, value: str, labels: Any = None) -> dict[str, str]:
    """The alert's annotations; `labels` None: as templates, else with those label values."""
    where = " ".join(
        f"{label} {labels[label] if labels else '{{ $labels.' + label + ' }}'}:" for label in o.by
    )
    summary = f"{where} {o.target}: error budget burning {burn:g}× too fast ({long} ratio {value})"
    return {"summary": summary.strip(), "runbook": RUNBOOK}


def rules() -> dict[str, Any]:
    records = [
        {
            "record": recorded(o, w),
            "expr": f"({o.bad.format(w=w)})\n  / ({o.total.format(w=w)})",
        }
        for o in OBJECTIVES
        for w in WINDOWS
    ]
    alerts = []
    for o in OBJECTIVES:
        on = f" on ({', '.join(o.by)})" if o.by else ""
        for severity, long, short, burn, hold in BURNS:
            threshold = round(burn * o.budget, 6)
            alerts.append(
                {
                    "alert": alert_name(o, severity),
                    "expr": f"{recorded(o, long)} > {threshold:g}\n  and{on} {recorded(o, short)} > {threshold:g}",  # noqa: E501
                    "for": hold,
                    "labels": {"severity": severity, "slo": o.record},
                    "annotations": annotations_of(o, burn, long, "{{ $value | humanizePercentage }}"),
                }
            )
    # One group, the ratios first: a group's rules are evaluated in order, while separate groups are not
    # ordered, so an alert in another group could read a ratio one evaluation old (promtool's tests then
    # saw its summary's value change from run to run).
    return {"groups": [{"name": "reelstream-slo-burn-rates", "rules": records + alerts}]}


def tests() -> dict[str, Any]:
    """Per objective: healthy series fire nothing; burning ones page within minutes and ticket later."""
    cases = []
    for o in OBJECTIVES:
        fast, slow = (alert_name(o, s) for s, *_ in BURNS)
        labels = {label: "default" for label in o.by}
        for series, expect in ((o.healthy, False), (o.burning, True)):
            checks = [
                {"eval_time": "1m", "alertname": fast, "exp_alerts": []},  # pending: every alert has a `for:`
                {"eval_time": "10m", "alertname": fast, "exp_alerts": _firing(expect, "critical", o, labels)},
                {"eval_time": "10m", "alertname": slow, "exp_alerts": []},
                {"eval_time": "50m", "alertname": slow, "exp_alerts": _firing(expect, "warning", o, labels)},
            ]
            inputs = [{"series": name, "values": values} for name, values in sorted(series.items())]
            cases.append({"interval": "1m", "input_series": inputs, "alert_rule_test": checks})
    return {"rule_files": [RULES.name], "evaluation_interval": "1m", "tests": cases}


def _firing(expect: bool, severity: str, o: Objective, labels: dict[str, str]) -> list[dict[str, Any]]:
    if not expect:
        return []
    _, long, _, burn, _ = next(b for b in BURNS if b[0] == severity)
    shown = annotations_of(o, burn, long, o.burning_ratio, labels)
    return [{"exp_labels": {"severity": severity, "slo": o.record, **labels}, "exp_annotations": shown}]


def render(document: dict[str, Any], what: str) -> str:
    """YAML as JSON (JSON is YAML): stable, and diffable line by line."""
    head = f"# Generated by `python -m devstack.slo_rules` ({what}); edit devstack/slo_rules.py instead.\n"
    return head + json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[Path, str]:
    text = render(rules(), "multi-window burn-rate alerts of the seed's objectives")
    return {RULES: text, CHART_RULES: text, RULES_TEST: render(tests(), "their promtool tests")}


def main() -> None:
    for path, text in generated().items():
        path.write_text(text)
        sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")


if __name__ == "__main__":
    main()
