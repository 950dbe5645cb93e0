"""Vouches: existence, self-vouch, duplicates, listing, outbox event."""

from __future__ import annotations

import json

from apps.core.db import run_sync


def test_vouch_flow(ana, budi, surreal_db):
    response = ana.post("/v1/vouches", {"vouchee_id": budi.user_id, "skill_id": "plumbing", "weight_hint": "strong"})
    assert response.status_code == 201, response.content
    vouch = response.json()
    assert vouch["voucher_id"] == ana.user_id
    assert vouch["message"] is None
    event = json.loads(run_sync(surreal_db.query, "SELECT body FROM webhook_outbox_event;")[0][0]["body"])
    assert event["event_type"] == "vouch_submitted"
    assert event["subject"] == {
        "message": None,
        "skill_id": "plumbing",
        "vouchee_id": budi.user_id,
        "weight_hint": "strong",
        "vouch_id": vouch["vouch_id"],
    }
    duplicate = ana.post("/v1/vouches", {"vouchee_id": budi.user_id, "skill_id": "plumbing"})
    assert duplicate.status_code == 409
    other_skill = ana.post("/v1/vouches", {"vouchee_id": budi.user_id})
    assert other_skill.status_code == 201
    assert [v["vouch_id"] for v in ana.get("/v1/vouches").json()] == [other_skill.json()["vouch_id"], vouch["vouch_id"]]
    assert len(ana.get("/v1/vouches", vouchee_id=budi.user_id).json()) == 2
    assert budi.get("/v1/vouches").json() == []


def test_vouch_rules(ana, budi):
    def message(body):
        response = ana.post("/v1/vouches", body)
        return response.status_code, response.json()["error"]["message"]

    assert message({"vouchee_id": ana.user_id}) == (400, "validation failed: cannot vouch for yourself")
    assert message({"vouchee_id": "f" * 32})[0] == 404
    assert message({"vouchee_id": budi.user_id, "weight_hint": "huge"}) == (
        400,
        "validation failed: weight_hint must be one of strong, moderate, light",
    )
    assert message({"vouchee_id": budi.user_id, "skill_id": "  "})[0] == 400
    assert message({"vouchee_id": budi.user_id, "message": "m" * 501})[0] == 400
    both = ana.get("/v1/vouches", vouchee_id=budi.user_id, voucher_id=ana.user_id)
    assert both.status_code == 400
    assert both.json()["error"]["message"] == "validation failed: provide only one of vouchee_id or voucher_id"


def test_vouch_is_idempotent(ana, budi, surreal_db):
    first = ana.post("/v1/vouches", {"vouchee_id": budi.user_id}, request_id="v-1")
    again = ana.post("/v1/vouches", {"vouchee_id": budi.user_id}, request_id="v-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert len(run_sync(surreal_db.query, "SELECT * FROM vouch;")[0]) == 1
