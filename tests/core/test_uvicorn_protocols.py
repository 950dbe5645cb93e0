"""uvicorn's protocols as ``manage.py serve`` configures them (apps/core/servers/uvicorn_server.py).

The server-level behaviour (a 64 MiB header cut off, shutdown close codes) is tested on a real server in
tests/core/test_hostile_input.py and tests/chat/test_realtime_server.py; what needs minutes of real time
there (a ping deadline missed by a peer that stopped reading) is driven here on the protocol object.
"""

from __future__ import annotations

import asyncio

import uvicorn

from apps.core.servers import ServeOptions
from apps.core.servers.uvicorn_server import AbortOnPingTimeout, BoundedHeadProtocol, build_config


class RecordingTransport:
    """A transport whose write buffer never drains (the peer stopped reading)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False
        self.aborted = False

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
        assert isinstance(protocol, AbortOnPingTimeout)
        transport = RecordingTransport()
        protocol.transport = transport
        protocol.keepalive_timeout()
    finally:
        loop.close()
    assert transport.aborted
    assert transport.written, "the close frame (1011) is still written first"


def test_the_server_uses_both_protocols_and_no_compression() -> None:
    config = build_config(lambda *_: None, ServeOptions(host="127.0.0.1", port=0, drain_timeout=1, on_started=print))
    config.load()
    assert config.http_protocol_class is BoundedHeadProtocol
    assert config.ws_protocol_class is AbortOnPingTimeout
    assert config.ws_per_message_deflate is False
