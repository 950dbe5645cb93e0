"""Requests and WebSockets through ``gotong.asgi.application`` in-process: what a server calls, minus the socket.

The ``*_session``/``request`` coroutines run on the caller's loop (several calls on one loop); ``asgi_call`` and
``asgi_websocket`` each run one on a fresh loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any


async def request(method: str, path: str, token: str | None, body: Any = None) -> tuple[int, bytes]:
    """One HTTP request; its status and body. ``body`` is sent as JSON, or as is when it is ``bytes``; no
    ``Authorization`` header without a ``token``."""
    from apps.core.asgi_handler import disconnect_database_signals
    from gotong.asgi import application

    # Django's test client reconnects ``close_old_connections`` after each request it makes (the tests
    # sign up through it): drop the database hooks again, as gotong.asgi does once at start-up.
    disconnect_database_signals()
    payload = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    path_only, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            *([(b"authorization", f"Bearer {token}".encode())] if token else []),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []
    delivered = False
    response_complete = asyncio.Event()

    async def receive():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": payload, "more_body": False}
        # As uvicorn does: the client stays while the request runs, and "disconnects" once the response is out.
        await response_complete.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            response_complete.set()

    await application(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def asgi_call(method: str, path: str, token: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """One HTTP request on a fresh event loop; its status and JSON body (``{}`` when empty)."""
    status, body_bytes = asyncio.run(request(method, path, token, body))
    return status, json.loads(body_bytes) if body_bytes else {}


async def websocket_session(
    path: str,
    token: str,
    frames: list[str],
    *,
    extensions: dict[str, Any] | None = None,
    during: Callable[[], Awaitable[None]] | None = None,
) -> list[dict]:
    """A WebSocket: connect, send ``frames``, disconnect; what the application sent.

    ``extensions`` go into the scope as a server's would; ``during`` runs once the socket is accepted, before
    the frames."""
    from gotong.asgi import application

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50001),
        "server": ("testserver", 80),
        "subprotocols": [],
        "extensions": extensions or {},
    }
    sent: list[dict] = []
    inbox: asyncio.Queue[dict] = asyncio.Queue()
    accepted = asyncio.Event()

    async def send(message):
        sent.append(message)
        if message["type"] == "websocket.accept":
            accepted.set()

    async def client() -> None:
        await inbox.put({"type": "websocket.connect"})
        await asyncio.wait_for(accepted.wait(), 10)
        if during is not None:
            await during()
        for text in frames:
            await inbox.put({"type": "websocket.receive", "text": text})
        await inbox.put({"type": "websocket.disconnect", "code": 1000})

    feeding = asyncio.create_task(client())
    await asyncio.wait_for(application(scope, inbox.get, send), 20)
    await feeding
    return sent


def asgi_websocket(path: str, token: str, frames: list[str], **options: Any) -> list[dict]:
    """``websocket_session`` on a fresh event loop."""
    return asyncio.run(websocket_session(path, token, frames, **options))
