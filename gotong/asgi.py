"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")

import json

import django
from channels.routing import ProtocolTypeRouter, URLRouter
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousOperation
from django.urls import re_path

django.setup(set_prefix=False)  # what get_asgi_application() does, with our handler below

from apps.core.asgi_handler import LoopASGIHandler, disconnect_idle_request_hooks  # noqa: E402

disconnect_idle_request_hooks()
django_core_app = LoopASGIHandler()

from apps.core.api import error_response  # noqa: E402 - needs the app registry
from apps.core.errors import NotFound, PayloadTooLarge, ValidationFailed, envelope  # noqa: E402
from apps.core.middleware import body_limit_for  # noqa: E402


class StaticFilesHandler(ASGIStaticFilesHandler):
    """Django's static handler, but a path that escapes the static roots is a 404 envelope.

    Django only turns ``Http404`` into a response here; ``/static/..%2fgotong%2fsettings.py``
    makes ``safe_join`` raise ``SuspiciousFileOperation`` and a NUL makes the OS layer raise
    ``ValueError``, which reached daphne as its HTML 500 page. Which check caught it is not
    the client's business: every such path answers exactly like a missing file.
    """

    async def get_response_async(self, request):
        try:
            return await super().get_response_async(request)
        except (SuspiciousOperation, ValueError, OSError):
            return error_response(NotFound(f"no static file {request.path}"[:300]))


class ChunkedBodyMiddleware:
    """Read ``Transfer-Encoding`` (chunked) bodies for Django, with the body limit enforced while reading.

    daphne de-chunks the body but passes no ``Content-Length``; Django then reads an empty body
    and every view answered "field is required". Here the body is collected from ``receive``
    (413 envelope as soon as it passes the path's limit, before Django sees it), the
    ``Transfer-Encoding`` header is replaced by the real ``Content-Length``, and the collected
    body is handed on as one message. Requests with ``Content-Length`` pass through untouched.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not any(name == b"transfer-encoding" for name, _ in scope["headers"]):
            return await self.app(scope, receive, send)
        limit = body_limit_for(scope["path"])
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await _send_error(send, PayloadTooLarge(limit))
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        headers = [(n, v) for n, v in scope["headers"] if n not in (b"transfer-encoding", b"content-length")]
        headers.append((b"content-length", str(len(body)).encode()))
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app({**scope, "headers": headers}, replay, send)


async def _send_error(send, error: ValidationFailed | PayloadTooLarge) -> None:
    """An error envelope straight on the ASGI connection (before Django has a request)."""
    payload = json.dumps(envelope(error.code, error.message, error.details)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    headers += [(k.lower().encode(), str(v).encode()) for k, v in error.headers().items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


# Static files (CSS, JS) are served by the app itself: the embedded default has no web server in
# front, and in production the load balancer may cache them (they are small and fingerprint-free).
django_asgi_app = ChunkedBodyMiddleware(StaticFilesHandler(django_core_app))

from apps.chat.consumers import ChatConsumer  # noqa: E402 - needs the app registry
from apps.chat.ws_auth import ChatAuthMiddleware  # noqa: E402

_chat_ws = ChatAuthMiddleware(ChatConsumer.as_asgi())
websocket_urlpatterns: list = [
    re_path(r"^v1/chat/threads/(?P<thread_id>[^/]+)/messages/ws/?$", _chat_ws),
    re_path(r"^ws/chat/(?P<thread_id>[^/]+)/?$", _chat_ws),
]


async def reject_websocket(scope, receive, send) -> None:
    """Unknown WebSocket path: refuse the handshake (HTTP 403) instead of a 500 and a traceback."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close", "code": 4404})


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The catch-all must stay last.
        "websocket": URLRouter([*websocket_urlpatterns, re_path(r"", reject_websocket)]),
    }
)
