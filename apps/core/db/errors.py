"""Mapping of SurrealDB engine errors to domain errors.

A database fault is never the client's mistake: it becomes 409 (a uniqueness
violation the caller can act on), 503 (engine unreachable, or a conflict that
stayed after the bounded retries) or 500 — never 400.
"""

from __future__ import annotations

import re
from typing import Any

from surrealdb import ConnectionUnavailableError, ServerError, ThrownError, TransportError

from apps.core.errors import AppError, Conflict, Unavailable

_INDEX_CONFLICT = re.compile(r"Database index `(?P<index>[^`]+)` already contains")
# An id that needs escaping comes back in backticks itself (dl_counter:`0193-ab`): match up to the last one.
_RECORD_CONFLICT = re.compile(r"Database record `(?P<record>.+)` already exists")
_RETRYABLE = ("can be retried", "Transaction conflict", "Resource busy")


class DatabaseError(AppError):
    """An unexpected engine error (500); the text is logged, never sent to the client."""

    status = 500
    code = "internal_error"
    default_message = "internal error"


class DatabaseUnavailable(Unavailable):
    default_message = "database unavailable; retry later"


class UniqueViolation(Conflict):
    """A UNIQUE index or record id already holds the value. ``index`` names it."""

    def __init__(self, index: str | None = None, record: str | None = None) -> None:
        self.index = index
        self.record = record
        super().__init__("already exists")


class RetryableConflict(DatabaseUnavailable):
    """The engine aborted a transaction and said it can be retried."""

    default_message = "database busy; retry later"


class Thrown(AppError):
    """A ``THROW`` from SurrealQL; repositories translate ``message`` into a domain error."""

    status = 500
    code = "internal_error"


def is_retryable_message(message: str) -> bool:
    return any(marker in message for marker in _RETRYABLE)


def error_from_message(message: str, kind: str | None = None) -> AppError:
    """Classify one failed statement's error text."""
    if match := _INDEX_CONFLICT.search(message):
        return UniqueViolation(index=match.group("index"))
    if match := _RECORD_CONFLICT.search(message):
        return UniqueViolation(record=match.group("record"))
    if is_retryable_message(message):
        return RetryableConflict(details=None)
    if kind == "Thrown" or message.startswith("An error occurred: "):
        return Thrown(message.removeprefix("An error occurred: "))
    return DatabaseError(f"database error: {message}")


def error_from_exception(exc: BaseException) -> AppError:
    """Classify an exception raised by the SDK."""
    if isinstance(exc, ThrownError):
        return Thrown(str(exc))
    if isinstance(exc, (ConnectionUnavailableError, TransportError, ConnectionError, OSError)):
        return DatabaseUnavailable()
    if isinstance(exc, ServerError):
        return error_from_message(str(exc), exc.kind)
    text = str(exc)
    if "closed" in text.lower() or "not connected" in text.lower():
        return DatabaseUnavailable()
    return DatabaseError(f"database error: {type(exc).__name__}: {text}")


def first_failure(statements: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The statement that caused a failed query.

    In a failed transaction every other statement reports ``NotExecuted``; the
    root cause is the first error that is not one of those.
    """
    errors = [s for s in statements if s.get("status") != "OK"]
    if not errors:
        return None
    for statement in errors:
        details = statement.get("details") or {}
        if details.get("kind") != "NotExecuted":
            return statement
    return errors[-1]
