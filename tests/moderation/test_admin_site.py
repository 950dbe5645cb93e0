"""The admin site through Django's client: access rules, the decide form, CSRF, users, ledger, outbox."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from apps.core.audit import AuditRepository
from apps.core.db import UnitOfWork, run_sync
from apps.webhooks.outbox import Actor, event_statement
from tests.moderation.conftest import PASSWORD, decision, ledger_count

PAGES = [
    "/admin/",
    "/admin/moderation/queue/",
    "/admin/moderation/decisions/",
    "/admin/moderation/reports/",
    "/admin/moderation/items/abc/",
    "/admin/users/",
    "/admin/webhooks/outbox/",
    "/admin/webhooks/outbox/evt_0000000000000000/",
]
ADMIN_ONLY = PAGES[5:]


def signed_in(user, *, csrf: bool = False) -> Client:
    """A browser-like client signed in through the admin login page."""
    client = Client(enforce_csrf_checks=csrf)
    page = client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = client.post("/admin/login/", {"email": user.email, "password": PASSWORD, "next": "/admin/",
                                             "csrfmiddlewaretoken": token})  # fmt: skip
    assert response.status_code == 302, response.content
    return client


def csrf_of(client: Client, path: str) -> str:
    page = client.get(path)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)


def test_anonymous_visitors_are_sent_to_the_login(api):
    for path in PAGES:
        response = Client().get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/login/?next=")


def test_plain_users_cannot_enter_by_login_or_by_direct_url(make_user):
    user = make_user("ana")
    client = Client()
    response = client.post("/admin/login/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert b"not a moderator" in response.content
    assert "gr_session" not in response.cookies or not response.cookies["gr_session"].value
    client.cookies["gr_session"] = user.token  # signed in on the main site
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    assert client.post("/admin/moderation/items/abc/", {}).status_code == 403


def test_moderators_see_moderation_pages_only(make_user):
    mod = make_user("mia", role="moderator")
    client = signed_in(mod)
    for path in PAGES[:4]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"admin/css/base.css" in response.content
    for path in ADMIN_ONLY:
        assert client.get(path).status_code == 403, path


@pytest.fixture
def reported(make_user):
    author, member, mod = make_user("ana"), make_user("bob"), make_user("mia", role="moderator")
    thread = author.thread()
    member.join(thread)
    author.send(thread, "before")
    message = author.send(thread, "rude words")
    author.send(thread, "after")
    response = member.post("/v1/reports", {"content_type": "chat_message", "content_id": message["message_id"],
                                           "reason": "harassment", "note": "mean"})  # fmt: skip
    assert response.status_code == 201
    return author, member, mod, thread, message


def test_queue_item_page_and_decide_form(reported):
    _author, member, mod, thread, message = reported
    cid = message["message_id"]
    client = signed_in(mod, csrf=True)
    queue = client.get("/admin/moderation/queue/?kind=reported").content.decode()
    assert cid in queue
    assert "harassment" in queue
    page = client.get(f"/admin/moderation/items/{cid}/").content.decode()
    assert "rude words" in page
    assert "before" in page
    assert "after" in page
    assert "mean" in page
    token = csrf_of(client, f"/admin/moderation/items/{cid}/")
    form = {"csrfmiddlewaretoken": token, "request_id": "form-1", "moderation_status": "under_review",
            "moderation_action": "hold_for_review", "reason_code": "rude", "confidence": "0.8"}  # fmt: skip
    refused = client.post(f"/admin/moderation/items/{cid}/", form)
    assert refused.status_code == 400
    assert b"hold_duration_minutes" in refused.content
    assert ledger_count() == 0
    forged = client.post(f"/admin/moderation/items/{cid}/", form | {"csrfmiddlewaretoken": "x" * 64,
                                                                     "hold_duration_minutes": "5"})  # fmt: skip
    assert forged.status_code == 403
    assert ledger_count() == 0
    ok = client.post(f"/admin/moderation/items/{cid}/", form | {"moderation_status": "rejected",
                                                                "moderation_action": "block"})  # fmt: skip
    assert ok.status_code == 302, ok.content
    assert ledger_count() == 1
    again = client.post(f"/admin/moderation/items/{cid}/", form | {"moderation_status": "rejected",
                                                                   "moderation_action": "block"})  # fmt: skip
    assert again.status_code == 302
    assert ledger_count() == 1
    seen = {m["message_id"]: m for m in member.messages(thread)}[cid]
    assert seen["body"] == ""
    assert seen["moderation_status"] == "rejected"
    audit = run_sync(AuditRepository().for_target, f"content_moderation:{cid}")
    assert [a["action"] for a in audit] == ["moderation.decide"]
    assert audit[0]["actor_id"] == mod.user_id
    ledger_page = client.get(f"/admin/moderation/decisions/?content_id={cid}&verify={cid}").content.decode()
    assert "holds (1 decisions re-hashed)" in ledger_page
    assert client.get("/admin/moderation/reports/").content.decode().count("report-group") == 0


def test_admin_changes_roles_and_disables_users(make_user):
    admin, target = make_user("root", role="admin"), make_user("tom")
    client = signed_in(admin, csrf=True)
    assert b"tom@example.com" in client.get("/admin/users/?q=tom").content
    token = csrf_of(client, "/admin/users/")
    assert client.post(f"/admin/users/{target.user_id}/role/", {"role": "moderator", "csrfmiddlewaretoken": token}
                       ).status_code == 302  # fmt: skip
    assert target.get("/v1/moderations/review-queue").status_code == 200  # the new role applies at once
    audit = run_sync(AuditRepository().for_target, f"user:{target.user_id}")
    assert audit[-1]["action"] == "user.set_role"
    assert audit[-1]["after"] == {"role": "moderator"}
    assert client.post(f"/admin/users/{target.user_id}/role/", {"role": "admin", "csrfmiddlewaretoken": "bad" * 20}
                       ).status_code == 403  # fmt: skip
    response = client.post(f"/admin/users/{target.user_id}/enabled/",
                           {"enabled": "0", "request_id": "dis-1", "csrfmiddlewaretoken": token})  # fmt: skip
    assert response.status_code == 302
    assert target.get("/v1/auth/me").status_code == 401
    signin = Client().post("/v1/auth/signin", {"email": target.email, "password": PASSWORD},
                           content_type="application/json")  # fmt: skip
    assert signin.status_code == 401
    state = admin.get(f"/v1/moderations/{target.user_id}").json()["Moderator"]
    assert state["moderation_action"] == "block"
    assert state["content_type"] == "user"


def test_admin_outbox_pages_and_replay(make_user, settings):
    admin = make_user("root", role="admin")
    statement = event_statement(event_type="contribution_created", actor=Actor(admin.user_id, admin.username),
                                subject={"contribution_id": "c" * 32}, created_at_ms=1)  # fmt: skip
    if statement is None:
        pytest.skip("webhooks disabled in this configuration")
    uow = UnitOfWork()
    uow.add(statement)
    run_sync(uow.commit, operation="test")
    client = signed_in(admin, csrf=True)
    listing = client.get("/admin/webhooks/outbox/?status=pending").content.decode()
    event_id = re.search(r"(evt_[0-9a-f]{16})", listing).group(1)
    detail = client.get(f"/admin/webhooks/outbox/{event_id}/")
    assert detail.status_code == 200
    assert b"Delivery log" in detail.content
    token = csrf_of(client, f"/admin/webhooks/outbox/{event_id}/")
    replayed = client.post(f"/admin/webhooks/outbox/{event_id}/", {"csrfmiddlewaretoken": token})
    assert replayed.status_code == 302
    audit = run_sync(AuditRepository().for_target, f"webhook_outbox:{event_id}")
    assert audit[-1]["action"] == "webhook.replay"
    assert client.get("/admin/webhooks/outbox/evt_ffffffffffffffff/").status_code == 404


def test_decision_made_in_the_api_shows_in_the_admin_history(reported):
    *_, mod, _thread, message = reported
    mod.post("/v1/moderations", decision(message["message_id"]))
    page = signed_in(mod).get(f"/admin/moderation/items/{message['message_id']}/").content.decode()
    assert 'id="chain-ok"' in page
    assert "rejected / block" in page
