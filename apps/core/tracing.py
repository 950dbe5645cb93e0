"""OpenTelemetry: spans for requests, outbound HTTP (httpx), Redis and botocore.

Configured once per process from ``AppConfig.ready``. The request span comes from
``apps.core.middleware.TracingMiddleware`` (``server_span`` below), not from the
Django instrumentation: that one is a sync-only middleware, so under ASGI Django ran
the whole chain through a thread hop per request (issue 14). Exporter: OTLP
over HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, none otherwise (tracing
stays on, so trace ids still reach logs and outgoing ``traceparent`` headers).
Every request span carries ``correlation_id`` and ``request_id``
(``RequestContextMiddleware`` sets them); the outbox stores the ``traceparent``
of the request that wrote an event so the worker continues that trace.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

log = logging.getLogger(__name__)

_provider: TracerProvider | None = None


def configure(*, service_version: str, environment: str, otlp_endpoint: str) -> TracerProvider:
    """Install the tracer provider and the instrumentations (idempotent)."""
    global _provider
    if _provider is not None:
        return _provider
    resource = Resource.create(
        {"service.name": "gotong-royong", "service.version": service_version, "deployment.environment": environment}
    )
    provider = TracerProvider(resource=resource)
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces")))
    trace.set_tracer_provider(provider)
    _instrument_libraries()
    _provider = provider
    return provider


def _instrument_libraries() -> None:
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    HTTPXClientInstrumentor().instrument()
    RedisInstrumentor().instrument()
    BotocoreInstrumentor().instrument()


def add_span_processor(processor: SpanProcessor) -> None:
    """For tests: attach e.g. a SimpleSpanProcessor(InMemorySpanExporter())."""
    if _provider is None:
        raise RuntimeError("tracing is not configured")
    _provider.add_span_processor(processor)


def flush(timeout_s: float = 2.0) -> bool:
    """Export the spans still buffered in the batch processor; False if nothing was configured or it timed out.

    Processes leave with ``os._exit`` (manage.py, see apps/core/db/shutdown.py), which skips the atexit hook
    where the SDK would flush, so the last spans of every run were lost. The timeout is short: a collector
    that is down must not hold the exit up.
    """
    if _provider is None:
        return False
    try:
        return bool(_provider.force_flush(timeout_millis=int(timeout_s * 1000)))
    except Exception:
        log.warning("flushing spans at exit failed", exc_info=True)
        return False


@contextmanager
def server_span(method: str, path: str, headers: dict[str, str], scheme: str, host: str) -> Iterator[trace.Span]:
    """The SERVER span of one request, child of the caller's ``traceparent`` when it sent one.

    Attributes use the names the Django instrumentation used (``http.method``, ``http.route``,
    ``http.status_code``…), so dashboards built on them keep working; the caller adds the
    route and status once the response is known (``finish_server_span``).
    """
    parent = propagate.extract(headers)
    with tracer().start_as_current_span(
        method,
        context=parent,
        kind=trace.SpanKind.SERVER,
        attributes={"http.method": method, "http.target": path, "http.scheme": scheme, "http.host": host},
    ) as span:
        yield span


def finish_server_span(span: trace.Span, method: str, route: str | None, status: int) -> None:
    if not span.is_recording():
        return
    if route:
        span.set_attribute("http.route", route)
        span.update_name(f"{method} {route}")
    span.set_attribute("http.status_code", status)
    if status >= 500:
        span.set_status(trace.Status(trace.StatusCode.ERROR))


def tag_current_span(**attributes: str) -> None:
    span = trace.get_current_span()
    if span.is_recording():
        for key, value in attributes.items():
            if value:
                span.set_attribute(key, value)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the active span, to store with work handed to another process."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


@cache
def tracer() -> trace.Tracer:
    """The project's tracer, made once: ``get_tracer`` builds a new one on every call (about 11 us a request).
    Made before ``configure``, it is the API's proxy tracer, which follows the provider once one is set."""
    return trace.get_tracer("gotong")
