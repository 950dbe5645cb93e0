"""uvicorn's protocols as ``manage.py serve`` configures them (apps/core/servers/uvicorn_server.py).

The server-level behaviour (a 64 MiB header cut off, shutdown close codes) is tested on a real server in
tests/core/test_hostile_input.py and tests/chat/test_realtime_server.py; what needs minutes of real time
there (a ping deadline missed by a peer that stopped reading) is driven here on the protocol object.
"""

from __future__ import annotations

import asyncio

import uvicorn
from websockets.protocol import State

from apps.core.servers import TOO_MANY_FRAMES, ServeOptions
from apps.core.servers.uvicorn_server import DEAF_CLOSE_S, BoundedHeadProtocol, BoundedWebSocketProtocol, build_config


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
