"""``manage.py createadmin``: in separate processes against a file database, and the service in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.accounts import staff
from apps.accounts.repository import AccountsRepository
from apps.core.audit import AuditRepository
from apps.core.db import run_sync
from tests.accounts.conftest import PASSWORD, bearer

ROOT = Path(__file__).resolve().parents[2]


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_createadmin_in_processes_is_idempotent(tmp_path):
    env = {**os.environ, "APP_ENV": "test", "SURREAL_ENDPOINT": f"surrealkv://{tmp_path}/db", "ADMIN_PW": PASSWORD}
    migrated = manage(env, "surreal_migrate")
    assert migrated.returncode == 0, migrated.stderr
    args = ("createadmin", "--email", "Root@Example.com", "--username", "root_admin", "--password-env", "ADMIN_PW")
    first = manage(env, *args)
    assert first.returncode == 0, first.stderr
    assert "created admin" in first.stdout
    second = manage(env, *args)
    assert second.returncode == 0, second.stderr
    assert "unchanged admin" in second.stdout
    check = manage(
        env,
        "shell",
        "-c",
        "from apps.core.db import run_sync, get_db\n"
        "rows = run_sync(get_db().query, 'SELECT role, enabled, email FROM user; SELECT action FROM admin_action;')\n"
        "print(len(rows[0]), rows[0][0]['role'], rows[0][0]['enabled'], rows[0][0]['email'], len(rows[1]))",
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip().splitlines()[-1].split() == ["1", "admin", "True", "root@example.com", "1"]


@pytest.mark.slow
def test_createadmin_without_password_env_fails_cleanly(tmp_path):
    env = {**os.environ, "APP_ENV": "test", "SURREAL_ENDPOINT": f"surrealkv://{tmp_path}/db"}
    assert manage(env, "surreal_migrate").returncode == 0
    result = manage(
        env, "createadmin", "--email", "a@example.com", "--username", "adm", "--password-env", "MISSING_VAR"
    )
    assert result.returncode != 0
    assert "MISSING_VAR" in result.stderr


def test_promote_existing_user_writes_audit_row(api, signup):
    body = signup()
    result = run_sync(staff.ensure_admin, email="ANA@example.com", username="ana", password=None)
    assert result.outcome == "promoted"
    assert result.user_id == body["user_id"]
    assert api.get("/v1/auth/me", **bearer(body["access_token"])).json()["role"] == "admin"
    actions = run_sync(AuditRepository().for_target, f"user:{body['user_id']}")
    assert [a["action"] for a in actions] == ["user.promote_admin"]
    assert actions[0]["before"] == {"role": "user", "enabled": True}
    assert actions[0]["after"] == {"role": "admin", "enabled": True}
    assert actions[0]["actor_id"] == "system:createadmin"
    again = run_sync(staff.ensure_admin, email="ana@example.com", username="ana", password=None)
    assert again.outcome == "unchanged"
    assert len(run_sync(AuditRepository().for_target, f"user:{body['user_id']}")) == 1


def test_create_admin_conflicting_username_leaves_nothing(signup):
    signup()
    from apps.core.errors import Conflict

    with pytest.raises(Conflict):
        run_sync(staff.ensure_admin, email="new@example.com", username="ANA", password=PASSWORD)
    rows = run_sync(AccountsRepository().db.query, "SELECT * FROM admin_action; SELECT * FROM user;")
    assert rows[0] == []
    assert len(rows[1]) == 1
