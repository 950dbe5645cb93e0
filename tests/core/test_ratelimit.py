"""Token-bucket rate limits: through real requests, on Redis and in-process."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings
from prometheus_client import REGISTRY

from apps.core import ratelimit
from apps.core.errors import RateLimited
from apps.core.ratelimit import RateLimiter, client_ip
from apps.core.redis import set_redis_url
from gotong.config import RateLimit
from tests.conftest import free_port

PATH = "/v1/no-such-route"  # not exempt; answers 404 quickly when allowed


@pytest.fixture(params=["local", "redis"])
def backend(request) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_url")
    return request.param


def rate_limited_count(bucket: str) -> float:
    return REGISTRY.get_sample_value("gotong_rate_limited_total", {"bucket": bucket}) or 0.0


def assert_rate_limited(response, retry_after: int) -> None:
    assert response.status_code == 429
    body = json.loads(response.content)
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["message"]
    assert body["error"]["details"] == {"retry_after_s": retry_after}
    assert response["Retry-After"] == str(retry_after)


def test_burst_then_429(api, backend):
    ratelimit.overrides["default"] = RateLimit(1, 1, 2)
    before = rate_limited_count("default")
    assert api.get(PATH).status_code == 404
    assert api.get(PATH).status_code == 404
    response = api.get(PATH)
    assert_rate_limited(response, 1)
    assert response.has_header("X-Request-ID")  # the envelope goes through the id middleware too
    assert rate_limited_count("default") == before + 1


def test_retry_after_reflects_refill_time(api, backend):
    ratelimit.overrides["default"] = RateLimit(1, 60, 1)
    assert api.get(PATH).status_code == 404
    assert_rate_limited(api.get(PATH), 60)


def test_redis_holds_the_bucket(api, redis_url):
    import redis as sync_redis

    ratelimit.overrides["default"] = RateLimit(1, 1, 2)
    assert api.get(PATH).status_code == 404
    client = sync_redis.Redis.from_url(redis_url)
    key = "gotong:ratelimit:default:ip:127.0.0.1"
    assert client.exists(key)
    assert 0 < client.pttl(key) <= 3000
    # The local fallback was not used.
    assert not ratelimit.limiter.local._buckets


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
def test_exempt_paths(api, backend, path):
    ratelimit.overrides["default"] = RateLimit(1, 60, 1)
    api.get(PATH)
    assert api.get(PATH).status_code == 429
    for _ in range(3):
        assert api.get(path).status_code != 429
    assert api.get("/health").status_code == 200


async def test_two_limiters_share_buckets_on_redis(redis_url):
    ratelimit.overrides["default"] = RateLimit(1, 60, 2)
    replica_a, replica_b = RateLimiter(), RateLimiter()
    await replica_a.hit("default", "ip:10.0.0.1")
    await replica_a.hit("default", "ip:10.0.0.1")
    with pytest.raises(RateLimited):
        await replica_b.hit("default", "ip:10.0.0.1")
    await replica_b.hit("default", "ip:10.0.0.2")  # other client unaffected


async def test_two_limiters_do_not_share_in_process():
    ratelimit.overrides["default"] = RateLimit(1, 60, 2)
    replica_a, replica_b = RateLimiter(), RateLimiter()
    await replica_a.hit("default", "ip:10.0.0.1")
    await replica_a.hit("default", "ip:10.0.0.1")
    with pytest.raises(RateLimited):
        await replica_a.hit("default", "ip:10.0.0.1")
    await replica_b.hit("default", "ip:10.0.0.1")


async def test_buckets_are_separate(backend):
    ratelimit.overrides["chat_send"] = RateLimit(1, 60, 1)
    limiter = RateLimiter()
    await limiter.hit("chat_send", "user:a")
    await limiter.hit("chat_send", "user:b")
    await limiter.hit("default", "user:a")
    with pytest.raises(RateLimited) as info:
        await limiter.hit("chat_send", "user:a")
    assert info.value.retry_after_s == 60


async def test_refill_after_waiting(backend):
    """One token a second: refused right after, allowed again once refilled (waited for, not slept), refused again.

    The Redis bucket runs on Redis' own clock (TIME), so time cannot be faked here: the test polls for the
    refill with a deadline, and the refusals it asserts each have a whole second of slack, not 50 ms.
    """
    ratelimit.overrides["default"] = RateLimit(1, 1, 1)
    limiter = RateLimiter()
    await limiter.hit("default", "ip:refill")
    with pytest.raises(RateLimited):
        await limiter.hit("default", "ip:refill")
    deadline = time.monotonic() + 10
    while True:
        try:
            await limiter.hit("default", "ip:refill")
            break
        except RateLimited:
            assert time.monotonic() < deadline, "the bucket never refilled"
            await asyncio.sleep(0.02)  # polling interval only
    with pytest.raises(RateLimited):
        await limiter.hit("default", "ip:refill")


def test_forwarded_for_ignored_without_trusted_proxies(api, backend):
    ratelimit.overrides["default"] = RateLimit(1, 60, 1)
    assert api.get(PATH, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 404
    # A spoofed header does not buy a fresh bucket.
    assert api.get(PATH, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 429


def test_forwarded_for_honoured_with_trusted_proxy(api, backend):
    ratelimit.overrides["default"] = RateLimit(1, 60, 1)
    with override_settings(CONFIG=dataclasses.replace(settings.CONFIG, trusted_proxy_count=1)):
        assert api.get(PATH, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 404
        assert api.get(PATH, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 404
        assert api.get(PATH, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429
        # Only the hop our proxy appended counts: a client-supplied left entry is ignored.
        assert api.get(PATH, HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.2").status_code == 429


def test_client_ip():
    factory = RequestFactory()
    req = factory.get("/", HTTP_X_FORWARDED_FOR="1.1.1.1, 2.2.2.2", REMOTE_ADDR="10.0.0.5")
    assert client_ip(req) == "10.0.0.5"
    for hops, expected in [(1, "2.2.2.2"), (2, "1.1.1.1"), (5, "1.1.1.1")]:
        with override_settings(CONFIG=dataclasses.replace(settings.CONFIG, trusted_proxy_count=hops)):
            assert client_ip(req) == expected
    with override_settings(CONFIG=dataclasses.replace(settings.CONFIG, trusted_proxy_count=1)):
        assert client_ip(factory.get("/", REMOTE_ADDR="10.0.0.5")) == "10.0.0.5"


def test_redis_failing_falls_back_to_in_process(api, redis_url):
    ratelimit.overrides["default"] = RateLimit(1, 60, 2)
    assert api.get(PATH).status_code == 404  # on Redis
    set_redis_url(f"redis://127.0.0.1:{free_port()}/0")  # Redis goes away
    try:
        started = time.monotonic()
        assert api.get(PATH).status_code == 404  # not refused
        assert api.get(PATH).status_code == 404
        # The in-process bucket now limits (per replica).
        assert_rate_limited(api.get(PATH), 60)
        assert time.monotonic() - started < 5
    finally:
        set_redis_url(None)


def test_local_buckets_stay_bounded(monkeypatch):
    monkeypatch.setattr(ratelimit.LocalBuckets, "MAX_BUCKETS", 50)
    buckets = ratelimit.LocalBuckets()
    for i in range(500):
        assert buckets.take(f"ip:{i}", 1 / 60, 1) == 0.0
    assert len(buckets._buckets) <= 50
    # A full (refilled) bucket is forgotten first; an exhausted one survives eviction of full ones.
    buckets.clear()
    assert buckets.take("fast", 1000.0, 1) == 0.0
    assert buckets.take("slow", 1 / 60, 1) == 0.0
    buckets._evict(time.monotonic() + 1.0)  # a second later (no sleep): "fast" is full again, "slow" is not
    assert set(buckets._buckets) == {"slow"}


def test_redis_outage_is_not_retried_on_every_request(api, redis_url, monkeypatch):
    import redis as sync_redis
    import redis.asyncio as aioredis

    calls = 0
    real_eval = aioredis.Redis.eval

    async def failing_eval(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        raise ConnectionError("redis went away")

    monkeypatch.setattr(aioredis.Redis, "eval", failing_eval)
    try:
        for _ in range(5):
            assert api.get(PATH).status_code == 404
        assert calls == 1
        # After the pause Redis is tried again and used once it answers.
        monkeypatch.setattr(aioredis.Redis, "eval", real_eval)
        ratelimit.limiter._redis_down_until[redis_url] = time.monotonic() - 0.001
        assert api.get(PATH).status_code == 404
        assert sync_redis.Redis.from_url(redis_url).exists("gotong:ratelimit:default:ip:127.0.0.1")
    finally:
        ratelimit.limiter.reset()
