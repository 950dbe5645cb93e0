"""The gate checks. Each takes an ``Api`` and raises ``GateFailure`` when the contract is broken.

They return a short note for the report (what was exercised), never a bare "ok".
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from apps.chat.gates.client import Api, GateFailure, SseReader, T, User, WsReader, check_envelope, expect, wait_for

Hook = Callable[[], Awaitable[None]]
CLOSE_WITHIN_S = 1.0


async def payload_shape(api: Api) -> str:
    """Gate 1: WS, SSE and poll events validate against the schema and equal the HTTP message view."""
    ana, bob = await api.signup("ana"), await api.signup("bob")
    tid = await api.thread(ana)
    await api.ok("POST", f"{T}/{tid}/join", bob)
    ws, sse = await WsReader(api, bob, tid).start(), await SseReader(api, bob, tid).start()
    try:
        upload = await api.upload_png(ana)
        picture = [upload["attachment_id"]]
        sent = [await api.send(ana, tid, "plain"), await api.send(ana, tid, "with a picture", picture)]
        sent.append(await api.send(bob, tid, "reply"))
        await wait_for(lambda: len(ws.seqs) >= 3 and len(sse.seqs) >= 3, "WS and SSE got 3 messages")
        http = {m["seq"]: m for m in await api.messages(bob, tid)}
        polled = await api.messages(bob, tid, path="messages/poll")
        for item in polled:
            envelope = {"event_type": "message", "thread_id": tid, "seq": item["seq"], "message": item, "data": None}
            check_envelope(envelope)
        expect(polled == list(http.values()), "poll differs from GET /messages")
        for name, reader in (("ws", ws), ("sse", sse)):
            for event in [e for e in reader.events if e["event_type"] == "message"]:
                expect(event["message"] == http[event["seq"]], f"{name} event seq {event['seq']} != HTTP view")
        expect(http[2]["attachments"] and http[2]["attachments"][0]["attachment_id"] == upload["attachment_id"],
               "the attachment is missing from the message view")  # fmt: skip
        expect([s["seq"] for s in sent] == [1, 2, 3], "send answers carry seq 1..3")
        # edits and deletes arrive as message_updated / message_deleted equal to the current view
        await api.ok("PATCH", f"{T}/{tid}/messages/{sent[0]['message_id']}", ana, json={"body": "edited"})
        await api.call("DELETE", f"{T}/{tid}/messages/{sent[2]['message_id']}", bob)
        kinds = ("message_updated", "message_deleted")
        for reader in (ws, sse):
            await wait_for(lambda r=reader: {e["event_type"] for e in r.events} >= set(kinds), "update/delete events")
        http = {m["seq"]: m for m in await api.messages(bob, tid)}
        for reader in (ws, sse):
            for event in [e for e in reader.events if e["event_type"] in kinds]:
                expect(event["message"] == http[event["seq"]], f"{event['event_type']} != HTTP view")
        expect(sse.ids[: len(sse.seqs)] == [str(s) for s in sse.seqs], "SSE id: must be the seq")
        return f"{len(ws.events)} WS + {len(sse.events)} SSE events and {len(polled)} polled items checked"
    finally:
        await ws.stop()
        await sse.stop()


async def ordering(api: Api, senders: int = 3, per_sender: int = 10) -> str:
    """Gate 2: concurrent senders on separate connections; every reader sees the same gapless order."""
    users = [await api.signup(f"s{i}") for i in range(senders)]
    tid = await api.thread(users[0])
    for user in users[1:]:
        await api.ok("POST", f"{T}/{tid}/join", user)
    readers: list[Any] = [await WsReader(api, u, tid).start() for u in users]
    readers.append(await SseReader(api, users[-1], tid).start())
    total = senders * per_sender
    try:
        clients = [Api(api.base_url) for _ in users]  # one HTTP connection pool per sender
        for client in clients:
            client.run_id = api.run_id

        async def burst(client: Api, user: User) -> None:
            for i in range(per_sender):
                await client.send(user, tid, f"{user.name}:{i}")

        await asyncio.gather(*(burst(c, u) for c, u in zip(clients, users, strict=True)))
        for client in clients:
            await client.close()
        for reader in readers:
            await wait_for(lambda r=reader: len(r.seqs) >= total, f"reader got {total} messages", 15)
        expected = list(range(1, total + 1))
        orders = []
        for reader in readers:
            expect(reader.seqs == expected, f"reader saw {reader.seqs}, not 1..{total} once each")
            orders.append([e["message"]["message_id"] for e in reader.events if e["event_type"] == "message"])
        expect(all(order == orders[0] for order in orders), "readers disagree on the order of message ids")
        http = await api.messages(users[0], tid)
        expect([m["message_id"] for m in http] == orders[0], "GET /messages order differs from the streams")
        for after in sorted({0, 1, total // 2, total - 1, total, random.randint(0, total)}):
            listed = [m["seq"] for m in await api.messages(users[1], tid, after_seq=after)]
            expect(listed == list(range(after + 1, total + 1)), f"catch-up after {after} gave {listed}")
            late = await WsReader(api, users[1], tid, after_seq=after).start()
            try:
                await wait_for(lambda r=late, a=after: len(r.seqs) >= total - a, f"WS catch-up after {after}")
                await asyncio.sleep(0.1)  # anything extra (a duplicate) would arrive now
                expect(late.seqs == list(range(after + 1, total + 1)), f"WS catch-up after {after}: {late.seqs}")
            finally:
                await late.stop()
        return f"{senders} senders × {per_sender} concurrent sends; {len(readers)} readers saw seq 1..{total}"
    finally:
        for reader in readers:
            await reader.stop()


async def _closed_within(reader: Any, started: float, what: str) -> float:
    attr = "closed_at" if isinstance(reader, WsReader) else "ended_at"
    await wait_for(lambda: getattr(reader, attr) is not None or (
        isinstance(reader, SseReader) and reader.events and reader.events[-1]["event_type"] == "closed"),
        f"{what} stream closed", 3)  # fmt: skip
    took = time.monotonic() - started
    expect(took < CLOSE_WITHIN_S, f"{what}: stream closed after {took:.2f} s (limit {CLOSE_WITHIN_S} s)")
    return took


async def permissions(api: Api) -> str:
    """Gate 3: outsiders, removed/left users and revoked tokens get nothing of a private thread."""
    ana, bob, eve, fay, dan = [await api.signup(n) for n in ("ana", "bob", "eve", "fay", "dan")]
    tid = await api.thread(ana, privacy="private")
    for user in (bob, eve, fay):
        await api.ok("POST", f"{T}/{tid}/members", ana, json={"user_id": user.user_id}, status=201)
    outsider = await WsReader(api, dan, tid).start()
    await wait_for(lambda: outsider.closed_at is not None, "outsider's socket closed", 3)
    expect(outsider.close_code == 4404 and not outsider.messages, f"outsider: close {outsider.close_code}")
    for path in ("messages/stream", "messages/poll", "messages"):
        status = (await api.call("GET", f"{T}/{tid}/{path}", dan)).status_code
        expect(status == 404, f"outsider GET {path}: {status}")
    bob2 = await api.signin(bob)  # a second sign-in, revoked below
    watchers = {
        "removed (ws)": await WsReader(api, eve, tid).start(),
        "removed (sse)": await SseReader(api, eve, tid).start(),
        "left (ws)": await WsReader(api, fay, tid).start(),
        "revoked (ws)": await WsReader(api, bob2, tid).start(),
    }
    member = await WsReader(api, bob, tid).start()
    try:
        await api.send(ana, tid, "before")
        await wait_for(lambda: all(len(r.seqs) == 1
                                   for r in [*watchers.values(), member]), "everyone got seq 1")  # fmt: skip
        timings = {}
        started = time.monotonic()
        await api.ok("POST", f"{T}/{tid}/members/{eve.user_id}/remove", ana)
        timings["removed (ws)"] = await _closed_within(watchers["removed (ws)"], started, "removed (ws)")
        timings["removed (sse)"] = await _closed_within(watchers["removed (sse)"], started, "removed (sse)")
        started = time.monotonic()
        await api.ok("POST", f"{T}/{tid}/leave", fay)
        timings["left (ws)"] = await _closed_within(watchers["left (ws)"], started, "left (ws)")
        started = time.monotonic()
        await api.call("POST", "/v1/auth/logout", bob2)
        timings["revoked (ws)"] = await _closed_within(watchers["revoked (ws)"], started, "revoked (ws)")
        expect(watchers["removed (ws)"].close_code == 4003 and watchers["left (ws)"].close_code == 4003,
               "removed/left sockets must close with 4003")  # fmt: skip
        expect(watchers["revoked (ws)"].close_code == 4001, "a revoked token's socket must close with 4001")
        sse_end = watchers["removed (sse)"].events[-1]
        expect(sse_end["event_type"] == "closed" and sse_end["data"] == {"reason": "permission_lost"}, "SSE end")
        await api.send(ana, tid, "after")
        await wait_for(lambda: member.seqs == [1, 2], "a remaining member still gets messages")
        await asyncio.sleep(0.2)
        for name, reader in watchers.items():
            expect(reader.seqs == [1], f"{name} received {reader.seqs} (only seq 1 was allowed)")
        for user in (eve, fay):
            late = await WsReader(api, user, tid).start()
            await wait_for(lambda r=late: r.closed_at is not None, "reconnect refused", 3)
            expect(late.close_code == 4404 and not late.messages, f"{user.name} reconnect: {late.close_code}")
        late = await WsReader(api, bob2, tid).start()
        await wait_for(lambda: late.closed_at is not None, "revoked reconnect refused", 3)
        expect(late.close_code == 4001, f"revoked token reconnect: {late.close_code}")
        return "closed in " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items())
    finally:
        for reader in [*watchers.values(), member, outsider]:
            await reader.stop()


async def reconnect(api: Api, cut: str, hook: Hook | None = None, messages: int = 24) -> str:
    """Gate 4: a reader cut at random points resumes from its last seq and ends with exactly 1..N.

    ``cut`` is ``close`` (the client drops the socket), ``server_restart`` or ``redis_restart``
    (``hook`` restarts it). Sends keep going meanwhile; failed sends retry with the same X-Request-ID.
    """
    ana, bob = await api.signup("ana"), await api.signup("bob")
    tid = await api.thread(ana)
    await api.ok("POST", f"{T}/{tid}/join", bob)
    rng = random.Random()
    cuts = sorted(rng.sample(range(3, messages - 3), 2))
    received: list[int] = []
    connections: list[list[int]] = []
    reader = await WsReader(api, bob, tid, after_seq=0).start()

    async def cut_and_resume() -> None:
        nonlocal reader
        await reader.stop()
        connections.append(reader.seqs)
        received.extend(s for s in reader.seqs if s not in received)
        if hook is not None:
            await hook()
        last = max(received, default=0)
        deadline = time.monotonic() + 30
        while True:
            try:
                reader = await WsReader(api, bob, tid, after_seq=last).start()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    try:
        for i in range(1, messages + 1):
            await api.send(ana, tid, f"m{i}")
            if i in cuts:
                await asyncio.sleep(rng.random() * 0.05)
                await cut_and_resume()
        await wait_for(lambda: max([*received, *reader.seqs], default=0) >= messages, "the reader caught up", 20)
        await asyncio.sleep(0.1)
        connections.append(reader.seqs)
    finally:
        await reader.stop()
    for index, seqs in enumerate(connections):
        expect(len(seqs) == len(set(seqs)), f"connection {index} got a duplicate: {seqs}")
        expect(seqs == sorted(seqs), f"connection {index} out of order: {seqs}")
    for before, after in itertools.pairwise(connections):
        if before and after:
            expect(after[0] == before[-1] + 1, f"resume after {before[-1]} started at {after[0]}")
    union = sorted({s for seqs in connections for s in seqs})
    expect(union == list(range(1, messages + 1)), f"the reader ended with {union}, not 1..{messages}")
    http = [m["seq"] for m in await api.messages(bob, tid)]
    expect(http == list(range(1, messages + 1)), f"the server has {http}: a retried send duplicated")
    return f"{len(connections)} connections, cut after seq {cuts}; ended with 1..{messages} exactly once"


__all__ = ["GateFailure", "ordering", "payload_shape", "permissions", "reconnect"]
