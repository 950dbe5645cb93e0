"""Gapless per-thread seq under concurrent senders, and bounded range reads (EXPLAIN)."""

from __future__ import annotations

import asyncio

import httpx

from apps.accounts.domain import Principal
from apps.chat import services
from apps.chat.repository import LATEST_SQL, RANGE_SQL
from apps.core.db import get_db


def principal_of(user) -> Principal:
    return Principal(user.user_id, user.username, "", "user", "default", "", "", "bearer")


async def test_concurrent_senders_through_the_service_get_a_gapless_order(chat):
    ana = await asyncio.to_thread(chat.signup, "ana")
    thread = await services.create_thread(principal_of(ana), scope_id="s", privacy_level="public", title=None)
    tid = thread["thread_id"]
    senders, each = 8, 15

    async def sender(n: int) -> list[int]:
        seqs = []
        for i in range(each):
            from apps.core import context

            context.set_context(context.RequestContext(request_id=f"r-{n}-{i}", correlation_id="c"))
            seqs.append((await services.send_message(principal_of(ana), tid, body=f"{n}:{i}", attachments=[]))["seq"])
        return seqs

    results = await asyncio.gather(*(sender(n) for n in range(senders)))
    every = sorted(s for seqs in results for s in seqs)
    assert every == list(range(1, senders * each + 1))
    for seqs in results:
        assert seqs == sorted(seqs)  # one sender's messages keep their order
    rows = await services.read_messages(tid, after_seq=0, limit=200)
    assert [r["seq"] for r in rows] == every
    assert len({r["body"] for r in rows}) == senders * each


def test_concurrent_senders_over_http_get_a_gapless_order(live_server_factory):
    server = live_server_factory()

    async def run() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            users = []
            for name in ("ana", "bob", "cyd"):
                r = await client.post(
                    "/v1/auth/signup",
                    json={"email": f"{name}@example.com", "username": name, "password": "correct horse battery"},
                )
                users.append({"Authorization": f"Bearer {r.json()['access_token']}"})
            tid = (
                await client.post(
                    "/v1/chat/threads", json={"scope_id": "s", "privacy_level": "public"}, headers=users[0]
                )
            ).json()["thread_id"]
            for headers in users[1:]:
                await client.post(f"/v1/chat/threads/{tid}/join", headers=headers)

            async def sender(headers: dict, n: int) -> list[int]:
                out = []
                for i in range(8):
                    r = await client.post(
                        f"/v1/chat/threads/{tid}/messages/send",
                        json={"body": f"{n}-{i}"},
                        headers={**headers, "X-Request-ID": f"req-{n}-{i}"},
                    )
                    assert r.status_code == 201, r.text
                    out.append(r.json()["seq"])
                return out

            results = await asyncio.gather(*(sender(users[n % 3], n) for n in range(6)))
            assert sorted(s for seqs in results for s in seqs) == list(range(1, 49))
            listed = (
                await client.get(f"/v1/chat/threads/{tid}/messages?after_seq=0&limit=200", headers=users[1])
            ).json()
            assert [m["seq"] for m in listed] == list(range(1, 49))

    asyncio.run(run())


def _operators(plan: dict) -> list[tuple[str, dict]]:
    found = [(plan.get("operator"), plan)]
    for child in plan.get("children") or []:
        found += _operators(child)
    return found


async def test_catch_up_and_latest_read_only_the_rows_they_return(chat):
    ana = await asyncio.to_thread(chat.signup, "ana")
    tid = (await services.create_thread(principal_of(ana), scope_id="s", privacy_level="public", title=None))[
        "thread_id"
    ]
    rows = [
        {"thread_id": tid, "message_id": f"{i:032x}", "seq": i, "author_id": ana.user_id, "body": "x",
         "attachments": [], "request_id": f"r{i}", "correlation_id": "c", "created_at_ms": i}
        for i in range(1, 401)
    ]  # fmt: skip
    db = get_db()
    for start in range(0, 400, 200):
        await db.write(
            "FOR $r IN $rows { CREATE type::record('chat_message', [$r.thread_id, $r.seq]) CONTENT $r };"
            "UPDATE type::record('chat_thread', $t) SET last_seq = 400;",
            {"rows": rows[start : start + 200], "t": tid},
        )
    # catch-up after 100, 50 rows; scroll-back before 300; latest 50
    for sql, variables in [
        (RANGE_SQL, {"t": tid, "lo": 101, "hi": 150}),
        (RANGE_SQL, {"t": tid, "lo": 250, "hi": 299}),
        (LATEST_SQL, {"t": tid, "n": 50}),
    ]:
        plan = (await db.query(sql.rstrip().rstrip(";") + " EXPLAIN FULL;", variables))[-1]
        operators = dict(_operators(plan))
        assert "RecordIdScan" in operators, plan
        scan = operators["RecordIdScan"]
        assert scan["metrics"]["output_rows"] == 50, plan  # reads exactly the rows it returns
        assert "Sort" not in str(plan)  # the trap: ORDER BY id DESC on a range sorts everything
        assert "Limit" not in operators  # the trap: an open-ended range with LIMIT
    assert [r["seq"] for r in await services.read_messages(tid, after_seq=100, limit=50)] == list(range(101, 151))
    assert [r["seq"] for r in await services.read_messages(tid, before_seq=300, limit=50)] == list(range(250, 300))
    assert [r["seq"] for r in await services.read_messages(tid, limit=50)] == list(range(351, 401))
