"""``manage.py markov_receiver --port 3000 [--fail-rate 0.3] [--status 503]``: the development receiver."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.webhooks.receiver import MarkovReceiver, start
from apps.webhooks.witness import CheckpointWitness, http_consistency_fetcher


class Command(BaseCommand):
    help = "Run a local webhook receiver that verifies X-GR-Signature, dedupes by event_id and can fail on purpose."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=3000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--fail-rate", type=float, default=0.0, help="share of requests to fail (0..1)")
        parser.add_argument("--status", type=int, default=503, help="status code of the failures")
        parser.add_argument("--seed", type=int, default=None, help="random seed of the failures")
        parser.add_argument(
            "--transparency-key",
            default=None,
            help="the log's verifier key (<name>+<8 hex>+<base64>) to check checkpoints with; default: the key of "
            "the first checkpoint received (trust on first use)",
        )
        parser.add_argument(
            "--transparency-url",
            default=None,
            help="base URL of the app: fetch a consistency proof for every new checkpoint and verify it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        witness = CheckpointWitness(
            pinned_key=options["transparency_key"],
            fetch_consistency=http_consistency_fetcher(options["transparency_url"])
            if options["transparency_url"]
            else None,
        )
        receiver = MarkovReceiver(
            settings.CONFIG.webhook_secret,
            options["fail_rate"],
            options["status"],
            seed=options["seed"],
            witness=witness,
        )
        asyncio.run(self._serve(receiver, options["host"], options["port"]))
        self.stdout.write(f"stopped; {receiver.stats()}")

    async def _serve(self, receiver: MarkovReceiver, host: str, port: int) -> None:
        server = await start(receiver, host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        bound = server.sockets[0].getsockname()
        self.stdout.write(f"markov receiver on http://{bound[0]}:{bound[1]}/ (POST any path; GET /stats)")
        self.stdout.flush()
        await stop.wait()
        server.close()
        await server.wait_closed()
