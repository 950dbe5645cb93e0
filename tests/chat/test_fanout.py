"""The fan-out renders each message once per visibility variant, with no database read per socket (issue 14 point 4).

Counts repository calls while one process's hub delivers to several streams: the number of reads must not grow
with the number of sockets, and sockets that see the same view share one envelope (and its JSON).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from apps.accounts import services as accounts
from apps.chat import hub as hub_module
from apps.chat import services, streams
from apps.chat.hub import get_hub
from apps.chat.repository import ChatRepository
from apps.core import context
from apps.core.ids import now_ms
from tests.chat.streaming import Collector

READERS = 5
COUNTED = ("users", "messages_between", "message_at", "attachments")


@pytest.fixture
async def hub_cleanup():
    yield
    await get_hub().stop()


@pytest.fixture
def db_reads(monkeypatch) -> Counter:
    """Calls of the chat repository's read methods, by name."""
    calls: Counter = Counter()
    for name in COUNTED:
        original = getattr(ChatRepository, name)

        def counting(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(ChatRepository, name, counting)
    return calls


async def _thread_with_readers(chat, n: int):
    author = await asyncio.to_thread(chat.signup, "author")
    pa = await accounts.authenticate(author.token, via="bearer")
    tid = (await services.create_thread(pa, scope_id="s", privacy_level="public", title=None))["thread_id"]
    readers = []
    for i in range(n):
        user = await asyncio.to_thread(chat.signup, f"reader{i}")
        principal = await accounts.authenticate(user.token, via="bearer")
        await services.join(principal, tid)
        readers.append(principal)
    return pa, tid, readers


async def _barrier(tid: str, collectors: list[Collector], name: str) -> None:
    """An event dispatched now is handled by every stream after everything queued before it."""
    await get_hub().dispatch({"thread_id": tid, "event_type": "member_joined", "seq": None, "data": {"user_id": name}})
    for c in collectors:
        await c.wait(lambda c=c: any((e.get("data") or {}).get("user_id") == name for e in c.events))


async def test_a_message_is_rendered_once_per_variant_not_once_per_socket(chat, hub_cleanup, monkeypatch, db_reads):
    monkeypatch.setattr(hub_module, "REVALIDATE_INTERVAL_S", 3600)  # only the bus delivers
    pa, tid, readers = await _thread_with_readers(chat, READERS)
    collectors = [Collector(streams.StreamSession(p, tid, after_seq=0, transport="websocket")) for p in readers]
    mine = Collector(streams.StreamSession(pa, tid, after_seq=0, transport="websocket"))
    everyone = [*collectors, mine]
    await collectors[0].wait(lambda: len(get_hub().sessions.get(tid, ())) == READERS + 1)
    await _barrier(tid, everyone, "ready")  # the initial catch-ups are done
    db_reads.clear()

    sent = 3
    for i in range(sent):
        context.set_context(context.RequestContext(request_id=f"fan-{i}-{now_ms()}", correlation_id="c"))
        await services.send_message(pa, tid, body=f"hello {i}", attachments=[])
    for c in everyone:
        await c.wait(lambda c=c: len(c.seqs) >= sent)

    # No author lookup at all: not one per socket, not one per message for the hub, none for the sender's answer.
    # The author is the signed-in principal (services._author_brief) and travels in the event with the row.
    assert db_reads["users"] == 0, db_reads
    assert db_reads["message_at"] == 0  # the committed row travels in the event
    assert db_reads["messages_between"] == 0  # in order: no gap to read
    for i in range(sent):
        shared = [next(e for e in c.events if e.get("seq") == i + 1) for c in collectors]
        assert all(envelope is shared[0] for envelope in shared)  # one view and one envelope for the readers
        assert shared[0].text() is shared[0].text()  # and its JSON encoded once
        own = next(e for e in mine.events if e.get("seq") == i + 1)
        assert own == shared[0]  # the author's variant has the same content for a visible message
    for c in everyone:
        assert c.seqs == [1, 2, 3]
        await c.stop()


async def test_an_event_ahead_of_the_others_reads_the_gap_once_for_all_streams(
    chat, hub_cleanup, monkeypatch, db_reads
):
    monkeypatch.setattr(hub_module, "REVALIDATE_INTERVAL_S", 3600)
    pa, tid, readers = await _thread_with_readers(chat, 3)
    collectors = [Collector(streams.StreamSession(p, tid, after_seq=0, transport="websocket")) for p in readers]
    await collectors[0].wait(lambda: len(get_hub().sessions.get(tid, ())) == 3)
    await _barrier(tid, collectors, "ready")
    repo = ChatRepository()
    rows = []
    for i in range(1, 4):  # committed; their events are published below, out of order
        row = {"thread_id": tid, "message_id": f"{i:032x}", "author_id": pa.user_id, "body": f"q{i}",
               "attachments": [], "request_id": f"quiet-{i}", "correlation_id": "c",
               "created_at_ms": now_ms()}  # fmt: skip
        rows.append(await repo.append_message(tid, row, now_ms()))
    db_reads.clear()
    hub = get_hub()

    def event(row):
        return {"thread_id": tid, "event_type": "message", "seq": row["seq"], "message_id": row["message_id"],
                "committed_at_ms": now_ms(), "row": row}  # fmt: skip

    await hub.dispatch(event(rows[0]))
    await hub.dispatch(event(rows[2]))  # ahead: 2..3 read once, for every stream
    await hub.dispatch(event(rows[1]))  # late: already offered, dropped
    await _barrier(tid, collectors, "done")
    assert db_reads["messages_between"] == 1, db_reads
    for c in collectors:
        assert c.seqs == [1, 2, 3]  # in order, no duplicate
        await c.stop()


async def test_authors_the_event_does_not_carry_are_read_once_for_the_page(chat, db_reads):
    """A gap read may bring messages of other authors: those, and only those, are read (in one query)."""
    from apps.chat import fanout

    pa, tid, readers = await _thread_with_readers(chat, 1)
    known = {pa.user_id: {"user_id": pa.user_id, "username": "from-the-event", "role": "user"}}
    rows = [
        {"thread_id": tid, "seq": seq, "message_id": f"{seq:032x}", "author_id": author, "body": "b",
         "attachments": [], "created_at_ms": now_ms(), "moderation_status": None, "mentions": []}
        for seq, author in ((1, pa.user_id), (2, readers[0].user_id), (3, pa.user_id))
    ]  # fmt: skip
    db_reads.clear()
    _loaded, authors = await fanout.load_for_views(rows, known)
    assert db_reads["users"] == 1, db_reads
    assert authors[pa.user_id]["username"] == "from-the-event"  # not read again
    assert authors[readers[0].user_id]["username"] == "reader0"  # read
    db_reads.clear()
    await fanout.load_for_views(rows[:1], known)
    assert db_reads["users"] == 0, db_reads
