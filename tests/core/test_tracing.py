"""OpenTelemetry: request spans carry the correlation and request ids; trace context can be handed on."""

from __future__ import annotations

import re

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from apps.core import tracing

_exporter = InMemorySpanExporter()
_processor_added = False


@pytest.fixture
def spans() -> InMemorySpanExporter:
    global _processor_added
    if not _processor_added:
        tracing.add_span_processor(SimpleSpanProcessor(_exporter))
        _processor_added = True
    _exporter.clear()
    return _exporter


def test_every_request_span_carries_route_correlation_and_request_ids(api, spans):
    api.get("/health", HTTP_X_CORRELATION_ID="journey-42", HTTP_X_REQUEST_ID="req-42")
    (span,) = [s for s in spans.get_finished_spans() if s.attributes.get("http.route") == "health"]
    assert span.attributes["correlation_id"] == "journey-42"
    assert span.attributes["request_id"] == "req-42"
    assert span.attributes["http.status_code"] == 200


async def test_async_requests_are_traced_too(spans):
    from django.test import AsyncClient

    await AsyncClient().get("/health", headers={"X-Correlation-ID": "async-journey"})
    assert any(s.attributes.get("correlation_id") == "async-journey" for s in spans.get_finished_spans())


def test_traceparent_of_the_active_span_is_w3c(spans):
    with tracing.tracer().start_as_current_span("unit") as span:
        header = tracing.current_traceparent()
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert re.fullmatch(rf"00-{trace_id}-[0-9a-f]{{16}}-[0-9a-f]{{2}}", header)


def test_outbound_httpx_calls_are_traced(spans, live_server_factory):
    import httpx

    server = live_server_factory()
    with tracing.tracer().start_as_current_span("caller"):
        httpx.get(f"{server.url}/health")
    names = [s.name for s in spans.get_finished_spans()]
    assert "GET" in names  # the httpx client span
