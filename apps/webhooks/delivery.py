"""One delivery attempt: build the signed request from the stored row, send it, classify the answer.

The body is the row's stored canonical JSON, byte-for-byte. The response is
read raw (no decompression) and at most ``MAX_READ`` bytes, so a receiver that
answers 50 MB or never stops cannot make the worker buffer it; the whole
attempt has one deadline (httpx timeouts are per phase, not total).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from opentelemetry import propagate

from apps.core import tracing
from apps.webhooks import metrics, policy, signing

MAX_READ = 64 * 1024
EXCERPT = 1024


@dataclass(frozen=True)
class AttemptResult:
    outcome: str
    status_code: int | None
    duration_ms: int
    request_sha256: str
    response_sha256: str | None = None
    response_excerpt: str | None = None
    error: str | None = None
    retry_after: str | None = None
    request_id: str = ""


def new_client(concurrency: int) -> httpx.AsyncClient:
    """The worker's one pooled client: no redirects, connections reused across deliveries."""
    timeout = settings.CONFIG.webhook_timeout_ms / 1000
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False)


def build_headers(row: dict[str, Any], payload: dict[str, Any], body: bytes, now_s: int) -> dict[str, str]:
    cfg = settings.CONFIG
    request_id = str(payload.get("request_id") or row["request_id"])
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"GotongRoyong/{settings.APP_VERSION}",
        "X-Request-ID": request_id,
        "X-Correlation-ID": row.get("correlation_id") or request_id,
        "traceparent": tracing.current_traceparent() or signing.traceparent_for(row.get("traceparent")),
    }
    headers.update(
        signing.signature_headers(
            current=cfg.webhook_secret,
            previous=cfg.webhook_secret_previous,
            event_id=row["event_id"],
            timestamp=now_s,
            body=body,
        )
    )
    return headers


def parse_body(text: Any) -> dict[str, Any]:
    """The stored body must be a JSON object; an edited, broken row is a terminal failure, not a crash."""
    if not isinstance(text, str):
        raise ValueError("stored body is missing or not a string")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"stored body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise ValueError("stored body is not a JSON object")
    return payload


async def attempt(client: httpx.AsyncClient, row: dict[str, Any]) -> AttemptResult:
    """Send one attempt for a claimed row and return what happened (never raises for network faults).

    Runs in a span that continues the trace of the request that wrote the event
    (its stored ``traceparent``), so the receiver's ``traceparent`` shares its trace id.
    """
    stored = row.get("traceparent")
    parent = propagate.extract({"traceparent": stored}) if signing.is_traceparent(stored) else None
    with tracing.tracer().start_as_current_span("webhook.deliver", context=parent) as span:
        span.set_attribute("webhook.event_id", row.get("event_id", ""))
        span.set_attribute("correlation_id", row.get("correlation_id") or "")
        span.set_attribute("request_id", row.get("request_id") or "")
        result = await _attempt(client, row)
        span.set_attribute("webhook.outcome", result.outcome)
        return result


async def _attempt(client: httpx.AsyncClient, row: dict[str, Any]) -> AttemptResult:
    text = row.get("body")
    body = text.encode() if isinstance(text, str) else b""
    request_sha = hashlib.sha256(body).hexdigest()
    try:
        payload = parse_body(text)
    except ValueError as exc:
        failed = AttemptResult(policy.TERMINAL, None, 0, request_sha, error=str(exc), request_id=row["request_id"])
        return _record(failed)
    headers = build_headers(row, payload, body, int(time.time()))
    request_id = headers["X-Request-ID"]
    timeout_s = settings.CONFIG.webhook_timeout_ms / 1000
    started = time.perf_counter()
    status: int | None = None
    read = bytearray()
    retry_after: str | None = None
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream("POST", settings.CONFIG.webhook_markov_url, content=body, headers=headers) as resp:
                status = resp.status_code
                retry_after = resp.headers.get("retry-after")
                async for chunk in resp.aiter_raw():
                    read += chunk[: MAX_READ - len(read)]
                    if len(read) >= MAX_READ:
                        break
    except TimeoutError:
        return _record(_failure(started, request_sha, request_id, status, f"timed out after {timeout_s:g} s", read))
    except httpx.HTTPError as exc:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return _record(_failure(started, request_sha, request_id, status, message[:500], read))
    duration = int((time.perf_counter() - started) * 1000)
    outcome = policy.classify(status)
    error = None if outcome == policy.SUCCESS else f"HTTP {status}"
    if status is not None and 300 <= status < 400:
        error = f"HTTP {status} (redirects are not followed)"
    return _record(
        AttemptResult(
            outcome,
            status,
            duration,
            request_sha,
            hashlib.sha256(read).hexdigest(),
            _excerpt(read),
            error,
            retry_after,
            request_id,
        )
    )


def _failure(
    started: float, request_sha: str, request_id: str, status: int | None, error: str, read: bytearray
) -> AttemptResult:
    duration = int((time.perf_counter() - started) * 1000)
    excerpt = _excerpt(read) if read else None
    return AttemptResult(policy.RETRYABLE, status, duration, request_sha, None, excerpt, error, request_id=request_id)


def _excerpt(read: bytes | bytearray) -> str:
    return bytes(read[:EXCERPT]).decode("utf-8", errors="ignore")  # at most 1 KiB of UTF-8


def _record(result: AttemptResult) -> AttemptResult:
    metrics.webhook_deliveries_total.labels(result.outcome, str(result.status_code or "none")).inc()
    metrics.webhook_delivery_duration_seconds.observe(result.duration_ms / 1000)
    return result
