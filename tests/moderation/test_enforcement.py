"""Enforcement: live chat events, contributions/evidence hidden from others, blocked users, auto-release."""

from __future__ import annotations

import pytest

from apps.core.db import run_sync
from apps.core.errors import ValidationFailed
from apps.moderation import jobs, services
from apps.moderation.repository import ModerationRepository
from tests.evidence.conftest import rfc3339
from tests.moderation.conftest import decision, hold, ledger_count


@pytest.fixture
def published(monkeypatch):
    """Every chat event (through chat's subscription to moderation's events) and every revocation announced."""
    from apps.chat import realtime
    from apps.core import events

    calls: list[tuple] = []

    async def publish(thread_id, event_type, **kwargs):
        calls.append((thread_id, event_type, kwargs.get("seq"), kwargs.get("message_id")))

    monkeypatch.setattr(realtime, "publish", publish)
    monkeypatch.setattr(events, "_handlers", {kind: list(handlers) for kind, handlers in events._handlers.items()})
    events.subscribe(events.UserSessionsRevoked, lambda event: calls.append(("revoked", event.user_id)))
    return calls


def test_hide_and_restore_are_published_to_the_thread(make_user, published):
    author, mod = make_user("ana"), make_user("mia", role="moderator")
    thread = author.thread()
    message = author.send(thread, "x")
    mod.post("/v1/moderations", hold(message["message_id"]))
    mod.post("/v1/moderations", decision(message["message_id"]))  # still hidden: no second event
    mod.post("/v1/moderations", decision(message["message_id"], moderation_status="published",
                                         moderation_action="publish_now"))  # fmt: skip
    assert [call for call in published if call[1] != "message"] == [
        (thread, "message_hidden", message["seq"], message["message_id"]),
        (thread, "message_restored", message["seq"], message["message_id"]),
    ]


def test_block_disables_the_account_and_closes_its_streams(make_user, published):
    target, mod = make_user("tom"), make_user("mia", role="moderator")
    response = mod.post("/v1/moderations", decision(target.user_id, "user"))
    assert response.status_code == 201
    assert ("revoked", target.user_id) in published
    assert target.get("/v1/auth/me").status_code == 401


def test_held_contribution_and_evidence_are_hidden_from_others(make_user):
    author, other, mod = make_user("ana"), make_user("bob"), make_user("mia", role="moderator")
    contribution = author.contribution()
    cid = contribution["contribution_id"]
    evidence = author.post("/v1/evidence", {
        "contribution_id": cid, "evidence_type": "gps_verification",
        "evidence_data": {"lat": -6.2, "lon": 106.8}, "proof": {"timestamp": rfc3339(),
                                                                 "location": {"lat": -6.2, "lon": 106.8}},
    })  # fmt: skip
    assert evidence.status_code == 201, evidence.content
    evidence_id = evidence.json()["evidence_id"]
    assert other.get(f"/v1/contributions/{cid}").status_code == 200
    mod.post("/v1/moderations", hold(cid, "contribution"))
    assert other.get(f"/v1/contributions/{cid}").status_code == 404
    assert other.get("/v1/contributions", author_id=author.user_id).json() == []
    mine = author.get(f"/v1/contributions/{cid}").json()
    assert mine["moderation_status"] == "under_review"
    assert [c["contribution_id"] for c in author.get("/v1/contributions").json()] == [cid]
    assert mod.get(f"/v1/contributions/{cid}").status_code == 200
    mod.post("/v1/moderations", decision(evidence_id, "evidence"))
    assert other.get(f"/v1/evidence/{evidence_id}").status_code == 404
    assert author.get(f"/v1/evidence/{evidence_id}").json()["moderation_status"] == "rejected"
    assert [e["evidence_id"] for e in author.get(f"/v1/contributions/{cid}/evidence").json()] == [evidence_id]
    mod.post("/v1/moderations", decision(cid, "contribution", moderation_status="published",
                                         moderation_action="publish_now"))  # fmt: skip
    assert other.get(f"/v1/contributions/{cid}").status_code == 200
    assert other.get(f"/v1/contributions/{cid}/evidence").json() == []


def test_auto_release_publishes_expired_holds_and_skips_stale_ones(make_user, published):
    author, mod = make_user("ana"), make_user("mia", role="moderator")
    thread = author.thread()
    first, second, third = (author.send(thread, t) for t in ("a", "b", "c"))
    mod.post("/v1/moderations", hold(first["message_id"], auto_release_if_no_action=True))
    mod.post("/v1/moderations", hold(second["message_id"]))  # no auto-release asked
    mod.post("/v1/moderations", hold(third["message_id"], auto_release_if_no_action=True))
    stale = run_sync(ModerationRepository().get_state, third["message_id"])
    mod.post("/v1/moderations", decision(third["message_id"]))  # a newer decision replaces the hold
    assert run_sync(jobs.auto_release_expired_holds) == 0  # nothing expired yet
    later = stale["hold_expires_at_ms"] + 1
    assert run_sync(jobs.auto_release_expired_holds, later) == 1
    state = mod.get(f"/v1/moderations/{first['message_id']}").json()["Moderator"]
    assert state["moderation_status"] == "published"
    assert state["reason_code"] == "auto_release"
    assert state["decisions"][-1]["actor"]["user_id"] == "system"
    assert mod.get(f"/v1/moderations/{second['message_id']}").json()["Moderator"]["moderation_status"] == "under_review"
    before = ledger_count()
    assert run_sync(jobs.release_hold, stale) is False  # the stale snapshot is skipped
    assert ledger_count() == before
    assert mod.get(f"/v1/moderations/{third['message_id']}").json()["Moderator"]["moderation_status"] == "rejected"
    assert run_sync(jobs.auto_release_expired_holds, later) == 0  # released once


def test_the_job_is_registered_with_the_worker():
    from apps.core import jobs as core_jobs

    assert "moderation.auto_release" in core_jobs._jobs
    assert core_jobs._jobs["moderation.auto_release"].func is jobs.auto_release_expired_holds


def test_services_decide_refuses_without_touching_the_ledger():
    with pytest.raises(ValidationFailed):
        run_sync(services.decide, services.SYSTEM, {"content_id": "x"})
    assert ledger_count() == 0
