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

from apps.core import background
from apps.core.db import close_db
from apps.core.servers import OnStarted, ServeOptions

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
BACKLOG = 2048  # 5,000 sockets may connect in a burst (chat target 3); uvicorn's default, named here


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
    sock.set_inheritable(True)
    return sock


def build_config(application: Any, options: ServeOptions) -> uvicorn.Config:
    return uvicorn.Config(
        application,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
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
