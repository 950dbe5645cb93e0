"""daphne (Twisted) in-process: the lifecycle of ``apps.core.servers`` on daphne's ``Server``.

Why a graceful shutdown of our own: daphne cancels every running application on
``reactor.stop()``; here SIGTERM/SIGINT first stop accepting, then close WebSockets (1000, "server shutting down"),
stop background tasks, give in-flight HTTP requests up to ``drain_timeout`` seconds (also
daphne's ``application_close_timeout``), close the SurrealDB client and only then stop the reactor.
"""

from __future__ import annotations

# daphne.server installs Twisted's asyncio reactor when imported; it must come
# before anything imports twisted.internet.reactor (isort keeps it first here).
import daphne.server  # isort:skip

import asyncio
import signal
import time
from typing import Any

from daphne.endpoints import build_endpoint_description_strings
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import reactor

from apps.core import background
from apps.core.db import close_db
from apps.core.servers import OnStarted, ServeOptions

DRAIN_POLL_S = 0.05


class BodyAsIsRequest(WebRequest):
    """daphne's request, but Twisted leaves POST bodies alone; Django parses them.

    Twisted parses every multipart/urlencoded POST body itself before daphne sees the request
    (work thrown away: daphne hands the raw body on) and answers one it cannot parse, such as an
    empty multipart body, with a bare 400: no error envelope, no access log line.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)


class BodyAsIsHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BodyAsIsRequest
        return protocol


class GracefulServer(daphne.server.Server):
    """daphne's Server with a drain-then-stop shutdown and the background task hooks."""

    # daphne's run() builds its HTTPFactory and listens with it in one go; this setter is the
    # only seam that swaps in the factory of BodyAsIsRequest without copying run().
    @property
    def http_factory(self) -> HTTPFactory:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, _daphne_factory: HTTPFactory) -> None:
        self._http_factory = BodyAsIsHTTPFactory(self)

    def __init__(self, application: Any, *, on_started: OnStarted, **kwargs: Any):
        super().__init__(application, signal_handlers=False, **kwargs)
        self.on_started = on_started
        self.ports: list[Any] = []
        self.listen_failures: list[str] = []
        self.stopping = False

    def run(self) -> None:
        # callLater runs inside the asyncio loop once it turns (callWhenRunning fires before it).
        reactor.callLater(0, self._started)
        super().run()

    def listen_success(self, port: Any) -> None:
        self.ports.append(port)
        super().listen_success(port)

    def listen_error(self, failure: Any) -> None:
        self.listen_failures.append(failure.getErrorMessage())
        super().listen_error(failure)

    def _started(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        background.start()
        self.on_started(list(self.listening_addresses))

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.stopping:
            daphne.server.logger.warning("second %s: stopping without draining", sig.name)
            self.stop()
            return
        self.stopping = True
        asyncio.get_running_loop().create_task(self.shutdown())

    def in_flight(self) -> int:
        """HTTP application instances still running (WebSockets are closed, not waited for)."""
        return sum(
            1
            for protocol, details in list(self.connections.items())
            if not isinstance(protocol, WebSocketProtocol)
            and details.get("application_instance") is not None
            and not details["application_instance"].done()
        )

    async def shutdown(self) -> None:
        try:
            for port in self.ports:
                port.stopListening()
            for protocol in list(self.connections):
                if isinstance(protocol, WebSocketProtocol) and not hasattr(protocol, "handshake_deferred"):
                    # Clients reconnect on any close but 4001/4003. Not 1001 ("going away"): autobahn refuses to
                    # send it (only 1000 and 3000-4999), raised, and the socket was dropped without a close frame.
                    protocol.sendClose(code=1000, reason="server shutting down")
            await background.stop()
            deadline = time.monotonic() + self.application_close_timeout
            while self.in_flight() and time.monotonic() < deadline:
                await asyncio.sleep(DRAIN_POLL_S)
            if self.in_flight():
                daphne.server.logger.warning("%d request(s) still running at shutdown; cancelling", self.in_flight())
            await close_db()
        finally:
            self.stop()


def serve(application: Any, options: ServeOptions) -> list[str]:
    server = GracefulServer(
        application,
        on_started=options.on_started,
        endpoints=build_endpoint_description_strings(host=options.host, port=options.port),
        application_close_timeout=options.drain_timeout,
        verbosity=options.verbosity,
    )
    server.run()
    return server.listen_failures
