"""The moderation API: decisions, validation, idempotency, role-projected views, reports, appeals, the ledger."""

from __future__ import annotations

import pytest

from apps.core.db import run_sync
from apps.moderation import ledger
from apps.moderation.repository import ModerationRepository
from tests.moderation.conftest import decision, hold, ledger_count


@pytest.fixture
def world(make_user):
    author, member, mod = make_user("ana"), make_user("bob"), make_user("mia", role="moderator")
    thread = author.thread()
    member.join(thread)
    mod.join(thread)
    message = author.send(thread, "you are all fools")
    return author, member, mod, thread, message


def test_decision_creates_state_ledger_and_hides_the_message(world):
    author, member, mod, thread, message = world
    response = mod.post("/v1/moderations", decision(message["message_id"]))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content"]["moderation_status"] == "rejected"
    assert body["content"]["author_id"] == author.user_id  # derived from the message
    assert body["decision"]["prev_hash"] is None
    assert body["decision"]["event_hash"] == ledger.event_hash(body["decision"])
    assert body["decision"]["appeal_window_until_ms"] - body["decision"]["decided_at_ms"] == 7 * 24 * 3600 * 1000
    assert body["schedule_auto_release"] is None
    # Enforcement: blanked for other members, intact for author and staff.
    seen = {m["message_id"]: m for m in member.messages(thread)}[message["message_id"]]
    assert seen["body"] == ""
    assert seen["moderation_status"] == "rejected"
    assert {m["message_id"]: m for m in author.messages(thread)}[message["message_id"]]["body"] == "you are all fools"
    assert {m["message_id"]: m for m in mod.messages(thread)}[message["message_id"]]["body"] == "you are all fools"
    # A second decision chains to the first.
    second = mod.post("/v1/moderations", decision(message["message_id"], moderation_status="published",
                                                  moderation_action="publish_now")).json()  # fmt: skip
    assert second["decision"]["prev_hash"] == body["decision"]["event_hash"]
    assert {m["message_id"]: m for m in member.messages(thread)}[message["message_id"]]["body"] == "you are all fools"
    rows = run_sync(ModerationRepository().decisions, message["message_id"])
    assert ledger.verify_chain([ledger.decision_view(r) for r in rows]).ok


def test_idempotent_on_content_and_request_id(world):
    *_, mod, _thread, message = world
    body = decision(message["message_id"])
    first = mod.post("/v1/moderations", body, request_id="req-1")
    again = mod.post("/v1/moderations", body, request_id="req-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["decision"]["decision_id"] == first.json()["decision"]["decision_id"]
    assert ledger_count() == 1
    # Past the replay store (its TTL), the database's unique (content_id, request_id) still holds.
    from apps.core import idempotency

    idempotency.reset_local_store()
    late = mod.post("/v1/moderations", body, request_id="req-1")
    assert late.status_code == 201
    assert late.json()["decision"]["decision_id"] == first.json()["decision"]["decision_id"]
    assert ledger_count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"moderation_status": "published", "moderation_action": "hold_for_review"}, "moderation_action"),
        ({"moderation_status": "under_review", "moderation_action": "block"}, "moderation_action"),
        ({"confidence": 1.5}, "confidence"),
        ({"reason_code": "é" * 300}, "reason_code"),  # 600 bytes
        ({"moderation_status": "under_review", "moderation_action": "hold_for_review"}, "hold_duration_minutes"),
        (
            {"hold_duration_minutes": 0, "moderation_status": "under_review", "moderation_action": "hold_for_review"},
            "hold_duration_minutes",
        ),
        ({"auto_release_if_no_action": True}, "auto_release_if_no_action"),
        ({"content_type": "spaceship"}, "content_type"),
    ],
)
def test_bad_decisions_are_refused_and_the_ledger_is_untouched(world, overrides, field):
    *_, mod, _thread, message = world
    response = mod.post("/v1/moderations", decision(message["message_id"], **overrides))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]["fields"]
    assert ledger_count() == 0


def test_unknown_item_needs_an_author(make_user):
    mod = make_user("mia", role="moderator")
    response = mod.post("/v1/moderations", decision("external-123"))
    assert response.status_code == 404  # well-formed; the item is unknown here until an author_id is given
    assert "author_id" in response.json()["error"]["message"]
    ok = mod.post("/v1/moderations", decision("external-123", author_id="someone"))
    assert ok.status_code == 201
    assert ledger_count() == 1


def test_non_staff_get_403_on_staff_endpoints(world):
    _author, member, *_rest, message = world
    assert member.post("/v1/moderations", decision(message["message_id"])).status_code == 403
    assert member.get("/v1/moderations/review-queue").status_code == 403
    assert member.get("/v1/reports", status="open").status_code == 403
    assert ledger_count() == 0


def test_role_projected_views(world, make_user):
    author, member, mod, _thread, message = world
    cid = message["message_id"]
    assert member.get(f"/v1/moderations/{cid}").status_code == 404
    mod.post("/v1/moderations", decision(cid))
    as_mod = mod.get(f"/v1/moderations/{cid}").json()
    assert list(as_mod) == ["Moderator"]
    assert len(as_mod["Moderator"]["decisions"]) == 1
    as_author = author.get(f"/v1/moderations/{cid}").json()
    assert list(as_author) == ["Author"]
    assert as_author["Author"]["appeal_window_until_ms"] is not None
    as_public = member.get(f"/v1/moderations/{cid}").json()
    assert as_public == {"Public": {
        "content_id": cid, "content_type": "chat_message", "moderation_status": "rejected", "is_visible": False,
        "placeholder": "This content was removed by moderators.", "warning_label": None,
    }}  # fmt: skip


