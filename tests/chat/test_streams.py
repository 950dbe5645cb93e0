"""The stream session and the per-process hub, in one event loop (no network)."""

from __future__ import annotations

import asyncio

import pytest

from apps.accounts import services as accounts
from apps.chat import hub as hub_module
from apps.chat import services, streams
from apps.chat.hub import get_hub
from apps.chat.repository import ChatRepository
from apps.core import context
from apps.core.ids import now_ms
from tests.chat.streaming import Collector

from .test_ordering import principal_of  # noqa: F401 - re-exported helper


@pytest.fixture
async def hub_cleanup():
    yield
    await get_hub().stop()


async def _people(chat):
    ana = await asyncio.to_thread(chat.signup, "ana")
    bob = await asyncio.to_thread(chat.signup, "bob")
    pa = await accounts.authenticate(ana.token, via="bearer")
    pb = await accounts.authenticate(bob.token, via="bearer")
    tid = (await services.create_thread(pa, scope_id="s", privacy_level="public", title=None))["thread_id"]
    await services.join(pb, tid)
    return pa, pb, tid


async def _send(principal, tid: str, n: int, prefix: str = "m") -> list[dict]:
    out = []
    for i in range(n):
        context.set_context(context.RequestContext(request_id=f"{prefix}-{i}-{now_ms()}", correlation_id="c"))
        out.append(await services.send_message(principal, tid, body=f"{prefix}{i}", attachments=[]))
    return out


async def test_connect_sequence_has_no_gap_and_no_duplicate(chat, hub_cleanup):
    pa, pb, tid = await _people(chat)
    await _send(pa, tid, 5, "before")
    collector = Collector(streams.StreamSession(pb, tid, after_seq=2, transport="websocket"))
    sender = asyncio.create_task(_send(pa, tid, 20, "during"))  # races with the backlog read
    await sender
    await collector.wait(lambda: len(collector.seqs) >= 23)
    await asyncio.sleep(0.3)  # any late duplicate would show up now
    assert collector.seqs == list(range(3, 26))
    await collector.stop()


async def test_stream_message_equals_the_http_view(chat, hub_cleanup):
    pa, pb, tid = await _people(chat)
    collector = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="sse"))
    sent = (await _send(pa, tid, 1))[0]
    await collector.wait(lambda: collector.seqs == [1])
    listed = await services.list_messages(pb, tid, after_seq=0)
    assert collector.events[0]["message"] == listed[0]
    assert sent["message_id"] == listed[0]["message_id"]
    await collector.stop()
    assert collector.events[-1]["event_type"] == "closed"


async def test_gap_repair_reads_the_missing_range_first(chat, hub_cleanup, monkeypatch):
    monkeypatch.setattr(hub_module, "REVALIDATE_INTERVAL_S", 3600)  # only the gap repair may fill the hole
    pa, pb, tid = await _people(chat)
    collector = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="websocket"))
    await collector.wait(lambda: get_hub().sessions.get(tid))
    repo = ChatRepository()
    for i in range(1, 4):  # committed without any event (as if the bus lost them)
        row = {"thread_id": tid, "message_id": f"{i:032x}", "author_id": pa.user_id, "body": f"q{i}",
               "attachments": [], "request_id": f"quiet-{i}", "correlation_id": "c",
               "created_at_ms": now_ms()}  # fmt: skip
        await repo.append_message(tid, row, now_ms())
    await asyncio.sleep(0.2)
    assert collector.seqs == []
    await _send(pa, tid, 1, "loud")  # seq 4 arrives live: 1..3 are read from the database first
    await collector.wait(lambda: len(collector.seqs) >= 4)
    assert collector.seqs == [1, 2, 3, 4]
    await collector.stop()


