"""Repository base and unit of work.

Repositories are the only modules that hold SurrealQL. Services call their
methods; a write that spans records is collected in a ``UnitOfWork`` and sent
as one transaction, so either every record is written or none is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from surrealdb import RecordID

from apps.core.db.client import SurrealClient, get_db
from apps.core.db.errors import DatabaseError
from apps.core.db.params import prefix_params


@dataclass(frozen=True)
class Statement:
    """One or more SurrealQL statements with their bound variables (never inlined values).

    ``results`` is how many results the engine returns for ``sql``: one per top-level
    statement (``LET`` and ``IF`` included). The unit of work hands each caller its own
    slice by these counts; it never parses the SQL, which may hold ``;`` in strings or blocks.
    """

    sql: str
    variables: dict[str, Any] = field(default_factory=dict)
    results: int = 1

    def __post_init__(self) -> None:
        if self.results < 1:
            raise ValueError("a statement produces at least one result")


def plain(value: Any) -> Any:
    """Engine values to plain Python: record ids become ``table:id`` strings."""
    if isinstance(value, RecordID):
        return f"{value.table_name}:{value.id}"
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def first_row(result: Any) -> dict[str, Any] | None:
    """The first row of a statement result (SELECT/CREATE/UPDATE give lists)."""
    if isinstance(result, list):
        return plain(result[0]) if result else None
    if isinstance(result, dict):
        return plain(result)
    return None


class Repository:
    """Base of every repository: access to the client and row helpers."""

    def __init__(self, db: SurrealClient | None = None) -> None:
        self._db = db

    @property
    def db(self) -> SurrealClient:
        return self._db or get_db()

    async def _one(self, sql: str, variables: dict[str, Any] | None = None, *, operation: str) -> dict[str, Any] | None:
        results = await self.db.query(sql, variables, operation=operation)
        return first_row(results[-1]) if results else None

    async def _all(self, sql: str, variables: dict[str, Any] | None = None, *, operation: str) -> list[dict[str, Any]]:
        results = await self.db.query(sql, variables, operation=operation)
        rows = results[-1] if results else []
        return [plain(row) for row in rows or []]

    async def _write_one(
        self, sql: str, variables: dict[str, Any] | None = None, *, operation: str
    ) -> dict[str, Any] | None:
        results = await self.db.write(sql, variables, operation=operation)
        return first_row(results[-1]) if results else None


class UnitOfWork:
    """Collects statements from several repositories and commits them as one transaction.

    Usage::

        uow = UnitOfWork()
        uow.add(users.create_statement(...))
        uow.add(outbox.enqueue_statement(...))
        results = await uow.commit(operation="signup")   # one result list per added Statement
    """

    def __init__(self, db: SurrealClient | None = None) -> None:
        self._db = db
        self._parts: list[tuple[str, dict[str, Any], int]] = []

    def add(self, statement: Statement) -> int:
        """Queue a statement; returns its index in the list ``commit`` returns."""
        index = len(self._parts)
        sql, variables = prefix_params(statement.sql, statement.variables, f"u{index}_")
        self._parts.append((sql, variables, statement.results))
        return index

    async def commit(self, *, operation: str) -> list[list[Any]]:
        if not self._parts:
            return []
        sql = ";\n".join(part[0].strip().rstrip(";") for part in self._parts)
        variables: dict[str, Any] = {}
        for _, part_vars, _ in self._parts:
            variables.update(part_vars)
        results = await (self._db or get_db()).write(sql, variables, operation=operation)
        declared = sum(part[2] for part in self._parts)
        if len(results) != declared:
            # A Statement declared the wrong ``results``: every later caller would get another's rows.
            raise DatabaseError(
                f"unit of work {operation}: statements declared {declared} results, the engine returned {len(results)}"
            )
        grouped: list[list[Any]] = []
        position = 0
        for _, _, count in self._parts:
            grouped.append(results[position : position + count])
            position += count
        self._parts.clear()
        return grouped
