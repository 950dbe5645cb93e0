"""One trace from ``POST /v1/contributions`` through the worker's delivery to the receiver.

The request stores its trace context on the outbox row; the worker, later and
possibly in another process, continues that trace and sends ``traceparent``.
Here both run in this process so one in-memory exporter sees every span.
"""

from __future__ import annotations

import json

import pytest
from django.test import AsyncClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from apps.core import tracing
from apps.webhooks.worker import Worker
from tests.webhooks.conftest import config, receiver  # noqa: F401 - fixtures

_exporter = InMemorySpanExporter()
tracing.add_span_processor(SimpleSpanProcessor(_exporter))


async def test_contribution_request_and_webhook_delivery_share_one_trace(receiver):  # noqa: F811
    _exporter.clear()
    client = AsyncClient()
    signup = await client.post(
        "/v1/auth/signup",
        {"email": "trace@example.com", "username": "tracer", "password": "correct horse battery"},
        content_type="application/json",
    )
    token = signup.json()["access_token"]
    created = await client.post(
        "/v1/contributions",
        {"title": "Cleaned the drain", "contribution_type": "community_service"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": "journey-trace"},
    )
    assert created.status_code == 201, created.content

    assert await Worker(concurrency=1, run_jobs=False).run_once() == 1

    spans = _exporter.get_finished_spans()
    (request_span,) = [s for s in spans if s.attributes.get("http.route") == "v1/contributions"]
    (deliver_span,) = [s for s in spans if s.name == "webhook.deliver"]
    trace_id = request_span.context.trace_id
    assert request_span.attributes["correlation_id"] == "journey-trace"
    assert deliver_span.context.trace_id == trace_id
    assert deliver_span.parent is not None
    # The outbound HTTP call of the delivery is a child span in the same trace ...
    assert any(s.kind.name == "CLIENT" and s.context.trace_id == trace_id for s in spans if s is not deliver_span)
    # ... and the receiver got a traceparent of that trace, with the request's ids.
    (received,) = receiver.requests
    assert received.headers["traceparent"].split("-")[1] == format(trace_id, "032x")
    assert received.headers["x-correlation-id"] == "journey-trace"
    assert json.loads(received.body)["event_type"] == "contribution_created"


@pytest.fixture
def nothing_exporting(monkeypatch):
    """As a process without OTEL_EXPORTER_OTLP_ENDPOINT runs: nothing recorded, httpx not instrumented."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    monkeypatch.setattr(tracing, "_exporting", False)
    instrumented = HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    HTTPXClientInstrumentor().uninstrument()
    yield
    if instrumented:  # as it was: the other tests of this process see the state their set-up made
        HTTPXClientInstrumentor().instrument()


async def test_with_nothing_exporting_the_callers_trace_still_reaches_the_receiver(receiver, nothing_exporting):  # noqa: F811
    """Issue 14: with no span processor the request span is not recorded and httpx is not instrumented; the
    trace the request belongs to still goes to the outbox and, from the worker, to the reputation engine."""
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    client = AsyncClient()
    signup = await client.post(
        "/v1/auth/signup",
        {"email": "untraced@example.com", "username": "untraced", "password": "correct horse battery"},
        content_type="application/json",
    )
    created = await client.post(
        "/v1/contributions",
        {"title": "Fixed the gate", "contribution_type": "community_service"},
        content_type="application/json",
        headers={
            "Authorization": f"Bearer {signup.json()['access_token']}",
            "traceparent": f"00-{caller_trace}-00f067aa0ba902b7-01",
        },
    )
    assert created.status_code == 201, created.content

    assert await Worker(concurrency=1, run_jobs=False).run_once() == 1
    (received,) = receiver.requests
    assert received.headers["traceparent"].split("-")[1] == caller_trace
