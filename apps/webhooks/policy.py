"""Outcome classification and retry timing (05-webhooks.md "Outcome").

Pure functions, so the spec's table is tested without a network.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

SUCCESS = "success"
RETRYABLE = "retryable_failure"
TERMINAL = "terminal_failure"
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})
RETRY_AFTER_CAP_S = 3600
JITTER = 0.2


def classify(status_code: int | None) -> str:
    """``None`` = no HTTP answer (timeout, connection error): retryable."""
    if status_code is None:
        return RETRYABLE
    if 200 <= status_code < 300:
        return SUCCESS
    if status_code in RETRYABLE_STATUSES or status_code >= 500:
        return RETRYABLE
    return TERMINAL  # 3xx (never followed), 410 and the other 4xx


def backoff_ms(failed_attempts: int, base_ms: int, max_ms: int, rng: random.Random | None = None) -> int:
    """``min(base · 2^(n−1), max)`` with ±20 % jitter, for attempt ``n`` ≥ 1 that failed."""
    n = max(1, failed_attempts)
    delay = min(base_ms * 2 ** min(n - 1, 40), max_ms)
    factor = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return max(0, int(delay * factor))


def parse_retry_after(value: str | None, now_s: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), capped at one hour."""
    if not value:
        return None
    value = value.strip()
    now_s = time.time() if now_s is None else now_s
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None or moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - now_s
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)


def retry_delay_ms(failed_attempts: int, base_ms: int, max_ms: int, retry_after: str | None) -> int:
    """Backoff, replaced by ``Retry-After`` when that is longer."""
    delay = backoff_ms(failed_attempts, base_ms, max_ms)
    after = parse_retry_after(retry_after)
    if after is not None and after * 1000 > delay:
        return int(after * 1000)
    return delay
