"""The shared Redis connection (absent when ``REDIS_URL`` is empty).

redis-py's asyncio pools belong to the event loop that created them; the
server has one loop, but sync callers (commands, tests) bring their own, so
clients are kept per loop.
"""

from __future__ import annotations

import asyncio
import weakref

import redis.asyncio as aioredis
from django.conf import settings

POOL_SIZE = 64
POOL_WAIT_S = 2.0

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()
_url_override: str | None = None


def redis_url() -> str:
    return _url_override if _url_override is not None else settings.CONFIG.redis_url


def set_redis_url(url: str | None) -> None:
    """Point the process at another Redis (tests); ``None`` restores the configured one."""
    global _url_override
    _url_override = url
    _clients.clear()


def get_redis() -> aioredis.Redis | None:
    url = redis_url()
    if not url:
        return None
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        # A blocking pool: under a burst (200 concurrent sends each touching idempotency and rate
        # limits) requests wait up to POOL_WAIT_S for a free connection instead of failing with
        # "Too many connections" and answering 503.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT_S,
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            health_check_interval=30,
        )
        client = _clients[loop] = aioredis.Redis(connection_pool=pool)
    return client
