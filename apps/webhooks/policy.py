"""Outcome classification and retry timing (05-webhooks.md "Outcome" and "Retry delay").

Pure functions, so the spec's table is tested without a network.

Retry schedule. The spec's formula is ``min(BASE · 2^(n−1), MAX)`` ±20 % jitter for
attempt ``n`` that failed. No choice of BASE and MAX makes that doubling close to
Svix's schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: steps ×60,
×6, ×4, ×2.5, ×2), and the earlier defaults 5 / 1000 / 60000 ms dead-lettered
after about 15 s of receiver outage. So the default values of the variables,
``WEBHOOK_BACKOFF_BASE_MS=5000`` and ``WEBHOOK_BACKOFF_MAX_MS=36000000`` (the
table's first and longest step), select ``SVIX_SCHEDULE_MS``; continued at MAX past
its end. Any other BASE or MAX means the operator chose the spec formula, which
then applies unchanged. ``WEBHOOK_MAX_ATTEMPTS`` defaults to 9, one 10 h step more
than Svix's 8 attempts: jitter is ±20 % on every delay, and with 8 attempts a run of
low draws would end the schedule after 22 h (0.8 × 27.6 h), before a 24 h outage
is over. With 9 attempts the last one comes 37.6 h after the first (30.1 h with
every draw at −20 %), so a 24 h outage always ends in delivery.
``outage_survived_ms`` gives that figure for any setting (runbook "how to size it").
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

from gotong.config import DEFAULT_WEBHOOK_BACKOFF_BASE_MS, DEFAULT_WEBHOOK_BACKOFF_MAX_MS

SUCCESS = "success"
RETRYABLE = "retryable_failure"
TERMINAL = "terminal_failure"
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})
RETRY_AFTER_CAP_S = 3600
JITTER = 0.2
# Delay after failed attempt n = 1, 2, ... (Svix: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); MAX after the end.
SVIX_SCHEDULE_MS = (5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000)


def classify(status_code: int | None) -> str:
    """``None`` = no HTTP answer (timeout, connection error): retryable."""
    if status_code is None:
        return RETRYABLE
    if 200 <= status_code < 300:
        return SUCCESS
    if status_code in RETRYABLE_STATUSES or status_code >= 500:
        return RETRYABLE
    return TERMINAL  # 3xx (never followed), 410 and the other 4xx


def uses_schedule(base_ms: int, max_ms: int) -> bool:
    """The default BASE and MAX select ``SVIX_SCHEDULE_MS``; anything else is the spec formula."""
    return (base_ms, max_ms) == (DEFAULT_WEBHOOK_BACKOFF_BASE_MS, DEFAULT_WEBHOOK_BACKOFF_MAX_MS)


def nominal_delay_ms(failed_attempts: int, base_ms: int, max_ms: int) -> int:
    """The delay before jitter after attempt ``n`` ≥ 1 failed: the schedule table or ``min(base · 2^(n−1), max)``."""
    n = max(1, failed_attempts)
    if uses_schedule(base_ms, max_ms):
        return SVIX_SCHEDULE_MS[n - 1] if n <= len(SVIX_SCHEDULE_MS) else max_ms
    return min(base_ms * 2 ** min(n - 1, 40), max_ms)


def outage_survived_ms(max_attempts: int, base_ms: int, max_ms: int, *, worst_case: bool = True) -> int:
    """How long after the first attempt the last one is made: a receiver outage shorter than this ends in
    delivery. ``worst_case`` assumes every jitter draw is −20 %; otherwise the nominal sum of the delays."""
    total = sum(nominal_delay_ms(n, base_ms, max_ms) for n in range(1, max_attempts))
    return int(total * (1 - JITTER)) if worst_case else total


def backoff_ms(failed_attempts: int, base_ms: int, max_ms: int, rng: random.Random | None = None) -> int:
    """The nominal delay (``nominal_delay_ms``) with ±20 % jitter, for attempt ``n`` ≥ 1 that failed."""
    delay = nominal_delay_ms(failed_attempts, base_ms, max_ms)
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
