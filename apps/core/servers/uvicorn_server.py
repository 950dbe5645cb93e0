"""uvicorn in-process (uvloop, httptools, the sans-I/O ``websockets`` protocol): the lifecycle of ``apps.core.servers``.

Settings that differ from uvicorn's defaults, and why:

- ``ws_per_message_deflate=False``: daphne does not negotiate compression either, and uvicorn's default
  keeps a zlib context per socket (about 141 KiB each, measured in issue 14), which 5,000 idle sockets
  cannot afford; chat frames are small JSON.
- ``lifespan="off"``: Django's ASGI handler has no lifespan protocol; our start-up work runs before
  ``serve`` listens and the shutdown below replaces it.
- ``proxy_headers=False``, ``server_header=False``, ``access_log=False``: the application alone decides
  which ``X-Forwarded-For`` hop to trust (``TRUSTED_PROXY_COUNT``) and writes the access log.
- ``ws_max_size``: ``MAX_BODY_BYTES``, the same bound as an HTTP body (clients only send small control frames).
- protocol pings stay on (every 20 s, 20 s to answer): a socket whose client vanished without a close is
  dropped within about 40 s (``ws=BoundedWebSocketProtocol``); daphne pinged every 20 s with 30 s to answer.
- ``http=BoundedHeadProtocol``: uvicorn's httptools protocol keeps a request line and headers of any size in
  memory; ours answers 431 once the head passes ``MAX_HEAD_BYTES`` (Twisted, under daphne, cuts at about 16 KB).
  Its responses go out in one write, head and body together (``OneWriteCycle``).
- The listening socket is bound here, so a port in use is an error message for ``serve``, not
  uvicorn's ``sys.exit(1)``.

Shutdown: SIGTERM/SIGINT stop accepting, stop the background tasks, then uvicorn closes every WebSocket
with 1012 ("service restart": clients reconnect) and idle keep-alive connections, waits for in-flight
requests up to ``drain_timeout`` seconds and cancels what is left; then the SurrealDB client is closed.
A second signal skips the waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from apps.core import background
from apps.core.db import close_db
from apps.core.servers import SEND_TEXT_NOW, TOO_MANY_FRAMES, OnStarted, ServeOptions
from apps.core.slim_async import SlimEvent, SlimQueue

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
BACKLOG = 2048  # 5,000 sockets may connect in a burst (chat target 3); uvicorn's default, named here
# Request line + headers. A 12 KB bearer token must still reach the application (it answers 401 with an envelope).
MAX_HEAD_BYTES = 32 * 1024
HEAD_TOO_LARGE = b"request line and headers too large"
DEAF_CLOSE_S = 1.0  # a socket closed for flooding: its transport closes this long after the close frame


class _HeldWrite:
    """Takes the place of the transport while uvicorn writes a response's head, and keeps the bytes."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


class _HeadFirst:
    """Takes the place of the transport while uvicorn writes a body: its first write carries the held head."""

    def __init__(self, transport: asyncio.Transport, head: bytes) -> None:
        self.transport, self.head = transport, head

    def write(self, data: bytes) -> None:
        data, self.head = self.head + data, b""
        self.transport.write(data)

    def write_head(self) -> None:
        """The head alone, when the body wrote nothing (the answer to a HEAD request)."""
        if self.head and not self.transport.is_closing():
            self.write(b"")

    def close(self) -> None:
        self.write_head()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request/response cycle, except that a response's head waits for its body's first bytes.

    uvicorn writes the head when the application sends ``http.response.start`` and the body on the next message:
    two writes, two syscalls and two TCP segments for every JSON answer. With 200 WebSockets attached, the head's
    write alone was about 5 % of the event loop's samples (issue 14, docs/benchmarks.md). Django sends both
    messages in one step, so they now go out in one write. A head whose body does not follow in the same step (a
    stream waiting for its first event) is written at the loop's next iteration, so no client waits on it.
    """

    held_head: bytes | None = None

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start" and not self.response_started:
            transport, held = self.transport, _HeldWrite()
            self.transport = held  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
            if held.data:
                self.held_head = held.data
                asyncio.get_running_loop().call_soon(self._write_held_head)
            return
        if self.held_head is None:
            await super().send(message)
            return
        transport, head_first = self.transport, _HeadFirst(self.transport, self.held_head)
        self.held_head = None
        self.transport = head_first  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
            head_first.write_head()

    def _write_held_head(self) -> None:
        if self.held_head is not None:
            head, self.held_head = self.held_head, None
            if not self.transport.is_closing():
                self.transport.write(head)


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the bytes of a request's head (line + headers).

    httptools only calls back once a header is complete, so the bound counts received chunks: a chunk counts
    when the head was still incomplete after it and no message began inside it (then its start was the end of
    the previous message or a body). Memory stays within ``MAX_HEAD_BYTES`` plus two reads.
    """

    reading_head = True
    head_bytes = 0
    messages_begun = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.reading_head, self.head_bytes = True, 0
        self.messages_begun += 1

    def on_headers_complete(self) -> None:
        self.reading_head = False
        super().on_headers_complete()
        if type(self.cycle) is RequestResponseCycle:
            # uvicorn makes the cycle and its task right there; the task looks ``send`` up when it runs.
            self.cycle.__class__ = OneWriteCycle

    def handle_websocket_upgrade(self) -> None:
        """uvicorn's hand-over to the WebSocket protocol, then what its ``connection_lost`` would do: drop the
        parser. The transport now speaks to the new protocol and this one never hears of the connection again,
        while its parser holds its callbacks (bound methods of it): a reference cycle per WebSocket."""
        super().handle_websocket_upgrade()
        self.parser = None

    def data_received(self, data: bytes) -> None:
        begun = self.messages_begun
        super().data_received(data)
        if not self.reading_head or begun != self.messages_begun or self.transport.is_closing():
            return
        self.head_bytes += len(data)
        if self.head_bytes > MAX_HEAD_BYTES:
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(HEAD_TOO_LARGE), HEAD_TOO_LARGE)
            )
            self.transport.close()


