"""Metrics of 07-operations.md move when their event happens (those not covered next to their feature).

Covered elsewhere: HTTP requests/latency and db timings (tests/core/test_health.py), idempotency
collisions (tests/core/test_idempotency.py), rate limits (tests/core/test_ratelimit.py), storage
(tests/core/test_storage.py), webhook metrics (tests/webhooks/test_worker_loop.py), fallback
(tests/chat/test_api.py).
"""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from apps.chat import streams
from apps.chat.hub import get_hub
from apps.core.db import SurrealClient
from apps.core.db.errors import RetryableConflict
from tests.chat.conftest import chat  # noqa: F401 - fixture
from tests.chat.streaming import Collector
from tests.chat.test_streams import _people, _send


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_stream_connections_disconnects_and_delivery_lag_move(chat):  # noqa: F811
    pa, pb, tid = await _people(chat)
    connections = {"transport": "websocket"}
    before_open = sample("gotong_realtime_connections", connections)
    before_lag = sample("gotong_realtime_delivery_lag_seconds_count")
    before_closed = sum(
        sample("gotong_realtime_disconnects_total", {"transport": "websocket", "reason": reason})
        for reason in ("client_closed", "closed")
    )
    collector = Collector(streams.StreamSession(pb, tid, after_seq=0, transport="websocket"))
    await collector.wait(lambda: get_hub().sessions.get(tid))
    assert sample("gotong_realtime_connections", connections) == before_open + 1

    await _send(pa, tid, 2, "lag")
    await collector.wait(lambda: len(collector.seqs) == 2)
    assert sample("gotong_realtime_delivery_lag_seconds_count") >= before_lag + 2

    await collector.stop()
    await get_hub().stop()
    assert sample("gotong_realtime_connections", connections) == before_open
    after_closed = sum(
        sample("gotong_realtime_disconnects_total", {"transport": "websocket", "reason": reason})
        for reason in ("client_closed", "closed")
    )
    assert after_closed == before_closed + 1


def test_retried_write_transactions_are_counted(monkeypatch):
    client = SurrealClient("mem://", "ns_metrics", "db", max_attempts=3)
    calls = []

    async def conflict_once(sql, variables):
        calls.append(sql)
        if len(calls) == 1:
            raise RetryableConflict()
        return [{"status": "OK", "result": r} for r in (None, 1, None)]

    monkeypatch.setattr(client, "_raw", conflict_once)
    labels = {"operation": "metrics_test"}
    before = sample("gotong_db_transaction_retries_total", labels)
    assert asyncio.run(client.write("RETURN 1;", operation="metrics_test")) == [1]
    assert sample("gotong_db_transaction_retries_total", labels) == before + 1
