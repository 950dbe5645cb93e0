"""Two ``manage.py serve`` processes on one SurrealDB (the test bridge) and one Redis.

What this proves: with CHAT_REALTIME_TRANSPORT=redis and a shared CHAT_REALTIME_CHANNEL_PREFIX, a
message sent through server A reaches a WebSocket on server B through Redis (faster than B's 0.5 s
re-validation safety net could), the layer's keys carry the prefix, and with Redis gone sends still
succeed, clients recover by catch-up and publish failures are counted. What it cannot: the bridge is
one shared engine session of SurrealDB core 3.0.x behind a Node script, not a real `surreal start`
server (see docs/chat.md).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time

import httpx
import pytest
import redis as sync_redis
import websockets

from tests.chat.streaming import check
from tests.conftest import ROOT, _wait_for_port, free_port, server_env

pytestmark = pytest.mark.slow
PREFIX = "gotong-test-xproc:"


def _metric(url: str, name: str, label: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if (line.startswith(name + "{") or line.startswith(name + " ")) and label in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_message_sent_on_a_reaches_b_through_redis(surreal_bridge, live_server_factory):
    port = free_port()
    redis_server = f"redis://127.0.0.1:{port}/0"
    redis_proc = _own_redis(port)
    try:
        _scenario(surreal_bridge, live_server_factory, redis_server, redis_proc)
    finally:
        if redis_proc.poll() is None:
            redis_proc.terminate()
            redis_proc.wait(10)


def _scenario(surreal_bridge, live_server_factory, redis_server: str, redis_proc: subprocess.Popen) -> None:
    env = {"SURREAL_ENDPOINT": surreal_bridge.endpoint, "SURREAL_NS": "app", "SURREAL_DB": "main",
           "CHAT_REALTIME_TRANSPORT": "redis", "REDIS_URL": redis_server, "CHAT_REALTIME_CHANNEL_PREFIX": PREFIX,
           "RATE_LIMIT_CHAT_SEND": "1000/1:1000"}  # fmt: skip
    migrated = subprocess.run([sys.executable, "manage.py", "surreal_migrate"], cwd=ROOT, env=server_env(**env),
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    a, b = live_server_factory(**env), live_server_factory(**env)

    async def run() -> None:
        http_a = httpx.AsyncClient(base_url=a.url, timeout=30)
        body = {"email": "x@example.com", "username": "xproc", "password": "correct horse battery"}
        user = (await http_a.post("/v1/auth/signup", json=body)).json()
        headers = {"Authorization": f"Bearer {user['access_token']}"}
        tid = (await http_a.post("/v1/chat/threads", json={"scope_id": "s", "privacy_level": "public"},
                                 headers=headers)).json()["thread_id"]  # fmt: skip
        ws_url = f"ws://127.0.0.1:{b.port}/ws/chat/{tid}/?after_seq=0"
        client = sync_redis.Redis.from_url(redis_server)
        async with websockets.connect(ws_url, additional_headers=headers) as ws:
            await _wait_for(lambda: _group_keys(client, tid), "B's hub joined the thread's group in Redis")
            live_before = _metric(b.url, LIVE_DELIVERIES, "")
            for i in range(5):
                sent = await http_a.post(f"/v1/chat/threads/{tid}/messages/send", json={"body": f"m{i}"},
                                         headers=headers)  # fmt: skip
                assert sent.status_code == 201
                while True:
                    event = check(json.loads(await asyncio.wait_for(ws.recv(), 10)))
                    if event["event_type"] == "message":
                        break
                assert event["seq"] == i + 1
            # Delivered by the Redis path, not by B's re-validation catch-up: only a live event (one that came
            # through the bus) is observed in the delivery-lag histogram; catch-up reads are not. No latency bound.
            assert _metric(b.url, LIVE_DELIVERIES, "") == live_before + 5
            # Idempotency and rate-limit keys have their own namespace (gotong:idemp:, gotong:ratelimit:);
            # everything else in Redis belongs to the realtime layer and must carry the shared prefix.
            own = ("gotong:idemp:", "gotong:ratelimit:", "gotong:webhooks:")
            keys = [k.decode() for k in client.scan_iter(match="*") if not k.decode().startswith(own)]
            channels = [c.decode() for c in client.pubsub_channels() if not c.decode().startswith(own)]
            assert any(name.startswith(f"{PREFIX}:group:chat.thread.") for name in keys), keys
            assert all(name.startswith(PREFIX) for name in keys + channels), (keys, channels)
            assert any(k.startswith(PREFIX) and "chat.thread." in k for k in keys), keys

            # Redis down: sends still 201 and publish failures are counted; the open WebSocket on B stays
            # open and gets the missed messages by catch-up (the hub's re-check), and so does polling.
            failed = 'event="publish_failed"'
            failed_before = _metric(a.url, "gotong_realtime_bridge_events_total", failed)
            redis_proc.terminate()
            redis_proc.wait(10)
            for i in range(5, 8):
                sent = await http_a.post(f"/v1/chat/threads/{tid}/messages/send", json={"body": f"m{i}"},
                                         headers=headers)  # fmt: skip
                assert sent.status_code == 201, sent.text
            assert _metric(a.url, "gotong_realtime_bridge_events_total", failed) >= failed_before + 3
            seqs: list[int] = []
            deadline = time.monotonic() + 5
            while len(seqs) < 3:
                event = check(json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))))
                if event["event_type"] == "message":
                    seqs.append(event["seq"])
            assert seqs == [6, 7, 8]
        async with httpx.AsyncClient(base_url=b.url, timeout=30) as http_b:
            polled = await http_b.get(f"/v1/chat/threads/{tid}/messages/poll?after_seq=5", headers=headers)
        assert [m["seq"] for m in polled.json()] == [6, 7, 8]
        # A new WebSocket on B while Redis is still down: served from the database, resuming by seq.
        async with websockets.connect(ws_url.replace("after_seq=0", "after_seq=6"), additional_headers=headers) as ws:
            got: list[int] = []
            while len(got) < 2:
                event = check(json.loads(await asyncio.wait_for(ws.recv(), 5)))
                if event["event_type"] == "message":
                    got.append(event["seq"])
            assert got == [7, 8]
        await http_a.aclose()

    asyncio.run(run())


LIVE_DELIVERIES = "gotong_realtime_delivery_lag_seconds_count"


def _group_keys(client: sync_redis.Redis, tid: str) -> list[str]:
    return [k.decode() for k in client.scan_iter(match=f"*group:chat.thread.{tid}")]


async def _wait_for(predicate, what: str, timeout: float = 10.0) -> None:
    """Poll a condition with a deadline (the interval is only a polling interval, never the assertion)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not met in {timeout} s: {what}")
        await asyncio.sleep(0.02)


def _own_redis(port: int) -> subprocess.Popen:
    """This test stops its Redis, so it gets its own (the session's stays up for the other tests)."""
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_for_port(port, proc, "redis-server")
    return proc
