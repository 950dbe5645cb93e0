"""An API request on the real ASGI application runs on the event loop from end to end (issue 14 point 3).

Every ``sync_to_async`` is a hop to Django's one sync thread and back: about 0.2 ms each, and all requests of a
process queue for that one thread. The middleware chain, tracing and Django's request signals are all async
here, so a request makes none. The spy counts every hop with the function it ran, so a new sync middleware
or a sync signal receiver fails this test by name.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import SyncToAsync

from tests.chat.conftest import Api


@pytest.fixture
def chat(api) -> Api:
    return Api(api)


@pytest.fixture
def hops(monkeypatch) -> list[str]:
    seen: list[str] = []
    original = SyncToAsync.__call__

    async def spy(self, *args, **kwargs):
        seen.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", spy)
    return seen


def asgi_call(method: str, path: str, token: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """One HTTP request through ``gotong.asgi.application`` (what daphne calls), on a fresh event loop."""
    from apps.core.asgi_handler import disconnect_database_signals
    from gotong.asgi import application

    # Django's test client reconnects ``close_old_connections`` after each request it makes (the tests
    # sign up through it): drop the database hooks again, as gotong.asgi does once at start-up.
    disconnect_database_signals()
    payload = json.dumps(body).encode() if body is not None else b""
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
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []

    async def run() -> None:
        delivered = False

        async def receive():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects during the request

        async def send(message):
            sent.append(message)

        await application(scope, receive, send)

    asyncio.run(run())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body_bytes = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body_bytes) if body_bytes else {}


def test_a_chat_send_makes_no_thread_hop(chat: Api, hops: list[str]):
    ana = chat.signup("ana")
    thread_id = chat.thread(ana)["thread_id"]
    hops.clear()
    status, body = asgi_call("POST", f"/v1/chat/threads/{thread_id}/messages/send", ana.token, {"body": "hello"})
    assert status == 201, body
    assert body["body"] == "hello"
    assert hops == [], "\n".join(hops)


def test_a_read_and_an_error_make_no_thread_hop(chat: Api, hops: list[str]):
    ana = chat.signup("ana")
    thread_id = chat.thread(ana)["thread_id"]
    hops.clear()
    status, body = asgi_call("GET", f"/v1/chat/threads/{thread_id}/messages?limit=10", ana.token)
    assert status == 200, body
    status, body = asgi_call("POST", f"/v1/chat/threads/{thread_id}/messages/send", ana.token, {"body": ""})
    assert status == 400, body
    assert body["error"]["code"] == "validation_error", body
    assert hops == [], "\n".join(hops)


def test_the_handler_copy_matches_this_django():
    """apps/core/asgi_handler.py repeats three methods of Django 5.2's handler: an upgrade must re-read it."""
    import django

    assert django.VERSION[:2] == (5, 2), "re-check apps/core/asgi_handler.py against the new Django's handlers"


def test_the_spy_sees_a_hop(hops: list[str]):
    """The spy itself works: a sync function called through sync_to_async is counted by name."""
    from asgiref.sync import sync_to_async

    def blocking_work() -> int:
        return 1

    assert asyncio.run(sync_to_async(blocking_work)()) == 1
    assert hops == ["test_the_spy_sees_a_hop.<locals>.blocking_work"]


def asgi_websocket(
    path: str,
    token: str,
    frames: list[str],
    *,
    extensions: dict[str, Any] | None = None,
    during: Callable[[], Awaitable[None]] | None = None,
) -> list[dict]:
    """A WebSocket through ``gotong.asgi.application``: connect, send ``frames``, disconnect; what it sent.

    ``extensions`` go into the scope as a server's would; ``during`` runs on the same loop once the socket is
    accepted, before the frames."""
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

    async def run() -> None:
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

    asyncio.run(run())
    return sent


def test_a_websocket_connect_frames_and_disconnect_make_no_thread_hop(chat: Api, hops: list[str]):
    ana = chat.signup("ana")
    thread_id = chat.thread(ana)["thread_id"]
    hops.clear()
    frames = [json.dumps({"type": "ack", "seq": 0}), json.dumps({"type": "resume", "after_seq": 0})]
    sent = asgi_websocket(f"/v1/chat/threads/{thread_id}/messages/ws", ana.token, frames)
    assert sent[0]["type"] == "websocket.accept"
    assert hops == [], "\n".join(hops)
