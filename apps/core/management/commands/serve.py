"""``manage.py serve``: the one-process server (daphne in-process on ``gotong.asgi.application``).

Why in-process instead of the ``daphne`` CLI: the embedded database can be
opened by one process only, so the server, the migrations it applies first and
the background loops (``apps.core.background``) must share one process and one
SurrealDB client. Why a graceful shutdown of our own: daphne cancels every
running application on ``reactor.stop()``; here SIGTERM/SIGINT first stop
accepting, then give in-flight HTTP requests up to ``--drain-timeout`` seconds
(also daphne's ``application_close_timeout``), stop background tasks, close the
SurrealDB client and only then stop the reactor. A second signal stops at once.

In a container, bind every interface: ``python manage.py serve --host 0.0.0.0``.
"""

from __future__ import annotations

# daphne.server installs Twisted's asyncio reactor when imported; it must come
# before anything imports twisted.internet.reactor (isort keeps it first here).
import daphne.server  # isort:skip

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

from daphne.endpoints import build_endpoint_description_strings
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from twisted.internet import reactor

from apps.core import background
from apps.core.db import close_db, get_db, run_sync
from apps.core.db.migrations import MigrationError, migrate, pending
from apps.core.errors import AppError

DEFAULT_HOST = "127.0.0.1"
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

    def __init__(self, application: Any, *, on_started: Callable[[list[tuple[str, int]]], None], **kwargs: Any):
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
                    protocol.serverClose(code=1001)  # "going away": clients reconnect elsewhere
            await background.stop()
            deadline = time.monotonic() + self.application_close_timeout
            while self.in_flight() and time.monotonic() < deadline:
                await asyncio.sleep(DRAIN_POLL_S)
            if self.in_flight():
                daphne.server.logger.warning("%d request(s) still running at shutdown; cancelling", self.in_flight())
            await close_db()
        finally:
            self.stop()


def engine_description() -> str:
    cfg = settings.CONFIG
    endpoint = cfg.surreal_endpoint
    if "@" in endpoint:  # never print credentials embedded in a URL
        scheme, rest = endpoint.split("://", 1)
        endpoint = f"{scheme}://{rest.split('@', 1)[1]}"
    stores = "Redis stores" if cfg.redis_url else "in-process stores"
    return f"SurrealDB {endpoint}, {stores}"


class Command(BaseCommand):
    help = (
        "Serve HTTP and WebSockets (daphne, in-process) on gotong.asgi.application. Applies pending "
        "migrations first when SurrealDB is embedded; refuses to start with pending migrations on a server. "
        "Use --host 0.0.0.0 in containers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=None, help="TCP port (default: PORT, 8000)")
        parser.add_argument("--host", default=DEFAULT_HOST, help="interface to bind (0.0.0.0 in containers)")
        parser.add_argument(
            "--drain-timeout",
            type=float,
            default=10.0,
            help="seconds in-flight requests get to finish after SIGTERM/SIGINT (application_close_timeout)",
        )
        parser.add_argument(
            "--demo",
            action="store_true",
            help="fill the database with demo data first (seed_demo; the way to demo on mem://) and deliver "
            "webhooks to the development receiver, started in this process on a free port",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        cfg = settings.CONFIG
        port = options["port"] if options["port"] is not None else cfg.port
        host = options["host"]
        self.prepare_database(embedded=cfg.surreal_is_embedded)
        if options["demo"]:
            from apps.demo.management.commands.seed_demo import describe
            from apps.demo.receiver import start_demo_receiver

            self.stdout.write(f"webhooks go to the development receiver at {start_demo_receiver()}")
            from apps.demo.seed import seed

            self.stdout.write(describe(run_sync(seed)))

        from apps.core.gc_tuning import tune_for_server
        from gotong.asgi import application

        # After everything is imported and the database is ready: the start-up heap leaves the collector's view
        # (GC_FREEZE) and the thresholds suit many long-lived sockets (GC_THRESHOLDS); see apps/core/gc_tuning.py.
        # Here and not in gotong.asgi, so test processes that import the application keep Python's defaults.
        tune_for_server()

        def started(addresses: list[tuple[str, int]]) -> None:
            bound_host, bound_port = addresses[0] if addresses else (host, port)
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            self.stdout.write(f"Gotong Royong on http://{shown}:{bound_port} ({engine_description()})")
            self.stdout.flush()

        server = GracefulServer(
            application,
            on_started=started,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            application_close_timeout=options["drain_timeout"],
            verbosity=options["verbosity"],
        )
        server.run()
        if server.listen_failures:
            raise CommandError(f"cannot listen on {host}:{port}: {'; '.join(server.listen_failures)}")
        self.stdout.write("stopped")

    def prepare_database(self, *, embedded: bool) -> None:
        """Embedded: apply what is pending (nobody else can). Server: only verify, never migrate."""
        try:
            if embedded:
                names = run_sync(migrate)
                for name in names:
                    self.stdout.write(f"applied {name}")
                if not names:
                    self.stdout.write("migrations up to date")
                return
            waiting = run_sync(pending)
            run_sync(get_db().ping)
        except MigrationError as exc:
            raise CommandError(str(exc)) from exc
        except AppError as exc:  # unreachable server, engine error: a message, not a traceback
            raise CommandError(f"cannot use SurrealDB at {settings.CONFIG.surreal_endpoint}: {exc}") from exc
        if waiting:
            raise CommandError(
                f"{len(waiting)} pending migration(s) ({', '.join(m.name for m in waiting)}); "
                "run `python manage.py surreal_migrate` first"
            )
