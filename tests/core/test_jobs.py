"""The periodic job registry the worker loop drives."""

from __future__ import annotations

import asyncio

import pytest

from apps.core import jobs


@pytest.fixture(autouse=True)
def _isolated_registry(monkeypatch):
    monkeypatch.setattr(jobs, "_jobs", {})


def test_a_job_runs_when_due_and_waits_for_its_interval():
    calls = []

    @jobs.periodic("test.count", every_s=10)
    async def count() -> None:
        calls.append(1)

    assert asyncio.run(jobs.run_due(now=100)) == ["test.count"]
    assert asyncio.run(jobs.run_due(now=105)) == []
    assert asyncio.run(jobs.run_due(now=110)) == ["test.count"]
    assert len(calls) == 2


def test_a_failing_job_is_logged_and_does_not_stop_the_others(caplog):
    calls = []

    @jobs.periodic("test.fail", every_s=1)
    async def fail() -> None:
        raise RuntimeError("boom")

    @jobs.periodic("test.ok", every_s=1)
    async def ok() -> None:
        calls.append(1)

    assert asyncio.run(jobs.run_due(now=0)) == ["test.fail", "test.ok"]
    assert calls == [1]
    assert any(r.getMessage() == "periodic job failed" and r.job == "test.fail" for r in caplog.records)
