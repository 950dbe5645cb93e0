"""Waking idle workers when an event is written (05-webhooks.md "Worker").

In-process wakers (the embedded server's own loop) are set directly; other
processes hear a Redis PUBLISH when Redis is configured. A wake is only a
hint: workers poll every ``worker_poll_interval_ms`` anyway, so a lost wake
delays an event, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from apps.core.redis import get_redis

log = logging.getLogger(__name__)

CHANNEL = "gotong:webhooks:wake"
PUBLISH_TIMEOUT_S = 0.25

_local: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()


def add_local(event: asyncio.Event) -> None:
    _local.add((asyncio.get_running_loop(), event))


def remove_local(event: asyncio.Event) -> None:
    for item in [i for i in _local if i[1] is event]:
        _local.discard(item)


def wake_local() -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for loop, event in list(_local):
        if loop is running:
            event.set()
        elif not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)


async def notify() -> None:
    """Wake local workers, and remote ones through Redis (bounded wait; failures only logged)."""
    wake_local()
    client = get_redis()
    if client is None:
        return
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            await client.publish(CHANNEL, b"1")
    except Exception as exc:  # a wake is a hint: polling still finds the event
        log.warning("webhook wake publish failed", extra={"error": type(exc).__name__})