class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
    """The sans-I/O WebSocket protocol with two defences for sockets at scale (issue 14, bad input), and less
    memory per idle socket.

    - A peer that misses a ping's deadline is dropped, not closed politely: uvicorn writes a close frame and
      calls ``transport.close()``, which waits until the write buffer has drained; a peer that stopped
      answering pings has usually stopped reading too, so the socket, up to 64 KiB of buffered frames and its
      application stayed until the kernel gave up (many minutes).
    - A socket the application closes for flooding (``TOO_MANY_FRAMES``) is not read any more: uvicorn resumes
      reading to see the close handshake through, for up to 10 s, and a client that ignores the close frame
      kept the event loop busy parsing its frames all that time (a benchmark flooder sent about a million).
      Its transport is closed ``DEAF_CLOSE_S`` later, time for the client to read the close frame.

    Memory (issue 14 point 2, measured with tracemalloc over 1,000 idle sockets): the receive queue and the
    ``writable`` event are ``slim_async``'s (asyncio's allocate four deques, about 3.8 KiB per socket, up
    front), and the parsed handshake request and response, about 4 KiB of header objects that uvicorn and
    websockets keep for the socket's life, are dropped once the handshake is answered (the ASGI scope keeps
    its own copy of the headers).

    Fan-out: the scope offers ``SEND_TEXT_NOW`` (``send_text_now``), which writes a frame synchronously, as
    websockets' own ``broadcast`` does. Through ``send`` each delivered frame cost a task switch and five
    coroutine frames (Channels' consumer, ours, uvicorn's).
    """

    deaf = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = SlimQueue()  # type: ignore[assignment]
        self.writable = SlimEvent()  # type: ignore[assignment]
        self.writable.set()

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:  # a refused handshake has no scope
            self.scope["extensions"][SEND_TEXT_NOW] = self.send_text_now

    async def run_asgi(self) -> None:
        """uvicorn's, then the scope lets go of ``send_text_now``, the one reference cycle of a socket.

        The scope (held by the protocol) holding a bound method of the protocol made every closed socket cyclic
        garbage, about 23 objects with uvicorn's and websockets' state, freed only by a full collection; measured
        by ``bench/socket_memory.py``. Without the cycle a closed socket is freed by reference counting as soon
        as its transport lets go, and a full collection has less to walk.
        """
        try:
            await super().run_asgi()
        finally:
            self.scope["extensions"].pop(SEND_TEXT_NOW, None)  # the handshake made the scope, then this task

    def send_text_now(self, text: str) -> bool:
        """Write one text frame now; False when it must go through ``send`` (not open, closing, or paused)."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.initial_response is not None
            or not self.writable.is_set()
            or self.conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        self.conn.send_text(text.encode())
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        self.transport.abort()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.request is not None:
            # Only read while answering the handshake. websockets' parser generator keeps the request in a
            # local for the socket's life, so its headers are emptied, not just dereferenced.
            self.request.headers.clear()
            self.request = self.response = None
        if message["type"] == "websocket.close" and message.get("code") == TOO_MANY_FRAMES:
            self.deaf = self.read_paused = True
            self.transport.pause_reading()
            if self.close_timer is not None:  # its reply will never be read: no point waiting 10 s for it
                self.close_timer.cancel()
            self.close_timer = self.loop.call_later(DEAF_CLOSE_S, self.transport.close)

    async def receive(self) -> Any:
        # uvicorn's receive(), except that a deaf socket is never resumed.
        message = await self.queue.get()
        if self.read_paused and self.queue.empty() and not self.deaf:
            self.read_paused = False
            self.transport.resume_reading()
        return message


class GracefulUvicorn(uvicorn.Server):
    """uvicorn's Server with our signal handling and the background-task and database hooks."""

    def __init__(self, config: uvicorn.Config, on_started: OnStarted) -> None:
        super().__init__(config)
        self.on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises a captured signal after serve() returns, which would kill the process
        # before the database is closed; the loop's own handlers just ask it to stop.
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            yield
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.should_exit:
            log.warning("second %s: stopping without draining", sig.name)
            self.force_exit = True
        self.should_exit = True
        # Stop accepting now: uvicorn notices should_exit on its next 0.1 s tick, and a connection accepted
        # in between would be closed by its shutdown before its request was read.
        for server in getattr(self, "servers", ()):
            server.close()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        background.start()
        self.on_started([sock.getsockname()[:2] for sock in sockets or []])

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await background.stop()
            await super().shutdown(sockets=sockets)
        finally:
            await close_db()


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (IPv4 or IPv6 by the host's form); OSError when the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def build_config(application: Any, options: ServeOptions) -> uvicorn.Config:
    return uvicorn.Config(
        application,
        loop="uvloop",
        http=BoundedHeadProtocol,
        ws=BoundedWebSocketProtocol,
        ws_per_message_deflate=False,
        ws_max_size=settings.CONFIG.max_body_bytes,
        lifespan="off",
        proxy_headers=False,
        server_header=False,
        access_log=False,
        log_config=None,  # Django's LOGGING already configured the handlers
        backlog=BACKLOG,
        timeout_graceful_shutdown=options.drain_timeout,
    )


def serve(application: Any, options: ServeOptions) -> list[str]:
    try:
        sock = bind(options.host, options.port)
    except OSError as exc:
        return [exc.strerror or str(exc)]
    config = build_config(application, options)
    server = GracefulUvicorn(config, options.on_started)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return []
