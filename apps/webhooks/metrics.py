"""Webhook metrics owned by this app.

``gotong_webhook_delivery_duration_seconds`` lives here rather than in
``apps/core/metrics.py`` (owned by another engineer this round); it is
registered in the default registry, so every ``/metrics`` shows it once this
module is imported (``WebhooksConfig.ready`` imports it).
"""

from __future__ import annotations

from prometheus_client import Histogram

from apps.core.metrics import webhook_deliveries_total, webhook_outbox_events, webhook_queue_lag_seconds

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

webhook_delivery_duration_seconds = Histogram(
    "gotong_webhook_delivery_duration_seconds",
    "Duration of one webhook delivery attempt (request sent to response read or failure)",
    buckets=_BUCKETS,
)

__all__ = [
    "webhook_deliveries_total",
    "webhook_delivery_duration_seconds",
    "webhook_outbox_events",
    "webhook_queue_lag_seconds",
]
