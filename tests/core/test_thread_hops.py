"""An API request on the real ASGI application runs on the event loop from end to end (issue 14 point 3).

Every ``sync_to_async`` is a hop to Django's one sync thread and back: about 0.2 ms each, and all requests of a
process queue for that one thread. The middleware chain, tracing and Django's request signals are all async
here, so a request makes none. The spy counts every hop with the function it ran, so a new sync middleware
or a sync signal receiver fails this test by name.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import SyncToAsync

from tests.chat.conftest import Api
from tests.support.asgi_calls import asgi_call, asgi_websocket


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
    """apps/core/asgi_handler.py repeats three methods of Django 5.2's handler, and apps/core/template_backend.py
    its template's ``render``: an upgrade must re-read them."""
    import django

    assert django.VERSION[:2] == (5, 2), "re-check apps/core/asgi_handler.py and template_backend.py against it"


def test_the_spy_sees_a_hop(hops: list[str]):
    """The spy itself works: a sync function called through sync_to_async is counted by name."""
    from asgiref.sync import sync_to_async

    def blocking_work() -> int:
        return 1

    assert asyncio.run(sync_to_async(blocking_work)()) == 1
    assert hops == ["test_the_spy_sees_a_hop.<locals>.blocking_work"]


def test_a_websocket_connect_frames_and_disconnect_make_no_thread_hop(chat: Api, hops: list[str]):
    ana = chat.signup("ana")
    thread_id = chat.thread(ana)["thread_id"]
    hops.clear()
    frames = [json.dumps({"type": "ack", "seq": 0}), json.dumps({"type": "resume", "after_seq": 0})]
    sent = asgi_websocket(f"/v1/chat/threads/{thread_id}/messages/ws", ana.token, frames)
    assert sent[0]["type"] == "websocket.accept"
    assert hops == [], "\n".join(hops)
