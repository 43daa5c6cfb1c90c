"""reelstream.tracing without an exporting provider (the default): off costs nothing, context still flows."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from reelstream.tracing import (
    TraceLinks,
    consume_span,
    current_traceparent,
    enabled,
    inject_headers,
    linked_span,
    request_span,
    traceparent_of,
)

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
PARENT = f"00-{TRACE_ID:032x}-b7ad6b7169203331-01"


def remote_span() -> NonRecordingSpan:
    return NonRecordingSpan(SpanContext(TRACE_ID, 0xB7AD6B7169203331, True, TraceFlags(1)))


def test_tracing_is_on_only_when_the_standard_variables_ask_for_it() -> None:
    assert not enabled({})
    assert enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert enabled({"OTEL_TRACES_EXPORTER": "otlp"})
    assert not enabled({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"})
    assert not enabled({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"})


def test_without_a_span_headers_are_left_alone() -> None:
    headers = [("x-replays", b"1")]
    assert inject_headers(headers) is headers
    assert inject_headers(None) is None
    assert current_traceparent() is None


def test_the_current_span_travels_as_traceparent_replacing_a_stale_one() -> None:
    with trace.use_span(remote_span()):
        headers = inject_headers([("traceparent", b"stale"), ("x-replays", b"1")])
    assert headers == [("x-replays", b"1"), ("traceparent", PARENT.encode())]
    assert traceparent_of(headers) == PARENT
    assert traceparent_of({"traceparent": PARENT.encode()}) == PARENT
    assert traceparent_of(None) is None


def test_a_consumed_record_continues_its_trace_and_an_untraced_one_starts_none() -> None:
    with consume_span("admission", [("traceparent", PARENT.encode())], "t", 0, 5):
        inside = current_traceparent()
    assert inside is not None
    assert inside.split("-")[1] == f"{TRACE_ID:032x}"
    with trace.use_span(remote_span()), consume_span("scheduler", [], "t", 0, 6) as span:
        assert span is None
        assert inject_headers(None) is None  # a tick's outputs do not join whatever was current


def test_linked_spans_continue_a_remembered_trace() -> None:
    links = TraceLinks(limit=2)
    links.remember("a", PARENT)
    links.remember("b", None)
    links.remember("c", PARENT)
    links.remember("d", PARENT)
    assert len(links) == 2
    assert links.get("a") is None
    assert links.get("d") == PARENT
    with linked_span("scheduler publish", links.get("d")):
        assert (current_traceparent() or "").split("-")[1] == f"{TRACE_ID:032x}"
    with trace.use_span(remote_span()), linked_span("scheduler publish", links.get("a")) as span:
        assert span is None
        assert current_traceparent() is None


def test_a_request_continues_the_callers_trace_and_one_without_a_traceparent_starts_none() -> None:
    with request_span("POST /v1/jobs", {"traceparent": PARENT}):
        assert inject_headers(None) == [("traceparent", PARENT.encode())]
    with request_span("POST /v1/jobs", {"content-type": "application/json"}):
        assert inject_headers(None) is None
        assert not trace.get_current_span().get_span_context().is_valid
