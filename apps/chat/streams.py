"""One realtime stream (a WebSocket or an SSE response) of one thread, transport-neutral.

Connect sequence (03-chat.md): the caller has authenticated and checked
membership; ``events()`` then subscribes to the hub, reads the backlog after the
client's cursor from the database, and streams live events, dropping any ``seq``
already sent (no duplicate) and reading a missing range from the database
before a later message (gap repair, so no gap). The hub offers events through a
bounded queue; on overflow the queue is discarded and the stream catches up
from the database instead (slow consumers lose nothing, memory stays bounded).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from apps.accounts.domain import Principal
from apps.chat import permissions, presenters, services
from apps.chat.fanout import PreparedMessage
from apps.chat.hub import MESSAGE_EVENTS, get_hub
from apps.chat.repository import ChatRepository
from apps.core import metrics
from apps.core.ids import now_ms
from apps.core.slim_async import SlimEvent

HEARTBEAT_S = 15.0
QUEUE_MAX = 256
CATCHUP_BATCH = 200

_NUDGE = "nudge"
_RESUME = "resume"
_ENVELOPE = "envelope"  # a live message already decided for this stream, which the socket could not take at once

# A transport's synchronous write of one text frame (apps.core.servers.SEND_TEXT_NOW); False: "not now".
DirectWrite = Callable[[str], bool]


class StreamSession:
    # Slots, a list and a SlimEvent instead of an instance dict, a deque and an asyncio.Event: 5,000 idle
    # streams each held about 2 KiB of empty containers (issue 14 point 2, tracemalloc).
    __slots__ = ("_direct", "_heartbeat", "_heartbeat_due", "_overflow", "_parked", "_pending", "_wake",
                 "closed_reason", "last_sent", "overflows", "principal", "start_after", "thread_id",
                 "transport")  # fmt: skip

    def __init__(
        self,
        principal: Principal,
        thread_id: str,
        *,
        after_seq: int | None,
        transport: str,
        direct: DirectWrite | None = None,
    ) -> None:
        self.principal = principal
        self.thread_id = thread_id
        self.transport = transport
        self.start_after = after_seq
        self.last_sent = 0
        self.closed_reason: str | None = None
        self.overflows = 0
        self._pending: list[tuple[Any, ...]] = []  # at most QUEUE_MAX, usually one
        self._overflow = False
        self._wake = SlimEvent()
        # A ping every HEARTBEAT_S: one timer per stream, re-armed when it fires. (A wait_for around every
        # wake-up cost a task and a timer per delivered frame.)
        self._heartbeat: asyncio.TimerHandle | None = None
        self._heartbeat_due = False
        # ``direct``: the socket's synchronous write, used for the next live message while ``events()`` is
        # parked with nothing queued (so nothing can be overtaken): no task switch per delivered frame.
        self._direct = direct
        self._parked = False

    # -- called by the hub (same loop, never blocks) ----------------------------

    def offer(self, event: dict[str, Any], prepared: PreparedMessage | None) -> None:
        """``prepared``: the event's message rendered once for all streams (``None``: read it if needed)."""
        if self._overflow:
            return
        if (
            self._direct is not None
            and self._parked
            and not self._pending
            and self.closed_reason is None
            and event["event_type"] == "message"
        ):
            outcome = self._message(event, prepared)
            if outcome is None:  # already sent
                return
            if isinstance(outcome, presenters.Envelope):
                self._write_now(outcome)
                return
            # A gap, or a message the hub could not prepare: queued below, the stream reads it from the database.
        if len(self._pending) >= QUEUE_MAX:
            self._overflow = True
            self._pending.clear()
        else:
            self._pending.append(("event", event, prepared))
        self._wake.set()

    def _write_now(self, envelope: presenters.Envelope) -> None:
        """Write ``envelope`` through the socket's direct write; if it cannot take it now, the stream sends it."""
        try:
            written = self._direct is not None and self._direct(envelope.text())
        except Exception:  # one socket's failure must not end the hub's loop over the other streams
            written = False
        if not written:
            self._pending.append((_ENVELOPE, envelope))  # the pump sends it, before anything offered later
            self._wake.set()

    def nudge(self) -> None:
        """The thread is ahead of this stream: catch up from the database."""
        self._pending.append((_NUDGE,))
        self._wake.set()

    def resume(self, after_seq: int) -> None:
        self._pending.append((_RESUME, after_seq))
        self._wake.set()

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
        self._wake.set()

    # -- the stream ---------------------------------------------------------------

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Envelopes to send, in order; ends with a ``closed`` envelope when the server ends the stream."""
        hub = get_hub()
        metrics.realtime_connections.labels(self.transport).inc()
        reason = "client_closed"
        await hub.subscribe(self)  # before the backlog read: nothing committed later can be missed
        try:
            if self.start_after is None:
                self.last_sent = await _last_seq(self.thread_id)  # a local row would live as long as the stream
            else:
                self.last_sent = self.start_after
                async for envelope in self._catch_up():
                    yield envelope
            self._arm_heartbeat()
            while self.closed_reason is None:
                if not self._pending and not self._overflow and not self._heartbeat_due:
                    self._parked = True
                    try:
                        await self._wake.wait()
                    finally:
                        self._parked = False
                    self._wake.clear()
                if self.closed_reason is not None:
                    break
                if self._heartbeat_due:
                    self._arm_heartbeat()
                    yield presenters.envelope("ping", self.thread_id)
                    continue
                if self._overflow:
                    self._overflow = False
                    self.overflows += 1
                    self._pending.clear()
                    metrics.realtime_bridge_events_total.labels("slow_consumer_catchup").inc()
                    async for envelope in self._catch_up():
                        yield envelope
                    continue
                if self._pending:
                    item = self._pending.pop(0)
                    if item[0] == _ENVELOPE:
                        yield item[1]
                        continue
                    if item[0] == "event" and item[1]["event_type"] == "message":
                        # The common case, decided without an async generator per event.
                        outcome = self._message(item[1], item[2])
                        if isinstance(outcome, presenters.Envelope):
                            yield outcome
                        elif outcome is not None:
                            async for envelope in self._catch_up(upto=outcome):  # gap repair
                                yield envelope
                        continue
                    async for envelope in self._handle(item):
                        yield envelope
            reason = self.closed_reason or reason
            yield presenters.envelope("closed", self.thread_id, data={"reason": reason})
        finally:
            await hub.unsubscribe(self)
            if self._heartbeat is not None:
                self._heartbeat.cancel()
            metrics.realtime_connections.labels(self.transport).dec()
            metrics.realtime_disconnects_total.labels(self.transport, self.closed_reason or reason).inc()

    def _arm_heartbeat(self) -> None:
        self._heartbeat_due = False
        self._heartbeat = asyncio.get_running_loop().call_later(HEARTBEAT_S, self._beat)

    def _beat(self) -> None:
        self._heartbeat_due = True
        self._wake.set()

    def _message(self, event: dict[str, Any], prepared: PreparedMessage | None) -> presenters.Envelope | int | None:
        """A live ``message`` event: its envelope when it is the next ``seq``; None when it was already sent
        (backlog or an earlier catch-up); else the ``seq`` to catch up to from the database (a gap, or a message
        the hub could not prepare)."""
        seq = event.get("seq")
        if seq is None or seq <= self.last_sent:
            return None
        if seq > self.last_sent + 1 or prepared is None:
            return seq
        return self._live_message(prepared, event)

    async def _handle(self, item: tuple[Any, ...]) -> AsyncIterator[dict[str, Any]]:
        kind = item[0]
        if kind == _NUDGE:
            async for envelope in self._catch_up():
                yield envelope
            return
        if kind == _RESUME:
            self.last_sent = item[1]
            async for envelope in self._catch_up():
                yield envelope
            return
        _, event, prepared = item
        event_type = event["event_type"]
        seq = event.get("seq")
        if event_type in MESSAGE_EVENTS:  # edits, deletions, moderation ("message" itself: ``_message``)
            if seq is not None and seq > self.last_sent:
                async for envelope in self._catch_up(upto=seq):  # the current state comes with it
                    yield envelope
                return
            if prepared is not None:
                yield prepared.envelope_for(event_type, self.principal)
            return
        data = event.get("data") or {}
        if event_type == "member_left" and data.get("user_id") == self.principal.user_id:
            member = await ChatRepository().get_member(self.thread_id, self.principal.user_id)
            if not permissions.is_active(member):
                self.close("permission_lost")
                return
        yield presenters.envelope(event_type, self.thread_id, data=data or None)

    def _live_message(self, prepared: PreparedMessage, event: dict[str, Any]) -> presenters.Envelope:
        self.last_sent = prepared.seq
        if event.get("committed_at_ms"):
            metrics.realtime_delivery_lag_seconds.observe(max(0, now_ms() - event["committed_at_ms"]) / 1000)
        return prepared.envelope_for("message", self.principal)

    async def _catch_up(self, upto: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every message after ``last_sent`` (up to ``upto`` if given) from the database, ascending."""
        repo = ChatRepository()
        while self.closed_reason is None:
            lo = self.last_sent + 1
            hi = lo + CATCHUP_BATCH - 1 if upto is None else min(upto, lo + CATCHUP_BATCH - 1)
            rows = await repo.messages_between(self.thread_id, lo, hi)
            views = await services.views_of(rows, self.principal)
            for row, view in zip(rows, views, strict=True):
                if row["seq"] != self.last_sent + 1:
                    return  # a hole cannot happen (seq is gapless); stop rather than skip
                self.last_sent = row["seq"]
                yield presenters.envelope("message", self.thread_id, seq=row["seq"], message=view)
            if len(rows) < hi - lo + 1 or (upto is not None and self.last_sent >= upto):
                return


async def _last_seq(thread_id: str) -> int:
    """The thread's newest ``seq`` (0 for an empty or unknown thread): where a stream without a cursor starts."""
    thread = await ChatRepository().get_thread(thread_id)
    return thread["last_seq"] if thread else 0
