"""Token-bucket rate limits: shared through Redis, in-process without it.

Buckets (``01-api-conventions.md``): ``default`` per client (user id when
authenticated, else IP) on every request; services add stricter ones with
``limiter.hit(bucket, key)`` (sign-in/sign-up per IP and per email, chat sends,
evidence uploads). Over the limit → ``RateLimited`` (429 + Retry-After).

If Redis fails mid-flight the in-process bucket answers instead (fail open to a
per-replica limit rather than refusing every request); the failure is logged.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.core import metrics
from apps.core.api import error_response
from apps.core.errors import RateLimited
from apps.core.redis import get_redis, redis_url
from gotong.config import RateLimit

log = logging.getLogger(__name__)

EXEMPT_PATHS = ("/health", "/ready", "/metrics", "/static/")
KEY_PREFIX = "gotong:ratelimit:"

# KEYS[1] bucket key; ARGV: tokens per second, burst. Clock from Redis TIME so replicas agree.
_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local data = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(data[1]) or burst
local ts = tonumber(data[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(wait)}
"""


# Tests (and only tests) may replace a bucket's limit here.
overrides: dict[str, RateLimit] = {}


def rate_limits() -> dict[str, RateLimit]:
    cfg = settings.CONFIG
    limits = {
        "default": cfg.rate_limit_default,
        "auth_ip": cfg.rate_limit_auth,
        "auth_email": cfg.rate_limit_auth,
        "chat_send": cfg.rate_limit_chat_send,
        "evidence_upload": cfg.rate_limit_evidence_upload,
        "transparency": cfg.rate_limit_transparency,
    }
    limits.update(overrides)
    return limits


@dataclass
class _Bucket:
    tokens: float
    updated: float
    full_after: float  # seconds after ``updated`` when the bucket is full again (then it can be forgotten)


class LocalBuckets:
    """In-process token buckets (one process only; no awaits, so atomic for coroutines)."""

    MAX_BUCKETS = 100_000

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, per_second: float, burst: int) -> float:
        """Take one token; returns 0 when allowed, else seconds to wait."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.MAX_BUCKETS:
                self._evict(now)
            bucket = self._buckets[key] = _Bucket(float(burst), now, burst / per_second)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * per_second)
        bucket.updated = now
        bucket.full_after = burst / per_second
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / per_second

    def _evict(self, now: float) -> None:
        """Forget buckets that have refilled completely (forgetting them changes nothing)."""
        for key in [k for k, b in self._buckets.items() if now - b.updated >= b.full_after]:
            del self._buckets[key]
        if len(self._buckets) >= self.MAX_BUCKETS:
            # Still full of active clients: drop the oldest tenth (insertion order) so that memory
            # stays bounded and the scan does not repeat on every new client.
            for key in list(self._buckets)[: max(1, self.MAX_BUCKETS // 10)]:
                del self._buckets[key]

    def clear(self) -> None:
        self._buckets.clear()


# After a Redis failure, skip Redis for this long (per URL) instead of paying a timeout per request.
REDIS_RETRY_AFTER_S = 2.0


class RateLimiter:
    def __init__(self) -> None:
        self.local = LocalBuckets()
        self._redis_down_until: dict[str, float] = {}

    def reset(self) -> None:
        """Forget in-process buckets and remembered Redis failures (tests)."""
        self.local.clear()
        self._redis_down_until.clear()

    async def hit(self, bucket: str, key: str) -> None:
        """Spend one token of ``bucket`` for ``key``; raises ``RateLimited`` when empty."""
        limit = rate_limits()[bucket]
        wait = await self._take(f"{KEY_PREFIX}{bucket}:{key}", limit.tokens_per_second, limit.burst)
        if wait > 0:
            metrics.rate_limited_total.labels(bucket).inc()
            raise RateLimited(math.ceil(wait))

    async def _take(self, key: str, per_second: float, burst: int) -> float:
        url = redis_url()
        client = get_redis() if url and self._redis_down_until.get(url, 0.0) <= time.monotonic() else None
        if client is not None:
            try:
                allowed, wait = await client.eval(_LUA, 1, key, repr(per_second), str(burst))
                self._redis_down_until.pop(url, None)
                return 0.0 if int(allowed) == 1 else float(wait)
            except Exception as exc:  # any Redis failure: fail open to the per-replica bucket
                self._redis_down_until[url] = time.monotonic() + REDIS_RETRY_AFTER_S
                log.warning(
                    "rate limit store unavailable; using in-process bucket",
                    extra={"error": f"{type(exc).__name__}: {exc}"},
                )
        return self.local.take(key, per_second, burst)


limiter = RateLimiter()


def client_ip(request: HttpRequest) -> str:
    """The client address, trusting ``TRUSTED_PROXY_COUNT`` hops of ``X-Forwarded-For``."""
    hops = settings.CONFIG.trusted_proxy_count
    remote = request.META.get("REMOTE_ADDR") or "0.0.0.0"
    if hops <= 0:
        return remote
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    chain = [*forwarded, remote]
    # The last `hops` entries are our proxies; the one before them is the client.
    index = len(chain) - 1 - hops
    return chain[max(index, 0)]


class RateLimitMiddleware:
    """The ``default`` bucket for every request except health, readiness, metrics and static files."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response) -> None:
        from asgiref.sync import markcoroutinefunction

        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(EXEMPT_PATHS):
            principal = getattr(request, "principal", None)
            key = f"user:{principal.user_id}" if principal is not None else f"ip:{client_ip(request)}"
            try:
                await limiter.hit("default", key)
            except RateLimited as exc:
                return error_response(exc)
        return await self.get_response(request)
