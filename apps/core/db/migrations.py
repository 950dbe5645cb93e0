"""Ordered ``.surql`` schema migrations.

Each app keeps its schema in ``apps/<app>/surql/NNNN_name.surql``. Files are
applied in ``INSTALLED_APPS`` order, then by number, each once, inside one
transaction together with its ``_migration`` record (name, SHA-256 checksum,
time). A file whose checksum differs from the applied one stops everything:
applied migrations are history, a change goes into a new file.

``check_schema`` compares what the files declare (tables, fields, indexes) with
what the database reports, and refuses datetime-ordered indexes (the engine
sorts datetimes wrongly in indexes; see the environment notes, defect 2).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps as django_apps

from apps.core.db.client import SurrealClient, get_db
from apps.core.errors import AppError
from apps.core.ids import now_ms

_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.surql$")
_DEFINE_TABLE = re.compile(r"DEFINE\s+TABLE\s+(?:OVERWRITE\s+|IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
_DEFINE_FIELD = re.compile(
    r"DEFINE\s+FIELD\s+(?:OVERWRITE\s+|IF\s+NOT\s+EXISTS\s+)?([\w.\[\]*]+)\s+ON\s+(?:TABLE\s+)?(\w+)", re.I
)
_FIELD_TYPE = re.compile(r"\bTYPE\s+([^\s;]+)", re.I)
_DEFINE_INDEX = re.compile(
    r"DEFINE\s+INDEX\s+(?:OVERWRITE\s+|IF\s+NOT\s+EXISTS\s+)?(\w+)\s+ON\s+(?:TABLE\s+)?(\w+)\s+(?:FIELDS|COLUMNS)\s+(.*)",
    re.I | re.S,
)
_REMOVE = re.compile(
    r"REMOVE\s+(TABLE|FIELD|INDEX)\s+(?:IF\s+EXISTS\s+)?([\w.\[\]*]+)(?:\s+ON\s+(?:TABLE\s+)?(\w+))?", re.I
)
_INDEX_OPTIONS = re.compile(
    r"\s(?:UNIQUE|SEARCH|FULLTEXT|HNSW|MTREE|COUNT|COMMENT|CONCURRENTLY|DEFER)\b.*", re.I | re.S
)

MIGRATION_TABLE_SQL = """
DEFINE TABLE IF NOT EXISTS _migration SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS name ON _migration TYPE string;
DEFINE FIELD IF NOT EXISTS checksum ON _migration TYPE string;
DEFINE FIELD IF NOT EXISTS applied_at_ms ON _migration TYPE int;
DEFINE INDEX IF NOT EXISTS _migration_name ON _migration FIELDS name UNIQUE;
"""


class MigrationError(AppError):
    status = 500
    code = "internal_error"


@dataclass(frozen=True)
class Migration:
    name: str  # "<app label>/<file name>"
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover() -> list[Migration]:
    """All migration files of the installed project apps, in application order."""
    found: list[Migration] = []
    for app in django_apps.get_app_configs():
        folder = Path(app.path) / "surql"
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix == ".surql":
                if not _FILE_NAME.match(path.name):
                    raise MigrationError(f"migration file name {path.name!r} must look like 0001_name.surql")
                found.append(Migration(f"{app.label}/{path.name}", path))
    return found


async def applied(db: SurrealClient) -> dict[str, str]:
    """name → checksum of the migrations recorded in this database."""
    await db.write(MIGRATION_TABLE_SQL, operation="migrate")
    rows = (await db.query("SELECT name, checksum FROM _migration;", operation="migrate"))[0] or []
    return {row["name"]: row["checksum"] for row in rows}


async def pending(db: SurrealClient | None = None) -> list[Migration]:
    """Migrations not yet applied; raises if an applied file changed or vanished."""
    db = db or get_db()
    done = await applied(db)
    files = discover()
    names = {m.name for m in files}
    for name in done:
        if name not in names:
            raise MigrationError(f"applied migration {name} is missing from the code base")
    for migration in files:
        if migration.name in done and done[migration.name] != migration.checksum:
            raise MigrationError(
                f"applied migration {migration.name} has changed (checksum {done[migration.name][:12]}… → "
                f"{migration.checksum[:12]}…); put schema changes in a new file"
            )
    return [m for m in files if m.name not in done]


async def migrate(db: SurrealClient | None = None) -> list[str]:
    """Apply every pending migration, each in its own transaction. Returns the names applied."""
    db = db or get_db()
    names: list[str] = []
    for migration in await pending(db):
        await db.write(
            migration.sql.strip().rstrip(";")
            + ";\nCREATE _migration CONTENT {name: $name, checksum: $checksum, applied_at_ms: $now};",
            {"name": migration.name, "checksum": migration.checksum, "now": now_ms()},
            operation="migrate",
        )
        names.append(migration.name)
    return names


@dataclass(frozen=True)
class DeclaredSchema:
    tables: set[str]
    fields: dict[str, dict[str, str]]  # table → field → declared type ("" when untyped)
    indexes: dict[str, dict[str, list[str]]]  # table → index → fields


def declared_schema(files: list[Migration] | None = None) -> DeclaredSchema:
    tables: set[str] = set()
    fields: dict[str, dict[str, str]] = {}
    indexes: dict[str, dict[str, list[str]]] = {}
    for migration in files if files is not None else discover():
        sql = _strip_comments(migration.sql)
        for statement in sql.split(";"):
            if m := _REMOVE.search(statement):
                kind, name, table = m.group(1).upper(), m.group(2), m.group(3)
                if kind == "TABLE":
                    tables.discard(name)
                    fields.pop(name, None)
                    indexes.pop(name, None)
                elif kind == "FIELD":
                    fields.get(table, {}).pop(name, None)
                else:
                    indexes.get(table, {}).pop(name, None)
            elif m := _DEFINE_TABLE.search(statement):
                tables.add(m.group(1))
            elif m := _DEFINE_FIELD.search(statement):
                type_match = _FIELD_TYPE.search(statement[m.end() :])
                fields.setdefault(m.group(2), {})[m.group(1)] = type_match.group(1) if type_match else ""
            elif m := _DEFINE_INDEX.search(statement):
                column_text = _INDEX_OPTIONS.sub("", " " + m.group(3))
                columns = [c.strip() for c in column_text.split(",") if c.strip()]
                indexes.setdefault(m.group(2), {})[m.group(1)] = columns
    return DeclaredSchema(tables, fields, indexes)


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def datetime_index_problems(schema: DeclaredSchema) -> list[str]:
    """Indexes over datetime fields: refused, the engine orders them wrongly."""
    problems = []
    for table, table_indexes in schema.indexes.items():
        for index, columns in table_indexes.items():
            for column in columns:
                declared = schema.fields.get(table, {}).get(column, "")
                if "datetime" in declared.lower():
                    problems.append(
                        f"index {table}.{index} covers datetime field {column}; order by an int (*_ms or seq) instead"
                    )
    return problems


async def check_schema(db: SurrealClient | None = None) -> list[str]:
    """Problems found comparing the database with the declared schema (empty list: all good)."""
    db = db or get_db()
    schema = declared_schema()
    problems = datetime_index_problems(schema)
    try:
        waiting = await pending(db)
    except MigrationError as exc:
        return [*problems, str(exc)]
    problems += [f"migration {m.name} is not applied" for m in waiting]
    info = (await db.query("INFO FOR DB;", operation="check"))[0] or {}
    existing_tables = set((info.get("tables") or {}).keys())
    for table in sorted(schema.tables):
        if table not in existing_tables:
            problems.append(f"table {table} is missing")
            continue
        table_info = (await db.query(f"INFO FOR TABLE {table};", operation="check"))[0] or {}
        existing_fields = set((table_info.get("fields") or {}).keys())
        existing_indexes = table_info.get("indexes") or {}
        for field_name in schema.fields.get(table, {}):
            if field_name not in existing_fields:
                problems.append(f"field {table}.{field_name} is missing")
        for index_name in schema.indexes.get(table, {}):
            if index_name not in existing_indexes:
                problems.append(f"index {table}.{index_name} is missing")
    return problems
