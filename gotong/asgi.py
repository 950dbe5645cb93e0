"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application
from django.urls import re_path

django_asgi_app = get_asgi_application()

# WebSocket routes are added by the chat app; the router is in place from the start.
websocket_urlpatterns: list = []


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
