"""Periodic maintenance jobs (expire unconfirmed uploads, auto-release moderation holds, sweeps).

Apps declare jobs at import time (``AppConfig.ready``)::

    from apps.core import jobs

    @jobs.periodic("evidence.expire_uploads", every_s=60)
    async def expire_unconfirmed_uploads() -> None: ...

``run_due(now)`` runs each job whose interval has passed; the worker loop
(``manage.py run_worker``, and inside ``manage.py serve`` on the embedded
default) calls it. A failing job is logged and tried again at its next turn;
it never stops the others. Jobs must be safe to run on several workers at once
(conditional updates), because production may run more than one worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

JobFunc = Callable[[], Awaitable[object]]


@dataclass
class PeriodicJob:
    name: str
    every_s: float
    func: JobFunc
    next_run: float = field(default=0.0)


_jobs: dict[str, PeriodicJob] = {}


def periodic(name: str, *, every_s: float) -> Callable[[JobFunc], JobFunc]:
    """Register ``func`` to run every ``every_s`` seconds (a second registration under one name replaces it)."""

    def decorator(func: JobFunc) -> JobFunc:
        _jobs[name] = PeriodicJob(name, every_s, func)
        return func

    return decorator


def registered() -> tuple[PeriodicJob, ...]:
    return tuple(_jobs.values())


async def run_due(now: float | None = None) -> list[str]:
    """Run every job that is due; returns the names that ran (failed ones included)."""
    now = time.monotonic() if now is None else now
    ran = []
    for job in list(_jobs.values()):
        if now < job.next_run:
            continue
        job.next_run = now + job.every_s
        ran.append(job.name)
        try:
            await job.func()
        except Exception:
            log.exception("periodic job failed", extra={"job": job.name})
    return ran
