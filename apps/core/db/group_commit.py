"""Group commit: the write transactions that wait for their turn on ``mem://`` go to the engine together.

Why: ``mem://`` loses acknowledged concurrent writes (notes/environment.md, defect 1), so the process runs its
write transactions one at a time. With a plain lock, the engine then idled between two transactions while the
event loop handed the lock on: the holder resumed after its result, released, and the next waiter started in a
later loop iteration. On a busy loop (200 sockets, sends at the ceiling) that hand-over took longer than the
engine's own work, and the lock, not the CPU, set the send ceiling (docs/benchmarks.md, issue 14 eighth pass).

Here a write that finds nobody writing runs at once, as before. Writes that arrive meanwhile queue; when the
running one ends, everything queued (up to ``max_batch``) goes to the engine as ONE query text holding one
``BEGIN … COMMIT`` transaction per write, which the engine runs one after the other. Each transaction commits or
fails on its own: a failure (a ``THROW``, a UNIQUE index) cancels only its own statements, and each caller gets
exactly the statements of its own transaction back. Parameters are renamed per write (``b<i>_``) so that no
two transactions of a batch share a name, bound or defined with ``LET``.

A batch is cut into its transactions by statement counts: the number of results a transaction text gives does
not depend on its values, so the count is learnt from the text's first run alone, and a text not seen yet never
joins a batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apps.core import metrics
from apps.core.db.errors import DatabaseError
from apps.core.db.params import isolate_params

log = logging.getLogger(__name__)

Statements = list[dict[str, Any]]
# Runs one query text; ``operations`` are the callers' labels (metrics). Returns the raw per-statement results.
Execute = Callable[[str, dict[str, Any], list[str]], Awaitable[Statements]]

# How many distinct transaction texts have their statement count remembered. The project's texts are constants
# (a few hundred at most); if texts built per call ever fill it, it starts again (and the constants re-learn).
MAX_KNOWN_TEXTS = 2048


@dataclass(eq=False)
class _Queued:
    sql: str
    variables: dict[str, Any]
    operation: str
    future: asyncio.Future[Statements]


class GroupCommit:
    """The serialised write transactions of one event loop (``SurrealClient.write`` on ``mem://``)."""

    def __init__(self, execute: Execute, max_batch: int) -> None:
        self._execute = execute
        self.max_batch = max_batch
        self._waiting: deque[_Queued] = deque()
        self._busy = False
        self._drainer: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference to a task
        self._counts: dict[str, int] = {}
        # Engine calls made, for tests (gotong_db_write_batch_size has the transactions they carried).
        self.calls = 0

    async def run(self, sql: str, variables: dict[str, Any], operation: str) -> Statements:
        """The raw results of transaction text ``sql`` (``BEGIN … COMMIT``), run after every write queued before it."""
        if not self._busy:
            self._busy = True
            try:
                return await self._alone(sql, variables, operation)
            finally:
                # At once, also when this caller was cancelled: the engine then drops the transaction instead of
                # committing it, so the next write overlaps no commit (docs/data-layer.md, rule 1; tested).
                self._turn_ended()
        item = _Queued(sql, variables, operation, asyncio.get_running_loop().create_future())
        self._waiting.append(item)
        return await item.future

    async def _alone(self, sql: str, variables: dict[str, Any], operation: str) -> Statements:
        self.calls += 1
        metrics.db_write_batch_size.observe(1)
        statements = await self._execute(sql, variables, [operation])
        if sql not in self._counts:
            if len(self._counts) >= MAX_KNOWN_TEXTS:
                self._counts.clear()
            self._counts[sql] = len(statements)
        return statements

    def _turn_ended(self) -> None:
        if self._waiting:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        else:
            self._busy = False

    async def _drain(self) -> None:
        try:
            while batch := self._next_batch():
                await self._run(batch)
        finally:
            self._busy = False
            self._drainer = None
            while self._waiting:  # only when the loop is shutting down (the task was cancelled)
                item = self._waiting.popleft()
                if not item.future.done():
                    item.future.cancel()

    def _next_batch(self) -> list[_Queued]:
        """The front of the queue: one unknown text alone, else up to ``max_batch`` known ones. Callers that
        gave up (cancelled) are dropped before their transaction is sent."""
        batch: list[_Queued] = []
        while self._waiting and len(batch) < self.max_batch:
            item = self._waiting[0]
            if item.future.done():
                self._waiting.popleft()
                continue
            if item.sql not in self._counts:
                if not batch:
                    batch.append(self._waiting.popleft())
                break
            batch.append(self._waiting.popleft())
        return batch

    async def _run(self, batch: list[_Queued]) -> None:
        """Runs ``batch`` and gives each caller its outcome; whatever goes wrong fails this batch's callers only."""
        try:
            outcomes = await self._statements_of(batch)
        except Exception as exc:
            for item in batch:
                _fail(item, exc)
            return
        for item, statements in zip(batch, outcomes, strict=True):
            _settle(item, statements)

    async def _statements_of(self, batch: list[_Queued]) -> list[Statements]:
        if len(batch) == 1:
            item = batch[0]
            return [await self._alone(item.sql, item.variables, item.operation)]
        parts: list[str] = []
        merged: dict[str, Any] = {}
        for index, item in enumerate(batch):
            sql, variables = isolate_params(item.sql, item.variables, f"b{index}_")
            parts.append(sql)
            merged.update(variables)
        self.calls += 1
        metrics.db_write_batch_size.observe(len(batch))
        statements = await self._execute("\n".join(parts), merged, [item.operation for item in batch])
        counts = [self._counts[item.sql] for item in batch]
        if len(statements) != sum(counts):  # never seen; refuse to guess which result is whose
            log.error("a write batch answered %d statements, %d expected", len(statements), sum(counts))
            raise DatabaseError("database error: a write batch could not be split")
        outcomes, offset = [], 0
        for count in counts:
            outcomes.append(statements[offset : offset + count])
            offset += count
        return outcomes


def _settle(item: _Queued, statements: Statements) -> None:
    if not item.future.done():
        item.future.set_result(statements)


def _fail(item: _Queued, exc: Exception) -> None:
    if not item.future.done():
        item.future.set_exception(exc)
