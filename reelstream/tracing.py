"""One trace per job: a W3C `traceparent` in Kafka record headers, from the ingest request to the webhook.

Off unless the standard OTEL_* variables ask for it (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_TRACES_EXPORTER):
then nothing installs a provider, the API's tracer is the no-op one, no span is ever valid and nothing is
injected into a record. On, each service exports over OTLP/HTTP, configured by the OTEL_* variables alone
(endpoint, headers, OTEL_BSP_* batching, OTEL_TRACES_SAMPLER...).

Producers inject in one place (Publisher.publish). Consumers open their processing span from the record's
headers themselves: the aiokafka instrumentation's consumer span ends before a handler runs. A record that
carries no trace (a scheduler tick, a heartbeat) starts none: only jobs are traced.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import Span, SpanKind

Headers = list[tuple[str, bytes]]
TRACEPARENT = "traceparent"
_FIELDS = (TRACEPARENT, "tracestate")

tracer = trace.get_tracer("reelstream")  # a proxy: real once configure_tracing installed a provider


def enabled(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(
        exporter or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(service_name: str, env: Mapping[str, str]) -> bool:
    """Install an exporting provider for this process when the environment asks for one; True if it did.

    Called once in a service's `__main__`. The exporter reads its own OTEL_EXPORTER_OTLP_* variables."""
    if not enabled(env):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = env.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _tracing_on.cache_clear()
    return True


@functools.cache
def _tracing_on() -> bool:
    """Whether a real provider records spans. Asked per request, so answered once (OpenTelemetry installs
    one provider per process at most, and reads the environment on every `get_tracer_provider()` until)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def inject_headers(headers: Headers | None) -> Headers | None:
    """`headers` plus the current span's `traceparent` (and `tracestate`); unchanged without a valid span."""
    if not trace.get_current_span().get_span_context().is_valid:
        return headers
    carrier: dict[str, str] = {}
    inject(carrier)
    kept = [(k, v) for k, v in headers or [] if k not in _FIELDS]
    return kept + [(k, v.encode()) for k, v in carrier.items() if k in _FIELDS]


def traceparent_of(headers: Iterable[tuple[str, bytes | None]] | Mapping[str, bytes] | None) -> str | None:
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        if str(name).lower() == TRACEPARENT and value:
            return bytes(value).decode("ascii", "replace")
    return None


def _parent(traceparent: str) -> otel_context.Context:
    return extract({TRACEPARENT: traceparent}, context=otel_context.Context())


def current_traceparent() -> str | None:
    """The current span as a `traceparent` value, to link later work to it; None without a valid span."""
    carrier: dict[str, str] = {}
    if trace.get_current_span().get_span_context().is_valid:
        inject(carrier)
    return carrier.get(TRACEPARENT)


@contextmanager
def consume_span(
    stage: str,
    headers: Iterable[tuple[str, bytes | None]] | Mapping[str, bytes] | None,
    topic: str,
    partition: int,
    offset: int,
) -> Iterator[Span | None]:
    """The processing span of one consumed record, child of the span that produced it; no span (and the
    empty context, so nothing produced meanwhile claims a trace) when the record carries none."""
    traceparent = traceparent_of(headers)
    if traceparent is None:
        with _untraced():
            yield None
        return
    with tracer.start_as_current_span(
        f"{stage} process",
        context=_parent(traceparent),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.kafka.partition": partition,
            "messaging.kafka.offset": offset,
        },
    ) as span:
        yield span


@contextmanager
def _untraced() -> Iterator[None]:
    """The empty context: nothing done inside it (a record published, a span started) claims a trace."""
    if not otel_context.get_current():  # empty already (most records, with tracing off): nothing to swap
        yield
        return
    token = otel_context.attach(otel_context.Context())
    try:
        yield
    finally:
        otel_context.detach(token)


@contextmanager
def linked_span(
    name: str, traceparent: str | None, attributes: Mapping[str, str | int] | None = None
) -> Iterator[Span | None]:
    """A span whose parent is a remembered `traceparent` (work done later on behalf of a traced record);
    with none, no span and the empty context: what is published meanwhile carries no trace."""
    if traceparent is None:
        with _untraced():
            yield None
        return
    with tracer.start_as_current_span(name, context=_parent(traceparent), attributes=attributes) as span:
        yield span


@contextmanager
def request_span(name: str, headers: Mapping[str, str]) -> Iterator[None]:
    """The server span of an HTTP request, continuing the caller's trace when it sent a `traceparent`.

    Tracing off and no `traceparent`: the span would be invalid and change nothing, so none is made (it
    cost about a tenth of ingest's CPU per request)."""
    if TRACEPARENT not in headers and not _tracing_on():
        yield
        return
    with tracer.start_as_current_span(name, context=extract(headers), kind=SpanKind.SERVER):
        yield


def set_job(job_id: str | None) -> None:
    if job_id is not None:
        trace.get_current_span().set_attribute("job_id", job_id)


class TraceLinks:
    """A bounded map of job id → the `traceparent` to continue that job's trace from (oldest dropped)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._links: OrderedDict[str, str] = OrderedDict()

    def remember(self, job_id: str, traceparent: str | None) -> None:
        if traceparent is None:
            return
        self._links[job_id] = traceparent
        self._links.move_to_end(job_id)
        while len(self._links) > self._limit:
            self._links.popitem(last=False)

    def get(self, job_id: str) -> str | None:
        return self._links.get(job_id)

    def __len__(self) -> int:
        return len(self._links)


class StageSpans:
    """Sequential child spans of one parent span: entering a new stage ends the previous one."""

    def __init__(self, parent: Span) -> None:
        self._parent = trace.set_span_in_context(parent)
        self._current: tuple[str, Span] | None = None

    def enter(self, stage: str) -> None:
        if self._current is not None and self._current[0] == stage:
            return
        self.close()
        self._current = (stage, tracer.start_span(stage, context=self._parent))

    def close(self) -> None:
        if self._current is not None:
            self._current[1].end()
            self._current = None
