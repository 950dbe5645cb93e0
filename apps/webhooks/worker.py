"""The delivery loop: claim due events with a lease, deliver them concurrently, record each attempt.

One ``Worker`` runs in ``manage.py run_worker`` and, on the embedded default,
inside ``manage.py serve`` (``apps.core.background``). Guarantees:

* a claim is a conditional update (``OutboxRepository.claim``), so two workers
  never hold one event; the lease (2 × timeout) expires if a worker dies, and
  the event is claimed again: at-least-once, nothing lost;
* attempt results are written in small batches (one transaction per batch):
  on ``mem://`` writes are serialised, so one transaction per event would cap
  throughput; a result that was never written is redelivered after the lease;
* ``stop()`` (SIGTERM) stops claiming, lets in-flight attempts finish within
  the timeout, then gives back the leases of any that did not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections import deque
from typing import Any

import httpx
import redis.asyncio as aioredis
from django.conf import settings

from apps.core import jobs
from apps.core.errors import AppError
from apps.core.ids import new_id, now_ms
from apps.core.redis import redis_url
from apps.webhooks import delivery, policy, wake
from apps.webhooks.delivery import AttemptResult
from apps.webhooks.repository import OutboxRepository

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 8
MAX_CLAIM = 100
PREFETCH_FACTOR = 4
FLUSH_GATHER_S = 0.002
# Periodic jobs get a turn at least this often, even while deliveries are in flight or the poll interval
# is long (the transparency log signs a checkpoint covering each append within seconds).
JOB_TICK_S = 1.0


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def outcome_item(row: dict[str, Any], result: AttemptResult, now: int) -> dict[str, Any]:
    """What an attempt does to its event (spec table) and its delivery-log row."""
    cfg = settings.CONFIG
    attempt = int(row["attempts"])
    changes: dict[str, Any] = {
        "lease_owner": None,
        "lease_expires_at_ms": None,
        "last_status_code": result.status_code,
        "last_error": result.error,
        "updated_at_ms": now,
    }
    if result.outcome == policy.SUCCESS:
        changes.update(status="delivered", delivered_at_ms=now)
    elif result.outcome == policy.TERMINAL or attempt >= int(row["max_attempts"]):
        changes["status"] = "dead_letter"
        if result.outcome == policy.RETRYABLE:
            changes["last_error"] = f"{result.error} (gave up after {attempt} attempts)"
    else:
        base, cap = cfg.webhook_backoff_base_ms, cfg.webhook_backoff_max_ms
        delay = policy.retry_delay_ms(attempt, base, cap, result.retry_after)
        changes.update(status="retrying", next_attempt_at_ms=now + delay)
    log_row = {
        "log_id": new_id(),
        "event_id": row["event_id"],
        "attempt": attempt,
        "outcome": result.outcome,
        "status_code": result.status_code,
        "duration_ms": result.duration_ms,
        "request_id": result.request_id or row["request_id"],
        "correlation_id": row["correlation_id"],
        "request_body_sha256": result.request_sha256,
        "response_body_sha256": result.response_sha256,
        "response_excerpt": result.response_excerpt,
        "error_message": result.error,
        "created_at_ms": now,
    }
    return {"id": row["event_id"], "changes": changes, "log": log_row}


class _Batcher:
    """Coalesces attempt results written while a previous batch is being written."""

    def __init__(self, repo: OutboxRepository, owner: str) -> None:
        self._repo, self._owner = repo, owner
        self._queue: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: dict[str, Any]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())
        await asyncio.shield(future)

    async def _drain(self) -> None:
        await asyncio.sleep(FLUSH_GATHER_S)  # let results that finish together share one transaction
        while self._queue:
            batch, self._queue = self._queue[:MAX_CLAIM], self._queue[MAX_CLAIM:]
            try:
                await self._repo.finish(owner=self._owner, items=[item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)


class Worker:
    def __init__(
        self,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        owner: str | None = None,
        repo: OutboxRepository | None = None,
        client: httpx.AsyncClient | None = None,
        run_jobs: bool = True,
    ) -> None:
        self.concurrency = max(1, concurrency)
        self.owner = owner or new_owner()
        self.repo = repo or OutboxRepository()
        self.run_jobs = run_jobs
        self._client = client
        self._batcher = _Batcher(self.repo, self.owner)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Claimed but not started yet: claiming a few batches ahead keeps the (serialised) claim
        # transactions off the per-event path. Each row is checked against its lease before sending.
        self._queue: deque[dict[str, Any]] = deque()
        self.prefetch = min(MAX_CLAIM, max(self.concurrency * PREFETCH_FACTOR, 32))
        self._stopping: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self.delivered_attempts = 0

    # -- control ------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def stop(self) -> None:
        """Stop claiming; ``run`` finishes or releases in-flight attempts, then returns."""
        if self._stopping is not None:
            self._stopping.set()
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Deliver until ``stop()``; cancelling the task releases in-flight leases at once."""
        self._stopping, self._wake = asyncio.Event(), asyncio.Event()
        own_client = self._client is None
        client = self._client or delivery.new_client(self.concurrency)
        listener = asyncio.create_task(self._listen_redis()) if redis_url() else None
        wake.add_local(self._wake)
        log.info("webhook worker started", extra={"worker": self.owner, "concurrency": self.concurrency})
        graceful = True
        try:
            while not self._stopping.is_set():
                await self._turn(client)
        except asyncio.CancelledError:
            graceful = False
            raise
        finally:
            wake.remove_local(self._wake)
            if listener is not None:
                listener.cancel()
            await asyncio.shield(self._shutdown(graceful))
            if own_client:
                await client.aclose()
            log.info("webhook worker stopped", extra={"worker": self.owner})

    async def run_once(self, client: httpx.AsyncClient | None = None) -> int:
        """Claim one batch, deliver it, record the results; returns how many were claimed (tests, commands)."""
        own = client is None and self._client is None
        client = client or self._client or delivery.new_client(self.concurrency)
        try:
            rows = await self._claim(self.concurrency)
            await asyncio.gather(*(self._deliver(client, row) for row in rows))
            return len(rows)
        finally:
            if own:
                await client.aclose()

    # -- the loop -----------------------------------------------------------

    async def _turn(self, client: httpx.AsyncClient) -> None:
        assert self._wake is not None
        if self.run_jobs:
            await jobs.run_due()
        exhausted = False
        if not self._queue:
            room = self.prefetch - len(self._tasks)
            if room > 0:
                try:
                    rows = await self._claim(room)
                except AppError as exc:  # database down: keep running, try again after the poll interval
                    log.warning("webhook claim failed", extra={"worker": self.owner, "error": str(exc)})
                    rows = []
                self._queue.extend(rows)
                exhausted = len(rows) < room
        self._start_queued(client)
        if self._tasks and (self._queue or len(self._tasks) >= self.concurrency):
            await asyncio.wait(list(self._tasks.values()), timeout=JOB_TICK_S, return_when=asyncio.FIRST_COMPLETED)
        elif exhausted:
            await self._idle()

    def _start_queued(self, client: httpx.AsyncClient) -> None:
        """Start queued rows up to the concurrency; a row whose lease could run out mid-attempt is
        dropped (not sent): after expiry any worker claims it again, so it is never sent twice at once."""
        budget_ms = settings.CONFIG.webhook_timeout_ms + 1000
        while self._queue and len(self._tasks) < self.concurrency:
            row = self._queue.popleft()
            if int(row["lease_expires_at_ms"]) - now_ms() < budget_ms:
                log.warning("webhook lease too short to send; left to expire", extra={"event_id": row["event_id"]})
                continue
            task = asyncio.get_running_loop().create_task(self._deliver(client, row))
            self._tasks[row["event_id"]] = task
            task.add_done_callback(lambda _t, event_id=row["event_id"]: self._tasks.pop(event_id, None))

    async def _idle(self) -> None:
        """Wait for a wake, a stop or the poll interval (whichever comes first)."""
        assert self._wake is not None
        timeout = min(settings.CONFIG.worker_poll_interval_ms / 1000, JOB_TICK_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    async def _claim(self, limit: int) -> list[dict[str, Any]]:
        lease_ms = 2 * settings.CONFIG.webhook_timeout_ms
        return await self.repo.claim(owner=self.owner, now=now_ms(), limit=limit, lease_ms=lease_ms)

    async def _deliver(self, client: httpx.AsyncClient, row: dict[str, Any]) -> None:
        try:
            result = await delivery.attempt(client, row)
        except Exception as exc:  # an unexpected fault is a failed attempt, never a dead worker
            log.exception("webhook attempt crashed", extra={"event_id": row["event_id"]})
            error = f"{type(exc).__name__}: {exc}"[:500]
            result = AttemptResult(policy.RETRYABLE, None, 0, "", error=error, request_id=row["request_id"])
        item = outcome_item(row, result, now_ms())
        try:
            await self._batcher.submit(item)
        except Exception:
            # The lease expires and the event is delivered again: at-least-once, never lost.
            log.exception("recording a webhook attempt failed", extra={"event_id": row["event_id"]})
            return
        self.delivered_attempts += 1
        log.info(
            "webhook attempt",
            extra={
                "event_id": row["event_id"],
                "attempt": row["attempts"],
                "outcome": result.outcome,
                "status": result.status_code,
                "duration_ms": result.duration_ms,
                "request_id": item["log"]["request_id"],
                "correlation_id": row["correlation_id"],
            },
        )

    async def _shutdown(self, graceful: bool) -> None:
        """Let in-flight attempts finish (graceful) within the timeout, then release what is left."""
        queued = [row["event_id"] for row in self._queue]
        self._queue.clear()
        tasks = dict(self._tasks)
        if graceful and tasks:
            await asyncio.wait(list(tasks.values()), timeout=settings.CONFIG.webhook_timeout_ms / 1000 + 1)
        unfinished = [event_id for event_id, task in tasks.items() if not task.done()]
        for event_id in unfinished:
            tasks[event_id].cancel()
        if unfinished:
            await asyncio.wait([tasks[e] for e in unfinished], timeout=1)
        if unfinished or queued:
            try:
                await self.repo.release(owner=self.owner, event_ids=unfinished + queued, now=now_ms())
            except Exception:
                log.exception("releasing webhook leases failed; they expire on their own")

    async def _listen_redis(self) -> None:
        """Set the wake event on every Redis notification; reconnect with a pause on errors."""
        assert self._wake is not None
        while True:
            client = aioredis.Redis.from_url(redis_url(), socket_connect_timeout=1.0)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(wake.CHANNEL)
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                        if message is not None:
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("webhook wake listener failed; polling meanwhile", extra={"error": type(exc).__name__})
                await asyncio.sleep(1.0)
            finally:
                await client.aclose()


async def embedded_worker() -> None:
    """The background task of ``manage.py serve`` on the embedded default."""
    await Worker().run()
