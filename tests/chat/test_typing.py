"""The typing indicator: throttled, fanned out to the thread's other members, never stored."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from django.test import Client

from apps.accounts import services as accounts
from apps.chat import services, streams, typing
from apps.chat.hub import get_hub
from tests.chat.streaming import Collector, check
from tests.support.db_spy import spy_operations

T = "/v1/chat/threads"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    typing.reset()
    yield
    typing.reset()


@pytest.fixture
def people(chat):
    ana, bob = chat.signup("ana"), chat.signup("bob")
    tid = chat.thread(ana)["thread_id"]
    assert chat.call("post", f"{T}/{tid}/join", bob).status_code == 200
    return ana, bob, tid


@pytest.fixture
def writes(monkeypatch) -> list[str]:
    """Every SurrealQL write of the process (the typing path must cause none)."""
    return spy_operations(monkeypatch, "write")


def test_post_typing_is_throttled_and_writes_nothing(chat, people, writes, monkeypatch):
    ana, bob, tid = people
    published: list[tuple] = []
    original = typing.realtime.publish

    async def record(thread_id, event_type, **kwargs):
        published.append((thread_id, event_type, kwargs.get("data")))
        await original(thread_id, event_type, **kwargs)

    monkeypatch.setattr(typing.realtime, "publish", record)
    writes.clear()
    first = chat.call("post", f"{T}/{tid}/typing", ana)
    second = chat.call("post", f"{T}/{tid}/typing", ana)
    other = chat.call("post", f"{T}/{tid}/typing", bob)  # per user: bob is not throttled by ana
    assert (first.status_code, first.json()) == (202, {"published": True})
    assert (second.status_code, second.json()) == (202, {"published": False})
    assert other.json() == {"published": True}
    assert published == [
        (tid, "typing", {"user_id": ana.user_id, "username": "ana", "expires_in_ms": typing.EXPIRES_MS}),
        (tid, "typing", {"user_id": bob.user_id, "username": "bob", "expires_in_ms": typing.EXPIRES_MS}),
    ]
    assert writes == []  # ephemeral: no database write at all
    chat.send(ana, tid, "sent")
    assert writes  # the spy does see writes (a message is one)
    monkeypatch.setattr(typing, "THROTTLE_S", 0.0)
    assert chat.call("post", f"{T}/{tid}/typing", ana).json() == {"published": True}  # window over


def test_typing_refusals(chat, people):
    ana, bob, tid = people
    outsider = chat.signup("dan")
    private = chat.thread(ana, privacy="private")["thread_id"]
    assert chat.call("post", f"{T}/{tid}/typing", outsider).status_code == 403  # public, not a member
    assert chat.call("post", f"{T}/{private}/typing", outsider).status_code == 404  # private: invisible
    assert chat.call("post", f"{T}/{'0' * 32}/typing", ana).status_code == 404
    assert chat.call("get", f"{T}/{tid}/typing", ana).status_code == 405
    assert Client().post(f"{T}/{tid}/typing").status_code in (401, 403)  # no credentials (CSRF/auth)
    muted = chat.call("post", f"{T}/{tid}/members/{bob.user_id}/mute", ana, {"minutes": 5})
    assert muted.status_code == 200
    response = chat.call("post", f"{T}/{tid}/typing", bob)
    assert response.status_code == 403
    assert response.json()["error"]["details"]["reason"] == "muted"


@pytest.fixture
async def hub_cleanup():
    yield
    await get_hub().stop()


async def test_typing_reaches_the_other_members_stream_not_the_typists(chat, hub_cleanup):
    ana = await asyncio.to_thread(chat.signup, "ana")
    bob = await asyncio.to_thread(chat.signup, "bob")
    pa = await accounts.authenticate(ana.token, via="bearer")
    pb = await accounts.authenticate(bob.token, via="bearer")
    tid = (await services.create_thread(pa, scope_id="s", privacy_level="public", title=None))["thread_id"]
    await services.join(pb, tid)
    ana_stream = Collector(streams.StreamSession(pa, tid, after_seq=None, transport="websocket"))
    bob_stream = Collector(streams.StreamSession(pb, tid, after_seq=None, transport="sse"))
    await bob_stream.wait(lambda: len(get_hub().sessions.get(tid, ())) == 2)
    assert await typing.announce(pa, tid) is True
    await bob_stream.wait(lambda: any(e["event_type"] == "typing" for e in bob_stream.events))
    event = next(e for e in bob_stream.events if e["event_type"] == "typing")
    assert event == check(
        {
            "event_type": "typing",
            "thread_id": tid,
            "seq": None,
            "message": None,
            "data": {"user_id": pa.user_id, "username": "ana", "expires_in_ms": typing.EXPIRES_MS},
        }
    )
    # Bob types too: Ana gets his event; by then hers would have arrived before it, so none means none.
    assert await typing.announce(pb, tid) is True
    await ana_stream.wait(lambda: any(e["event_type"] == "typing" for e in ana_stream.events))
    assert [e["data"]["username"] for e in ana_stream.events if e["event_type"] == "typing"] == ["bob"]
    assert [e["data"]["username"] for e in bob_stream.events if e["event_type"] == "typing"] == ["ana"]
    await ana_stream.stop()
    await bob_stream.stop()


async def _next(ws, event_type: str, timeout: float = 20.0) -> dict:
    """The next event of ``event_type`` on a socket, within an overall deadline (pings do not extend it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        event = check(json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - loop.time()))))
        if event["event_type"] == event_type:
            return event


