"""WebSocket authentication: ``Authorization: Bearer`` or the ``gr_session`` cookie, never the query string.

Cookie-authenticated sockets must come from an allowed ``Origin`` (settings.
CSRF_TRUSTED_ORIGINS or the socket's own host): a cookie is ambient authority,
and browsers do not apply CORS to WebSockets (cross-site WebSocket hijacking).
Refusals happen before the handshake completes (HTTP 403 to the client).
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings

from apps.accounts import services
from apps.accounts.domain import Principal
from apps.core.errors import Unauthorized

QUERY_TOKEN_NAMES = frozenset({"token", "access_token", "access", "jwt", "auth", "authorization"})


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def origin_allowed(origin: str | None, host: str | None) -> bool:
    if not origin:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


async def _reject(receive, send, code: int = 4003) -> None:
    message = await receive()
    if message.get("type") == "websocket.connect":
        await send({"type": "websocket.close", "code": code})


class ChatAuthMiddleware:
    """Puts ``principal`` (or None) and ``auth_error`` in the scope for the chat consumer."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        # The headers are read in ``_principal``, whose frame ends before the socket's life begins: this frame
        # stays alive as long as the socket, and held the parsed headers and the raw token (about 2 KiB).
        outcome = await _principal(scope)
        if outcome is None:
            return await _reject(receive, send)
        principal, error = outcome
        return await self.inner(dict(scope, principal=principal, auth_error=error), receive, send)


async def _principal(scope) -> tuple[Principal | None, str | None] | None:
    """``(principal, auth_error)`` of a socket's handshake; ``None`` when it must be refused outright."""
    headers = _headers(scope)
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if QUERY_TOKEN_NAMES & {name.lower() for name in query}:
        return None  # tokens in query strings end up in logs: refused
    authorization = headers.get("authorization")
    try:
        if authorization is not None:
            scheme, _, raw = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not raw.strip():
                raise Unauthorized("malformed Authorization header")
            return await services.authenticate(raw.strip(), via="bearer"), None
        cookie = SimpleCookie()
        cookie.load(headers.get("cookie", ""))
        morsel = cookie.get(settings.AUTH_COOKIE_NAME)
        if morsel is None or not morsel.value:
            return None, None
        if not origin_allowed(headers.get("origin"), headers.get("host")):
            return None
        return await services.authenticate(morsel.value, via="cookie"), None
    except Unauthorized as exc:
        return None, exc.message
