"""asyncio's ``Event`` and a single-reader ``Queue`` without their up-front deques (issue 14: bytes per idle socket).

``asyncio.Event()`` allocates a ``collections.deque`` for its waiters when it is built, and ``asyncio.Queue()``
four of them (getters, putters, items and its ``Event``). A CPython deque starts with a 64-slot block: about
760 bytes each, measured with tracemalloc. An idle WebSocket had seven (uvicorn's receive queue and its
``writable`` event, the stream's wake-up event and pending deque): about 5 KiB of a socket's 33 KiB, for
objects that hold nothing almost all the time. These keep the same behaviour for what uvicorn and
``chat.streams`` call, and allocate only while something is waiting or queued.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class SlimEvent:
    """``asyncio.Event``'s ``set``/``clear``/``is_set``/``wait``; the waiters' list exists only while one waits."""

    __slots__ = ("_is_set", "_waiters")

    def __init__(self) -> None:
        self._is_set = False
        self._waiters: list[asyncio.Future[bool]] | None = None

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        """Wake every current waiter, as ``asyncio.Event.set`` does."""
        if self._is_set:
            return
        self._is_set = True
        waiters, self._waiters = self._waiters, None
        for fut in waiters or ():
            if not fut.done():
                fut.set_result(True)

    def clear(self) -> None:
        self._is_set = False

    async def wait(self) -> bool:
        if self._is_set:
            return True
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(fut)
        try:
            return await fut
        finally:
            if self._waiters is not None and fut in self._waiters:  # cancelled: set() did not take it out
                self._waiters.remove(fut)
                if not self._waiters:
                    self._waiters = None


class SlimQueue(Generic[T]):
    """Unbounded FIFO for ONE reader: ``put_nowait``, ``get``, ``empty``, ``qsize`` of ``asyncio.Queue``.

    uvicorn's WebSocket protocol is the use: the transport puts ASGI events, the application's ``receive`` is
    the only reader, and reading pauses after each frame until the queue is drained, so it holds one or two.
    A second concurrent ``get`` raises ``RuntimeError`` instead of silently racing the first.
    """

    __slots__ = ("_getter", "_items")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._getter: asyncio.Future[None] | None = None

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        if self._getter is not None and not self._getter.done():
            self._getter.set_result(None)

    async def get(self) -> T:
        while not self._items:
            if self._getter is not None:
                raise RuntimeError("SlimQueue has one reader; a second get() is waiting")
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        return self._items.pop(0)
