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
from apps.core.redis import get_redis
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
    }
    limits.update(overrides)
    return limits


@dataclass
class _Bucket:
    tokens: float
    updated: float


class LocalBuckets:
    """In-process token buckets (one process only)."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, per_second: float, burst: int) -> float:
        """Take one token; returns 0 when allowed, else seconds to wait."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(burst), now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * per_second)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        if len(self._buckets) > 100_000:
            self._evict(now, per_second, burst)
        return (1 - bucket.tokens) / per_second

    def _evict(self, now: float, per_second: float, burst: int) -> None:
        full_after = burst / per_second
        for key in [k for k, b in self._buckets.items() if now - b.updated > full_after]:
            del self._buckets[key]

    def clear(self) -> None:
        self._buckets.clear()


class RateLimiter:
    def __init__(self) -> None:
        self.local = LocalBuckets()

    async def hit(self, bucket: str, key: str) -> None:
        """Spend one token of ``bucket`` for ``key``; raises ``RateLimited`` when empty."""
        limit = rate_limits()[bucket]
        wait = await self._take(f"{KEY_PREFIX}{bucket}:{key}", limit.tokens_per_second, limit.burst)
        if wait > 0:
            metrics.rate_limited_total.labels(bucket).inc()
            raise RateLimited(math.ceil(wait))

    async def _take(self, key: str, per_second: float, burst: int) -> float:
        client = get_redis()
        if client is not None:
            try:
                allowed, wait = await client.eval(_LUA, 1, key, repr(per_second), str(burst))
                return 0.0 if int(allowed) == 1 else float(wait)
            except (TimeoutError, OSError, Exception) as exc:
                log.warning("rate limit store unavailable; using in-process bucket", extra={"error": str(exc)})
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
