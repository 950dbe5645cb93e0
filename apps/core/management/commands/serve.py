"""``manage.py serve``: the one-process server (an ASGI server in-process on ``gotong.asgi.application``).

Which server: ``--server`` or ``ASGI_SERVER`` (uvicorn, the default, or daphne; apps/core/servers/ runs either with
the same lifecycle: background tasks, drain-then-stop on SIGTERM/SIGINT, the SurrealDB client closed
last). Why in-process: the embedded database can be opened by one process only, so the server, the
migrations it applies first and the background loops must share one process and one SurrealDB client.

In a container, bind every interface: ``python manage.py serve --host 0.0.0.0``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.db import get_db, run_sync
from apps.core.db.migrations import MigrationError, migrate, pending
from apps.core.errors import AppError
from apps.core.servers import ServeOptions, run
from gotong.config import ASGI_SERVERS

DEFAULT_HOST = "127.0.0.1"


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
        "Serve HTTP and WebSockets (daphne or uvicorn, in-process) on gotong.asgi.application. Applies pending "
        "migrations first when SurrealDB is embedded; refuses to start with pending migrations on a server. "
        "Use --host 0.0.0.0 in containers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=None, help="TCP port (default: PORT, 8000)")
        parser.add_argument("--host", default=DEFAULT_HOST, help="interface to bind (0.0.0.0 in containers)")
        parser.add_argument(
            "--server",
            choices=ASGI_SERVERS,
            default=None,
            help="the ASGI server (default: ASGI_SERVER, uvicorn)",
        )
        parser.add_argument(
            "--drain-timeout",
            type=float,
            default=10.0,
            help="seconds in-flight requests get to finish after SIGTERM/SIGINT",
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
        server = options["server"] or cfg.asgi_server
        tune_for_server(server=server)

        def started(addresses: list[tuple[str, int]]) -> None:
            bound_host, bound_port = addresses[0] if addresses else (host, port)
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            self.stdout.write(f"Gotong Royong on http://{shown}:{bound_port} ({engine_description()})")
            self.stdout.flush()

        listen_failures = run(
            server,
            application,
            ServeOptions(
                host=host,
                port=port,
                drain_timeout=options["drain_timeout"],
                on_started=started,
                verbosity=options["verbosity"],
            ),
        )
        if listen_failures:
            raise CommandError(f"cannot listen on {host}:{port}: {'; '.join(listen_failures)}")
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
