"""The stream session and the per-process hub, in one event loop (no network)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from apps.accounts import services as accounts
from apps.chat import hub as hub_module
from apps.chat import services, streams
from apps.chat.hub import get_hub
from apps.chat.repository import ChatRepository
from apps.core import context
from apps.core.ids import now_ms
from tests.chat.streaming import Collector, check

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
    # A late duplicate would be queued before a later message: send one more and wait for it (no sleep).
    await _send(pa, tid, 1, "sentinel")
    await collector.wait(lambda: 26 in collector.seqs)
    assert collector.seqs == list(range(3, 27))
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
    # A barrier instead of a sleep: an event offered after the writes is handled after anything queued before it.
    barrier = {"thread_id": tid, "event_type": "member_joined", "seq": None, "data": {"user_id": "barrier"}}
    await get_hub().dispatch(barrier)
    await collector.wait(lambda: any(e["event_type"] == "member_joined" for e in collector.events))
    assert collector.seqs == []
    await _send(pa, tid, 1, "loud")  # seq 4 arrives live: 1..3 are read from the database first
    await collector.wait(lambda: len(collector.seqs) >= 4)
    assert collector.seqs == [1, 2, 3, 4]
    await collector.stop()


class GatedCollector(Collector):
    """A consumer that stops reading after its first event until ``release`` is set: slow, deterministically."""

    def __init__(self, session: streams.StreamSession) -> None:
        self.release = asyncio.Event()
        super().__init__(session)

    async def _run(self) -> None:
        async for envelope in self.session.events():
            self.events.append(check(envelope))
            await self.release.wait()


async def test_slow_consumer_overflows_to_catch_up_without_loss(chat, hub_cleanup, monkeypatch):
    monkeypatch.setattr(streams, "QUEUE_MAX", 3)
    pa, pb, tid = await _people(chat)
    # The bound is on queued *events* (offer); the hub's re-validation may add a nudge on top of a full queue
    # (``nudge`` appends unconditionally), so ``len(_pending)`` alone may be QUEUE_MAX + 1 or more.
    queued_events: list[int] = []

    class CountingSession(streams.StreamSession):  # StreamSession has __slots__: its methods cannot be patched
        def offer(self, event, prepared):
            super().offer(event, prepared)
            queued_events.append(sum(item[0] == "event" for item in self._pending))

    session = CountingSession(pb, tid, after_seq=0, transport="websocket")
    collector = GatedCollector(session)
    await collector.wait(lambda: get_hub().sessions.get(tid))
    await _send(pa, tid, 1, "first")
    await collector.wait(lambda: collector.seqs == [1])  # the consumer now holds its first event and reads no more
    await _send(pa, tid, 39, "burst")
    await collector.wait(lambda: session._overflow or session.overflows)  # the queue overflowed while it was stuck
    collector.release.set()
    await collector.wait(lambda: len(collector.seqs) >= 40, timeout=20)
    assert collector.seqs == list(range(1, 41))
    assert session.overflows >= 1
    assert max(queued_events) == 3  # filled to the bound, never past it
    await collector.stop()


def _closed(collector: Collector):
    return lambda: collector.events and collector.events[-1]["event_type"] == "closed"


async def test_leave_and_remove_close_the_stream_immediately(chat, hub_cleanup, monkeypatch):
    """The hooks close the stream; the periodic re-check is pushed out of reach so only they can."""
    monkeypatch.setattr(hub_module, "REVALIDATE_INTERVAL_S", 3600)
    pa, pb, tid = await _people(chat)
    collector = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="websocket"))
    await collector.wait(lambda: get_hub().sessions.get(tid))
    await services.remove(pa, tid, pb.user_id)
    await collector.wait(_closed(collector))
    assert collector.events[-1]["data"] == {"reason": "permission_lost"}
    await services.join(pb, tid)
    again = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="sse"))
    await again.wait(lambda: get_hub().sessions.get(tid))
    await services.leave(pb, tid)
    await again.wait(_closed(again))
    assert again.events[-1]["data"] == {"reason": "permission_lost"}


async def test_logout_closes_streams_immediately(chat, hub_cleanup, monkeypatch):
    monkeypatch.setattr(hub_module, "REVALIDATE_INTERVAL_S", 3600)  # only the logout hook can close it
    _pa, pb, tid = await _people(chat)
    collector = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="websocket"))
    await collector.wait(lambda: get_hub().sessions.get(tid))
    await accounts.logout(pb)
    await collector.wait(_closed(collector))
    assert collector.events[-1]["data"] == {"reason": "unauthorized"}


async def test_revalidation_closes_streams_revoked_elsewhere(chat, hub_cleanup):
    """The family was revoked and no event came (a lost bus message): the periodic sweep closes it.

    With at most ``SWEEP_PAGE`` streams every tick checks all of them, so the 1 s promise of 03-chat.md holds
    even without the event (the interval is asserted here); how fast a loaded machine runs the check is not a
    test's business (no latency assertion), only that the check, and nothing else, closes it.
    """
    assert hub_module.REVALIDATE_INTERVAL_S <= 1.0
    assert hub_module.SWEEP_PAGE >= 2
    from apps.accounts.repository import AccountsRepository

    pa, pb, tid = await _people(chat)
    c1 = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="websocket"))
    c2 = Collector(streams.StreamSession(pa, tid, after_seq=0, transport="websocket"))
    await c1.wait(lambda: len(get_hub().sessions.get(tid, ())) == 2)
    await AccountsRepository().revoke_family(pb.family_id, "test", now_ms())
    await c1.wait(_closed(c1))
    assert c1.events[-1]["data"] == {"reason": "unauthorized"}
    await AccountsRepository().set_user_fields(pa.user_id, {"enabled": False})
    await c2.wait(_closed(c2))
    assert c2.events[-1]["data"] == {"reason": "unauthorized"}


async def test_a_revocation_in_another_process_reaches_this_one_on_the_bus(chat, hub_cleanup, monkeypatch):
    """Another process's logout hook announces the revocation on the control group; the sweep is out of reach,
    so only the bus event can close the stream, and only the revoked user's."""
    monkeypatch.setattr(hub_module, "REVALIDATE_INTERVAL_S", 3600)
    from apps.chat import realtime

    pa, pb, tid = await _people(chat)
    revoked = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="websocket"))
    kept = Collector(streams.StreamSession(pa, tid, after_seq=0, transport="websocket"))
    await revoked.wait(lambda: len(get_hub().sessions.get(tid, ())) == 2)
    await realtime.announce_revocation(pb.user_id, pb.family_id)
    await revoked.wait(_closed(revoked))
    assert revoked.events[-1]["data"] == {"reason": "unauthorized"}
    await _send(pa, tid, 1)  # the other stream still works
    await kept.wait(lambda: kept.seqs == [1])
    assert not _closed(kept)()
    await kept.stop()


