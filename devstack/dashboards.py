"""Every Grafana dashboard of dashboards/, as code (grafana-foundation-sdk's typed builders).

    python -m devstack.dashboards      # writes dashboards/*.json and the chart's copies

A dashboard is a list of panels, two to a row; each panel one or more PromQL queries against the
`datasource` variable. tests/unit/test_dashboards.py checks that the committed JSON is what this generates,
and tests/e2e/test_observability.py runs every query against a real Prometheus scraping the pipeline.
Queries read only what the services export (reelstream/metrics.py, reelstream/lag.py) and the recording
rules of dashboards/alerts.yml: gauges are never rated (offsets through `reelstream:*:max` recordings), and
what every scheduler replica exports (standbys too) is taken once, with `max by` its own labels.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import barchart, common, dashboard, prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

ROOT = Path(__file__).resolve().parents[1]
OUT_DIRS = (ROOT / "dashboards", ROOT / "charts" / "reelstream" / "files" / "dashboards")
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
WIDTH, HEIGHT = 12, 8


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    description: str = ""
    by: str | None = None  # a bar chart of the label `by` (instant queries), else a time series


def panel(title: str, expr: str, legend: str, unit: str = "short", description: str = "") -> Panel:
    return Panel(title, (Query(expr, legend),), unit, description)


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    panels: tuple[Panel, ...]


def _lag(expr: str) -> str:
    """Lag gauges once per partition, whichever scheduler replicas export them."""
    return f"max by (group, topic, partition) ({expr})"


BUSY = "sum by (pool, slot) (rate(reelstream_worker_busy_seconds_total[5m]))"
DEAD_LETTERS = "sum by (topic, reason) (increase(reelstream_dead_letters_total[1h]))"
ACCURACY = "reelstream:long_job_accuracy:ratio_rate"


def _quantiles(metric: str, by: str) -> tuple[Query, ...]:
    return tuple(
        Query(f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket[1h])))", f"P{q * 100:g}")
        for q in (0.5, 0.95)
    )


BOARDS = (
    Board(
        "reelstream-pipeline-slos",
        "reelstream / pipeline SLOs",
        (
            panel(
                "Job success ratio (SLO ≥ 95 %)",
                'sum(rate(reelstream_job_events_total{event="succeeded"}[1h]))'
                ' / sum(rate(reelstream_job_events_total{event=~"succeeded|failed|expired"}[1h]))',
                "success",
                "percentunit",
                "Succeeded / (succeeded + failed + expired); cancellations and rejections excluded.",
            ),
            panel(
                "End-to-end P95 (SLO ≤ 6 min)",
                "histogram_quantile(0.95, sum by (le, pool)"
                ' (rate(reelstream_job_duration_seconds_bucket{state="succeeded"}[1h])))',
                "{{pool}}",
                "s",
                "Submission to success.",
            ),
            panel(
                "Queue wait P95 (SLO ≤ 2 min)",
                "histogram_quantile(0.95, sum by (le, pool)"
                " (rate(reelstream_queue_wait_seconds_bucket[1h])))",
                "{{pool}}",
                "s",
                "Queued to dispatched.",
            ),
            panel(
                "GPU slot busy (SLO 70–90 %)",
                BUSY,
                "{{pool}} slot {{slot}}",
                "percentunit",
                "Share of time each slot spends on attempts.",
            ),
            panel(
                "Queue depth",
                "sum by (pool, priority) (max by (pool, priority) (reelstream_scheduler_queued_jobs))",
                "{{pool}} {{priority}}",
            ),
            panel(
                "Jobs by state and tenant class",
                "sum by (state, tenant_class) (max by (pool, state, tenant_class) (reelstream_jobs))",
                "{{state}} {{tenant_class}}",
                description="Active jobs held by the schedulers.",
            ),
            panel(
                "Job events (per s)",
                "sum by (event, tenant_class) (rate(reelstream_job_events_total[5m]))",
                "{{event}} {{tenant_class}}",
            ),
            panel(
                "Admission decisions (per s)",
                "sum by (decision, tenant_class) (rate(reelstream_admission_decisions_total[5m]))",
                "{{decision}} {{tenant_class}}",
            ),
            panel(
                "HTTP requests (per s)",
                "sum by (route, status) (rate(reelstream_http_requests_total[5m]))",
                "{{route}} {{status}}",
                "reqps",
            ),
            panel(
                "HTTP latency P95",
                "histogram_quantile(0.95, sum by (le, route)"
                " (rate(reelstream_http_request_duration_seconds_bucket[5m])))",
                "{{route}}",
                "s",
            ),
        ),
    ),
    Board(
        "reelstream-stream-lag",
        "reelstream / stream lag",
        (
            panel(
                "Consumer lag by group",
                f"sum by (group) ({_lag('reelstream_consumer_lag')})",
                "{{group}}",
                description="Records behind the end offset, committed vs end offsets (reelstream.lag).",
            ),
            panel(
                "Consumer lag by partition",
                _lag("reelstream_consumer_lag"),
                "{{group}} {{topic}}[{{partition}}]",
            ),
            panel(
                "Lag growth (records/s)",
                f"sum by (group) ({_lag('deriv(reelstream_consumer_lag[5m])')})",
                "{{group}}",
                description="Positive for a while: consumers fall behind.",
            ),
            panel(
                "Records produced (records/s)",
                "sum by (topic) (deriv(reelstream:topic_end_offset:max[5m]))",
                "{{topic}}",
                description="End offsets are gauges: their slope, once per partition (a recording rule).",
            ),
            panel(
                "Committed offsets (records/s)",
                "sum by (group) (deriv(reelstream:consumer_committed_offset:max[5m]))",
                "{{group}}",
                description="Consumption rate per group.",
            ),
            panel(
                "Dead letters (1h)",
                DEAD_LETTERS,
                "{{topic}} {{reason}}",
                description="Records set aside instead of processed.",
            ),
        ),
    ),
    Board(
        "reelstream-gpus",
        "reelstream / GPUs",
        (
            panel("Slot busy ratio", BUSY, "{{pool}} slot {{slot}}", "percentunit"),
            panel(
                "Render duration P95 by shape and GPU",
                "histogram_quantile(0.95, sum by (le, shape, gpu)"
                " (rate(reelstream_render_duration_seconds_bucket[1h])))",
                "{{shape}} {{gpu}}",
                "s",
            ),
            panel(
                "Stage duration P50",
                "histogram_quantile(0.5, sum by (le, stage, gpu)"
                " (rate(reelstream_render_stage_duration_seconds_bucket[1h])))",
                "{{stage}} {{gpu}}",
                "s",
            ),
            panel(
                "Slots by state",
                "sum by (pool, state) (max by (pool, state) (reelstream_scheduler_slots))",
                "{{pool}} {{state}}",
            ),
            panel(
                "Seconds since last heartbeat",
                "time() - max by (pool, slot) (reelstream_scheduler_slot_last_seen_timestamp_seconds)",
                "{{pool}} slot {{slot}}",
                "s",
                "As the scheduler saw it.",
            ),
            panel(
                "Heartbeats sent (per s)",
                "sum by (pool, slot) (rate(reelstream_worker_heartbeats_total[1m]))",
                "{{pool}} slot {{slot}}",
            ),
            panel(
                "GPU-seconds per tenant class (per hour)",
                "sum by (tenant_class) (increase(reelstream_usage_gpu_seconds_total[1h]))",
                "{{tenant_class}}",
                "s",
                "Metered usage of ended attempts (reelstream.usage.events), canceled and failed too.",
            ),
            panel(
                "GPU utilization (NVML)",
                "max by (pool, slot, gpu) (reelstream_gpu_utilization_ratio)",
                "{{pool}} slot {{slot}} {{gpu}}",
                "percentunit",
                "Only where the worker has a GPU.",
            ),
            panel(
                "GPU memory used (NVML)",
                "max by (pool, slot, gpu) (reelstream_gpu_memory_used_bytes)"
                " / max by (pool, slot, gpu) (reelstream_gpu_memory_total_bytes)",
                "{{pool}} slot {{slot}} {{gpu}}",
                "percentunit",
                "Only where the worker has a GPU.",
            ),
        ),
    ),
    Board(
        "reelstream-webhooks",
        "reelstream / webhooks",
        (
            panel(
                "Deliveries by outcome (per s)",
                "sum by (outcome) (rate(reelstream_webhook_deliveries_total[5m]))",
                "{{outcome}}",
            ),
            panel(
                "Deliveries by attempt (per s)",
                "sum by (attempt) (rate(reelstream_webhook_deliveries_total[5m]))",
                "attempt {{attempt}}",
            ),
            panel(
                "Delivered ratio",
                'sum(rate(reelstream_webhook_deliveries_total{outcome="delivered"}[1h]))'
                " / sum(rate(reelstream_webhook_deliveries_total[1h]))",
                "delivered",
                "percentunit",
            ),
            panel(
                "Delivery latency P95",
                "histogram_quantile(0.95, sum by (le, outcome)"
                " (rate(reelstream_webhook_delivery_duration_seconds_bucket[1h])))",
                "{{outcome}}",
                "s",
            ),
            panel("Dead letters (1h)", DEAD_LETTERS, "{{topic}} {{reason}}"),
        ),
    ),
    Board(
        "reelstream-long-jobs",
        "reelstream / long jobs and load",
        (
            Panel(
                "Long-job estimator accuracy",
                tuple(Query(f"{ACCURACY}{w}", f"{{{{model}}}} {w}") for w in ("15m", "1d", "7d")),
                "percentunit",
                "Is this potentially a long task? (tp + tn) / judged, per model: the last 15 minutes, day "
                "and week (the baseline of EstimatorAccuracyDeclining and EstimatorAccuracyCollapsed).",
            ),
            panel(
                "Estimator verdicts (per s)",
                "sum by (model, outcome) (rate(reelstream_long_job_predictions_total[5m]))",
                "{{model}} {{outcome}}",
                description="True and false positives and negatives for long, judged when renders end.",
            ),
            Panel(
                "Render seconds by clip length (frames)",
                _quantiles("reelstream_render_load_seconds", "frames"),
                "s",
                "Succeeded renders in the last hour, P50 and P95 per frame-count class.",
                by="frames",
            ),
            Panel(
                "Render seconds by prompt length (words)",
                _quantiles("reelstream_render_load_seconds", "prompt_words"),
                "s",
                "Succeeded renders in the last hour, P50 and P95 per prompt-length class.",
                by="prompt_words",
            ),
        ),
    ),
)


def _target(query: Query, ref_id: str, instant: bool) -> prometheus.Dataquery:
    target = (
        prometheus.Dataquery()
        .expr(query.expr)
        .legend_format(query.legend)
        .ref_id(ref_id)
        .datasource(DATASOURCE)
    )
    return target.instant().format(PromQueryFormat.TABLE) if instant else target.range()


def _panel(spec: Panel, index: int) -> timeseries.Panel | barchart.Panel:
    legend = common.VizLegendOptions().display_mode(LegendDisplayMode.LIST)
    legend = legend.placement(LegendPlacement.BOTTOM).show_legend(True)
    built: timeseries.Panel | barchart.Panel
    built = barchart.Panel().x_field(spec.by) if spec.by else timeseries.Panel()
    built = built.id(index + 1).title(spec.title).description(spec.description).unit(spec.unit)
    built = built.datasource(DATASOURCE).legend(legend)
    grid = GridPos(h=HEIGHT, w=WIDTH, x=(index % 2) * WIDTH, y=(index // 2) * HEIGHT)
    built = built.grid_pos(grid)
    for n, query in enumerate(spec.queries):
        built = built.with_target(_target(query, chr(ord("A") + n), spec.by is not None))
    return built


def build(board: Board) -> dashboard.Dashboard:
    variable = dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")
    built = (
        dashboard.Dashboard(board.title)
        .uid(board.uid)
        .tags(["reelstream"])
        .timezone("utc")
        .refresh("30s")
        .time("now-6h", "now")
        .editable()
        .with_variable(variable)
    )
    for index, spec in enumerate(board.panels):
        built = built.with_panel(_panel(spec, index))
    return built


def render(board: Board) -> str:
    return JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False).encode(build(board).build()) + "\n"


def generated() -> dict[Path, str]:
    return {folder / f"{board.uid}.json": render(board) for board in BOARDS for folder in OUT_DIRS}


def main() -> None:
    for path, text in generated().items():
        path.write_text(text)
        sys.stdout.write(f"wrote {path.relative_to(ROOT)} ({len(json.loads(text)['panels'])} panels)\n")


if __name__ == "__main__":
    main()
