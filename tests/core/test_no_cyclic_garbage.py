"""What ends leaves no reference cycle behind (issue 14 point 2).

The server re-freezes the collector's old generation after a slow full collection (``apps/core/gc_tuning.py``),
and a frozen object that later becomes cyclic garbage is never freed. So requests and WebSockets, which may be in
flight when that happens, must be freed by reference counting alone when they end. Each case runs on one event
loop in this thread through the real ASGI application: it signs up and prepares there (a Django test client
would run views on threads that end later, and a thread's end frees its thread-locals, some of them cycles),
runs its calls once to warm up, then again with the collector off, and counts what a collection then finds
unreachable: it must be nothing.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from apps.chat.hub import get_hub
from apps.core import ratelimit
from apps.core.servers import SEND_TEXT_NOW
from gotong.config import RateLimit
from tests.chat.conftest import PASSWORD
from tests.support.asgi_calls import request, websocket_session
from tests.support.waiting import until

ROUNDS = 5


@dataclass(frozen=True)
class Member:
    token: str
    refresh: str


@pytest.fixture(autouse=True)
def _generous_chat_limits():
    ratelimit.overrides["chat_send"] = RateLimit(100_000, 1, 100_000)


async def call(method: str, path: str, token: str | None, body: Any = None, expected: int = 200) -> dict[str, Any]:
    status, answer = await request(method, path, token, body)
    assert status == expected, answer
    return json.loads(answer) if answer else {}


async def signup(name: str) -> Member:
    body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    data = await call("POST", "/v1/auth/signup", None, body, 201)
    return Member(data["access_token"], data["refresh_token"])


async def new_thread(member: Member) -> str:
    body = {"scope_id": "s1", "privacy_level": "public", "title": "t"}
    return (await call("POST", "/v1/chat/threads", member.token, body, 201))["thread_id"]


def cyclic_garbage_of(prepare: Callable[[], Awaitable[Any]], calls: Callable[[Any], Awaitable[None]]) -> Counter:
    """The kinds of objects (``module.Name``) that ``ROUNDS`` runs of ``calls`` leave only a collection can free.
    ``prepare`` runs first, on the same loop; what it returns is passed to ``calls``."""

    async def one_measurement(prepared: Any) -> Counter:
        gc.collect()
        gc.disable()
        try:
            for _ in range(ROUNDS):
                await calls(prepared)
            gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collection finds, to name it
            gc.collect()
        finally:
            gc.set_debug(0)
            gc.enable()
        kinds = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
        gc.garbage.clear()
        return kinds

    async def measure() -> Counter:
        prepared = await prepare()
        await calls(prepared)  # first-time work (imports, caches, pools) is not garbage
        # Twice, keeping the smaller: a cycle the calls make shows in both, while a thread of an earlier test
        # that ends meanwhile (its thread-locals can be cycles) shows in one at most.
        first = await one_measurement(prepared)
        second = await one_measurement(prepared) if first else first
        return min(first, second, key=lambda kinds: sum(kinds.values()))

    return asyncio.run(measure())


def requests_of(thread_id: str) -> dict[str, tuple[str, str, object, int]]:
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
        "a page (a Django template)": ("GET", "/", None, 200),
    }


@pytest.mark.parametrize("kind", list(requests_of("chat_thread:x")))
def test_a_request_leaves_no_cyclic_garbage(kind: str):
    statuses: list[int] = []

    async def prepare() -> tuple[Member, str]:
        ana = await signup("ana")
        return ana, await new_thread(ana)

    async def one(prepared: tuple[Member, str]) -> None:
        ana, thread_id = prepared
        method, path, body, expected = requests_of(thread_id)[kind]
        status, _ = await request(method, path, ana.token, body)
        statuses.append(status)
        assert status == expected

    garbage = cyclic_garbage_of(prepare, one)
    assert len(statuses) > ROUNDS  # the warm-up and every measured round ran
    assert not garbage, f"{sum(garbage.values()) / ROUNDS:.0f} objects per request: {garbage.most_common(12)}"


def test_a_request_with_a_revoked_token_leaves_no_cyclic_garbage():
    statuses: list[int] = []

    async def prepare() -> tuple[Member, str]:
        ana = await signup("ana")
        thread_id = await new_thread(ana)
        await call("POST", "/v1/auth/logout", ana.token, {"refresh_token": ana.refresh}, 204)
        return ana, thread_id

    async def one(prepared: tuple[Member, str]) -> None:
        ana, thread_id = prepared
        status, _ = await request("GET", f"/v1/chat/threads/{thread_id}/messages", ana.token)
        statuses.append(status)

    garbage = cyclic_garbage_of(prepare, one)
    assert set(statuses) == {401}
    assert not garbage, f"{sum(garbage.values()) / ROUNDS:.0f} objects per request: {garbage.most_common(12)}"


def test_a_websocket_session_leaves_no_cyclic_garbage():
    """Connect, an ack, a resume, a malformed frame, a live message from another member, and a close."""
    frames = [json.dumps({"type": "ack", "seq": 0}), json.dumps({"type": "resume", "after_seq": 0}), "{not json"]
    sessions: list[list[dict]] = []
    live: list[dict] = []  # frames written through the server's direct write, as uvicorn's sockets are

    def send_text_now(text: str) -> bool:
        live.append(json.loads(text))
        return True

    async def prepare() -> tuple[Member, Member, str]:
        ana, ben = await signup("ana"), await signup("ben")
        thread_id = await new_thread(ana)
        status, _ = await request("POST", f"/v1/chat/threads/{thread_id}/join", ben.token)
        assert status in (200, 201)
        return ana, ben, thread_id

    async def one(prepared: tuple[Member, Member, str]) -> None:
        ana, ben, thread_id = prepared

        async def a_live_message_from_ben() -> None:
            before = len(live)
            await until(lambda: any(s._parked for s in get_hub().sessions.get(thread_id, ())), 8, "a waiting stream")
            await call("POST", f"/v1/chat/threads/{thread_id}/messages/send", ben.token, {"body": "hi"}, 201)
            await until(lambda: any(f["event_type"] == "message" for f in live[before:]), 8, "the live message")

        path, extensions = f"/v1/chat/threads/{thread_id}/messages/ws", {SEND_TEXT_NOW: send_text_now}
        sent = await websocket_session(path, ana.token, frames, extensions=extensions, during=a_live_message_from_ben)
        sessions.append(sent)

    garbage = cyclic_garbage_of(prepare, one)
    assert len(sessions) > ROUNDS
    assert all(sent[0]["type"] == "websocket.accept" for sent in sessions)
    assert sum(f["event_type"] == "message" for f in live) == len(sessions)
    assert not garbage, f"{sum(garbage.values()) / ROUNDS:.0f} objects per session: {garbage.most_common(12)}"
