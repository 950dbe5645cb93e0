"""The project's async SurrealDB data layer (see ``client.py`` for the rules)."""

from apps.core.db.client import SurrealClient, close_db, get_db, run_sync
from apps.core.db.errors import DatabaseError, DatabaseUnavailable, Thrown, UniqueViolation
from apps.core.db.repository import Repository, Statement, UnitOfWork, first_row, plain

__all__ = [
    "DatabaseError",
    "DatabaseUnavailable",
    "Repository",
    "Statement",
    "SurrealClient",
    "Thrown",
    "UniqueViolation",
    "UnitOfWork",
    "close_db",
    "first_row",
    "get_db",
    "plain",
    "run_sync",
]
