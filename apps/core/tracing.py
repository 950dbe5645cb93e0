"""OpenTelemetry: spans for requests, outbound HTTP (httpx), Redis and botocore.

Configured once per process from ``AppConfig.ready``. The request span comes from
``apps.core.middleware.TracingMiddleware`` (``server_span`` below), not from the
Django instrumentation: that one is a sync-only middleware, so under ASGI Django ran
the whole chain through a thread hop per request (issue 14). Exporter: OTLP
over HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, none otherwise (tracing
stays on, so trace ids still reach the outbox and outgoing ``traceparent`` headers;
nothing is recorded and httpx, Redis and botocore are not instrumented).
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
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

log = logging.getLogger(__name__)

_provider: TracerProvider | None = None
# Whether any span processor (an OTLP exporter, or a test's in-memory one) reads finished spans. Without one a
# recorded span is built, filled and ended for nobody: ``server_span`` then skips the recording, and the libraries
# are instrumented only once a processor exists (``_start_exporting``).
_exporting = False


def configure(*, service_version: str, environment: str, otlp_endpoint: str) -> TracerProvider:
    """Install the tracer provider, and with an exporter the instrumentations (idempotent)."""
    global _provider
    if _provider is not None:
        return _provider
    resource = Resource.create(
        {"service.name": "gotong-royong", "service.version": service_version, "deployment.environment": environment}
    )
    provider = TracerProvider(resource=resource)
    trace.set_tracer_provider(provider)
    _provider = provider
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces")))
    return provider


def add_span_processor(processor: SpanProcessor) -> None:
    """Attach a span processor: the OTLP exporter, or in tests e.g. a SimpleSpanProcessor(InMemorySpanExporter())."""
    if _provider is None:
        raise RuntimeError("tracing is not configured")
    _provider.add_span_processor(processor)
    _start_exporting()


def _start_exporting() -> None:
    """Record spans from now on: the request span, and a CLIENT span for every call through httpx, Redis and botocore.

    Why only now: an instrumented Redis command cost 188 us of CPU against 110 us plain (a recorded span per
    command; redis-py SET, 3,000 calls), and a send makes about six of them with Redis configured (issue 14). The
    outbox and the webhook delivery set ``traceparent`` themselves, so the trace still reaches the reputation
    engine without the httpx instrumentation.
    """
    global _exporting
    if _exporting:
        return
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    HTTPXClientInstrumentor().instrument()
    RedisInstrumentor().instrument()
    BotocoreInstrumentor().instrument()
    _exporting = True


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

    With no span processor the span is not recorded (``_unrecorded_span``): the same ids and flags reach the
    outbox and outgoing ``traceparent`` headers, and the SDK's span, which nothing would read, is not built.
    """
    parent = propagate.extract(headers)
    attributes = {"http.method": method, "http.target": path, "http.scheme": scheme, "http.host": host}
    if not _exporting and _provider is not None:
        with trace.use_span(_unrecorded_span(_provider, method, parent, attributes), end_on_exit=False) as span:
            yield span
        return
    with tracer().start_as_current_span(
        method, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes
    ) as span:
        yield span


def _unrecorded_span(provider: TracerProvider, name: str, parent: Context, attributes: dict[str, str]) -> trace.Span:
    """A SERVER span that records nothing, with the context the SDK's ``Tracer.start_span`` would have given it.

    Same trace id (the parent's, or a new one), a new span id, and the sampler's decision and trace state in
    its flags, so a caller that receives our ``traceparent`` sees exactly what a recorded span would send. A
    recorded span costs about 60 us a request (attributes, span metrics, end), about 4 % of a send (issue 14).
    ``tests/core/test_tracing.py`` compares it with the SDK's own span, so an SDK upgrade that changes the rule
    fails there.
    """
    parent_context = trace.get_current_span(parent).get_span_context()
    ids = provider.id_generator
    if parent_context.is_valid:
        trace_id, random_trace_id = parent_context.trace_id, parent_context.trace_flags.random_trace_id
    else:
        trace_id, random_trace_id = ids.generate_trace_id(), ids.is_trace_id_random()
    sampling = provider.sampler.should_sample(parent, trace_id, name, trace.SpanKind.SERVER, attributes)
    flags = trace.TraceFlags.SAMPLED if sampling.decision.is_sampled() else trace.TraceFlags.DEFAULT
    if random_trace_id:
        flags |= trace.TraceFlags.RANDOM_TRACE_ID
    context = trace.SpanContext(
        trace_id,
        ids.generate_span_id(),
        is_remote=False,
        trace_flags=trace.TraceFlags(flags),
        trace_state=sampling.trace_state,
    )
    return trace.NonRecordingSpan(context)


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