@pytest.mark.slow
def test_websocket_typing_frame_reaches_the_other_socket(live_server_factory):
    """A client frame ``{"type": "typing"}`` on one socket becomes a ``typing`` event on the other's."""
    server = live_server_factory()
    ws_url = f"ws://127.0.0.1:{server.port}"

    async def run() -> None:
        client = httpx.AsyncClient(base_url=server.url, timeout=30)
        users = []
        for name in ("ana", "bob"):
            body = {"email": f"{name}@example.com", "username": name, "password": "correct horse battery"}
            data = (await client.post("/v1/auth/signup", json=body)).json()
            users.append({"Authorization": f"Bearer {data['access_token']}"})
        tid = (
            await client.post("/v1/chat/threads", json={"scope_id": "s", "privacy_level": "public"}, headers=users[0])
        ).json()["thread_id"]
        await client.post(f"{T}/{tid}/join", headers=users[1])
        async with (
            websockets.connect(f"{ws_url}/ws/chat/{tid}/?after_seq=0", additional_headers=users[0]) as ana,
            websockets.connect(f"{ws_url}/ws/chat/{tid}/?after_seq=0", additional_headers=users[1]) as bob,
        ):
            # Both sockets are subscribed once a message sent now reaches both.
            await client.post(f"{T}/{tid}/messages/send", json={"body": "hi"}, headers=users[1])
            for ws in (ana, bob):
                await _next(ws, "message")
            await ana.send(json.dumps({"type": "typing"}))
            event = await _next(bob, "typing")
            assert event["data"]["username"] == "ana"
        await client.aclose()

    asyncio.run(run())


@pytest.mark.slow
def test_typing_crosses_server_processes_through_redis(surreal_bridge, live_server_factory, tmp_path):
    """Typing on server A reaches a WebSocket on server B: only the Redis channel layer can carry it
    (a typing event is never in the database, so B's database catch-up cannot deliver it)."""
    import subprocess
    import sys

    import redis as sync_redis

    from tests.chat.test_redis_transport import _group_keys, _own_redis
    from tests.conftest import ROOT, free_port, server_env

    port = free_port()
    redis_proc = _own_redis(port)
    env = {"SURREAL_ENDPOINT": surreal_bridge.endpoint, "SURREAL_NS": "app", "SURREAL_DB": "main",
           "CHAT_REALTIME_TRANSPORT": "redis", "REDIS_URL": f"redis://127.0.0.1:{port}/0",
           "CHAT_REALTIME_CHANNEL_PREFIX": "gotong-test-typing:"}  # fmt: skip
    try:
        migrated = subprocess.run([sys.executable, "manage.py", "surreal_migrate"], cwd=ROOT, env=server_env(**env),
                                  capture_output=True, text=True, timeout=120)  # fmt: skip
        assert migrated.returncode == 0, migrated.stderr
        a, b = live_server_factory(**env), live_server_factory(**env)

        async def run() -> None:
            http_a = httpx.AsyncClient(base_url=a.url, timeout=30)
            http_b = httpx.AsyncClient(base_url=b.url, timeout=30)
            users = []
            for name in ("ana", "bob"):
                body = {"email": f"{name}@example.com", "username": name, "password": "correct horse battery"}
                data = (await http_a.post("/v1/auth/signup", json=body)).json()
                users.append({"Authorization": f"Bearer {data['access_token']}"})
            created = await http_a.post("/v1/chat/threads", json={"scope_id": "s", "privacy_level": "public"},
                                        headers=users[0])  # fmt: skip
            tid = created.json()["thread_id"]
            assert (await http_a.post(f"{T}/{tid}/join", headers=users[1])).status_code == 200
            url = f"ws://127.0.0.1:{b.port}/ws/chat/{tid}/?after_seq=0"  # the message below comes either way
            async with websockets.connect(url, additional_headers=users[1]) as bob:
                # Subscribed on B once a message sent through A arrives there.
                await http_a.post(f"{T}/{tid}/messages/send", json={"body": "hi"}, headers=users[0])
                await _next(bob, "message")
                # The hub of B has joined the thread's group in Redis (subscription precedes the backlog).
                assert _group_keys(sync_redis.Redis.from_url(env["REDIS_URL"]), tid)
                typed = await http_a.post(f"{T}/{tid}/typing", headers=users[0])
                assert typed.json() == {"published": True}
                event = await _next(bob, "typing")
                assert event["data"]["username"] == "ana"
            await http_a.aclose()
            await http_b.aclose()

        asyncio.run(run())
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)
