"""The outcome table and retry timing as pure functions."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from apps.webhooks import policy


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "success"),
        (201, "success"),
        (204, "success"),
        (299, "success"),
        (301, "terminal_failure"),
        (304, "terminal_failure"),
        (400, "terminal_failure"),
        (404, "terminal_failure"),
        (410, "terminal_failure"),
        (408, "retryable_failure"),
        (409, "retryable_failure"),
        (425, "retryable_failure"),
        (429, "retryable_failure"),
        (500, "retryable_failure"),
        (599, "retryable_failure"),
        (None, "retryable_failure"),
    ],
)
def test_classify(status, outcome):
    assert policy.classify(status) == outcome


def test_backoff_doubles_with_jitter_and_a_cap():
    rng = random.Random(1)
    for n, nominal in [(1, 1000), (2, 2000), (3, 4000), (4, 8000), (10, 60_000), (60, 60_000)]:
        values = [policy.backoff_ms(n, 1000, 60_000, rng) for _ in range(200)]
        assert min(values) >= nominal * 0.8
        assert max(values) <= nominal * 1.2
        assert max(values) - min(values) > nominal * 0.2  # jitter really spreads retries


def test_retry_after_forms():
    now = 1_800_000_000.0
    assert policy.parse_retry_after("120", now) == 120
    assert policy.parse_retry_after(formatdate(now + 90, usegmt=True), now) == pytest.approx(90, abs=1)
    assert policy.parse_retry_after(formatdate(now - 90, usegmt=True), now) == 0
    assert policy.parse_retry_after("99999999", now) == 3600
    assert policy.parse_retry_after("soon", now) is None
    assert policy.parse_retry_after(None, now) is None


def test_retry_after_replaces_backoff_only_when_longer():
    assert 800 <= policy.retry_delay_ms(1, 1000, 60_000, "0") <= 1200
    assert policy.retry_delay_ms(1, 1000, 60_000, "30") == 30_000