def test_reports_threshold_puts_the_item_on_hold(world, make_user, settings):
    _author, member, mod, thread, message = world
    cid = message["message_id"]
    reporters = [member] + [make_user(f"rep{i}") for i in range(2)]
    for user in reporters[1:]:
        user.join(thread)
    for index, user in enumerate(reporters):
        response = user.post("/v1/reports", {"content_type": "chat_message", "content_id": cid, "reason": "harassment"})
        assert response.status_code == 201, response.content
        if index == 0:
            again = member.post("/v1/reports", {"content_type": "chat_message", "content_id": cid, "reason": "spam"})
            assert again.status_code == 409
        if index < 2:
            assert ledger_count() == 0
    state = mod.get(f"/v1/moderations/{cid}").json()["Moderator"]
    assert state["moderation_status"] == "under_review"
    assert state["reason_code"] == "community_reports"
    assert state["decided_by"] == "system"
    assert state["auto_release_if_no_action"] is False
    assert state["decisions"][0]["actor"]["role"] == "system"
    queue = mod.get("/v1/moderations/review-queue").json()["items"]
    assert [i["content_id"] for i in queue] == [cid]
    assert set(queue[0]["kinds"]) == {"held", "reported"}
    assert queue[0]["report_count"] == 3
    assert len(mod.get("/v1/reports", status="open").json()["reports"]) == 3
    # A moderator's decision resolves the open reports.
    mod.post("/v1/moderations", decision(cid, moderation_status="published", moderation_action="publish_now"))
    assert mod.get("/v1/reports", status="open").json()["reports"] == []
    assert mod.get("/v1/moderations/review-queue").json()["items"] == []


def test_reports_on_content_the_reporter_cannot_see(make_user):
    author, outsider = make_user("ana"), make_user("zed")
    private = author.thread(privacy="private")
    message = author.send(private, "secret")
    response = outsider.post(
        "/v1/reports", {"content_type": "chat_message", "content_id": message["message_id"], "reason": "spam"}
    )
    assert response.status_code == 404
    missing = outsider.post("/v1/reports", {"content_type": "evidence", "content_id": "0" * 32, "reason": "spam"})
    assert missing.status_code == 404
    assert outsider.post("/v1/reports", {"content_type": "user", "content_id": author.user_id,
                                         "reason": "nope"}).status_code == 400  # fmt: skip


def test_appeal_flow(world):
    author, member, mod, _thread, message = world
    cid = message["message_id"]
    mod.post("/v1/moderations", decision(cid))
    assert member.post(f"/v1/moderations/{cid}/appeals", {"statement": "not mine"}).status_code == 403
    response = author.post(f"/v1/moderations/{cid}/appeals", {"statement": "it was a joke"})
    assert response.status_code == 201, response.content
    assert response.json()["appeal"]["status"] == "open"
    assert author.post(f"/v1/moderations/{cid}/appeals", {"statement": "again"}).status_code == 409
    queue = mod.get("/v1/moderations/review-queue", kind="appeal").json()["items"]
    assert [i["content_id"] for i in queue] == [cid]
    assert queue[0]["appeal"]["statement"] == "it was a joke"
    overturn = mod.post(
        "/v1/moderations", decision(cid, moderation_status="published", moderation_action="publish_now")
    )
    assert overturn.json()["content"]["appeal"]["status"] == "overturned"
    assert mod.get("/v1/moderations/review-queue", kind="appeal").json()["items"] == []


def test_appeal_after_the_window_is_refused(world):
    author, _member, mod, _thread, message = world
    cid = message["message_id"]
    mod.post("/v1/moderations", decision(cid, appeal_window_minutes=1))
    state = run_sync(ModerationRepository().get_state, cid)
    stmt = ModerationRepository().appeal_statement(cid, {"appeal_window_until_ms": state["decided_at_ms"] - 1})
    run_sync(ModerationRepository().db.write, stmt.sql, stmt.variables)
    response = author.post(f"/v1/moderations/{cid}/appeals", {"statement": "late"})
    assert response.status_code == 403
    assert response.json()["error"]["details"]["reason"] == "appeal_window_closed"
    assert ledger_count() == 1
    upheld = mod.post("/v1/moderations", decision(cid)).json()
    assert upheld["content"]["appeal"] is None


def test_the_ledger_is_append_only_and_tampering_breaks_the_chain(world):
    *_, mod, _thread, message = world
    cid = message["message_id"]
    mod.post("/v1/moderations", hold(cid))
    mod.post("/v1/moderations", decision(cid))
    repo = ModerationRepository()
    with pytest.raises(Exception, match="append_only"):
        run_sync(repo.db.write, "UPDATE moderation_decision SET reason_code = 'x';", {})
    with pytest.raises(Exception, match="append_only"):
        run_sync(repo.db.write, "DELETE moderation_decision;", {})
    views = [ledger.decision_view(r) for r in run_sync(repo.decisions, cid)]
    assert ledger.verify_chain(views).ok
    views[0]["reason_code"] = "edited"
    check = ledger.verify_chain(views)
    assert not check.ok
    assert check.broken_at == views[0]["decision_id"]


def test_hold_schedules_auto_release(world):
    *_, mod, _thread, message = world
    body = mod.post("/v1/moderations", hold(message["message_id"], auto_release_if_no_action=True)).json()
    assert body["schedule_auto_release"]["release_at_ms"] == body["decision"]["hold_expires_at_ms"]
    assert body["decision"]["hold_expires_at_ms"] - body["decision"]["decided_at_ms"] == 60 * 60_000
