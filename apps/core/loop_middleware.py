"""Django's security, CSRF and clickjacking middleware, run on the event loop.

Django's own classes are ``MiddlewareMixin`` middleware: under ASGI each of their hooks runs
through ``sync_to_async``, a hop to the one sync thread and back for ``process_request``,
``process_view`` and ``process_response`` (six per API request with these three, plus a new
executor thread per request, since Django's ASGI handler gives every request its own
thread-sensitive context). Their hooks only read headers and set headers or cookies, so
they run here on the loop, unchanged (same classes, same settings). Measured and guarded by
tests/core/test_thread_hops.py.

One hook may touch the disk: CSRF's ``process_view`` reads ``request.POST`` for a page form,
which for a body over Django's 2.5 MiB memory limit comes from a temporary file. Forms here are
small; API views are CSRF-exempt and return before reading anything.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.middleware import clickjacking, csrf, security


class _OnTheLoop:
    """``MiddlewareMixin.__acall__`` without the thread hops (async-only: Django adapts it for WSGI)."""

    sync_capable = False
    async_capable = True

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class SecurityMiddleware(_OnTheLoop, security.SecurityMiddleware):
    pass


class CsrfViewMiddleware(_OnTheLoop, csrf.CsrfViewMiddleware):
    async def process_view(self, request, callback, callback_args, callback_kwargs):  # type: ignore[override]
        # A coroutine, so Django's handler calls it on the loop instead of adapting it to a thread.
        return super().process_view(request, callback, callback_args, callback_kwargs)


class XFrameOptionsMiddleware(_OnTheLoop, clickjacking.XFrameOptionsMiddleware):
    pass
