"""/health, /ready (1 s checks, 503 when one fails) and /metrics."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY

from apps.core import health
from apps.core.db import SurrealClient
from apps.core.redis import set_redis_url
from tests.conftest import free_port


def test_health_is_liveness_only(api, settings):
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": settings.APP_VERSION, "environment": "test"}


def test_ready_checks_database_and_storage_without_redis(api):
    response = api.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["storage"]["ok"] is True
    assert body["checks"]["redis"] is None
    assert isinstance(body["checks"]["database"]["latency_ms"], float)


@pytest.mark.redis
def test_ready_checks_redis_when_configured(api, redis_url):
    body = api.get("/ready").json()
    assert body["checks"]["redis"] == {"ok": True, "latency_ms": body["checks"]["redis"]["latency_ms"], "error": None}


def test_ready_is_503_when_redis_is_down(api):
    set_redis_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        response = api.get("/ready")
    finally:
        set_redis_url(None)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["ok"] is True
    assert response["Retry-After"] == "1"


def test_ready_is_503_when_the_database_is_unreachable(api, monkeypatch):
    monkeypatch.setattr(health, "get_db", lambda: SurrealClient(f"ws://127.0.0.1:{free_port()}/rpc", "ns", "db"))
    response = api.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False


def test_a_hanging_check_times_out_after_one_second(api, monkeypatch):
    async def hang() -> None:
        await asyncio.sleep(30)

    monkeypatch.setattr(health, "_storage", hang)
    response = api.get("/ready")
    assert response.status_code == 503
    storage = response.json()["checks"]["storage"]
    assert storage["error"] == "timed out after 1 s"
    assert 950 <= storage["latency_ms"] < 2500


def test_ready_checks_s3_storage_when_configured(api, settings):
    unreachable = dataclasses.replace(settings.CONFIG, s3_endpoint=f"http://127.0.0.1:{free_port()}")
    with override_settings(CONFIG=unreachable):
        response = api.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"]["ok"] is False


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_requests_by_url_pattern(api):
    labels = {"method": "GET", "route": "/health", "status": "200"}
    before = _sample("gotong_http_requests_total", labels)
    api.get("/health")
    api.get("/health")
    assert _sample("gotong_http_requests_total", labels) == before + 2
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    before_404 = _sample("gotong_http_requests_total", unmatched)
    api.get("/no/such/thing/123")
    assert _sample("gotong_http_requests_total", unmatched) == before_404 + 1


def test_metrics_endpoint_exposes_histograms_and_every_named_metric(api):
    api.get("/health")
    response = api.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'gotong_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health"}' in text
    for name in (
        "gotong_http_requests_total",
        "gotong_realtime_connections",
        "gotong_realtime_disconnects_total",
        "gotong_realtime_delivery_lag_seconds",
        "gotong_realtime_fallback_total",
        "gotong_realtime_bridge_events_total",
        "gotong_webhook_queue_lag_seconds",
        "gotong_webhook_outbox_events",
        "gotong_webhook_deliveries_total",
        "gotong_idempotency_collisions_total",
        "gotong_db_query_duration_seconds",
        "gotong_storage_operations_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name


def test_metrics_can_be_restricted_to_internal_networks(api, settings):
    restricted = dataclasses.replace(settings.CONFIG, metrics_allowed_cidrs=("10.0.0.0/8",))
    with override_settings(CONFIG=restricted):
        assert api.get("/metrics").status_code == 403
        assert api.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200


def test_database_queries_are_timed(api):
    before = _sample("gotong_db_query_duration_seconds_count", {"operation": "ping"})
    api.get("/ready")
    assert _sample("gotong_db_query_duration_seconds_count", {"operation": "ping"}) == before + 1
