"""Every Prometheus metric of the product, defined once (names of 07-operations.md).

Other modules import the metric objects from here; nothing else registers
metrics, so ``/metrics`` shows the whole set from the first scrape on.
"""

from __future__ import annotations

import asyncio
import gc

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

http_requests_total = Counter(
    "gotong_http_requests_total", "HTTP requests by method, URL pattern and status", ["method", "route", "status"]
)
http_request_duration_seconds = Histogram(
    "gotong_http_request_duration_seconds",
    "HTTP request latency by method and URL pattern",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
db_query_duration_seconds = Histogram(
    "gotong_db_query_duration_seconds", "SurrealDB call latency by operation", ["operation"], buckets=_LATENCY_BUCKETS
)
db_write_batch_size = Histogram(
    "gotong_db_write_batch_size",
    "Write transactions per engine call of the mem:// group commit (apps/core/db/group_commit.py)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
db_transaction_retries_total = Counter(
    "gotong_db_transaction_retries_total", "Write transactions retried after a retryable conflict", ["operation"]
)
idempotency_collisions_total = Counter(
    "gotong_idempotency_collisions_total",
    "Idempotency keys seen again: replayed, in progress or reused with another body",
    ["operation", "result"],
)
rate_limited_total = Counter("gotong_rate_limited_total", "Requests refused by a rate limit", ["bucket"])
realtime_connections = Gauge("gotong_realtime_connections", "Open realtime streams", ["transport"])
realtime_disconnects_total = Counter(
    "gotong_realtime_disconnects_total", "Realtime stream disconnects", ["transport", "reason"]
)
realtime_delivery_lag_seconds = Histogram(
    "gotong_realtime_delivery_lag_seconds", "Commit to frame sent", buckets=_LATENCY_BUCKETS
)
realtime_fallback_total = Counter(
    "gotong_realtime_fallback_total", "Realtime fallbacks between transports", ["from", "to", "reason"]
)
realtime_bridge_events_total = Counter(
    "gotong_realtime_bridge_events_total", "Events of the realtime bridge between replicas", ["event"]
)
webhook_queue_lag_seconds = Gauge("gotong_webhook_queue_lag_seconds", "Age of the oldest due outbox event")
webhook_outbox_events = Gauge("gotong_webhook_outbox_events", "Outbox events by status", ["status"])
webhook_deliveries_total = Counter(
    "gotong_webhook_deliveries_total", "Webhook delivery attempts", ["result", "status_code"]
)
storage_operations_total = Counter("gotong_storage_operations_total", "Object storage operations", ["op", "result"])


def _asyncio_task_count() -> float:
    """Tasks of the event loop that runs the scrape, NaN outside one.

    Why this is the server's own count: ``/metrics`` is an async view and every middleware is
    async-capable, so daphne runs it on the server's loop (the one holding every WebSocket
    consumer, request and background task); the soak (bench/soak.py) reads it each minute to
    see tasks that never finish. Counted at scrape time only: nothing runs between scrapes.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return float("nan")
    return float(len(asyncio.all_tasks(loop)))


asyncio_tasks = Gauge("gotong_asyncio_tasks", "asyncio tasks alive on the event loop that serves /metrics")
asyncio_tasks.set_function(_asyncio_task_count)

# Garbage-collection pauses (apps/core/gc_tuning.py): every collection is a stop-the-world pause of the
# event loop, so its length is a latency floor for every socket. 0.1 ms (a young collection) up to 2.5 s
# (a full collection over millions of objects, issue 14: 0.6-0.68 s with 5,000 sockets). Finer between 50 and
# 250 ms, where issue 14's 100 ms delivery bound lies.
_GC_PAUSE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05)
_GC_PAUSE_BUCKETS += (0.075, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.5)
gc_pause_seconds = Histogram(
    "gotong_gc_pause_seconds",
    "Garbage-collection pauses by generation (2 = full collection)",
    ["generation"],
    buckets=_GC_PAUSE_BUCKETS,
)
gc_frozen_objects = Gauge(
    "gotong_gc_frozen_objects", "Objects moved out of the collector's view by gc.freeze() (0: not frozen)"
)
gc_frozen_objects.set_function(lambda: float(gc.get_freeze_count()))
gc_collected_objects = Counter(
    "gotong_gc_collected_objects_total",
    "Cyclic garbage: unreachable objects the collector found, by generation. Frozen cyclic garbage is never "
    "found, so this staying near 0 per request is what makes re-freezing safe",
    ["generation"],
)
gc_refreezes = Counter(
    "gotong_gc_refreezes_total", "Full collections slow enough (GC_REFREEZE_AFTER_MS) to freeze what survived them"
)
