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


def update(**changes: str) -> None:
    from dataclasses import replace

    _current.set(replace(_current.get(), **changes))
