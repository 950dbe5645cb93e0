"""What ends leaves no reference cycle behind (issue 14 point 2).

The server re-freezes the collector's old generation after a slow full collection (``apps/core/gc_tuning.py``),
and a frozen object that later becomes cyclic garbage is never freed. So requests and WebSockets, which may be in
flight when that happens, must be freed by reference counting alone when they end. Each case runs its calls on
one event loop through the real ASGI application, once to warm up, then again with the collector off, and
counts what a collection then finds unreachable: it must be nothing.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from apps.chat.hub import get_hub
from apps.core import ratelimit
from apps.core.servers import SEND_TEXT_NOW
from gotong.config import RateLimit
from tests.chat.conftest import Api, User
from tests.support.asgi_calls import request, websocket_session
from tests.support.waiting import until

ROUNDS = 5


@pytest.fixture
def chat(api) -> Api:
    ratelimit.overrides["chat_send"] = RateLimit(100_000, 1, 100_000)
    return Api(api)


def cyclic_garbage_of(calls: Callable[[], Awaitable[None]]) -> Counter:
    """The kinds of objects (``module.Name``) that ``ROUNDS`` runs of ``calls`` leave only a collection can free."""

    async def measure() -> Counter:
        await calls()  # first-time work (imports, caches, pools) is not garbage
        gc.collect()
        gc.disable()
        try:
            for _ in range(ROUNDS):
                await calls()
            gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collection finds, to name it
            gc.collect()
        finally:
            gc.set_debug(0)
            gc.enable()
        kinds = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
        gc.garbage.clear()
        return kinds

    return asyncio.run(measure())


def requests_of(user: User, thread_id: str) -> dict[str, tuple[str, str, object, int]]:
    """(method, path, body, expected status) of each request kind: the API's answers and its errors."""
    thread = f"/v1/chat/threads/{thread_id}"
    return {
        "a send (JsonResponse)": ("POST", f"{thread}/messages/send", {"body": "hello"}, 201),
        "a message list (DRF Response)": ("GET", f"{thread}/messages?limit=5", None, 200),
        "the caller's account": ("GET", "/v1/auth/me", None, 200),
        "a validation error": ("POST", f"{thread}/messages/send", {"body": ""}, 400),
        "a malformed body": ("POST", f"{thread}/messages/send", b'{"body": ', 400),
        "an unknown thread": ("GET", "/v1/chat/threads/chat_thread:nowhere/messages", None, 404),
        "an unknown route": ("GET", "/v1/no/such/route", None, 404),
        "a method the view has not": ("DELETE", f"{thread}/messages/send", None, 405),
        "the health check": ("GET", "/health", None, 200),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "a send (JsonResponse)",
        "a message list (DRF Response)",
        "the caller's account",
        "a validation error",
        "a malformed body",
        "an unknown thread",
        "an unknown route",
        "a method the view has not",
        "the health check",
    ],
)
def test_a_request_leaves_no_cyclic_garbage(chat: Api, kind: str):
    ana = chat.signup("ana")
    method, path, body, expected = requests_of(ana, chat.thread(ana)["thread_id"])[kind]
    statuses: list[int] = []

    async def one() -> None:
        status, _ = await request(method, path, ana.token, body)
        statuses.append(status)

    garbage = cyclic_garbage_of(one)
    assert set(statuses) == {expected}
    assert not garbage, f"{sum(garbage.values()) / ROUNDS:.0f} objects per request: {garbage.most_common(12)}"


def test_a_request_with_a_revoked_token_leaves_no_cyclic_garbage(chat: Api):
    ana = chat.signup("ana")
    thread_id = chat.thread(ana)["thread_id"]
    assert chat.call("post", "/v1/auth/logout", ana, {"refresh_token": ana.refresh}).status_code == 204
    statuses: list[int] = []

    async def one() -> None:
        status, _ = await request("GET", f"/v1/chat/threads/{thread_id}/messages", ana.token)
        statuses.append(status)

    garbage = cyclic_garbage_of(one)
    assert set(statuses) == {401}
    assert not garbage, f"{sum(garbage.values()) / ROUNDS:.0f} objects per request: {garbage.most_common(12)}"


def test_a_websocket_session_leaves_no_cyclic_garbage(chat: Api):
    """Connect, an ack, a resume, a malformed frame, a live message from another member, and a close."""
    ana, ben = chat.signup("ana"), chat.signup("ben")
    thread_id = chat.thread(ana)["thread_id"]
    assert chat.call("post", f"/v1/chat/threads/{thread_id}/join", ben).status_code in (200, 201)
    frames = [json.dumps({"type": "ack", "seq": 0}), json.dumps({"type": "resume", "after_seq": 0}), "{not json"]
    sessions: list[list[dict]] = []
    live: list[dict] = []  # frames written through the server's direct write, as uvicorn's sockets are

    def send_text_now(text: str) -> bool:
        live.append(json.loads(text))
        return True

    async def a_live_message_from_ben() -> None:
        before = len(live)
        await until(lambda: any(s._parked for s in get_hub().sessions.get(thread_id, ())), 8, "a waiting stream")
        status, _ = await request("POST", f"/v1/chat/threads/{thread_id}/messages/send", ben.token, {"body": "hi"})
        assert status == 201
        await until(lambda: any(f["event_type"] == "message" for f in live[before:]), 8, "the live message")

    async def one() -> None:
        path = f"/v1/chat/threads/{thread_id}/messages/ws"
        extensions = {SEND_TEXT_NOW: send_text_now}
        sessions.append(
            await websocket_session(path, ana.token, frames, extensions=extensions, during=a_live_message_from_ben)
        )

    garbage = cyclic_garbage_of(one)
    assert len(sessions) == ROUNDS + 1
    assert all(sent[0]["type"] == "websocket.accept" for sent in sessions)
    assert sum(f["event_type"] == "message" for f in live) == ROUNDS + 1
    assert not garbage, f"{sum(garbage.values()) / ROUNDS:.0f} objects per session: {garbage.most_common(12)}"
