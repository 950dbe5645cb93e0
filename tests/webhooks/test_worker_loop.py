"""The running loop: wakes, polling, periodic jobs, graceful stop, cancellation, metrics, registration."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from apps.core import background, jobs
from apps.core.db import UnitOfWork
from apps.webhooks import services, wake
from apps.webhooks import worker as worker_module
from apps.webhooks.repository import OutboxRepository
from apps.webhooks.worker import Worker, embedded_worker
from tests.support.waiting import until
from tests.webhooks.conftest import add_event, event_row, log_rows
from tests.webhooks.receiver import Action
from tests.webhooks.test_claims import _payload_line


async def _delivered(event_id: str) -> bool:
    return (await event_row(event_id))["status"] == "delivered"


async def _insert_silently() -> str:
    """An event written without any wake (as another process would, before its notification arrives)."""
    from apps.webhooks.services import backfill_row

    row = backfill_row(_payload_line(int(time.time_ns() % 10**12)))
    uow = UnitOfWork()
    uow.add(OutboxRepository().insert_statement(row))
    await uow.commit(operation="test")
    return row["event_id"]


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_an_idle_worker_is_woken_in_process_without_waiting_for_the_poll(receiver, config, monkeypatch):
    config(worker_poll_interval_ms=60_000)
    monkeypatch.setattr(worker_module, "JOB_TICK_S", 3600)  # the 1 s job tick would deliver without a wake
    worker = Worker(concurrency=4, run_jobs=False)
    idle, real_idle = asyncio.Event(), worker._idle

    async def observed_idle() -> None:
        idle.set()
        await real_idle()

    worker._idle = observed_idle
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(idle.wait(), 10)  # idle, waiting on the poll (a condition, not a sleep)
    event_id = await add_event()
    await until(lambda: _delivered(event_id), 3)
    worker.stop()
    await asyncio.wait_for(task, 5)


async def test_without_a_wake_the_worker_polls(receiver, config):
    config(worker_poll_interval_ms=50)
    worker = Worker(concurrency=4, run_jobs=False)
    task = asyncio.create_task(worker.run())
    event_id = await _insert_silently()
    await until(lambda: _delivered(event_id), 3)
    worker.stop()
    await asyncio.wait_for(task, 5)


@pytest.mark.redis
async def test_a_redis_notification_wakes_the_worker(receiver, config, redis_url):
    config(worker_poll_interval_ms=60_000)
    worker = Worker(concurrency=4, run_jobs=False)
    task = asyncio.create_task(worker.run())
    client = aioredis.Redis.from_url(redis_url)
    await until(lambda: _subscribers(client), 3)
    event_id = await _insert_silently()
    await client.publish(wake.CHANNEL, b"1")  # what another process's commit sends
    await until(lambda: _delivered(event_id), 3)
    worker.stop()
    await asyncio.wait_for(task, 5)
    await client.aclose()


async def _subscribers(client: aioredis.Redis) -> bool:
    counts = await client.pubsub_numsub(wake.CHANNEL)
    return bool(counts and counts[0][1])


@pytest.mark.redis
async def test_writing_an_event_publishes_a_wake_on_redis(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(wake.CHANNEL)
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    await add_event()
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    assert message is not None
    assert message["channel"] == wake.CHANNEL.encode()
    await pubsub.aclose()
    await client.aclose()


async def test_the_loop_runs_periodic_jobs(receiver, config):
    config(worker_poll_interval_ms=20)
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    jobs.periodic("test.webhooks.loop_job", every_s=3600)(job)
    worker = Worker(concurrency=2)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(ran.wait(), 3)
    finally:
        jobs._jobs.pop("test.webhooks.loop_job", None)
        worker.stop()
        await asyncio.wait_for(task, 5)


async def test_stop_lets_in_flight_attempts_finish(receiver, config):
    receiver.default = Action(delay_s=0.5)
    worker = Worker(concurrency=4, run_jobs=False)
    task = asyncio.create_task(worker.run())
    event_id = await add_event()
    await until(lambda: receiver.requests, 3)
    worker.stop()  # SIGTERM in run_worker
    await asyncio.wait_for(task, 5)
    row = await event_row(event_id)
    assert (row["status"], row["attempts"]) == ("delivered", 1)


async def test_cancellation_releases_in_flight_leases(receiver, config):
    receiver.default = Action(kind="never")
    worker = Worker(concurrency=4, run_jobs=False)
    task = asyncio.create_task(worker.run())
    event_id = await add_event()
    await until(lambda: receiver.requests, 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    row = await event_row(event_id)
    assert (row["status"], row["attempts"], row.get("lease_owner")) == ("pending", 0, None)
    assert await log_rows(event_id) == []


async def test_an_unreachable_receiver_keeps_the_worker_running_and_loses_nothing(config):
    config(webhook_markov_url="http://127.0.0.1:9/unreachable", webhook_backoff_base_ms=1, webhook_backoff_max_ms=2)
    config(worker_poll_interval_ms=20)
    worker = Worker(concurrency=2, run_jobs=False)
    task = asyncio.create_task(worker.run())
    event_id = await add_event()
    await until(lambda: log_rows(event_id), 3)
    assert not task.done()
    row = await event_row(event_id)
    assert row["status"] in ("retrying", "in_flight", "dead_letter")
    worker.stop()
    await asyncio.wait_for(task, 5)
    assert (await event_row(event_id))["status"] in ("retrying", "pending", "dead_letter")
    assert all(log["outcome"] == "retryable_failure" for log in await log_rows(event_id))


async def test_failures_then_success_with_the_metrics_moving(receiver, config):
    config(webhook_backoff_base_ms=1, webhook_backoff_max_ms=5, worker_poll_interval_ms=20)
    receiver.script = [Action(status=503), Action(status=503)]
    before = {
        "ok": sample("gotong_webhook_deliveries_total", {"result": "success", "status_code": "200"}),
        "fail": sample("gotong_webhook_deliveries_total", {"result": "retryable_failure", "status_code": "503"}),
        "hist": sample("gotong_webhook_delivery_duration_seconds_count"),
    }
    ids = [await add_event() for _ in range(5)]
    worker = Worker(concurrency=4, run_jobs=False)
    task = asyncio.create_task(worker.run())
    for event_id in ids:
        await until(lambda event_id=event_id: _delivered(event_id), 5)
    worker.stop()
    await asyncio.wait_for(task, 5)
    assert sample("gotong_webhook_deliveries_total", {"result": "success", "status_code": "200"}) - before["ok"] == 5
    failed = sample("gotong_webhook_deliveries_total", {"result": "retryable_failure", "status_code": "503"})
    assert failed - before["fail"] == 2
    assert sample("gotong_webhook_delivery_duration_seconds_count") - before["hist"] == 7


async def test_gauges_show_statuses_and_queue_lag():
    from tests.webhooks.conftest import set_fields

    first = await add_event()
    await add_event()
    await set_fields(first, next_attempt_at_ms=int(time.time() * 1000) - 30_000)
    await services.refresh_gauges()
    assert sample("gotong_webhook_outbox_events", {"status": "pending"}) == 2
    assert sample("gotong_webhook_outbox_events", {"status": "dead_letter"}) == 0
    assert 29 <= sample("gotong_webhook_queue_lag_seconds") <= 40


def test_the_app_registers_the_embedded_loop_and_the_gauge_job():
    assert embedded_worker in background.registry.factories
    assert "webhooks.refresh_gauges" in {job.name for job in jobs.registered()}
