"""Django's ASGI handler without its thread hops (issue 14: a send cost about 1.8 ms in hops).

Django 5.2's async path sends work to its sync thread in four places that do no blocking I/O here:
``response.close()`` after every request, ``log_response`` for every 4xx/5xx, ``render()`` of every DRF
``Response`` (JSON rendering), and ``request_started``/``request_finished`` whenever a sync receiver
is connected. Each hop waits for a thread, and the first one of a request starts a new executor
thread, because ``ASGIHandler.__call__`` gives every request its own ``ThreadSensitiveContext``.

The database of record is SurrealDB, so Django's own database hooks (``reset_queries``,
``close_old_connections``) have nothing to do and are disconnected when ``DATABASES`` is empty
(``disconnect_database_signals``); so are the cache and urlconf resets, which have nothing to do either
(``disconnect_idle_request_hooks``). The methods below are Django 5.2's, line for line, except for those calls,
the per-request ``set_urlconf`` and a reference cycle ``handle`` made per request (marked "Django:"); sync views
and sync middleware hooks still go to the thread as in Django.
tests/core/test_thread_hops.py fails if a hop comes back, and on another Django version, so an upgrade
re-reads this file; tests/core/test_no_cyclic_garbage.py fails if the cycle comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import set_script_prefix
from django.utils.log import log_response


@functools.cache
def django_has_database() -> bool:
    """Whether Django has a real database (this project keeps ``DATABASES`` empty: SurrealDB is ``apps.core.db``)."""
    from django.db import connections

    # Django fills an empty DATABASES with one "dummy" backend entry.
    return any(connections.settings[alias]["ENGINE"] != "django.db.backends.dummy" for alias in connections)


def disconnect_database_signals() -> None:
    """Drop Django's per-request database hooks when there is no Django database (they would hop)."""
    from django.db import close_old_connections, reset_queries

    if django_has_database():
        return

    signals.request_started.disconnect(reset_queries)
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)


def _closes_nothing(backend_path: str) -> bool:
    from django.core.cache.backends.base import BaseCache
    from django.utils.module_loading import import_string

    return import_string(backend_path).close is BaseCache.close


def disconnect_idle_request_hooks() -> None:
    """Drop the per-request hooks of Django that have nothing to do in this project (run once at start-up).

    Each ran on every request, for nothing here:
    - the database hooks, when ``DATABASES`` is empty (``disconnect_database_signals``: they would hop);
    - ``close_caches``, when every configured cache's ``close`` is the base class's no-op (local memory, dummy):
      it walked the cache handler's ``asgiref.Local`` to close nothing, about 18 us a request (issue 14);
    - ``reset_urlconf``: ``LoopASGIHandler`` sets no per-request urlconf. Django's
      ``set_urlconf(settings.ROOT_URLCONF)`` named the default, which ``get_resolver()`` and ``reverse()`` fall back
      to anyway, and no middleware here sets ``request.urlconf``: about 15 us each, at the start and at the end.
      Django's sync handler (the test client) still sets the urlconf per request, always to ``ROOT_URLCONF``,
      and a settings override clears it (``django.test.signals.root_urlconf_changed``).
    """
    from django.core.cache import close_caches
    from django.core.handlers.base import reset_urlconf

    disconnect_database_signals()
    if all(_closes_nothing(cache["BACKEND"]) for cache in settings.CACHES.values()):
        signals.request_finished.disconnect(close_caches)
    signals.request_finished.disconnect(reset_urlconf)


class LoopASGIHandler(ASGIHandler):
    async def get_response_async(self, request):
        # Django: set_urlconf(settings.ROOT_URLCONF) -- the default; see disconnect_idle_request_hooks.
        response = await self._middleware_chain(request)
        response._resource_closers.append(request.close)
        if response.status_code >= 400:  # Django: await sync_to_async(log_response, thread_sensitive=False)(…)
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        return response

    async def _get_response_async(self, request):
        response = None
        callback, callback_args, callback_kwargs = self.resolve_request(request)
        for middleware_method in self._view_middleware:
            response = await middleware_method(request, callback, callback_args, callback_kwargs)
            if response:
                break
        if response is None:
            wrapped_callback = self.make_view_atomic(callback)
            if not iscoroutinefunction(wrapped_callback):  # a sync view runs in the thread, as in Django
                wrapped_callback = sync_to_async(wrapped_callback, thread_sensitive=True)
            try:
                response = await wrapped_callback(request, *callback_args, **callback_kwargs)
            except Exception as e:
                response = await sync_to_async(self.process_exception_by_middleware, thread_sensitive=True)(e, request)
                if response is None:
                    raise
        self.check_response(response, callback)
        if hasattr(response, "render") and callable(response.render):
            for middleware_method in self._template_response_middleware:
                response = await middleware_method(request, response)
                name = f"{middleware_method.__self__.__class__.__name__}.process_template_response"
                self.check_response(response, middleware_method, name=name)
            try:
                if iscoroutinefunction(response.render):
                    response = await response.render()
                else:  # Django: await sync_to_async(response.render, thread_sensitive=True)()
                    response = response.render()
            except Exception as e:
                response = await sync_to_async(self.process_exception_by_middleware, thread_sensitive=True)(e, request)
                if response is None:
                    raise
        if asyncio.iscoroutine(response):
            raise RuntimeError("Response is still a coroutine.")
        return response

    async def send_response(self, response, send) -> None:
        """Django's, with ``Content-Length`` on every answer that has a body we already hold.

        Django sets it only in ``CommonMiddleware`` (not used here: its hooks would hop to the thread), so every
        JSON answer went out chunked: chunk framing on the wire and a body whose end a client learns late. No
        length on streams (SSE), on 1xx and 204 (RFC 9110 section 8.6 forbids it), nor on 304 (there it would
        state the length of the representation not sent, not of this empty body).
        """
        if (
            not response.streaming
            and not response.has_header("Content-Length")
            and response.status_code >= 200
            and response.status_code not in (204, 304)
        ):
            response.headers["Content-Length"] = str(len(response.content))
        await super().send_response(response, send)

    async def handle(self, scope, receive, send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        await signals.request_started.asend(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            error_response.close()
            return

        async def process_request(request, send):
            response = await self.run_get_response(request)
            with contextlib.suppress(asyncio.CancelledError):  # the client left while it was sent
                await self.send_response(response, send)
            return response

        # As in Django: the disconnect listener goes first, so a client that leaves cancels the view.
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                # Django: ``task.result()`` inside ``try``, ignoring ``RequestAborted``. The disconnect listener
                # ends with that error once the response is sent, and raising it here put this frame, which
                # holds ``tasks``, into the error's traceback, held by the task: a reference cycle per request.
                # Reading the error instead of raising it keeps Django's outcome without the cycle.
                error = None if task.cancelled() else task.exception()
                if task.cancelled() or (error is not None and not isinstance(error, RequestAborted)):
                    if isinstance(error, AssertionError):
                        body_file.close()
                    task.result()  # raises, as Django does
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            response.close()  # Django: await sync_to_async(response.close)()
        body_file.close()
