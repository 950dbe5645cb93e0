"""The default retry schedule survives a day-long receiver outage (issue 12 point 3).

A fake clock replaces the worker's and the outbox's ``now_ms``, so a simulated day
passes without sleeping: the test jumps the clock to the next due attempt and lets
the real worker (claim, HTTP attempt against a real local receiver, outcome, the
batched write) do the rest. The receiver answers 503 until the outage ends, then 200.
"""

from __future__ import annotations

import itertools
import random

import pytest

from apps.webhooks import outbox, policy, worker
from apps.webhooks.worker import Worker
from gotong.config import load_config
from tests.webhooks.conftest import add_event, event_row, log_rows
from tests.webhooks.receiver import Action

HOUR_MS = 3_600_000
OUTAGE_MS = 24 * HOUR_MS
EVENTS = 6
# Svix: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; plus one more 10 h step (policy.py says why).
EXPECTED_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000, 36_000_000]


class FakeClock:
    """Epoch milliseconds that move only when the test says so."""

    def __init__(self, start_ms: int) -> None:
        self.ms = start_ms

    def __call__(self) -> int:
        return self.ms


class FixedJitter:
    """Stands in for the ``random`` module in ``policy``: every draw at the low or high end."""

    def __init__(self, end: str) -> None:
        self.end = end

    def uniform(self, low: float, high: float) -> float:
        return low if self.end == "low" else high


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock(1_900_000_000_000)
    monkeypatch.setattr(worker, "now_ms", fake)
    monkeypatch.setattr(outbox, "now_ms", fake)
    return fake


@pytest.fixture
def default_retries(config) -> None:
    """The retry variables at their defaults, whatever the test environment set."""
    defaults = load_config({})
    config(
        webhook_max_attempts=defaults.webhook_max_attempts,
        webhook_backoff_base_ms=defaults.webhook_backoff_base_ms,
        webhook_backoff_max_ms=defaults.webhook_backoff_max_ms,
    )


async def _run_through_outage(receiver, clock: FakeClock, outage_ms: int) -> tuple[list[str], int]:
    """Add events, then jump from due time to due time until none is left to deliver."""
    started = clock.ms
    event_ids = [await add_event(request_id=f"req-outage-{n}") for n in range(EVENTS)]
    recovered_at = started + outage_ms
    for _ in range(EVENTS * 20):  # bounded: each turn makes at least one attempt
        rows = [await event_row(event_id) for event_id in event_ids]
        due = [int(r["next_attempt_at_ms"]) for r in rows if r["status"] in ("pending", "retrying")]
        if not due:
            return event_ids, started
        clock.ms = max(clock.ms, min(due))
        receiver.default = Action(status=503) if clock.ms < recovered_at else Action(status=200)
        assert await Worker(concurrency=EVENTS, run_jobs=False).run_once() >= 1
    raise AssertionError("events still pending after the bounded number of turns")


@pytest.mark.parametrize("jitter", ["low", "high", "random"])
async def test_a_24_hour_outage_ends_in_delivery_with_no_dead_letters(
    receiver, clock, default_retries, monkeypatch, jitter
):
    if jitter == "random":
        monkeypatch.setattr(policy, "random", random.Random(12))
    else:
        monkeypatch.setattr(policy, "random", FixedJitter(jitter))
    event_ids, started = await _run_through_outage(receiver, clock, OUTAGE_MS)

    rows = [await event_row(event_id) for event_id in event_ids]
    assert [r["status"] for r in rows] == ["delivered"] * EVENTS  # 0 dead letters
    assert all(int(r["delivered_at_ms"]) >= started + OUTAGE_MS for r in rows)
    for event_id in event_ids:
        logs = await log_rows(event_id)
        times = [int(log["created_at_ms"]) for log in logs]
        assert times[0] == started  # the first attempt is immediate
        assert [log["outcome"] for log in logs[:-1]] == ["retryable_failure"] * (len(logs) - 1)
        assert logs[-1]["outcome"] == "success"
        assert {log["status_code"] for log in logs[:-1]} == {503}
        # Each gap is its step of the schedule, within the ±20 % jitter.
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        for gap, nominal in zip(gaps, EXPECTED_DELAYS_MS, strict=False):
            assert nominal * 0.8 - 1 <= gap <= nominal * 1.2 + 1, (gap, nominal)
            if jitter == "low":
                assert gap == int(nominal * 0.8)
        assert len(logs) <= 9
    counts = [len(await log_rows(event_id)) for event_id in event_ids]
    attempts = set(counts)
    # Lowest draws: the 8th attempt (22.1 h) still meets the outage and the 9th (30.1 h) delivers;
    # highest: the 8th (33.1 h) delivers.
    assert attempts <= {8, 9}
    assert attempts == {"low": {9}, "high": {8}}.get(jitter, attempts)
    assert len(receiver.requests) == sum(counts)  # one request per logged attempt, none unrecorded


async def test_the_default_schedule_is_svix_like_and_covers_a_day_even_at_the_lowest_jitter():
    defaults = load_config({})
    assert (defaults.webhook_max_attempts, defaults.webhook_backoff_base_ms, defaults.webhook_backoff_max_ms) == (
        9,
        5_000,
        36_000_000,
    )
    base, cap = defaults.webhook_backoff_base_ms, defaults.webhook_backoff_max_ms
    assert [policy.nominal_delay_ms(n, base, cap) for n in range(1, 9)] == EXPECTED_DELAYS_MS
    worst = policy.outage_survived_ms(defaults.webhook_max_attempts, base, cap)
    nominal = policy.outage_survived_ms(defaults.webhook_max_attempts, base, cap, worst_case=False)
    assert worst > OUTAGE_MS  # 30.1 h
    assert 36 * HOUR_MS < nominal < 38 * HOUR_MS  # about a day and a half, like Svix
    # The earlier defaults gave up after about 15 s of outage.
    assert policy.outage_survived_ms(5, 1000, 60_000, worst_case=False) == 15_000


def test_other_values_of_the_variables_use_the_spec_formula():
    assert not policy.uses_schedule(1000, 60_000)
    assert [policy.nominal_delay_ms(n, 5000, 60_000) for n in range(1, 6)] == [5000, 10_000, 20_000, 40_000, 60_000]
    assert [policy.nominal_delay_ms(n, 1000, 36_000_000) for n in (1, 2, 3)] == [1000, 2000, 4000]
    # Raising WEBHOOK_MAX_ATTEMPTS past the table keeps retrying every MAX (10 h).
    assert policy.nominal_delay_ms(20, 5000, 36_000_000) == 36_000_000
    assert policy.outage_survived_ms(10, 5000, 36_000_000, worst_case=False) == (99_305 + 2 * 36_000) * 1000


def test_the_default_schedule_is_jittered_both_ways():
    rng = random.Random(3)
    for n, nominal in enumerate(EXPECTED_DELAYS_MS, start=1):
        values = [policy.backoff_ms(n, 5000, 36_000_000, rng) for _ in range(200)]
        assert nominal * 0.8 <= min(values) < nominal * 0.9
        assert nominal * 1.1 < max(values) <= nominal * 1.2
    # Retry-After (capped at 1 h) still replaces a shorter scheduled delay.
    assert policy.retry_delay_ms(1, 5000, 36_000_000, "600") == 600_000
    assert 4000 <= policy.retry_delay_ms(1, 5000, 36_000_000, "1") <= 6000
