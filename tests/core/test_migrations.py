"""Ordered .surql migrations: applied once, checksummed, verified; datetime indexes refused."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.core.db import run_sync
from apps.core.db.migrations import (
    Migration,
    MigrationError,
    check_schema,
    datetime_index_problems,
    declared_schema,
    discover,
    migrate,
    pending,
)


def test_every_app_migration_is_discovered_in_application_order():
    from django.apps import apps

    order = [app.label for app in apps.get_app_configs()]
    names = [m.name for m in discover()]
    assert names[0] == "core/0001_core.surql"
    assert names == sorted(names, key=lambda n: (order.index(n.split("/")[0]), n))


def test_migrate_applies_each_file_once(surreal_db):
    # The autouse fixture already migrated this namespace.
    assert run_sync(migrate, surreal_db) == []
    rows = run_sync(surreal_db.query, "SELECT name, checksum FROM _migration;")[0]
    assert {r["name"] for r in rows} == {m.name for m in discover()}
    assert all(len(r["checksum"]) == 64 for r in rows)


def test_a_changed_applied_file_is_refused(surreal_db):
    run_sync(
        surreal_db.write,
        "UPDATE _migration SET checksum = 'deadbeef' WHERE name = 'core/0001_core.surql';",
    )
    with pytest.raises(MigrationError, match="has changed"):
        run_sync(pending, surreal_db)
    with pytest.raises(CommandError, match="has changed"):
        call_command("surreal_migrate")


def test_an_applied_file_missing_from_the_code_base_is_refused(surreal_db):
    run_sync(
        surreal_db.write,
        "CREATE _migration CONTENT {name: 'core/0999_gone.surql', checksum: 'x', applied_at_ms: 1};",
    )
    with pytest.raises(MigrationError, match="missing from the code base"):
        run_sync(pending, surreal_db)


def test_surreal_check_passes_on_a_migrated_database():
    out = StringIO()
    call_command("surreal_check", stdout=out)
    assert "schema ok" in out.getvalue()


def test_surreal_check_reports_a_missing_index(surreal_db):
    run_sync(surreal_db.write, "REMOVE INDEX admin_action_time ON admin_action;")
    problems = run_sync(check_schema, surreal_db)
    assert problems == ["index admin_action.admin_action_time is missing"]
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("surreal_check", stderr=err)
    assert "admin_action_time" in err.getvalue()


def test_surreal_check_reports_a_missing_table_and_unapplied_migrations(surreal_db):
    run_sync(surreal_db.write, "REMOVE TABLE admin_action; DELETE _migration WHERE name = 'core/0001_core.surql';")
    problems = run_sync(check_schema, surreal_db)
    assert "migration core/0001_core.surql is not applied" in problems
    assert "table admin_action is missing" in problems


def test_indexes_over_datetime_fields_are_refused(tmp_path):
    """Defect 2: the engine orders datetimes wrongly in indexes, so no schema may declare one."""
    bad = tmp_path / "0001_bad.surql"
    bad.write_text(
        "DEFINE TABLE note SCHEMAFULL;\n"
        "DEFINE FIELD created_at ON note TYPE datetime;\n"
        "DEFINE FIELD created_at_ms ON note TYPE int;\n"
        "DEFINE INDEX note_time ON note FIELDS created_at;\n"
        "DEFINE INDEX note_time_ms ON note FIELDS created_at_ms;\n"
    )
    problems = datetime_index_problems(declared_schema([Migration("x/0001_bad.surql", bad)]))
    assert len(problems) == 1
    assert "note.note_time" in problems[0]


def test_the_project_schema_has_no_datetime_index():
    assert datetime_index_problems(declared_schema()) == []


def test_declared_schema_reads_tables_fields_and_indexes():
    schema = declared_schema()
    assert "admin_action" in schema.tables
    assert schema.fields["admin_action"]["created_at_ms"] == "int"
    assert schema.indexes["admin_action"]["admin_action_time"] == ["created_at_ms", "action_id"]


def test_removed_fields_and_indexes_leave_the_declared_schema(tmp_path):
    first = tmp_path / "0001_a.surql"
    first.write_text(
        "DEFINE TABLE note SCHEMAFULL;\nDEFINE FIELD a ON note TYPE int;\nDEFINE FIELD b ON note TYPE int;\n"
        "DEFINE INDEX note_a ON note FIELDS a;\n"
    )
    second = tmp_path / "0002_b.surql"
    second.write_text("REMOVE FIELD b ON note;\nREMOVE INDEX note_a ON TABLE note;\n")
    schema = declared_schema([Migration("x/0001_a.surql", first), Migration("x/0002_b.surql", second)])
    assert schema.fields["note"] == {"a": "int"}
    assert schema.indexes["note"] == {}
