"""``manage.py run_worker`` as real processes on one file database: SIGKILL mid-delivery loses nothing,
the expired lease is reclaimed by the next worker, /health and /metrics answer, SIGTERM exits 0."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import urllib.request

import pytest

from apps.core.db import SurrealClient, UnitOfWork
from apps.core.db.migrations import migrate
from apps.webhooks.repository import OutboxRepository
from apps.webhooks.services import backfill_row
from tests.conftest import ROOT, free_port, server_env
from tests.webhooks.conftest import SECRET
from tests.webhooks.receiver import Action, ScriptedReceiver
from tests.webhooks.test_claims import _payload_line


async def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.read().decode()
    except OSError:
        return None


@pytest.mark.slow
async def test_sigkill_mid_delivery_loses_nothing_and_sigterm_exits_zero(tmp_path):
    endpoint = f"surrealkv://{tmp_path}/db"
    db = SurrealClient(endpoint, "gotong", "main")
    await db.connect()
    await migrate(db)
    row = backfill_row(_payload_line(42))
    uow = UnitOfWork(db)
    uow.add(OutboxRepository(db).insert_statement(row))
    await uow.commit(operation="test")
    await db.close()

    receiver = await ScriptedReceiver().start()
    receiver.script.append(Action(kind="never"))  # the first attempt hangs: the worker dies during it
    metrics_port = free_port()
    env = server_env(
        SURREAL_ENDPOINT=endpoint,
        SURREAL_NS="gotong",
        SURREAL_DB="main",
        WEBHOOK_MARKOV_URL=receiver.url,
        GOTONG_ROYONG_WEBHOOK_SECRET=SECRET,
        WEBHOOK_TIMEOUT_MS="1500",
        WORKER_POLL_INTERVAL_MS="100",
        WORKER_METRICS_PORT="0",
    )
    cmd = [sys.executable, "manage.py", "run_worker", "--concurrency", "4"]
    first = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL)
    try:
        await _wait(lambda: len(receiver.requests) == 1, 30, "the first attempt")
        first.send_signal(signal.SIGKILL)
        await first.wait()
        killed_at = time.monotonic()

        env["WORKER_METRICS_PORT"] = str(metrics_port)
        second = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL)
        try:
            await _wait(lambda: _get(f"http://127.0.0.1:{metrics_port}/health"), 30, "the worker's /health")
            health = json.loads(_get(f"http://127.0.0.1:{metrics_port}/health") or "{}")
            assert health["status"] == "ok"
            await _wait(lambda: len(receiver.requests) == 2, 15, "the reclaimed attempt")
            assert time.monotonic() - killed_at < 10
            metrics = _get(f"http://127.0.0.1:{metrics_port}/metrics") or ""
            assert 'gotong_webhook_deliveries_total{result="success",status_code="200"} 1.0' in metrics
            assert "gotong_webhook_delivery_duration_seconds_count 1.0" in metrics
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), 20) == 0
        finally:
            if second.returncode is None:
                second.kill()
    finally:
        if first.returncode is None:
            first.kill()
        await receiver.close()

    assert receiver.requests[0].body == receiver.requests[1].body
    db = SurrealClient(endpoint, "gotong", "main")
    try:
        event = (await db.query("SELECT * FROM webhook_outbox_event;"))[0][0]
        logs = (await db.query("SELECT * FROM webhook_delivery_log;"))[0]
    finally:
        await db.close()
    assert (event["status"], event["attempts"]) == ("delivered", 2)
    assert [(log["attempt"], log["outcome"]) for log in logs] == [(2, "success")]
