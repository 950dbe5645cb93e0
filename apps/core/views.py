"""Operational endpoints and the envelope for Django-level errors (404, 500, CSRF)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from apps.core.api import error_response
from apps.core.errors import AppError, Forbidden, MethodNotAllowed, NotFound, ValidationFailed
from apps.core.health import readiness
from apps.core.ratelimit import client_ip


def allow_methods(*methods: str) -> Callable:
    """Like ``require_http_methods`` but answers 405 with the envelope and an ``Allow`` header."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        async def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = error_response(MethodNotAllowed(f'method "{request.method}" not allowed'))
                response["Allow"] = ", ".join(methods)
                return response
            return await view(request, *args, **kwargs)

        return wrapper

    return decorator


def wants_html(request: HttpRequest) -> bool:
    return not request.path.startswith("/v1/") and "text/html" in request.headers.get("Accept", "")


@allow_methods("GET", "HEAD")
async def health(request: HttpRequest) -> HttpResponse:
    cfg = settings.CONFIG
    return JsonResponse({"status": "ok", "version": settings.APP_VERSION, "environment": cfg.app_env})


@allow_methods("GET", "HEAD")
async def ready(request: HttpRequest) -> HttpResponse:
    ok, checks = await readiness()
    response = JsonResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status=200 if ok else 503)
    if not ok:
        response["Retry-After"] = "1"
    return response


@allow_methods("GET")
async def metrics_view(request: HttpRequest) -> HttpResponse:
    allowed = settings.CONFIG.metrics_allowed_cidrs
    if allowed:
        ip = ipaddress.ip_address(client_ip(request))
        if not any(ip in ipaddress.ip_network(cidr, strict=False) for cidr in allowed):
            return error_response(Forbidden("metrics are restricted to internal networks"))
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def _error_page(request: HttpRequest, error: AppError) -> HttpResponse:
    if wants_html(request):
        return render(request, "error.html", {"error": error}, status=error.status)
    return error_response(error)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, NotFound(f"no route for {request.path}"[:300]))


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's ``SuspiciousOperation`` answers (a Host outside ``ALLOWED_HOSTS``, ...): the envelope, not HTML."""
    return error_response(ValidationFailed.for_fields({"request": ["the request was refused as malformed"]}))


def server_error(request: HttpRequest) -> HttpResponse:
    return _error_page(request, AppError())


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _error_page(request, Forbidden("CSRF verification failed; reload the page and try again"))
