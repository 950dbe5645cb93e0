"""OpenTelemetry: request spans carry the correlation and request ids; trace context can be handed on."""

from __future__ import annotations

import http.server
import re
import subprocess
import sys
import threading

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from apps.core import tracing
from tests.conftest import ROOT, free_port, server_env

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


class _Collector(http.server.BaseHTTPRequestHandler):
    """A stand-in OTLP/HTTP collector: keeps every POSTed body."""

    bodies: list[bytes] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def otlp_collector():
    _Collector.bodies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Collector.bodies
    server.shutdown()
    server.server_close()


def test_spans_of_a_management_command_are_exported_before_os_exit(otlp_collector):
    """manage.py leaves with os._exit; the batch processor (5 s schedule) must still export the last span."""
    endpoint, bodies = otlp_collector
    code = (
        "from apps.core import tracing\n"
        "with tracing.tracer().start_as_current_span('last-span-before-exit'):\n"
        "    pass\n"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=server_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # The process has exited: whatever the collector holds was sent before os._exit.
    assert any(b"last-span-before-exit" in body for body in bodies), (len(bodies), done.stderr[-2000:])


def test_flush_with_the_collector_down_does_not_hold_the_exit(otlp_collector):
    """A collector that is gone costs at most the flush timeout, and the command's status is kept."""
    code = "from apps.core import tracing\nwith tracing.tracer().start_as_current_span('x'):\n    pass\n"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=server_env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_flush_without_configured_tracing_is_a_no_op(monkeypatch):
    monkeypatch.setattr(tracing, "_provider", None)
    assert tracing.flush(timeout_s=0.1) is False


PARENT_TRACE = "0af7651916cd43dd8448eb211c80319c"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"traceparent": f"00-{PARENT_TRACE}-b7ad6b7169203331-01"},
        {"traceparent": f"00-{PARENT_TRACE}-b7ad6b7169203331-00"},
        {"traceparent": f"00-{PARENT_TRACE}-b7ad6b7169203331-01", "tracestate": "vendor=abc"},
    ],
    ids=["no-parent", "sampled-parent", "unsampled-parent", "with-tracestate"],
)
def test_with_nothing_exporting_the_request_span_is_unrecorded_with_the_context_the_sdk_would_give(
    monkeypatch, headers
):
    """Issue 14: no span processor, so the request span is not recorded, yet the outbox and outgoing
    ``traceparent`` headers see the ids and flags the SDK's own span would have had."""
    monkeypatch.setattr(tracing, "_exporting", False)
    with tracing.server_span("POST", "/v1/x", headers, "http", "testserver") as span:
        assert not span.is_recording()
        ours = span.get_span_context()
        outgoing = tracing.current_traceparent()
    sdk_span = tracing.tracer().start_span("POST", context=propagate.extract(headers), kind=trace.SpanKind.SERVER)
    theirs = sdk_span.get_span_context()
    assert (ours.trace_flags, ours.trace_state) == (theirs.trace_flags, theirs.trace_state)
    assert ours.is_valid
    assert not ours.is_remote
    if headers:
        assert ours.trace_id == theirs.trace_id == int(PARENT_TRACE, 16)
        assert ours.span_id != int("b7ad6b7169203331", 16)
    else:
        assert ours.trace_id != theirs.trace_id  # a new trace each time, as the SDK makes one
    assert outgoing == f"00-{ours.trace_id:032x}-{ours.span_id:016x}-{int(ours.trace_flags):02x}"


INSTRUMENTED = (
    "from opentelemetry.instrumentation.botocore import BotocoreInstrumentor as B\n"
    "from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor as H\n"
    "from opentelemetry.instrumentation.redis import RedisInstrumentor as R\n"
    "print([i().is_instrumented_by_opentelemetry for i in (B, H, R)])\n"
)


@pytest.mark.parametrize("exporting", [False, True], ids=["no-endpoint", "otlp-endpoint"])
def test_libraries_are_instrumented_only_when_spans_are_exported(otlp_collector, exporting):
    """Issue 14: an instrumented Redis command records a span (78 us more per command); with nothing to export,
    httpx, Redis and botocore stay as they are."""
    endpoint, _ = otlp_collector
    env = server_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint if exporting else "")
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", INSTRUMENTED],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str([exporting] * 3)