async def test_a_logout_is_announced_to_the_other_processes(chat, hub_cleanup):
    """The other half of the test above: the logout hook puts ``sessions_revoked`` on the control group."""
    from channels.layers import get_channel_layer

    from apps.chat.realtime import CONTROL_GROUP

    layer = get_channel_layer()
    other_process = await layer.new_channel()  # stands for another replica's hub
    await layer.group_add(CONTROL_GROUP, other_process)
    _pa, pb, _tid = await _people(chat)
    await accounts.logout(pb)
    event = await asyncio.wait_for(layer.receive(other_process), 30)  # a hang guard, not a latency
    assert event["event_type"] == "sessions_revoked"
    assert event["data"] == {"user_id": pb.user_id, "family_id": pb.family_id}


async def test_a_stuck_bus_fails_the_publish_after_its_bound_and_the_send_stands(chat, hub_cleanup, monkeypatch):
    """The publish after a commit is bounded (``PUBLISH_TIMEOUT_S``): a channel layer that never answers costs the
    send that bound, is counted as a failed publish, and the message is in the database for catch-up."""
    from channels.layers import get_channel_layer

    from apps.chat import realtime
    from apps.core import metrics

    pa, _pb, tid = await _people(chat)
    stuck = asyncio.Event()  # never set

    async def never_answers(group, message):
        await stuck.wait()

    monkeypatch.setattr(get_channel_layer(), "group_send", never_answers)
    monkeypatch.setattr(realtime, "PUBLISH_TIMEOUT_S", 0.05)
    failed = metrics.realtime_bridge_events_total.labels("publish_failed")
    before = failed._value.get()
    [sent] = await asyncio.wait_for(_send(pa, tid, 1, "stuck"), 30)  # a hang guard, not a latency
    assert failed._value.get() == before + 1
    stored = await ChatRepository().message_at(tid, sent["seq"])
    assert stored is not None
    assert stored["message_id"] == sent["message_id"]


