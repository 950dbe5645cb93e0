"""WebSocket and SSE through a real ``manage.py serve`` process, on each ASGI server ``serve`` can run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time

import httpx
import pytest
import websockets

from gotong.config import ASGI_SERVERS
from tests.chat.streaming import check

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
# The close code a socket gets when its server stops (apps/core/servers/): the web client reconnects on any
# code but 4001/4003. uvicorn: 1012 "service restart"; daphne: 1000, as autobahn sends neither 1001 nor 1012.
SHUTDOWN_CLOSE = {"daphne": 1000, "uvicorn": 1012}


@pytest.fixture(params=ASGI_SERVERS)
def asgi_server(request) -> str:
    return request.param


@pytest.fixture
def server(asgi_server, live_server_factory):
    return live_server_factory(ASGI_SERVER=asgi_server)


async def _signup(client: httpx.AsyncClient, name: str) -> dict:
    r = await client.post(
        "/v1/auth/signup", json={"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    )
    data = r.json()
    return {"headers": {"Authorization": f"Bearer {data['access_token']}"}, "user_id": data["user_id"],
            "cookie": r.cookies.get("gr_session")}  # fmt: skip


async def _setup(server):
    client = httpx.AsyncClient(base_url=server.url, timeout=30)
    ana, bob = await _signup(client, "ana"), await _signup(client, "bob")
    tid = (
        await client.post("/v1/chat/threads", json={"scope_id": "s", "privacy_level": "public"}, headers=ana["headers"])
    ).json()["thread_id"]
    await client.post(f"/v1/chat/threads/{tid}/join", headers=bob["headers"])
    return client, ana, bob, tid


async def _send(client, user, tid, body):
    r = await client.post(f"/v1/chat/threads/{tid}/messages/send", json={"body": body}, headers=user["headers"])
    assert r.status_code == 201, r.text
    return r.json()


async def _recv(ws, timeout=5.0) -> dict:
    return check(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def _until_message(ws, timeout=5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        event = await _recv(ws, max(0.01, deadline - time.monotonic()))
        if event["event_type"] == "message":
            return event


async def _events_until_closed(ws) -> tuple[list[dict], int]:
    """Every event until the server closes the socket, and its close code."""
    events = []
    try:
        while True:
            events.append(await _recv(ws, 5))
    except websockets.ConnectionClosed as closed:
        return events, closed.rcvd.code


async def _close_code(ws) -> int:
    """Read until the server closes the socket; its close code."""
    try:
        while True:
            await _recv(ws, 2)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code


def test_websocket_backlog_live_schema_and_close_codes(server):
    ws_url = f"ws://127.0.0.1:{server.port}"

    async def run() -> None:
        client, ana, bob, tid = await _setup(server)
        for i in range(3):
            await _send(client, ana, tid, f"early {i}")
        async with websockets.connect(f"{ws_url}/v1/chat/threads/{tid}/messages/ws?after_seq=1",
                                      additional_headers=bob["headers"]) as ws:  # fmt: skip
            backlog = [await _until_message(ws), await _until_message(ws)]
            assert [e["seq"] for e in backlog] == [2, 3]
            sent = await _send(client, ana, tid, "live")
            live = await _until_message(ws)
            assert live["seq"] == 4
            listed = (await client.get(f"/v1/chat/threads/{tid}/messages?after_seq=3", headers=bob["headers"])).json()
            assert live["message"] == listed[0] == sent | {"author": listed[0]["author"]}
            # leaving closes the socket with 4003 (that the hook, not the periodic re-check, does it, is shown
            # in-process by tests/chat/test_streams.py; no latency bound on a shared machine here)
            await client.post(f"/v1/chat/threads/{tid}/leave", headers=bob["headers"])
            assert await _close_code(ws) == 4003
        # logout closes the other alias route with 4001 (the handshake authenticated it: no settling sleep)
        async with websockets.connect(f"{ws_url}/ws/chat/{tid}/", additional_headers=ana["headers"]) as ws:
            await client.post("/v1/auth/logout", headers=ana["headers"])
            assert await _close_code(ws) == 4001
        # no token → 4001; token in the query string → refused at the handshake
        async with websockets.connect(f"{ws_url}/ws/chat/{tid}/") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 4001
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(f"{ws_url}/ws/chat/{tid}/?access_token=x")
        await client.aclose()

    asyncio.run(run())


def test_cookie_websocket_needs_an_allowed_origin(server):
    ws_url = f"ws://127.0.0.1:{server.port}/ws/chat"

    async def run() -> None:
        client, ana, _bob, tid = await _setup(server)
        cookie = {"Cookie": f"gr_session={ana['cookie']}"}
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"{ws_url}/{tid}/", additional_headers=cookie, origin="http://evil.example")
        assert refused.value.response.status_code == 403
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(f"{ws_url}/{tid}/", additional_headers=cookie)  # no Origin at all
        async with websockets.connect(f"{ws_url}/{tid}/?after_seq=0", additional_headers=cookie,
                                      origin=f"http://127.0.0.1:{server.port}") as ws:  # fmt: skip
            await _send(client, ana, tid, "same origin")
            assert (await _until_message(ws))["message"]["body"] == "same origin"
        await client.aclose()

    asyncio.run(run())


def test_sse_backlog_live_last_event_id_and_close(server):

    iterators: dict[int, object] = {}

    async def read_events(response, count: int, timeout: float = 5.0) -> list[tuple[str, str, dict]]:
        events, block = [], {}
        deadline = time.monotonic() + timeout
        lines = iterators.setdefault(id(response), response.aiter_lines())
        while len(events) < count:
            line = await asyncio.wait_for(lines.__anext__(), max(0.01, deadline - time.monotonic()))
            if line.startswith(":"):
                continue
            if not line:
                if block:
                    events.append((block["event"], block["id"], check(json.loads(block["data"]))))
                    block = {}
                continue
            key, _, value = line.partition(": ")
            block[key] = value
        return events

    async def run() -> None:
        client, ana, bob, tid = await _setup(server)
        for i in range(3):
            await _send(client, ana, tid, f"m{i}")
        path = f"/v1/chat/threads/{tid}/messages/stream"
        async with client.stream("GET", path, headers={**bob["headers"], "Last-Event-ID": "1"}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = await read_events(response, 2)
            assert [(e[0], e[1], e[2]["seq"]) for e in events] == [("message", "2", 2), ("message", "3", 3)]
            await _send(client, ana, tid, "live")
            (live,) = await read_events(response, 1)
            assert live[1] == "4"
            await client.post(f"/v1/chat/threads/{tid}/members/{bob['user_id']}/remove", headers=ana["headers"])
            events = await read_events(response, 1)
            assert events[-1][0] == "closed"
            assert events[-1][2]["data"] == {"reason": "permission_lost"}
        bad = await client.get(f"{path}?after_seq=-4", headers=ana["headers"])
        assert bad.status_code == 400
        async with httpx.AsyncClient(base_url=server.url) as anonymous:
            assert (await anonymous.get(path)).status_code == 401
        await client.aclose()

    asyncio.run(run())


def test_sigterm_closes_open_websockets_with_a_reconnect_code_and_exits_zero(server, asgi_server):
    ws_url = f"ws://127.0.0.1:{server.port}"

    async def run() -> int:
        client, _ana, bob, tid = await _setup(server)
        async with websockets.connect(f"{ws_url}/ws/chat/{tid}/?after_seq=0", additional_headers=bob["headers"]) as ws:
            await _send(client, bob, tid, "before the stop")
            assert (await _until_message(ws))["message"]["body"] == "before the stop"
            server.proc.send_signal(signal.SIGTERM)
            code = await _close_code(ws)
        await client.aclose()
        return code

    assert asyncio.run(run()) == SHUTDOWN_CLOSE[asgi_server]
    assert server.proc.wait(15) == 0
    assert "Traceback" not in server.log()


def test_a_socket_flooding_frames_is_closed_and_the_others_keep_their_stream(server):
    ws_url = f"ws://127.0.0.1:{server.port}"

    async def run() -> None:
        client, ana, bob, tid = await _setup(server)
        url = f"{ws_url}/ws/chat/{tid}/?after_seq=0"
        async with (
            websockets.connect(url, additional_headers=ana["headers"]) as calm,
            websockets.connect(url, additional_headers=bob["headers"]) as flood,
        ):
            for _ in range(5):  # a normal client's frames: accepted
                await calm.send(json.dumps({"type": "ack", "seq": 0}))
            with contextlib.suppress(websockets.ConnectionClosed):  # the server may close before the last one
                for _ in range(500):  # far past the burst of consumers.FrameBudget
                    await flood.send(json.dumps({"type": "typing"}))
            events, code = await _events_until_closed(flood)
            assert events[-1]["event_type"] == "closed"
            assert events[-1]["data"] == {"reason": "too_many_frames"}
            assert code == 4429
            await _send(client, ana, tid, "still here")
            assert (await _until_message(calm))["message"]["body"] == "still here"
        await client.aclose()

    asyncio.run(run())
