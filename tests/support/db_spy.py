"""Which database operations a test's code made: the ``operation`` name of every ``SurrealClient`` call."""

from __future__ import annotations

from apps.core.db.client import SurrealClient


def spy_operations(monkeypatch, method: str, *, only: str | None = None) -> list[str]:
    """The ``operation`` names of every ``SurrealClient.<method>`` call from now on (undone with monkeypatch);
    with ``only``, just the calls of that operation."""
    seen: list[str] = []
    original = getattr(SurrealClient, method)

    async def spy(self, sql, variables=None, *, operation=method, **options):
        if only is None or operation == only:
            seen.append(operation)
        return await original(self, sql, variables, operation=operation, **options)

    monkeypatch.setattr(SurrealClient, method, spy)
    return seen


def spy_round_trips(monkeypatch) -> list[str]:
    """The ``operation`` of every round trip to the engine from now on, each counted once.

    Reads, and writes on a server engine, go through ``query``; on ``mem://`` a write goes through the group
    commit's engine call instead (``_execute_serialised``), which names every transaction it carried.
    """
    seen = spy_operations(monkeypatch, "query")
    original = SurrealClient._execute_serialised

    async def spy(self, sql, variables, operations):
        seen.extend(operations)
        return await original(self, sql, variables, operations)

    monkeypatch.setattr(SurrealClient, "_execute_serialised", spy)
    return seen