async def test_the_sweep_reads_one_page_a_tick_and_wraps_around(chat, hub_cleanup, monkeypatch):
    """With more streams than a page, each tick re-reads one page of sign-ins; a pass still reaches them all."""
    monkeypatch.setattr(hub_module, "REVALIDATE_INTERVAL_S", 3600)  # ticks only when the test calls them
    monkeypatch.setattr(hub_module, "SWEEP_PAGE", 2)
    from apps.accounts.repository import AccountsRepository

    pa, pb, tid = await _people(chat)
    cy = await accounts.authenticate((await asyncio.to_thread(chat.signup, "cyd")).token, via="bearer")
    await services.join(cy, tid)
    collectors = [Collector(streams.StreamSession(p, tid, after_seq=0, transport="websocket")) for p in (pb, cy, pa)]
    hub = get_hub()
    await collectors[0].wait(lambda: len(hub.sessions.get(tid, ())) == 3)
    read: list[int] = []
    original = AccountsRepository.stream_auth_state

    async def spy(self, family_ids, user_ids):
        read.append(len(family_ids))
        return await original(self, family_ids, user_ids)

    monkeypatch.setattr(AccountsRepository, "stream_auth_state", spy)
    await AccountsRepository().set_user_fields(pa.user_id, {"enabled": False})
    for _ in range(2):  # two pages of two cover the three streams (three people)
        await hub.revalidate_once()
    await collectors[2].wait(_closed(collectors[2]))
    assert collectors[2].events[-1]["data"] == {"reason": "unauthorized"}
    assert read == [2, 2]  # one page of sign-ins per tick, not all three
    assert not any(_closed(c)() for c in collectors[:2])
    for collector in collectors[:2]:
        await collector.stop()


async def test_the_hub_renews_its_group_memberships_before_the_layer_forgets_them(chat, hub_cleanup, monkeypatch):
    """The layer drops a member after ``group_expiry`` (24 h); the hub re-adds itself, so the bus keeps delivering."""
    monkeypatch.setattr(hub_module, "REVALIDATE_INTERVAL_S", 3600)  # only the bus delivers; ticks run by hand
    pa, pb, tid = await _people(chat)
    collector = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="websocket"))
    hub = get_hub()
    await collector.wait(lambda: hub.sessions.get(tid))
    a_day_ago = time.time() - hub.layer.group_expiry - 60
    for group in (f"chat.thread.{tid}", "chat.control"):
        hub.layer.groups[group][hub.channel] = a_day_ago  # joined more than group_expiry ago
    monkeypatch.setattr(hub_module, "GROUP_REFRESH_S", 0)
    await hub.revalidate_once()
    await _send(pa, tid, 1)
    await collector.wait(lambda: collector.seqs == [1])
    assert hub.layer.groups["chat.control"][hub.channel] > a_day_ago
    await collector.stop()


