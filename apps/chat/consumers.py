"""The WebSocket endpoint of a thread: a thin shell around ``streams.StreamSession``.

Close codes: 4001 unauthorized (no/invalid/revoked token), 4003 forbidden (not a
member, or membership ended), 4404 unknown thread, 4400 bad ``after_seq``, 4429 too many
client frames (``FrameBudget``).
Client frames: ``{"type": "ack", "seq": N}`` (measured, changes nothing) and
``{"type": "resume", "after_seq": N}`` (re-send everything after N) and ``{"type": "typing"}``
(the typing indicator, ``typing.announce``: throttled, never stored).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.chat import services
from apps.chat.streams import StreamSession
from apps.core.asgi_handler import django_has_database
from apps.core.errors import Forbidden, NotFound
from apps.core.servers import SEND_TEXT_NOW, TOO_MANY_FRAMES

CLOSE_CODES = {
    "unauthorized": 4001,
    "permission_lost": 4003,
    "forbidden": 4003,
    "server_shutdown": 1000,  # not 1001: autobahn, under daphne, sends only 1000 and 3000-4999 (it raised)
    "too_many_frames": TOO_MANY_FRAMES,
}
# A client sends few frames: typing at most every few seconds, a resume after a gap, acks. A socket sending
# more than FRAME_BURST at once or FRAME_RATE a second for long is closed (4429): every frame is parsed on the
# one event loop all sockets share, so a flood from one socket would delay everyone's delivery (issue 14).
FRAME_RATE = 10.0
FRAME_BURST = 30


class FrameBudget:
    """A token bucket per socket, made on the socket's first frame (idle sockets never pay for one)."""

    __slots__ = ("stamp", "tokens")

    def __init__(self) -> None:
        self.tokens = float(FRAME_BURST)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(float(FRAME_BURST), self.tokens + (now - self.stamp) * FRAME_RATE)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


def _after_seq(scope: dict[str, Any]) -> int | bool | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("after_seq")
    if not values:
        return None
    try:
        value = int(values[-1])
    except ValueError:
        return False
    return value if 0 <= value <= 2**53 else False


class ChatConsumer(AsyncWebsocketConsumer):
    # No channel-layer channel per socket: the hub receives one event per thread per process and
    # hands it to the sockets. A per-socket channel cost memory, slowed the in-memory layer (its
    # housekeeping walks every channel) and, on Redis, a failed receive closed the socket (1011).
    channel_layer_alias = None
    session: StreamSession | None = None
    pump: asyncio.Task[None] | None = None
    budget: FrameBudget | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels runs Django's close_old_connections through sync_to_async before every handler: a thread
        # hop per connect, frame and disconnect. With no Django database it closes nothing (the HTTP side drops
        # the same hook: asgi_handler.disconnect_database_signals); tests/core/test_thread_hops.py.
        if django_has_database():
            return await super().dispatch(message)
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # Channels' own, without its closing close_old_connections hop (see dispatch); no groups to leave here.
        if django_has_database():
            return await super().websocket_disconnect(message)
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def connect(self) -> None:
        await self.accept()  # accept first so the client learns the close code
        principal = self.scope.get("principal")
        thread_id = self.scope["url_route"]["kwargs"]["thread_id"]
        if principal is None:
            await self.close(code=4001)
            return
        after_seq = _after_seq(self.scope)
        if after_seq is False:
            await self.close(code=4400)
            return
        try:
            await services.access(principal, thread_id)
        except NotFound:
            await self.close(code=4404)
            return
        except Forbidden:
            await self.close(code=4003)
            return
        direct = self.scope.get("extensions", {}).get(SEND_TEXT_NOW)  # uvicorn's; daphne: every frame via send
        self.session = StreamSession(principal, thread_id, after_seq=after_seq, transport="websocket", direct=direct)
        self.pump = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        assert self.session is not None
        async for envelope in self.session.events():
            await self.send(text_data=envelope.text())
        await self.close(code=CLOSE_CODES.get(self.session.closed_reason or "", 1000))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.session is None:
            return
        if self.budget is None:
            self.budget = FrameBudget()
        if not self.budget.take():
            self.session.close("too_many_frames")  # the pump sends the closed envelope, then closes with 4429
            return
        if text_data is None:
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        if frame.get("type") == "typing":  # the typing indicator (apps/chat/typing.py): throttled, never stored
            from apps.chat import typing
            from apps.core.errors import AppError

            with contextlib.suppress(AppError):
                await typing.announce(self.session.principal, self.session.thread_id)
            return
        after = frame.get("after_seq")
        if frame.get("type") == "resume" and isinstance(after, int) and not isinstance(after, bool) and after >= 0:
            self.session.resume(after)

    async def disconnect(self, code: int) -> None:
        if self.session is not None:
            self.session.close("client_closed")
        # The consumer lets go of its pump. A pump that ended on an error (a send to a client that had just gone:
        # uvicorn's ClientDisconnected) keeps its frame, and so this consumer, in the error's traceback: held
        # here too, the socket's whole state was a reference cycle that only a full collection freed.
        pump, self.pump = self.pump, None
        if pump is None:
            return
        if pump.done():
            if not pump.cancelled():
                pump.exception()  # taken, so asyncio does not log it as never retrieved
            return
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
