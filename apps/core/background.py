"""Background tasks that live as long as the server process (e.g. the webhook worker loop).

Why a registry: the embedded default runs everything in one process, so loops
that a separate worker would run in production are started by ``manage.py
serve`` on the server's own event loop. Apps register a factory at import time
(``AppConfig.ready``); ``serve`` calls ``start()`` once the loop runs and
``await stop()`` during graceful shutdown. Nothing here knows about Django, so
it can be tested on a bare event loop.

    from apps.core import background

    @background.register
    async def webhook_worker() -> None:
        while True:
            ...

A task that crashes is logged and not restarted: the loop itself owns retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

CoroFactory = Callable[[], Coroutine[Any, Any, Any]]


class BackgroundTasks:
    """Factories registered once; tasks started on a running loop and cancelled on shutdown."""

    def __init__(self) -> None:
        self._factories: list[CoroFactory] = []
        self._tasks: list[asyncio.Task[Any]] = []

    def register(self, factory: CoroFactory) -> CoroFactory:
        """Add a coroutine factory (usable as a decorator); registering it twice is a no-op."""
        if factory not in self._factories:
            self._factories.append(factory)
        return factory

    def unregister(self, factory: CoroFactory) -> None:
        if factory in self._factories:
            self._factories.remove(factory)

    @property
    def factories(self) -> tuple[CoroFactory, ...]:
        return tuple(self._factories)

    @property
    def tasks(self) -> tuple[asyncio.Task[Any], ...]:
        return tuple(self._tasks)

    def start(self) -> list[asyncio.Task[Any]]:
        """Start one task per factory on the running loop (call from inside that loop)."""
        loop = asyncio.get_running_loop()
        started = []
        for factory in self._factories:
            name = getattr(factory, "__qualname__", repr(factory))
            task = loop.create_task(factory(), name=f"background:{name}")
            task.add_done_callback(_log_failure)
            started.append(task)
        self._tasks.extend(started)
        return started

    async def stop(self, timeout: float = 5.0) -> None:
        """Cancel every started task and wait for them (at most ``timeout`` seconds)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                log.warning("background task did not stop in time", extra={"task": task.get_name()})


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception(), extra={"task": task.get_name()})


#: The process-wide registry used by ``manage.py serve``.
registry = BackgroundTasks()
register = registry.register
unregister = registry.unregister
start = registry.start
stop = registry.stop
