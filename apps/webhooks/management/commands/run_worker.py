"""``manage.py run_worker [--concurrency N]``: the webhook delivery loop as its own process.

SIGTERM/SIGINT stop claiming, let in-flight attempts finish (or release their
leases) and exit 0. Serves ``/metrics`` and ``/health`` on
``WORKER_METRICS_PORT`` (0 = off).
"""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from apps.core.db import close_db
from apps.webhooks import httpserver
from apps.webhooks.httpserver import Request, Response
from apps.webhooks.worker import DEFAULT_CONCURRENCY, Worker


class Command(BaseCommand):
    help = "Deliver outbox events to the reputation engine (webhooks) until SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="parallel deliveries")
        parser.add_argument("--metrics-port", type=int, default=None, help="override WORKER_METRICS_PORT (0 = off)")
        parser.add_argument("--metrics-host", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["metrics_port"] if options["metrics_port"] is not None else settings.CONFIG.worker_metrics_port
        asyncio.run(self._run(options["concurrency"], options["metrics_host"], port))
        self.stdout.write("worker stopped")

    async def _run(self, concurrency: int, host: str, port: int) -> None:
        worker = Worker(concurrency=concurrency)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)

        async def endpoints(request: Request) -> Response:
            if request.path == "/metrics":
                return Response(200, generate_latest(), content_type=CONTENT_TYPE_LATEST)
            if request.path == "/health":
                body = {
                    "status": "ok",
                    "version": settings.APP_VERSION,
                    "environment": settings.CONFIG.app_env,
                    "worker": worker.owner,
                    "in_flight": worker.in_flight,
                }
                return Response(200, json.dumps(body).encode())
            return Response(404, b'{"error":{"code":"not_found","message":"not found"}}')

        server = await httpserver.serve(endpoints, host, port) if port else None
        if server is not None:
            bound = server.sockets[0].getsockname()
            self.stdout.write(f"worker metrics on http://{bound[0]}:{bound[1]}/metrics")
        self.stdout.write(f"webhook worker {worker.owner} (concurrency {concurrency})")
        self.stdout.flush()
        try:
            await worker.run()
        finally:
            if server is not None:
                server.close()
            await close_db()
