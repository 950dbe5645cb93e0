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
    """Django's 404 (no route, or ``Http404``).

    Django hands the error to this view through ``sync_to_async`` from inside its ``except`` block, and
    asgiref re-raises it in the worker thread. The error's traceback then holds that thread's frame, which
    holds the error: a reference cycle per 404, which only a full collection frees (and never, once the
    server has frozen it, ``apps.core.gc_tuning``). Nothing reads the traceback after this view (a 404 is
    logged by its path), so it is dropped here.
    """
    if exception is not None:
        exception.__traceback__ = None
    return _error_page(request, NotFound(f"no route for {request.path}"[:300]))


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's ``SuspiciousOperation`` answers (a Host outside ``ALLOWED_HOSTS``, ...): the envelope, not HTML."""
    return error_response(ValidationFailed.for_fields({"request": ["the request was refused as malformed"]}))


def server_error(request: HttpRequest) -> HttpResponse:
    return _error_page(request, AppError())


# Form fields never echoed back into a page: the token itself, and secrets the person must type again.
_NOT_ECHOED = ("csrfmiddlewaretoken",)


def _same_origin(request: HttpRequest) -> bool:
    """The refused form came from one of our own pages (Origin, else Referer), not from another site."""
    own = f"{request.scheme}://{request.get_host()}"
    origin = request.headers.get("Origin")
    if origin:
        return origin == own
    referer = request.headers.get("Referer", "")
    return referer == own or referer.startswith(own + "/")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A stale or missing CSRF token on one of our forms keeps what was typed.

    A page left open across a sign-in, or a cookie cleared meanwhile, makes the token stale; the
    person's text must not be lost for that. For a form posted from our own origin, the answer is
    a page with a fresh token and the same fields, to check and send again with one click (files
    must be chosen again; passwords typed again). Cross-site posts only get the refusal: echoing
    another site's fields into a form of ours would help it trick someone into sending them.
    """
    error = Forbidden("The form expired before it was sent (the page was open a long time or you signed in again).")
    if not (wants_html(request) and request.method == "POST" and _same_origin(request)):
        return _error_page(request, Forbidden("CSRF verification failed; reload the page and try again"))
    fields, secrets = [], []
    for name, values in request.POST.lists():
        if name in _NOT_ECHOED:
            continue
        if "password" in name:
            secrets.append(name)
            continue
        fields += [(name, value) for value in values]
    context = {"error": error, "action": request.path, "fields": fields, "secrets": secrets,
               "files": list(request.FILES)}  # fmt: skip
    return render(request, "csrf_resubmit.html", context, status=403)
