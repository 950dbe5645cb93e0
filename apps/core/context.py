"""Per-request context (request id, correlation id, user id) carried by contextvars.

Set once by ``RequestContextMiddleware``; read by logging, services that store
``request_id``/``correlation_id`` on entities, and (later) tracing.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    correlation_id: str = ""
    user_id: str = ""
    route: str = ""


_current: ContextVar[RequestContext] = ContextVar("gotong_request_context", default=RequestContext())  # noqa: B039 - frozen, immutable


def current() -> RequestContext:
    return _current.get()


def set_context(ctx: RequestContext) -> None:
    _current.set(ctx)


def request_ids(request_id: str | None = None) -> tuple[str, str]:
    """``(request_id, correlation_id)`` to store on an entity or event: the one helper for every app.

    Inside a request they are the middleware's (the client's ``X-Request-ID`` or a generated one);
    outside a request (commands, workers, tests) a hyphenated UUIDv7 is generated, the same format the
    middleware generates. The correlation id falls back to the request id, so a chain started here is
    one correlation. ``request_id`` overrides the context's (a form token replayed as request id).
    """
    from apps.core.ids import new_request_id

    ctx = _current.get()
    rid = request_id or ctx.request_id or new_request_id()
    return rid, ctx.correlation_id or rid


def update(**changes: str) -> None:
    from dataclasses import replace

    _current.set(replace(_current.get(), **changes))
