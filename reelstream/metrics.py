"""Every Prometheus metric reelstream exports, defined once, in a registry made per process.

Label values are bounded by construction: routes are route templates, tenants appear only as a configured
class (or "other"), render shapes as resolution/length classes, attempts clamped; never a job id, a prompt
or a URL. Each service creates one `Metrics` in its `__main__`, hands it to its adapters, and serves it on
its own port (`serve`), outside any authenticated API. Families a process never touches export nothing
(labelled families without children are empty), so one definition serves every service.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from starlette.routing import BaseRoute

from reelstream.load_metrics import observe_render_load, render_load_histogram
from reelstream.long_task_metrics import LongTaskFailures
from reelstream.route_match import UNMATCHED, route_match
from reelstream.settings import MetricsSettings
from reelstream.worker_speed_metrics import WorkerSpeedMetrics
from schemas.events import (
    DeliveryOutcome,
    GpuUsageRecorded,
    InboxEvent,
    JobEventType,
    JobState,
    JobStatus,
    Priority,
    RenderFailed,
    RenderParams,
    RenderProgress,
    RenderStarted,
    RenderSucceeded,
    WebhookDelivery,
    WorkerHeartbeat,
)

OTHER = "other"
MAX_ATTEMPT_LABEL = 5  # attempts above this are counted as "5+"
RESOLUTION_TIERS = (240, 360, 480, 576, 720, 768)
LENGTH_TIERS = ((31, "xs"), (85, "s"), (169, "m"))  # frames ≤ n; longer clips are "l"
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
JOB_BUCKETS = (1, 5, 10, 30, 60, 120, 180, 240, 360, 480, 600, 900, 1800, 3600)
STAGE_BUCKETS = (0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
PRIORITIES = tuple(p.value for p in Priority)
ACTIVE_STATES = (JobState.QUEUED, JobState.DISPATCHED, JobState.RUNNING)
COUNTED_EVENTS = frozenset(JobEventType) - {JobEventType.PROGRESS}
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def shape_class(width: int, height: int, num_frames: int) -> str:
    """A bounded name for a render shape: resolution tier (short side) and length class, e.g. `480p_s`."""
    short = min(width, height)
    tier = next((t for t in RESOLUTION_TIERS if short <= t), RESOLUTION_TIERS[-1])
    length = next((name for limit, name in LENGTH_TIERS if num_frames <= limit), "l")
    return f"{tier}p_{length}"


def attempt_label(attempt: int) -> str:
    return str(attempt) if attempt < MAX_ATTEMPT_LABEL else f"{MAX_ATTEMPT_LABEL}+"


def gpu_label(name: str) -> str:
    """GPU model names are bounded by the hardware; keep them short and label-friendly."""
    return (name or "unknown").strip().replace(" ", "_")[:40]


class JobView(Protocol):
    """What the gauges read of a scheduled job (streams' `Job`, seen from the core without importing it)."""

    @property
    def status(self) -> JobStatus: ...
    @property
    def queued(self) -> object | None: ...


class SlotView(Protocol):
    @property
    def slot(self) -> int: ...
    @property
    def job_id(self) -> str | None: ...
    @property
    def last_seen(self) -> datetime: ...


class PoolView(Protocol):
    """What the gauges read of a pool's scheduler state: the layers keep the core from importing streams."""

    @property
    def pool_id(self) -> str: ...
    @property
    def jobs(self) -> Mapping[str, JobView]: ...
    @property
    def slots(self) -> Mapping[int, SlotView]: ...


class Metrics:
    """The families of every service in one fresh registry (one per process)."""

    def __init__(self, tenant_classes: Mapping[str, str] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._classes = dict(tenant_classes or {})
        r = self.registry
        # ingest
        self.http_requests = Counter(
            "reelstream_http_requests", "HTTP requests served", ["route", "method", "status"], registry=r
        )
        self.http_duration = Histogram(
            "reelstream_http_request_duration_seconds",
            "HTTP request latency",
            ["route", "method"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        # stream stages
        self.admission_decisions = Counter(
            "reelstream_admission_decisions",
            "Admission decisions on commands",
            ["decision", "tenant_class"],
            registry=r,
        )
        self.long_job_outcomes = Counter(
            "reelstream_long_job_predictions",
            "The long-job estimator's verdicts judged against the render's time (tp, tn, fp, fn for long)",
            ["model", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "reelstream_dead_letters",
            "Records parked on a dead-letter topic instead of processed",
            ["topic", "reason"],
            registry=r,
        )
        # scheduler
        self.job_events = Counter(
            "reelstream_job_events",
            "Job lifecycle events published by the scheduler (progress excluded)",
            ["pool", "event", "tenant_class"],
            registry=r,
        )
        self.jobs = Gauge(
            "reelstream_jobs", "Jobs in a pool by state", ["pool", "state", "tenant_class"], registry=r
        )
        self.queued_jobs = Gauge(
            "reelstream_scheduler_queued_jobs", "Queue depth of a pool", ["pool", "priority"], registry=r
        )
        self.queue_wait = Histogram(
            "reelstream_queue_wait_seconds",
            "Time from queued to dispatched",
            ["pool", "priority"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.job_duration = Histogram(
            "reelstream_job_duration_seconds",
            "End-to-end time from submission to a terminal state",
            ["pool", "state", "tenant_class"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.slots = Gauge(
            "reelstream_scheduler_slots", "Known slots by state", ["pool", "state"], registry=r
        )
        self.slot_last_seen = Gauge(
            "reelstream_scheduler_slot_last_seen_timestamp_seconds",
            "When the scheduler last heard from a slot's worker (Unix time)",
            ["pool", "slot"],
            registry=r,
        )
        # GPU worker
        self.worker_info = Gauge(
            "reelstream_worker_info", "The worker of a slot", ["pool", "slot", "gpu", "renderer"], registry=r
        )
        self.heartbeats = Counter(
            "reelstream_worker_heartbeats", "Heartbeats sent by a slot's worker", ["pool", "slot"], registry=r
        )
        self.busy_seconds = Counter(
            "reelstream_worker_busy_seconds", "Seconds a slot spent on attempts", ["pool", "slot"], registry=r
        )
        self.usage_gpu_seconds = Counter(
            "reelstream_usage_gpu_seconds",
            "GPU-seconds of the attempts that ended, as metered for billing (reelstream.usage.events)",
            ["pool", "tenant_class", "model", "outcome"],
            registry=r,
        )
        self.render_duration = Histogram(
            "reelstream_render_duration_seconds",
            "Render attempt duration",
            ["shape", "gpu", "outcome"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.render_load = render_load_histogram(r)
        self.long_tasks = LongTaskFailures(r)
        self.worker_speed = WorkerSpeedMetrics(r)
        self.stage_duration = Histogram(
            "reelstream_render_stage_duration_seconds",
            "Duration of each stage of a render attempt",
            ["stage", "gpu"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        # notifier
        self.webhook_deliveries = Counter(
            "reelstream_webhook_deliveries",
            "Webhook delivery attempts",
            ["outcome", "attempt"],
            registry=r,
        )
        self.webhook_duration = Histogram(
            "reelstream_webhook_delivery_duration_seconds",
            "Webhook delivery latency",
            ["outcome"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )

    # --- shared -------------------------------------------------------------------------------------
    def tenant_class(self, tenant_id: str) -> str:
        return self._classes.get(tenant_id, OTHER)

    @property
    def tenant_class_values(self) -> tuple[str, ...]:
        return tuple(sorted({*self._classes.values(), OTHER}))

    def serve(self, settings: MetricsSettings) -> None:
        """Serve /metrics on the configured port in a daemon thread (port 0: not served)."""
        if settings.port:
            start_http_server(settings.port, settings.host, registry=self.registry)

    def expect_topics(self, topics: Iterable[str]) -> None:
        """Start the dead-letter counters of the topics this process consumes at 0 (so rates exist)."""
        for topic in topics:
            self.dead_letters.labels(topic, "undecodable")

    def expect_pools(self, pools: Iterable[str]) -> None:
        """Start the scheduler's counters and histograms of its pools at 0 (rates exist from the start)."""
        for pool in pools:
            for tenant in self.tenant_class_values:
                for event in sorted(COUNTED_EVENTS):
                    self.job_events.labels(pool, str(event), tenant)
                for state in (JobState.SUCCEEDED, JobState.FAILED, JobState.EXPIRED):
                    self.job_duration.labels(pool, str(state), tenant)
            for priority in PRIORITIES:
                self.queue_wait.labels(pool, priority)
            self.long_tasks.expect(pool)

    def expect_webhooks(self) -> None:
        """Start the first attempt's delivery counters at 0, per outcome."""
        for outcome in DeliveryOutcome:
            self.webhook_deliveries.labels(str(outcome), attempt_label(1))
            self.webhook_duration.labels(str(outcome))

    def dead_lettered(self, topic: str, reason: str) -> None:
        self.dead_letters.labels(topic, reason).inc()

    # --- admission ----------------------------------------------------------------------------------
    def admission_decision(self, decision: str, tenant_id: str) -> None:
        self.admission_decisions.labels(decision, self.tenant_class(tenant_id)).inc()

    def expect_models(self, models: Iterable[str]) -> None:
        """Start the estimator's outcome counters of the registered models at 0 (so accuracy rates exist)."""
        for model in models:
            for outcome in ("tp", "tn", "fp", "fn"):
                self.long_job_outcomes.labels(model, outcome)

    def long_job_outcome(self, model: str, outcome: str) -> None:
        self.long_job_outcomes.labels(model, outcome).inc()

    # --- scheduler ----------------------------------------------------------------------------------
    def scheduler_outputs(self, pool: str, outputs: Iterable[object]) -> None:
        """Counts, queue waits and end-to-end durations from the statuses the scheduler publishes (its
        outputs that carry a `status` and an `event_type`; the others are skipped)."""
        for output in outputs:
            status: JobStatus | None = getattr(output, "status", None)
            event_type: JobEventType | None = getattr(output, "event_type", None)
            if status is None or event_type not in COUNTED_EVENTS:
                continue
            if event_type is JobEventType.QUEUED and status.version != 1:
                continue  # a queue position refresh, not a job entering the queue
            tenant = self.tenant_class(status.tenant_id)
            self.job_events.labels(pool, str(event_type), tenant).inc()
            times = status.state_times
            if event_type is JobEventType.DISPATCHED and "queued" in times:
                wait = (times["dispatched"] - times["queued"]).total_seconds()
                self.queue_wait.labels(pool, str(status.priority)).observe(max(wait, 0.0))
            if status.state.terminal:
                total = (status.updated_at - status.created_at).total_seconds()
                self.job_duration.labels(pool, str(status.state), tenant).observe(max(total, 0.0))
            if event_type is JobEventType.SUCCEEDED:
                observe_render_load(self.render_load, status)
            self.long_tasks.observe(pool, status)

    def scheduler_state(self, state: PoolView) -> None:
        """Gauges of the pool after an event: jobs by state and tenant class, queue depth, slots."""
        pool = state.pool_id
        jobs = {(s.value, c): 0 for s in ACTIVE_STATES for c in self.tenant_class_values}
        queued = dict.fromkeys(PRIORITIES, 0)
        for job in state.jobs.values():
            key = (job.status.state.value, self.tenant_class(job.status.tenant_id))
            jobs[key] = jobs.get(key, 0) + 1
            if job.queued is not None:
                queued[job.status.priority.value] += 1
        for (job_state, tenant), count in jobs.items():
            self.jobs.labels(pool, job_state, tenant).set(count)
        for priority, count in queued.items():
            self.queued_jobs.labels(pool, priority).set(count)
        busy = sum(1 for s in state.slots.values() if s.job_id is not None)
        self.slots.labels(pool, "busy").set(busy)
        self.slots.labels(pool, "idle").set(len(state.slots) - busy)
        for slot in state.slots.values():
            self.slot_last_seen.labels(pool, str(slot.slot)).set(slot.last_seen.timestamp())

    # --- notifier -----------------------------------------------------------------------------------
    def webhook_delivered(self, delivery: WebhookDelivery) -> None:
        outcome = str(delivery.outcome)
        self.webhook_deliveries.labels(outcome, attempt_label(delivery.attempt)).inc()
        self.webhook_duration.labels(outcome).observe(delivery.duration_ms / 1000)


class WorkerMetrics:
    """What a GPU worker reports, derived from the events it sends to the scheduler (one hook)."""

    def __init__(self, metrics: Metrics, pool: str, slot: int, gpu: str, renderer: str) -> None:
        self.metrics, self.pool, self.slot, self.gpu = metrics, pool, str(slot), gpu_label(gpu)
        metrics.worker_info.labels(pool, self.slot, self.gpu, renderer).set(1)
        metrics.heartbeats.labels(pool, self.slot)
        metrics.busy_seconds.labels(pool, self.slot)
        self._busy_since: float | None = None  # the current attempt's start, or its last busy increment
        self._started: dict[tuple[str, int], float] = {}
        self._finishing: set[tuple[str, int]] = set()  # started attempts in an overlapped finish
        self._stage: dict[tuple[str, int], tuple[str, float]] = {}

    def reported(
        self, event: InboxEvent, params: RenderParams | None = None, now: float | None = None
    ) -> None:
        """Account for one event this worker reports; `params` are those of the attempt it is running."""
        now = time.monotonic() if now is None else now
        shape = shape_class(params.width, params.height, params.num_frames) if params else "unknown"
        match event:
            case WorkerHeartbeat():
                self.metrics.heartbeats.labels(self.pool, self.slot).inc()
                self._add_busy(now, still_busy=True)
            case RenderStarted():
                self._started.setdefault((event.job_id, event.attempt), now)
                if self._busy_since is None:  # a start reported again does not restart the clock
                    self._busy_since = now
            case RenderProgress():
                key = (event.job_id, event.attempt)
                previous = self._stage.get(key)
                if previous is None or previous[0] != event.stage.value:
                    self._end_stage(key, now)
                    self._stage[key] = (event.stage.value, now)
            case RenderSucceeded() | RenderFailed():
                key = (event.job_id, event.attempt)
                self._end_stage(key, now)
                started = self._started.pop(key, None)
                if key not in self._finishing:  # an overlapped finish stopped the clock at its GPU part's end
                    self._add_busy(now, still_busy=self._on_gpu())
                self._finishing.discard(key)
                if started is not None:
                    outcome = "succeeded" if isinstance(event, RenderSucceeded) else "failed"
                    self.metrics.render_duration.labels(shape, self.gpu, outcome).observe(now - started)

    def gpu_part_done(self, job_id: str, attempt: int, now: float) -> None:
        """The attempt left the GPU for its finish while the next one renders (gpu_consumers.in_flight):
        its busy time, like its usage, ends here."""
        self._finishing.add((job_id, attempt))
        self._add_busy(now, still_busy=self._on_gpu())

    def _on_gpu(self) -> bool:
        return any(key not in self._finishing for key in self._started)

    def _add_busy(self, now: float, still_busy: bool) -> None:
        """Busy time runs from an attempt's reported start to its reported outcome (the instants its usage
        record is measured between), added at each heartbeat so the counter moves during long renders."""
        if self._busy_since is not None:
            self.metrics.busy_seconds.labels(self.pool, self.slot).inc(max(0.0, now - self._busy_since))
            self._busy_since = now if still_busy else None

    def usage(self, record: GpuUsageRecorded) -> None:
        """An attempt's metered GPU-seconds, by the tenant's class (never by tenant)."""
        tenant_class = self.metrics.tenant_class(record.tenant_id)
        self.metrics.usage_gpu_seconds.labels(self.pool, tenant_class, record.model, record.outcome).inc(
            record.gpu_seconds
        )

    def _end_stage(self, key: tuple[str, int], now: float) -> None:
        previous = self._stage.pop(key, None)
        if previous is not None:
            self.metrics.stage_duration.labels(previous[0], self.gpu).observe(now - previous[1])


class HttpMetricsMiddleware:
    """ASGI middleware: requests by route template, method and status, and their latency."""

    def __init__(self, app: Any, metrics: Metrics, route_of: Callable[[Mapping[str, Any]], str]) -> None:
        self.app, self.metrics, self.route_of = app, metrics, route_of

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            method = str(scope.get("method", "GET"))
            route, method = self.route_of(scope), method if method in HTTP_METHODS else OTHER
            self.metrics.http_requests.labels(route, method, str(status)).inc()
            self.metrics.http_duration.labels(route, method).observe(time.perf_counter() - started)


def route_template(routes: Iterable[BaseRoute]) -> Callable[[Mapping[str, Any]], str]:
    """The path template of the route a request goes to (`/v1/jobs/{job_id}`), or "unmatched"; the match
    is shared with the other middlewares through the scope (reelstream.route_match)."""
    routes = list(routes)

    def route_of(scope: Mapping[str, Any]) -> str:
        if not isinstance(scope, MutableMapping):
            scope = dict(scope)
        return route_match(scope, routes).template or UNMATCHED

    return route_of
