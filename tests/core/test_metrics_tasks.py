"""``gotong_asyncio_tasks``: the task count of the loop serving /metrics (read by bench/soak.py)."""

from __future__ import annotations

import asyncio
import math
import re

from prometheus_client import REGISTRY

TASKS = 25


def _scraped(text: str) -> float:
    match = re.search(r"^gotong_asyncio_tasks (\S+)$", text, re.MULTILINE)
    assert match, "gotong_asyncio_tasks missing from /metrics"
    return float(match.group(1))


async def test_the_gauge_counts_the_tasks_of_the_running_loop():
    before = REGISTRY.get_sample_value("gotong_asyncio_tasks")
    release = asyncio.Event()
    parked = [asyncio.create_task(release.wait()) for _ in range(TASKS)]
    try:
        assert REGISTRY.get_sample_value("gotong_asyncio_tasks") == before + TASKS
    finally:
        release.set()
        await asyncio.gather(*parked)
    assert REGISTRY.get_sample_value("gotong_asyncio_tasks") == before


def test_outside_an_event_loop_the_gauge_is_nan_not_a_made_up_number():
    assert math.isnan(REGISTRY.get_sample_value("gotong_asyncio_tasks"))


async def test_the_metrics_view_runs_on_the_callers_loop_so_it_sees_its_tasks(async_client):
    """If a sync middleware pushed the view to another thread's loop, it would count only that loop's few tasks."""
    release = asyncio.Event()
    parked = [asyncio.create_task(release.wait()) for _ in range(TASKS)]
    try:
        response = await async_client.get("/metrics")
        assert response.status_code == 200
        during = _scraped(response.content.decode())
    finally:
        release.set()
        await asyncio.gather(*parked)
    assert during >= TASKS + 1
    after = _scraped((await async_client.get("/metrics")).content.decode())
    assert after <= during - TASKS
