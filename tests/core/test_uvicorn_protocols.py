"""uvicorn's protocols as ``manage.py serve`` configures them (apps/core/servers/uvicorn_server.py).

The server-level behaviour (a 64 MiB header cut off, shutdown close codes) is tested on a real server in
tests/core/test_hostile_input.py and tests/chat/test_realtime_server.py; what needs minutes of real time
there (a ping deadline missed by a peer that stopped reading) is driven here on the protocol object.
"""

from __future__ import annotations

import asyncio
import gc
import uuid
import weakref

import pytest
import uvicorn
import uvloop
import websockets
from websockets.datastructures import Headers
from websockets.protocol import State

from apps.core.servers import SEND_TEXT_NOW, TOO_MANY_FRAMES, ServeOptions
from apps.core.servers.uvicorn_server import DEAF_CLOSE_S, BoundedHeadProtocol, BoundedWebSocketProtocol, build_config
from apps.core.slim_async import SlimEvent, SlimQueue
from tests.support.waiting import until


class RecordingTransport:
    """A transport whose write buffer never drains (the peer stopped reading)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False
        self.aborted = False
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:  # asyncio semantics: the socket stays until the buffer has drained
        self.closing = True

    def abort(self) -> None:
        self.closing = True
        self.aborted = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


def test_a_missed_ping_deadline_drops_the_socket_without_waiting_for_the_buffer() -> None:
    config = build_config(lambda *_: None, ServeOptions(host="127.0.0.1", port=0, drain_timeout=1, on_started=print))
    config.load()
    loop = asyncio.new_event_loop()  # the protocol takes its loop at creation; no loop runs in this test
    try:
        state = uvicorn.server.ServerState()
        protocol = config.ws_protocol_class(config=config, server_state=state, app_state={}, _loop=loop)
        assert isinstance(protocol, BoundedWebSocketProtocol)
        transport = RecordingTransport()
        protocol.transport = transport
        protocol.keepalive_timeout()
    finally:
        loop.close()
    assert transport.aborted
    assert transport.written, "the close frame (1011) is still written first"


def test_a_socket_closed_for_flooding_is_never_read_again_and_closes_soon() -> None:
    async def scenario(code: int) -> tuple[RecordingTransport, float]:
        config = build_config(lambda *_: None, ServeOptions("127.0.0.1", 0, 1, on_started=print))
        config.load()
        state = uvicorn.server.ServerState()
        protocol = config.ws_protocol_class(config=config, server_state=state, app_state={})
        transport = RecordingTransport()
        protocol.transport = transport
        protocol.handshake_complete = True
        protocol.conn.state = State.OPEN  # as after the handshake
        await protocol.send({"type": "websocket.close", "code": code})
        protocol.read_paused = True  # a frame the application has not taken yet paused reading (uvicorn's rule)
        protocol.queue.put_nowait({"type": "websocket.receive", "text": "{}"})
        await protocol.receive()
        delay = protocol.close_timer.when() - asyncio.get_running_loop().time()
        protocol.close_timer.cancel()
        return transport, delay

    flooded, delay = asyncio.run(scenario(TOO_MANY_FRAMES))
    assert not flooded.reading, "reading resumed for a socket closed for flooding"
    assert delay <= DEAF_CLOSE_S
    polite, delay = asyncio.run(scenario(4003))  # any other close: uvicorn reads the close handshake
    assert polite.reading
    assert delay > DEAF_CLOSE_S


def test_the_server_uses_both_protocols_and_no_compression() -> None:
    config = build_config(lambda *_: None, ServeOptions(host="127.0.0.1", port=0, drain_timeout=1, on_started=print))
    config.load()
    assert config.http_protocol_class is BoundedHeadProtocol
    assert config.ws_protocol_class is BoundedWebSocketProtocol
    assert config.ws_per_message_deflate is False


class AcceptingApp:
    """An ASGI app that accepts a WebSocket, records its scope and waits until the socket ends."""

    def __init__(self) -> None:
        self.scope: dict | None = None

    async def __call__(self, scope, receive, send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        self.scope = scope
        await receive()  # the socket's life


async def open_socket(
    app: AcceptingApp, extra_headers: bytes = b""
) -> tuple[BoundedWebSocketProtocol, RecordingTransport]:
    """``manage.py serve``'s WebSocket protocol after a real handshake, once ``app`` has accepted it."""
    config = build_config(app, ServeOptions("127.0.0.1", 0, 1, on_started=print))
    config.load()
    protocol = config.ws_protocol_class(config=config, server_state=uvicorn.server.ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(
        b"GET /ws/chat/t1 HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra_headers + b"\r\n"
    )
    for _ in range(100):  # the application task accepts within a few loop turns
        if app.scope is not None and protocol.handshake_complete:
            break
        await asyncio.sleep(0)
    assert b"101 Switching Protocols" in b"".join(transport.written)
    return protocol, transport


async def close_socket(protocol: BoundedWebSocketProtocol) -> None:
    protocol.connection_lost(None)  # ends the application (websocket.disconnect)
    await asyncio.wait_for(asyncio.gather(*protocol.tasks), 5)


def test_an_open_socket_keeps_no_copy_of_its_handshake_headers() -> None:
    """Issue 14 point 2: uvicorn and websockets' parser kept the parsed request (about 4 KiB of header objects)
    for a socket's whole life; the application's scope keeps its own list of them."""
    probe = f"probe-{uuid.uuid4().hex}"
    app = AcceptingApp()

    async def scenario() -> None:
        protocol, _transport = await open_socket(app, b"X-Probe: " + probe.encode() + b"\r\n")
        assert isinstance(protocol.queue, SlimQueue)
        assert isinstance(protocol.writable, SlimEvent)
        assert protocol.request is None
        assert protocol.response is None
        holding = [h for h in gc.get_objects() if type(h) is Headers and probe in str(h)]  # type(): no weakproxy deref
        assert holding == [], "a parsed copy of the handshake headers outlived the handshake"
        # The application still has them (uvicorn passes websockets' raw header names, not lower-cased).
        assert (b"x-probe", probe.encode()) in [(k.lower(), v) for k, v in app.scope["headers"]]
        await close_socket(protocol)

    asyncio.run(scenario())


def test_send_text_now_writes_a_frame_at_once_or_says_not_now() -> None:
    """The fan-out's synchronous write (``SEND_TEXT_NOW``): a frame when the socket can take one, else False."""
    app = AcceptingApp()

    async def scenario() -> None:
        protocol, transport = await open_socket(app)
        send_now = app.scope["extensions"][SEND_TEXT_NOW]
        assert send_now("hello") is True
        assert transport.written[-1] == b"\x81\x05hello"  # one unmasked text frame
        protocol.writable.clear()  # the peer's buffer is full (uvicorn's pause_writing)
        assert send_now("later") is False
        protocol.writable.set()
        protocol.conn.send_close(1000)  # closing: nothing more may be written
        assert send_now("after close") is False
        assert b"after close" not in b"".join(transport.written)
        await close_socket(protocol)

    asyncio.run(scenario())


class EchoOnceApp:
    """Accepts, sends one frame, then waits for the client to leave or closes the socket itself."""

    def __init__(self, server_closes: bool) -> None:
        self.server_closes = server_closes
        self.ended = False

    async def __call__(self, scope, receive, send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        assert SEND_TEXT_NOW in scope["extensions"]
        await send({"type": "websocket.send", "text": "hello"})
        if self.server_closes:
            await send({"type": "websocket.close", "code": 1000})
        await receive()
        self.ended = True


@pytest.mark.parametrize("server_closes", [False, True], ids=["client-closes", "server-closes"])
@pytest.mark.parametrize("first", ["websocket", "http"], ids=["websocket-protocol", "http-protocol-that-upgraded"])
def test_a_closed_socket_is_freed_without_a_collection(first: str, server_closes: bool) -> None:
    """Issue 14 point 2: a closed WebSocket leaves no reference cycle, so it is freed by reference counting.

    Two cycles made every closed socket cyclic garbage that only a full collection could free: the scope's
    ``send_text_now`` (a bound method of the WebSocket protocol, held by that protocol's scope: about 23 objects),
    and the HTTP protocol that handed the connection over on the upgrade and never heard of it again, while its
    httptools parser held its callbacks (about 30 objects). ``first`` is the protocol a connection starts with and
    whose freeing is awaited (on the real server: HTTP). A real loopback server on uvloop (the server's loop) and a
    real client, with the collector off from before the socket opens."""
    app = EchoOnceApp(server_closes)

    async def scenario() -> None:
        config = build_config(app, ServeOptions("127.0.0.1", 0, 1, on_started=print))
        config.load()
        state = uvicorn.server.ServerState()
        protocols: list[weakref.ref] = []
        protocol_class = config.http_protocol_class if first == "http" else config.ws_protocol_class
        assert protocol_class in (BoundedHeadProtocol, BoundedWebSocketProtocol)

        def protocol_factory() -> BoundedHeadProtocol | BoundedWebSocketProtocol:
            protocol = protocol_class(config=config, server_state=state, app_state={})
            protocols.append(weakref.ref(protocol))
            return protocol

        server = await asyncio.get_running_loop().create_server(protocol_factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws/chat/t1") as client:
                assert await client.recv() == "hello"
                if server_closes:
                    await client.wait_closed()
            await until(lambda: app.ended and not state.connections, what="the application ended")
            assert len(protocols) == 1
            await until(lambda: protocols[0]() is None, what=f"the closed socket's {first} protocol freed")
        finally:
            server.close()
            await server.wait_closed()

    gc.collect()
    gc.disable()
    try:
        uvloop.run(scenario())
    finally:
        gc.enable()


class AnsweringApp:
    """Answers every request with ``body``; ``stream`` sends the head, waits for ``go``, then the body."""

    def __init__(self, body: bytes = b'{"ok":true}', *, stream: bool = False) -> None:
        self.body, self.stream = body, stream
        self.go = asyncio.Event()

    async def __call__(self, scope, receive, send) -> None:
        headers = [(b"content-type", b"application/json")]
        if not self.stream:
            headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if self.stream:
            await self.go.wait()
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


async def http_exchange(app, request: bytes) -> tuple[BoundedHeadProtocol, RecordingTransport]:
    """``manage.py serve``'s HTTP protocol on a recording transport, after ``request`` has arrived."""
    config = build_config(app, ServeOptions("127.0.0.1", 0, 1, on_started=print))
    config.load()
    protocol = config.http_protocol_class(config=config, server_state=uvicorn.server.ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    return protocol, transport


GET = b"GET /v1/x HTTP/1.1\r\nHost: example.test\r\n\r\n"


def test_an_answer_goes_out_in_one_write_head_and_body_together() -> None:
    """Issue 14: uvicorn wrote a response's head and body separately, two syscalls per JSON answer."""

    async def scenario() -> None:
        protocol, transport = await http_exchange(AnsweringApp(), GET + GET)  # two requests, kept alive
        await until(lambda: len(transport.written) == 2, what="both answers written")
        for written in transport.written:
            assert written.startswith(b"HTTP/1.1 200 OK\r\n")
            assert written.endswith(b'\r\n\r\n{"ok":true}')
        assert not transport.closing
        protocol.connection_lost(None)

    asyncio.run(scenario())


def test_a_streams_head_is_not_held_back_until_its_first_event() -> None:
    async def scenario() -> None:
        app = AnsweringApp(b"data: first\n\n", stream=True)
        protocol, transport = await http_exchange(app, GET)
        await until(lambda: transport.written, what="the head written before any body")
        assert transport.written[0].startswith(b"HTTP/1.1 200 OK\r\n")
        assert transport.written[0].endswith(b"\r\n\r\n")
        app.go.set()
        await until(lambda: len(transport.written) == 2, what="the body written after it")
        assert b"data: first" in transport.written[1]
        protocol.connection_lost(None)

    asyncio.run(scenario())


def test_a_head_only_answer_and_a_closing_connection_still_get_their_head() -> None:
    async def scenario() -> None:
        _protocol, transport = await http_exchange(AnsweringApp(), b"HEAD /v1/x HTTP/1.1\r\nHost: example.test\r\n\r\n")
        await until(lambda: transport.written, what="the HEAD answer written")
        assert transport.written == [transport.written[0]]
        assert transport.written[0].startswith(b"HTTP/1.1 200 OK\r\n")
        assert transport.written[0].endswith(b"\r\n\r\n")

        _protocol, transport = await http_exchange(
            AnsweringApp(), b"GET /v1/x HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n"
        )
        await until(lambda: transport.closing, what="the connection closed after its answer")
        assert len(transport.written) == 1
        assert transport.written[0].startswith(b"HTTP/1.1 200 OK\r\n")
        assert transport.written[0].endswith(b'{"ok":true}')

    asyncio.run(scenario())
