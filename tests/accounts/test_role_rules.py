"""The role rule (apps/accounts/policy.py) on every route that can block, disable or re-role an account.

Each refusal is checked for its answer (403 envelope, page message, command exit) AND for having
written nothing: no ledger row, no ``content_moderation`` row, no ``admin_action`` row, the target's
user row unchanged and the target's token still accepted by ``/v1/auth/me``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts import policy, staff
from apps.accounts.repository import AccountsRepository
from apps.core.audit import AuditRepository
from apps.core.db import get_db, run_sync
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from tests.moderation import conftest as moderation_conftest
from tests.moderation.conftest import PASSWORD, User, decision, hold
from tests.moderation.test_admin_site import csrf_of, signed_in

ROOT = Path(__file__).resolve().parents[2]
COUNTED = ("moderation_decision", "content_moderation", "admin_action")
# Users signed up through the API, optionally given a role directly in the database (the moderation suite's fixture).
make_user = moderation_conftest.make_user


def counts() -> dict[str, int]:
    sql = " ".join(f"SELECT count() AS n FROM {table} GROUP ALL;" for table in COUNTED)
    results = run_sync(get_db().query, sql)
    return {table: int(rows[0]["n"]) if rows else 0 for table, rows in zip(COUNTED, results, strict=True)}


def user_row(user_id: str) -> dict[str, Any]:
    row = run_sync(AccountsRepository().get_user, user_id)
    assert row is not None
    return row


class NothingWritten:
    """Snapshot before a refused attempt; ``check()`` after it proves the attempt left no trace."""

    def __init__(self, target: User) -> None:
        self.target = target
        self.counts = counts()
        self.row = user_row(target.user_id)

    def check(self) -> None:
        assert counts() == self.counts
        assert user_row(self.target.user_id) == self.row
        me = self.target.get("/v1/auth/me")
        assert me.status_code == 200, me.content
        assert me.json()["role"] == self.row["role"]


def assert_forbidden(response) -> dict[str, Any]:
    assert response.status_code == 403, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "forbidden"
    return body["error"]


# -- the rule itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor_role", "target_role", "allowed"),
    [
        ("user", "user", False),
        ("moderator", "user", True),
        ("moderator", "moderator", False),
        ("moderator", "admin", False),
        ("admin", "user", True),
        ("admin", "moderator", True),
        ("admin", "admin", False),
        ("admin", "system", False),
        ("system", "admin", True),
        ("system", "system", False),
        ("admin", "superuser", False),  # an unknown target role is never below anyone
        ("superuser", "user", False),  # an unknown actor role may do nothing
    ],
)
def test_rank_rule_for_decisions(actor_role, target_role, allowed):
    def attempt() -> None:
        policy.ensure_may_manage("actor", actor_role, "target", target_role, "block")

    if allowed:
        attempt()
    else:
        with pytest.raises(Forbidden):
            attempt()


def test_nobody_acts_on_themselves_and_role_changes_are_for_admins_within_their_rank():
    for role in ("user", "moderator", "admin", "system"):
        with pytest.raises(Forbidden, match="your own account"):
            policy.ensure_may_manage("me", role, "me", role, "block")
    with pytest.raises(Forbidden, match="only admins change roles"):
        policy.ensure_may_manage("mod", "moderator", "u", "user", "set_role", new_role="user")
    with pytest.raises(Forbidden, match="never assigned"):
        policy.ensure_may_manage("op", "system", "u", "user", "set_role", new_role="system")
    with pytest.raises(Forbidden, match="never assigned"):
        policy.ensure_may_manage("adm", "admin", "u", "user", "set_role", new_role="system")
    with pytest.raises(Forbidden, match="at or above your own"):
        policy.ensure_may_manage("adm", "admin", "m", "admin", "set_role", new_role="user")
    policy.ensure_may_manage("adm", "admin", "u", "user", "set_role", new_role="admin")
    policy.ensure_may_manage("op", "system", "u", "admin", "promote_admin", new_role="admin")
    policy.ensure_may_manage("mod", "moderator", "ghost", None, "block")  # an account unknown here


# -- API: POST /v1/moderations on user items ------------------------------------------------------


def enable(content_id: str, content_type: str) -> dict[str, Any]:
    return decision(content_id, content_type, moderation_status="published", moderation_action="publish_now")


@pytest.mark.parametrize(
    ("actor_role", "target_role", "body"),
    [
        ("moderator", "admin", decision),
        ("moderator", "moderator", decision),
        ("moderator", "self", decision),
        ("admin", "admin", decision),
        ("admin", "self", decision),
        ("moderator", "admin", hold),
        ("moderator", "admin", enable),
    ],
    ids=[
        "mod-blocks-admin",
        "mod-blocks-mod",
        "mod-blocks-self",
        "admin-blocks-admin",
        "admin-blocks-self",
        "mod-holds-admin",
        "mod-enables-admin",
    ],
)
def test_api_refuses_decisions_on_accounts_at_or_above_the_actor(make_user, actor_role, target_role, body):
    actor = make_user("actor", role=actor_role)
    target = actor if target_role == "self" else make_user("target", role=target_role)
    before = NothingWritten(target)
    error = assert_forbidden(actor.post("/v1/moderations", body(target.user_id, "user")))
    assert "your own account" in error["message"] or "at or above your own" in error["message"]
    before.check()
    assert target.get(f"/v1/moderations/{target.user_id}").status_code == 404  # never moderated


def test_api_admin_blocks_a_moderator_and_the_moderators_token_is_refused(make_user):
    admin, mod = make_user("root", role="admin"), make_user("mia", role="moderator")
    assert mod.get("/v1/auth/me").status_code == 200
    response = admin.post("/v1/moderations", decision(mod.user_id, "user"))
    assert response.status_code == 201, response.content
    assert mod.get("/v1/auth/me").status_code == 401
    assert user_row(mod.user_id)["enabled"] is False
    assert counts()["moderation_decision"] == 1


def test_api_moderator_blocks_a_plain_user(make_user):
    mod, member = make_user("mia", role="moderator"), make_user("tom")
    response = mod.post("/v1/moderations", decision(member.user_id, "user"))
    assert response.status_code == 201, response.content
    assert member.get("/v1/auth/me").status_code == 401
    assert counts() == {"moderation_decision": 1, "content_moderation": 1, "admin_action": 1}


# -- admin pages -------------------------------------------------------------------------------


def test_admin_page_refuses_disabling_an_admin_or_themselves(make_user):
    admin, other = make_user("root", role="admin"), make_user("boss", role="admin")
    client = signed_in(admin, csrf=True)
    token = csrf_of(client, "/admin/users/")
    for target, rid in ((other, "dis-other"), (admin, "dis-self")):
        before = NothingWritten(target)
        response = client.post(f"/admin/users/{target.user_id}/enabled/",
                               {"enabled": "0", "request_id": rid, "csrfmiddlewaretoken": token})  # fmt: skip
        assert response.status_code == 302
        assert "error=" in response["Location"]
        page = client.get(response["Location"]).content.decode()
        assert "at or above your own" in page or "your own account" in page
        before.check()
    missing = client.post("/admin/users/" + "f" * 32 + "/enabled/",
                          {"enabled": "0", "request_id": "dis-ghost", "csrfmiddlewaretoken": token})  # fmt: skip
    assert missing.status_code == 302
    assert "user+not+found" in missing["Location"]


def test_admin_page_refuses_own_role_change_and_another_admins(make_user):
    admin, other = make_user("root", role="admin"), make_user("boss", role="admin")
    client = signed_in(admin, csrf=True)
    token = csrf_of(client, "/admin/users/")
    for target in (admin, other):
        before = NothingWritten(target)
        response = client.post(f"/admin/users/{target.user_id}/role/", {"role": "user", "csrfmiddlewaretoken": token})
        assert response.status_code == 302
        page = client.get(response["Location"]).content.decode()
        assert "your own account" in page or "at or above your own" in page
        before.check()


def test_admin_page_promotes_a_user_to_moderator(make_user):
    admin, member = make_user("root", role="admin"), make_user("tom")
    client = signed_in(admin, csrf=True)
    token = csrf_of(client, "/admin/users/")
    response = client.post(f"/admin/users/{member.user_id}/role/", {"role": "moderator", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert "done=" in response["Location"]
    assert member.get("/v1/auth/me").json()["role"] == "moderator"
    audit = run_sync(AuditRepository().for_target, f"user:{member.user_id}")
    assert [(a["action"], a["actor_id"], a["after"]) for a in audit] == [
        ("user.set_role", admin.user_id, {"role": "moderator"})
    ]


def test_moderator_cannot_use_the_users_page_nor_decide_on_an_admin_from_the_item_page(make_user):
    mod, admin, member = make_user("mia", role="moderator"), make_user("root", role="admin"), make_user("tom")
    client = signed_in(mod, csrf=True)
    assert client.get("/admin/users/").status_code == 403
    token = csrf_of(client, "/admin/")
    form = {"enabled": "0", "request_id": "x", "csrfmiddlewaretoken": token}
    assert client.post(f"/admin/users/{admin.user_id}/enabled/", form).status_code == 403
    # One report (below the threshold) puts the admin's profile in reach of the item page.
    reported = member.post("/v1/reports", {"content_type": "user", "content_id": admin.user_id, "reason": "spam"})
    assert reported.status_code == 201, reported.content
    before = NothingWritten(admin)
    path = f"/admin/moderation/items/{admin.user_id}/"
    form = {"csrfmiddlewaretoken": csrf_of(client, path), "request_id": "form-admin", "moderation_status": "rejected",
            "moderation_action": "block", "reason_code": "spam", "confidence": "0.9"}  # fmt: skip
    response = client.post(path, form)
    assert response.status_code == 403
    assert "at or above your own" in response.content.decode()
    before.check()


def test_service_reads_the_actors_current_role_for_role_changes(make_user):
    admin, member = make_user("root", role="admin"), make_user("tom")
    admin.promote("moderator")  # demoted after signing in: the record decides, not the caller
    before = NothingWritten(member)
    with pytest.raises(Forbidden, match="only admins change roles"):
        run_sync(staff.set_role, actor_id=admin.user_id, user_id=member.user_id, role="moderator")
    with pytest.raises(Forbidden):  # not a user at all
        run_sync(staff.set_role, actor_id="system", user_id=member.user_id, role="moderator")
    before.check()
    admin.promote("admin")
    with pytest.raises(ValidationFailed):
        run_sync(staff.set_role, actor_id=admin.user_id, user_id=member.user_id, role="system")
    with pytest.raises(NotFound):
        run_sync(staff.set_role, actor_id=admin.user_id, user_id="f" * 32, role="moderator")
    before.check()


# -- createadmin ------------------------------------------------------------------------------------


def test_createadmin_refuses_a_system_account_and_writes_nothing(make_user):
    operator = make_user("ops", role="system")
    before = NothingWritten(operator)
    with pytest.raises(CommandError, match=r"refused: .*system"):
        call_command("createadmin", "--email", "ops@example.com", "--username", "ops")
    before.check()


def test_createadmin_still_promotes_moderators_and_enables_disabled_admins(make_user):
    mod = make_user("mia", role="moderator")
    assert run_sync(staff.ensure_admin, email="mia@example.com", username="mia", password=None).outcome == "promoted"
    assert user_row(mod.user_id)["role"] == "admin"
    run_sync(AccountsRepository().set_user_fields, mod.user_id, {"enabled": False})
    assert run_sync(staff.ensure_admin, email="mia@example.com", username="mia", password=None).outcome == "promoted"
    assert user_row(mod.user_id)["enabled"] is True
    actions = run_sync(AuditRepository().for_target, f"user:{mod.user_id}")
    assert [a["action"] for a in actions] == ["user.promote_admin", "user.promote_admin"]


@pytest.mark.slow
def test_createadmin_process_exits_non_zero_on_a_system_account(tmp_path):
    env = {**os.environ, "APP_ENV": "test", "SURREAL_ENDPOINT": f"surrealkv://{tmp_path}/db", "ADMIN_PW": PASSWORD}

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    assert manage("surreal_migrate").returncode == 0
    args = ("createadmin", "--email", "ops@example.com", "--username", "ops", "--password-env", "ADMIN_PW")
    assert manage(*args).returncode == 0
    show = (
        "from apps.core.db import run_sync, get_db\n"
        "rows = run_sync(get_db().query, 'SELECT role, enabled FROM user; SELECT action FROM admin_action;')\n"
        "print(len(rows[0]), rows[0][0]['role'], rows[0][0]['enabled'], len(rows[1]))"
    )
    made_system = manage("shell", "-c", "from apps.core.db import run_sync, get_db\n"
                         "run_sync(get_db().query, \"UPDATE user SET role = 'system';\")")  # fmt: skip
    assert made_system.returncode == 0, made_system.stderr
    refused = manage(*args)
    assert refused.returncode != 0
    assert "refused" in refused.stderr
    assert "system" in refused.stderr
    after = manage("shell", "-c", show)
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip().splitlines()[-1].split() == ["1", "system", "True", "1"]


# -- community reports --------------------------------------------------------------------------------


def report_profile(reporters: list[User], target: User) -> None:
    for reporter in reporters:
        response = reporter.post("/v1/reports", {"content_type": "user", "content_id": target.user_id,
                                                 "reason": "harassment"})  # fmt: skip
        assert response.status_code == 201, response.content


def test_community_reports_hold_an_admins_profile_because_system_outranks_admin(make_user, settings):
    admin, mod = make_user("root", role="admin"), make_user("mia", role="moderator")
    reporters = [make_user(f"rep{i}") for i in range(settings.CONFIG.moderation_report_threshold)]
    report_profile(reporters, admin)
    state = mod.get(f"/v1/moderations/{admin.user_id}").json()["Moderator"]
    assert state["moderation_status"] == "under_review"
    assert state["decided_by"] == "system"
    assert admin.get("/v1/auth/me").status_code == 200  # a hold does not disable the account


def test_community_reports_on_a_system_account_are_recorded_without_a_hold(make_user, settings):
    operator = make_user("ops", role="system")
    before = counts()
    reporters = [make_user(f"rep{i}") for i in range(settings.CONFIG.moderation_report_threshold)]
    report_profile(reporters, operator)  # every report answers 201: the refused hold is skipped, not an error
    assert counts() == before  # no decision, no state, no audit row
    open_reports = make_user("mia", role="moderator").get("/v1/reports", status="open").json()["reports"]
    assert len(open_reports) == len(reporters)


# -- a role that changes between the rule's check and the commit ----------------------------------------


def test_a_promotion_committed_after_the_check_refuses_the_block(make_user, monkeypatch):
    """The rule saw a plain user; the account was promoted to admin before the decision committed."""
    from apps.moderation import services as moderation

    moderator = make_user("mod_race", "moderator")
    target = make_user("target_race")
    real_load = moderation.load_entity

    async def load_then_promote(kind: str, content_id: str):
        entity = await real_load(kind, content_id)
        await AccountsRepository().set_user_fields(content_id, {"role": "admin"})  # lands after the read
        return entity

    monkeypatch.setattr(moderation, "load_entity", load_then_promote)
    before = counts()
    response = moderator.post("/v1/moderations", decision(target.user_id, "user"))
    assert response.status_code == 409, response.content
    assert response.json()["error"]["details"]["reason"] == "role_changed"
    assert counts() == before
    assert user_row(target.user_id)["enabled"] is True
    assert target.get("/v1/auth/me").status_code == 200


def test_a_promotion_committed_after_the_check_refuses_the_role_change(make_user, monkeypatch):
    admin = make_user("adm_race", "admin")
    target = make_user("mod_target", "moderator")

    class PromotedMeanwhile(AccountsRepository):
        async def get_user(self, user_id: str):
            row = await super().get_user(user_id)
            if user_id == target.user_id:
                await self.set_user_fields(user_id, {"role": "admin"})
            return row

    monkeypatch.setattr(staff, "AccountsRepository", PromotedMeanwhile)
    before = counts()
    with pytest.raises(Exception) as caught:
        run_sync(staff.set_role, actor_id=admin.user_id, user_id=target.user_id, role="user")
    assert getattr(caught.value, "details", {}).get("reason") == "role_changed"
    assert counts() == before
    assert user_row(target.user_id)["role"] == "admin"
