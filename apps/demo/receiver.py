"""``serve --demo``: the development webhook receiver inside the demo server, so the outbox delivers.

Without it every event of a demo dead-letters (nothing listens on the default receiver URL). The
receiver (``apps.webhooks.receiver``, the one ``manage.py markov_receiver`` runs) is started in a
daemon thread with its own event loop, on a free port, BEFORE the server and its delivery worker
start; then this process's configuration points the webhook URL at it. The signing secret is this
process's own (the receiver verifies with the same ``settings.CONFIG.webhook_secret``). Nothing is
written to the environment or to disk: the change lives and dies with the demo process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading

from django.conf import settings

from apps.webhooks.receiver import MarkovReceiver, start

HOST = "127.0.0.1"
PATH = "/api/v1/platforms/gotong_royong/webhook"
START_TIMEOUT_S = 10


def start_demo_receiver() -> str:
    """Start the receiver, point ``webhook_markov_url`` at it and return that URL."""
    receiver = MarkovReceiver(settings.CONFIG.webhook_secret)
    bound: dict[str, object] = {}
    ready = threading.Event()

    async def serve() -> None:
        try:
            server = await start(receiver, HOST, 0)
            bound["port"] = server.sockets[0].getsockname()[1]
        except Exception as exc:  # reported to the caller below, not lost in the thread
            bound["error"] = exc
            return
        finally:
            ready.set()
        async with server:
            await server.serve_forever()

    threading.Thread(target=asyncio.run, args=(serve(),), name="demo-webhook-receiver", daemon=True).start()
    if not ready.wait(START_TIMEOUT_S) or "port" not in bound:
        raise RuntimeError(f"the demo webhook receiver did not start: {bound.get('error', 'timeout')}")
    url = f"http://{HOST}:{bound['port']}{PATH}"
    settings.CONFIG = dataclasses.replace(settings.CONFIG, webhook_markov_url=url)
    return url
