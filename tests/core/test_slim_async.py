"""``apps.core.slim_async``: the Event and single-reader Queue that idle WebSockets use instead of asyncio's."""

from __future__ import annotations

import asyncio

import pytest

from apps.core.slim_async import SlimEvent, SlimQueue


def test_set_wakes_every_waiter_and_a_set_event_does_not_block() -> None:
    async def scenario() -> list[bool]:
        event = SlimEvent()
        waiters = [asyncio.create_task(event.wait()) for _ in range(3)]
        await asyncio.sleep(0)  # let them start waiting
        assert not any(w.done() for w in waiters)
        event.set()
        woken = await asyncio.gather(*waiters)
        assert event.is_set()
        assert await event.wait() is True  # already set: returns at once
        event.clear()
        assert not event.is_set()
        assert event._waiters is None  # nothing kept once nobody waits
        return woken

    assert asyncio.run(scenario()) == [True, True, True]


def test_a_cancelled_waiter_is_forgotten_and_the_others_still_wake() -> None:
    async def scenario() -> None:
        event = SlimEvent()
        gone, stays = asyncio.create_task(event.wait()), asyncio.create_task(event.wait())
        await asyncio.sleep(0)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert event._waiters is not None
        assert len(event._waiters) == 1
        event.set()
        assert await stays is True

    asyncio.run(scenario())


def test_the_queue_is_fifo_wakes_its_reader_and_refuses_a_second_one() -> None:
    async def scenario() -> None:
        queue: SlimQueue[int] = SlimQueue()
        assert queue.empty()
        assert queue.qsize() == 0
        reader = asyncio.create_task(queue.get())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="one reader"):
            await queue.get()
        queue.put_nowait(1)
        queue.put_nowait(2)
        assert await reader == 1
        assert queue.qsize() == 1
        assert await queue.get() == 2
        assert queue.empty()

    asyncio.run(scenario())


def test_a_cancelled_get_leaves_the_queue_usable() -> None:
    async def scenario() -> None:
        queue: SlimQueue[str] = SlimQueue()
        reader = asyncio.create_task(queue.get())
        await asyncio.sleep(0)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        queue.put_nowait("after")
        assert await queue.get() == "after"

    asyncio.run(scenario())
