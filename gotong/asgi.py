"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")

from channels.routing import ProtocolTypeRouter, URLRouter
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application
from django.urls import re_path

# Static files (CSS, JS) are served by the app itself: the embedded default has no web server in
# front, and in production the load balancer may cache them (they are small and fingerprint-free).
django_asgi_app = ASGIStaticFilesHandler(get_asgi_application())

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