async def test_heartbeat_pings(chat, hub_cleanup, monkeypatch):
    monkeypatch.setattr(streams, "HEARTBEAT_S", 0.1)
    _pa, pb, tid = await _people(chat)
    collector = Collector(streams.StreamSession(pb, tid, after_seq=None, transport="sse"))
    await collector.wait(lambda: sum(e["event_type"] == "ping" for e in collector.events) >= 2, timeout=10)
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


class OrderedCollector(Collector):
    """Records the ``seq`` of each message the pump yields into ``delivered``, shared with a direct-write sink."""

    def __init__(self, session: streams.StreamSession, delivered: list[int]) -> None:
        self.delivered = delivered
        super().__init__(session)

    async def _run(self) -> None:
        async for envelope in self.session.events():
            self.events.append(check(envelope))
            if envelope["event_type"] == "message":
                self.delivered.append(envelope["seq"])


async def test_the_next_live_message_is_written_directly_while_the_stream_waits(chat, hub_cleanup):
    """Issue 14 point 5a: a socket that offers a synchronous write gets live frames without a task switch."""
    pa, pb, tid = await _people(chat)
    written: list[dict] = []

    def direct(text: str) -> bool:
        written.append(check(json.loads(text)))
        return True

    session = streams.StreamSession(pb, tid, after_seq=0, transport="websocket", direct=direct)
    collector = Collector(session)
    await collector.wait(lambda: session._parked)  # subscribed, caught up, waiting
    sent = await _send(pa, tid, 5)
    await collector.wait(lambda: len(written) >= 5)
    assert [w["seq"] for w in written] == [1, 2, 3, 4, 5]
    assert [w["message"]["message_id"] for w in written] == [m["message_id"] for m in sent]
    assert collector.seqs == []  # none went through the pump
    await collector.stop()


async def test_a_frame_the_socket_cannot_take_goes_through_the_stream_in_order(chat, hub_cleanup):
    pa, pb, tid = await _people(chat)
    delivered: list[int] = []
    refuse = {2, 3}  # e.g. the peer's buffer is full: the transport says "not now"

    def direct(text: str) -> bool:
        seq = json.loads(text)["seq"]
        if seq in refuse:
            refuse.discard(seq)
            return False
        delivered.append(seq)
        return True

    session = streams.StreamSession(pb, tid, after_seq=0, transport="websocket", direct=direct)
    collector = OrderedCollector(session, delivered)
    await collector.wait(lambda: session._parked)
    await _send(pa, tid, 8)
    await collector.wait(lambda: len(delivered) >= 8)
    assert delivered == list(range(1, 9))  # no gap, no duplicate, no overtaking
    assert 2 in collector.seqs  # the refused frame was sent by the stream itself
    await collector.stop()


async def test_a_direct_write_that_fails_leaves_the_frame_to_the_stream(chat, hub_cleanup):
    """A socket whose write raises must not stop the hub's loop over the thread's other streams."""
    pa, pb, tid = await _people(chat)
    delivered: list[int] = []

    def broken(text: str) -> bool:
        raise ConnectionResetError("peer gone")

    def healthy(text: str) -> bool:
        delivered.append(json.loads(text)["seq"])
        return True

    failing = streams.StreamSession(pb, tid, after_seq=0, transport="websocket", direct=broken)
    other = streams.StreamSession(pb, tid, after_seq=0, transport="websocket", direct=healthy)
    failing_collector, other_collector = Collector(failing), Collector(other)
    await failing_collector.wait(lambda: failing._parked and other._parked)
    await _send(pa, tid, 3)
    await failing_collector.wait(lambda: failing_collector.seqs == [1, 2, 3])  # through the stream instead
    await other_collector.wait(lambda: delivered == [1, 2, 3])
    await failing_collector.stop()
    await other_collector.stop()
