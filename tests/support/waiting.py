"""Waiting on a condition in async tests: poll until it holds, fail with a message at a deadline (never a fixed
sleep; a busy 2-core machine only makes the wait longer)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(check: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    """Return once ``check()`` (or the coroutine it returns) is truthy; ``AssertionError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{what} not met within {timeout} s")
