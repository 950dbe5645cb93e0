"""The background-task registry that ``manage.py serve`` starts and stops (no server, no settings needed)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from apps.core import background
from apps.core.background import BackgroundTasks


async def test_start_runs_each_factory_on_the_running_loop_and_stop_cancels_them() -> None:
    tasks = BackgroundTasks()
    events: list[str] = []
    running = asyncio.Event()

    @tasks.register
    async def loop_forever() -> None:
        events.append("started")
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    started = tasks.start()
    assert len(started) == 1
    assert started[0].get_loop() is asyncio.get_running_loop()
    await asyncio.wait_for(running.wait(), 1)

    await tasks.stop(timeout=1)

    assert events == ["started", "cancelled"]
    assert started[0].cancelled()
    assert tasks.tasks == ()


async def test_register_is_idempotent_and_unregister_removes() -> None:
    tasks = BackgroundTasks()

    async def job() -> None:
        return None

    tasks.register(job)
    tasks.register(job)
    assert tasks.factories == (job,)
    tasks.unregister(job)
    assert tasks.factories == ()
    assert tasks.start() == []
    await tasks.stop()


async def test_a_failing_task_is_logged_and_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    tasks = BackgroundTasks()
    survivor_ran = asyncio.Event()

    @tasks.register
    async def broken() -> None:
        raise RuntimeError("boom")

    @tasks.register
    async def survivor() -> None:
        survivor_ran.set()
        await asyncio.Event().wait()

    with caplog.at_level(logging.ERROR, logger="apps.core.background"):
        broken_task, survivor_task = tasks.start()
        await asyncio.wait_for(survivor_ran.wait(), 1)
        await asyncio.wait([broken_task], timeout=1)
        await asyncio.sleep(0)  # let the done-callback run
    assert any(r.message == "background task failed" for r in caplog.records)
    assert not survivor_task.done()
    await tasks.stop(timeout=1)
    assert survivor_task.cancelled()


async def test_stop_gives_up_after_the_timeout_on_a_task_that_ignores_cancellation() -> None:
    tasks = BackgroundTasks()
    release = asyncio.Event()

    @tasks.register
    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue  # deliberately swallows the cancellation

    (task,) = tasks.start()
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await tasks.stop(timeout=0.1)
    assert loop.time() - began < 1
    assert not task.done()
    release.set()
    task.cancel()
    await asyncio.wait([task], timeout=1)
    assert task.done()


def test_module_level_functions_use_the_process_registry() -> None:
    # Not started here: other apps register real loops (the webhook worker) in this registry.
    async def hook() -> None:
        return None

    background.register(hook)
    try:
        assert hook in background.registry.factories
        assert background.start == background.registry.start
        assert background.stop == background.registry.stop
    finally:
        background.unregister(hook)
    assert hook not in background.registry.factories
