"""Request-wide middleware: ids, access metrics and logs, body limits, security headers."""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from urllib.parse import urlparse

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.core import context, metrics, tracing
from apps.core.api import error_response
from apps.core.errors import PayloadTooLarge, ValidationFailed
from apps.core.ids import new_request_id

access_log = logging.getLogger("gotong.access")

MAX_ID_LENGTH = 128
REQUEST_ID_HEADER = "X-Request-ID"
CORRELATION_ID_HEADER = "X-Correlation-ID"
# Headers read on every request come from ``request.META`` by their WSGI names: the first use of
# ``request.headers`` builds a copy of every header (about 10 us a request, issue 14); nothing else on a send uses it.
ID_HEADERS = ((REQUEST_ID_HEADER, "HTTP_X_REQUEST_ID"), (CORRELATION_ID_HEADER, "HTTP_X_CORRELATION_ID"))
TRACE_HEADERS = (("traceparent", "HTTP_TRACEPARENT"), ("tracestate", "HTTP_TRACESTATE"))

# Paths whose body limit differs from MAX_BODY_BYTES (file uploads add theirs here).
BODY_LIMIT_OVERRIDES: dict[str, int] = {}


def valid_id(value: str) -> bool:
    """1..128 visible ASCII characters (0x21..0x7E)."""
    return 0 < len(value) <= MAX_ID_LENGTH and all(33 <= ord(c) <= 126 for c in value)


class AsyncMiddleware:
    """Base for async-only middleware (Django adapts them for sync callers)."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)


class TracingMiddleware(AsyncMiddleware):
    """The request's SERVER span, on the event loop (first in the chain, so every later layer is inside it)."""

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        # First of all, the Host must be one of ALLOWED_HOSTS: DisallowedHost becomes the 400 envelope
        # (gotong.urls.handler400). Nothing else in the chain reads the Host before the view does.
        host = request.get_host()
        headers = {name: value for name, key in TRACE_HEADERS if (value := request.META.get(key))}
        with tracing.server_span(request.method, request.path, headers, request.scheme, host) as span:
            response = await self.get_response(request)
            match = getattr(request, "resolver_match", None)
            tracing.finish_server_span(span, request.method, match.route if match else None, response.status_code)
            return response


class RequestContextMiddleware(AsyncMiddleware):
    """X-Request-ID / X-Correlation-ID: validated or generated, always echoed; access log and metrics."""

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        problem: ValidationFailed | None = None
        ids: dict[str, str] = {}
        for header, key in ID_HEADERS:
            raw = request.META.get(key)
            if raw is None:
                ids[header] = new_request_id()
            elif valid_id(raw):
                ids[header] = raw
            else:
                ids[header] = new_request_id()
                problem = problem or ValidationFailed.for_fields({header: ["must be 1..128 visible ASCII characters"]})
        request.request_id = ids[REQUEST_ID_HEADER]
        request.correlation_id = ids[CORRELATION_ID_HEADER]
        context.set_context(
            context.RequestContext(request_id=request.request_id, correlation_id=request.correlation_id)
        )
        tracing.tag_current_span(request_id=request.request_id, correlation_id=request.correlation_id)

        response = error_response(problem) if problem else await self.get_response(request)

        response[REQUEST_ID_HEADER] = request.request_id
        response[CORRELATION_ID_HEADER] = request.correlation_id
        self._observe(request, response, time.perf_counter() - started)
        return response

    @staticmethod
    def _observe(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        match = getattr(request, "resolver_match", None)
        route = "/" + match.route if match is not None and match.route else "unmatched"
        metrics.http_requests_total.labels(request.method, route, str(response.status_code)).inc()
        metrics.http_request_duration_seconds.labels(request.method, route).observe(seconds)
        if route in ("/metrics", "/health"):
            return
        error_code = getattr(response, "error_code", None)
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "route": route,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 2),
                "user_id": context.current().user_id or None,
                **({"error_code": error_code} if error_code else {}),
            },
        )


def body_limit_for(path: str) -> int:
    """The body limit of a path (also used by the ASGI layer that reads chunked bodies)."""
    for prefix, override in BODY_LIMIT_OVERRIDES.items():
        if path.startswith(prefix):
            return override
    return settings.CONFIG.max_body_bytes


class BodyLimitMiddleware(AsyncMiddleware):
    """413 from ``Content-Length`` before any byte of an oversized body is read; 400 for NUL in the query.

    A ``Transfer-Encoding`` body without ``Content-Length`` reaching Django means the server in
    front did not de-chunk it (``gotong.asgi.ChunkedBodyMiddleware`` does for daphne; WSGI and test
    clients do not): Django would read it as empty and the view would answer "field is required",
    so it is refused here instead of being silently ignored.
    """

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit_for(request.path)
        if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
            return error_response(
                ValidationFailed.for_fields({"Transfer-Encoding": ["chunked bodies need Content-Length here"]})
            )
        length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            declared = int(length)
        except ValueError:
            declared = -1
        if declared < 0:
            return error_response(ValidationFailed.for_fields({"Content-Length": ["must be a non-negative integer"]}))
        if declared > limit:
            return error_response(PayloadTooLarge(limit))
        if any("\x00" in key or "\x00" in value for key, value in request.GET.items()):
            return error_response(ValidationFailed.for_fields({"query": ["must not contain NUL characters"]}))
        return await self.get_response(request)


class SecurityHeadersMiddleware(AsyncMiddleware):
    """A Content Security Policy for pages (Django's SecurityMiddleware sets the rest).

    With S3 configured, browsers PUT evidence files and load thumbnails straight from the
    bucket's origin, so that origin joins ``connect-src`` and ``img-src``.
    """

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        response = await self.get_response(request)
        if not request.path.startswith("/v1/docs"):
            response.setdefault("Content-Security-Policy", content_security_policy(settings.CONFIG.s3_endpoint))
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response


@lru_cache(maxsize=4)
def content_security_policy(s3_endpoint: str) -> str:
    storage = ""
    if s3_endpoint:
        parsed = urlparse(s3_endpoint)
        storage = f" {parsed.scheme}://{parsed.netloc}"
    return (
        f"default-src 'self'; img-src 'self' data: blob:{storage}; style-src 'self' 'unsafe-inline'; "
        f"script-src 'self'; connect-src 'self'{storage}; media-src 'self'{storage}; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    )
