"""Readiness checks: database, Redis, storage — each bounded by a 1 s timeout."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from apps.core.db import get_db
from apps.core.redis import get_redis

CHECK_TIMEOUT_S = 1.0


async def _timed(check: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        error = None
    except TimeoutError:
        error = f"timed out after {CHECK_TIMEOUT_S:g} s"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    return {"ok": error is None, "latency_ms": round((time.perf_counter() - started) * 1000, 2), "error": error}


async def _database() -> None:
    await get_db().ping()


async def _redis() -> None:
    client = get_redis()
    assert client is not None
    await client.ping()


async def _storage() -> None:
    cfg = settings.CONFIG
    if cfg.s3_endpoint:
        import boto3
        from botocore.config import Config

        def head_bucket() -> None:
            client = boto3.client(
                "s3",
                endpoint_url=cfg.s3_endpoint,
                region_name=cfg.s3_region,
                aws_access_key_id=cfg.s3_access_key,
                aws_secret_access_key=cfg.s3_secret_key,
                config=Config(
                    s3={"addressing_style": "path"}, connect_timeout=1, read_timeout=1, retries={"max_attempts": 0}
                ),
            )
            client.head_bucket(Bucket=cfg.s3_bucket)

        await asyncio.to_thread(head_bucket)
        return
    root = settings.MEDIA_ROOT
    os.makedirs(root, exist_ok=True)
    if not os.access(root, os.W_OK):
        raise PermissionError(f"{root} is not writable")


async def readiness() -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = {"database": None, "redis": None, "storage": None}
    names = ["database", "storage"] + (["redis"] if get_redis() is not None else [])
    funcs = {"database": _database, "redis": _redis, "storage": _storage}
    results = await asyncio.gather(*(_timed(funcs[name]) for name in names))
    checks.update(dict(zip(names, results, strict=True)))
    ok = all(result["ok"] for result in results)
    return ok, checks
