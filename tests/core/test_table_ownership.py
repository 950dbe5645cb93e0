"""Each app's SurrealQL names only its own tables (issue 13 point 2).

A table belongs to the app whose ``surql/`` migration defines it. Every string in an app's Python code that
looks like SurrealQL is searched for the other apps' table names; a change that spans apps is assembled from
statement builders the owning apps' repositories expose (e.g. a moderation decision's unit of work takes
``ChatRepository.moderation_status_statement``), so it never needs another app's table name.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

APPS = Path(__file__).resolve().parents[2] / "apps"
SQL = re.compile(r"\b(SELECT|UPDATE|CREATE|UPSERT|DELETE|INSERT|RELATE|LET|RETURN|DEFINE)\b")


def owners() -> dict[str, str]:
    found: dict[str, str] = {}
    for migration in APPS.glob("*/surql/*.surql"):
        for table in re.findall(r"DEFINE TABLE (?:OVERWRITE |IF NOT EXISTS )?(\w+)", migration.read_text(), re.I):
            found[table] = migration.parts[-3]
    return found


def foreign_tables(app: str, sql: str, tables: dict[str, str]) -> list[str]:
    """Other apps' tables named in ``sql`` as a word (not a field such as ``user_id``, a ``$param`` or ``x.user``)."""
    return sorted(t for t, owner in tables.items() if owner != app and re.search(rf"(?<![$\w.]){t}(?!\w)", sql))


def offenders() -> list[str]:
    tables = owners()
    found = []
    for path in sorted(APPS.rglob("*.py")):
        app = path.relative_to(APPS).parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                for table in foreign_tables(app, node.value, tables):
                    found.append(f"{path.relative_to(APPS)}:{node.lineno} names {table} ({tables[table]}'s table)")
    return found


def test_every_table_has_one_owner():
    tables = owners()
    assert tables["user"] == "accounts"
    assert tables["chat_message"] == "chat"
    assert tables["contribution"] == "evidence"
    assert tables["moderation_decision"] == "moderation"


def test_the_check_sees_a_foreign_table():
    tables = owners()
    assert foreign_tables("moderation", "UPDATE chat_message SET x = 1 WHERE user_id = $user;", tables) == [
        "chat_message"
    ]
    assert foreign_tables("chat", "SELECT * FROM type::record('user', $i);", tables) == ["user"]
    assert foreign_tables("chat", "SELECT user_id FROM chat_member WHERE $user.id = 1;", tables) == []


def test_no_app_names_another_apps_table():
    assert offenders() == []
