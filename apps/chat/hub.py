"""The per-process fan-out hub: one channel-layer subscription per thread per process.

Why (notes/environment.md, realtime ceilings): Channels ``group_send`` to one
consumer per socket drops frames silently once a consumer's channel is full and
collapses with thousands of sockets. So the channel layer (in-memory or Redis)
delivers one event per thread to this process; the hub reads the row from the
database once and offers it to each local stream through that stream's bounded
queue. A stream whose queue overflows switches to catch-up from the database by
``seq`` instead of losing frames (see ``streams.StreamSession``).

Closing streams is driven by events: a leave or removal reaches every process as the
thread's ``member_left`` event, an ended sign-in as ``sessions_revoked`` on the
control group (``realtime.announce_revocation``), and the process that made the change
closes its own streams through the domain-event hooks at once. The layer is never
trusted for completeness, so a periodic check (``REVALIDATE_INTERVAL_S``) re-reads
every watched thread's ``last_seq`` (nudging streams that are behind) and sweeps the
streams' sign-ins and memberships a page at a time (``SWEEP_PAGE``): all of them every
tick up to ``SWEEP_PAGE`` streams, so a change the bus lost closes its streams within a
second; with 5,000 streams a full pass takes 25 s instead of re-reading 15,000 records
every half second (about 2 s of database work a tick, measured, which the process could not
keep up with). A page's read costs 0.15-0.3 ms a stream (``python bench/sweep_cost.py``,
mem://, load 5-7: 100 streams 14-36 ms, 250 streams 31-84 ms, 5,000 streams 0.7-0.9 s), so
the page is what an idle process spends on the sweep: 100 streams, 3-7 % of a core.

One hub per event loop (the server has one loop; tests may run several).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from channels.layers import get_channel_layer

from apps.accounts.domain import Principal
from apps.chat import fanout, realtime
from apps.chat.fanout import PreparedMessage
from apps.chat.realtime import CONTROL_GROUP, EVENT_TYPE, SESSIONS_REVOKED, MembershipEnded, group_name
from apps.chat.repository import ChatRepository
from apps.core import events, metrics

log = logging.getLogger(__name__)

REVALIDATE_INTERVAL_S = 0.5
SWEEP_PAGE = 100  # streams whose sign-in and membership one tick re-reads (the module docstring says why)
# Channel layers forget a group member after ``group_expiry`` (24 h in channels and channels-redis): a process
# whose thread kept local streams for a day stopped receiving that thread's events (only the 0.5 s check
# delivered them). So the hub adds itself to its groups again this often.
GROUP_REFRESH_S = 3600.0
BUS_TIMEOUT_S = 1.0
MESSAGE_EVENTS = frozenset({"message", "message_updated", "message_deleted", "message_hidden", "message_restored"})

_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The hub of the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(loop)
    return hub


def hubs() -> list[Hub]:
    return [hub for loop, hub in list(_hubs.items()) if not loop.is_closed()]


class Subscriber(Protocol):
    """What the hub needs of a stream (``streams.StreamSession``); a protocol so the hub does not import streams."""

    principal: Principal
    thread_id: str
    last_sent: int

    def offer(self, event: dict[str, Any], prepared: PreparedMessage | None) -> None: ...
    def nudge(self) -> None: ...
    def close(self, reason: str) -> None: ...


class Hub:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sessions: dict[str, set[Subscriber]] = {}
        self.channel: str | None = None
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[Any]] = []
        self._unjoined: set[str] = set()  # threads with local streams whose group join failed
        self._offered_seq: dict[str, int] = {}  # thread -> highest new-message seq offered to its streams
        self._behind: dict[Subscriber, int] = {}  # stream -> thread last_seq it lagged at the previous check
        self._sweep_cursor = 0  # where the next page of the sign-in/membership sweep starts
        self._control_joined = False
        self._groups_refreshed_at = loop.time()
        self.layer = None

    # -- lifecycle ----------------------------------------------------------

    async def _start(self) -> None:
        if self.channel is not None:
            return
        self.layer = get_channel_layer()
        # The default prefix on purpose: channels-redis serves every process-local channel with ONE
        # receive lock, blocking on the Redis list of the lock holder's channel prefix. A channel with
        # another prefix ("chat-hub.") waited until the consumers' blocking pop timed out, so events
        # from other replicas arrived only through the 0.5 s re-validation.
        self.channel = await self.layer.new_channel()
        await self._join_control()
        self._tasks = [
            self.loop.create_task(self._read(), name="chat-hub-reader"),
            self.loop.create_task(self._revalidate(), name="chat-hub-revalidate"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks, self.channel = [], None

    def call_threadsafe(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func`` on the hub's loop (hooks may be called from another loop or thread)."""
        try:
            if asyncio.get_running_loop() is self.loop:
                func(*args)
                return
        except RuntimeError:
            pass
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(func, *args)

    # -- subscriptions --------------------------------------------------------

    async def subscribe(self, session: Subscriber) -> None:
        async with self._lock:
            await self._start()
            local = self.sessions.get(session.thread_id)
            if local is None:
                local = self.sessions[session.thread_id] = set()
                await self._join_group(session.thread_id)
            local.add(session)

    async def _join_group(self, thread_id: str) -> None:
        """Join the thread's group, bounded: with the bus down the stream still works by catch-up.

        A thread whose join failed is retried by the re-validation; until then its streams are
        served by the 0.5 s re-check (the database is the truth, the bus only makes it faster).
        """
        try:
            await asyncio.wait_for(self.layer.group_add(group_name(thread_id), self.channel), BUS_TIMEOUT_S)
        except Exception:  # a failing bus must never block or fail a stream
            metrics.realtime_bridge_events_total.labels("subscribe_failed").inc()
            log.warning("chat hub could not join a thread group", extra={"thread_id": thread_id})
            self._unjoined.add(thread_id)
        else:
            self._unjoined.discard(thread_id)

    async def _join_control(self) -> None:
        """Listen for revocations from every process (retried by the re-validation when the bus is down)."""
        try:
            await asyncio.wait_for(self.layer.group_add(CONTROL_GROUP, self.channel), BUS_TIMEOUT_S)
        except Exception:
            metrics.realtime_bridge_events_total.labels("subscribe_failed").inc()
            log.warning("chat hub could not join the control group")
        else:
            self._control_joined = True

    async def unsubscribe(self, session: Subscriber) -> None:
        async with self._lock:
            local = self.sessions.get(session.thread_id)
            if local is None:
                return
            local.discard(session)
            self._behind.pop(session, None)
            if not local:
                del self.sessions[session.thread_id]
                self._unjoined.discard(session.thread_id)
                self._offered_seq.pop(session.thread_id, None)
                try:
                    await asyncio.wait_for(
                        self.layer.group_discard(group_name(session.thread_id), self.channel), BUS_TIMEOUT_S
                    )
                except Exception:
                    log.warning("group_discard failed", exc_info=True)

    def all_sessions(self) -> list[Subscriber]:
        return [s for local in self.sessions.values() for s in local]

    # -- events ---------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            try:
                event = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.realtime_bridge_events_total.labels("receive_failed").inc()
                log.warning("chat hub receive failed", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if event.get("type") != EVENT_TYPE:
                continue
            try:
                await self.dispatch(event)
            except Exception:
                log.exception("chat hub dispatch failed")

    async def dispatch(self, event: dict[str, Any]) -> None:
        """Hand one event to the local streams of its thread; a message is rendered once for all of them.

        New messages go out in ``seq`` order per thread (``_in_order``), so a stream sees no gap that the
        hub could fill once for everybody; each stream still repairs any gap of its own from the database.
        """
        if event["event_type"] == SESSIONS_REVOKED:
            self.revoke(event["data"]["user_id"], event["data"].get("family_id"))
            return
        thread_id = event["thread_id"]
        local = self.sessions.get(thread_id)
        if not local:
            return
        event_type, seq = event["event_type"], event.get("seq")
        if event_type == "message" and seq is not None:
            for ordered, prepared in await self._in_order(thread_id, event):
                self._offer(thread_id, ordered, prepared)
            return
        prepared = None
        if event_type in MESSAGE_EVENTS and seq is not None:
            rows = [event["row"]] if event.get("row") else await self._rows(thread_id, seq, seq)
            prepared = next(iter(await fanout.prepare(rows)), None)
        self._offer(thread_id, event, prepared)

    def _offer(self, thread_id: str, event: dict[str, Any], prepared: PreparedMessage | None) -> None:
        # A typing event goes to the thread's *other* members (apps/chat/typing.py); never back to the typer.
        typist = (event.get("data") or {}).get("user_id") if event["event_type"] == "typing" else None
        for session in list(self.sessions.get(thread_id, ())):
            if typist is not None and session.principal.user_id == typist:
                continue
            session.offer(event, prepared)

    async def _in_order(
        self, thread_id: str, event: dict[str, Any]
    ) -> list[tuple[dict[str, Any], PreparedMessage | None]]:
        """The new messages this event makes deliverable, ascending, each prepared once.

        Concurrent sends commit in ``seq`` order but may publish out of order. An event ahead of the last
        one offered here reads the missing range once for every local stream (instead of once per stream);
        an event at or below it was already offered with that range and is dropped.
        """
        seq = event["seq"]
        last = self._offered_seq.get(thread_id)
        if last is not None and seq <= last:
            return []
        if last is not None and seq > last + 1:
            rows = await self._rows(thread_id, last + 1, seq)
            metrics.realtime_bridge_events_total.labels("hub_gap_read").inc()
        else:
            rows = [event["row"]] if event.get("row") else await self._rows(thread_id, seq, seq)
        self._offered_seq[thread_id] = max(seq, self._offered_seq.get(thread_id) or 0)
        if not rows:  # not readable (yet): the streams repair it from the database themselves
            return [(event, None)]
        return [
            ({**event, "seq": p.seq, "message_id": p.row["message_id"], "row": None, "authors": None}, p)
            for p in await fanout.prepare(rows, event.get("authors"))
        ]

    @staticmethod
    async def _rows(thread_id: str, lo: int, hi: int) -> list[dict[str, Any]]:
        return await ChatRepository().messages_between(thread_id, lo, hi)

    def membership_changed(self, thread_id: str, user_id: str) -> None:
        for session in list(self.sessions.get(thread_id, ())):
            if session.principal.user_id == user_id:
                session.close("permission_lost")

    def revoke(self, user_id: str, family_id: str | None) -> None:
        for session in self.all_sessions():
            if session.principal.user_id == user_id and family_id in (None, session.principal.family_id):
                session.close("unauthorized")

    # -- the safety net ---------------------------------------------------------

    async def _revalidate(self) -> None:
        while True:
            await asyncio.sleep(REVALIDATE_INTERVAL_S)
            try:
                await self.revalidate_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("chat stream re-validation failed", exc_info=True)

    async def revalidate_once(self) -> None:
        if self.channel is not None and self.loop.time() - self._groups_refreshed_at >= GROUP_REFRESH_S:
            self._groups_refreshed_at = self.loop.time()
            self._control_joined = False
            self._unjoined.update(self.sessions)  # rejoined just below, like a join that failed
        if not self._control_joined and self.channel is not None:
            await self._join_control()
        for thread_id in list(self._unjoined):
            if thread_id in self.sessions:
                await self._join_group(thread_id)
        sessions = self.all_sessions()
        if not sessions:
            return
        page = self._sweep_page(sessions)
        state = await ChatRepository().stream_state(
            sorted({s.principal.family_id for s in page}),
            sorted({s.principal.user_id for s in page}),
            [list(pair) for pair in sorted({(s.thread_id, s.principal.user_id) for s in page})],
            sorted(self.sessions),
        )
        families = {f["family_id"]: f for f in state.get("families") or []}
        users = {u["user_id"]: u for u in state.get("users") or []}
        active = {(m["thread_id"], m["user_id"]) for m in state.get("members") or [] if m.get("left_at_ms") is None}
        last_seqs = {t["thread_id"]: t["last_seq"] for t in state.get("threads") or []}
        for session in page:
            family = families.get(session.principal.family_id)
            user = users.get(session.principal.user_id)
            if family is None or family.get("revoked") or user is None or not user.get("enabled"):
                session.close("unauthorized")
            elif (session.thread_id, session.principal.user_id) not in active:
                session.close("permission_lost")
        behind: dict[Subscriber, int] = {}
        for session in sessions:
            if last_seqs.get(session.thread_id, 0) > session.last_sent:
                # Nudged only if still short of what it lagged at the previous check: a message committed a
                # moment ago is usually on its way through the bus, and a nudge then would make every stream of
                # a busy thread read the database again (a lost event is still recovered within two checks).
                lagged = self._behind.get(session)
                if lagged is not None and session.last_sent < lagged:
                    session.nudge()
                behind[session] = last_seqs[session.thread_id]
        self._behind = behind

    def _sweep_page(self, sessions: list[Subscriber]) -> list[Subscriber]:
        """The next ``SWEEP_PAGE`` streams, wrapping around (all of them when there are fewer)."""
        if len(sessions) <= SWEEP_PAGE:
            return sessions
        start = self._sweep_cursor % len(sessions)
        page = sessions[start : start + SWEEP_PAGE]
        page += sessions[: SWEEP_PAGE - len(page)]
        self._sweep_cursor = start + SWEEP_PAGE
        return page


# -- other domains' events (subscribed in ChatConfig.ready) --------------------------------------------------


def on_membership_ended(event: MembershipEnded) -> None:
    for hub in hubs():
        hub.call_threadsafe(hub.membership_changed, event.thread_id, event.user_id)


async def on_sessions_revoked(event: events.UserSessionsRevoked) -> None:
    """Close this process's streams of a revoked sign-in at once, and tell the other processes over the bus."""
    for hub in hubs():
        hub.call_threadsafe(hub.revoke, event.user_id, event.family_id)
    await realtime.announce_revocation(event.user_id, event.family_id)