async def test_slow_consumer_overflows_to_catch_up_without_loss(chat, hub_cleanup, monkeypatch):
    monkeypatch.setattr(streams, "QUEUE_MAX", 3)
    pa, pb, tid = await _people(chat)
    session = streams.StreamSession(pb, tid, after_seq=0, transport="websocket")
    collector = Collector(session, delay_s=0.05)
    await collector.wait(lambda: get_hub().sessions.get(tid))
    await _send(pa, tid, 40, "burst")
    await collector.wait(lambda: len(collector.seqs) >= 40, timeout=20)
    assert collector.seqs == list(range(1, 41))
    assert session.overflows >= 1
    assert len(session._pending) <= 3
    await collector.stop()


async def test_leave_and_remove_close_the_stream_within_a_second(chat, hub_cleanup):
    pa, pb, tid = await _people(chat)
    collector = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="websocket"))
    await collector.wait(lambda: get_hub().sessions.get(tid))
    await services.remove(pa, tid, pb.user_id)
    elapsed = await collector.wait(lambda: collector.events and collector.events[-1]["event_type"] == "closed")
    assert elapsed < 1.0
    assert collector.events[-1]["data"] == {"reason": "permission_lost"}
    await services.join(pb, tid)
    again = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="sse"))
    await again.wait(lambda: get_hub().sessions.get(tid))
    await services.leave(pb, tid)
    assert await again.wait(lambda: again.events and again.events[-1]["event_type"] == "closed") < 1.0


async def test_logout_closes_streams_within_a_second(chat, hub_cleanup):
    _pa, pb, tid = await _people(chat)
    collector = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="websocket"))
    await collector.wait(lambda: get_hub().sessions.get(tid))
    await accounts.logout(pb)
    assert await collector.wait(lambda: collector.events and collector.events[-1]["event_type"] == "closed") < 1.0
    assert collector.events[-1]["data"] == {"reason": "unauthorized"}


async def test_revalidation_closes_streams_revoked_elsewhere(chat, hub_cleanup):
    """Another process revoked the family (no hook ran here): the periodic check closes it within 1 s."""
    from apps.accounts.repository import AccountsRepository

    pa, pb, tid = await _people(chat)
    c1 = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="websocket"))
    c2 = Collector(streams.StreamSession(pa, tid, after_seq=0, transport="websocket"))
    await c1.wait(lambda: len(get_hub().sessions.get(tid, ())) == 2)
    await AccountsRepository().revoke_family(pb.family_id, "test", now_ms())
    assert await c1.wait(lambda: c1.events and c1.events[-1]["event_type"] == "closed") < 1.0
    assert c1.events[-1]["data"] == {"reason": "unauthorized"}
    await AccountsRepository().set_user_fields(pa.user_id, {"enabled": False})
    assert await c2.wait(lambda: c2.events and c2.events[-1]["event_type"] == "closed") < 1.0


async def test_heartbeat_pings(chat, hub_cleanup, monkeypatch):
    monkeypatch.setattr(streams, "HEARTBEAT_S", 0.1)
    _pa, pb, tid = await _people(chat)
    collector = Collector(streams.StreamSession(pb, tid, after_seq=None, transport="sse"))
    await collector.wait(lambda: sum(e["event_type"] == "ping" for e in collector.events) >= 2, timeout=2)
    await collector.stop()


async def test_one_subscription_per_thread_per_process(chat, hub_cleanup):
    pa, pb, tid = await _people(chat)
    collectors = [Collector(streams.StreamSession(pb, tid, after_seq=0, transport="websocket")) for _ in range(5)]
    hub = get_hub()
    await collectors[0].wait(lambda: len(hub.sessions.get(tid, ())) == 5)
    groups = hub.layer.groups.get(f"chat.thread.{tid}", {})
    assert list(groups) == [hub.channel]
    await _send(pa, tid, 3)
    for c in collectors:
        await c.wait(lambda c=c: c.seqs == [1, 2, 3])
    for c in collectors:
        await c.stop()
    assert tid not in hub.sessions
