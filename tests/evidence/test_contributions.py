"""Contributions: validation messages, idempotency, listing, outbox event in the same transaction."""

from __future__ import annotations

import json

import pytest

from apps.core.db import run_sync
from apps.evidence import services


def _events(db, event_type: str) -> list[dict]:
    rows = run_sync(db.query, "SELECT body FROM webhook_outbox_event WHERE event_type = $t;", {"t": event_type})[0]
    return [json.loads(r["body"]) for r in rows]


def test_create_returns_the_contribution_and_writes_the_event(ana, surreal_db):
    response = ana.post(
        "/v1/contributions",
        {
            "title": "  Cleaned the river  ",
            "contribution_type": "community_service",
            "skill_ids": [" cleanup ", "", "cleanup", "logistics"],
            "metadata": {"k": None, "n": 1},
            "evidence_url": "https://example.org/x",
        },
        request_id="req-contrib-1",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Cleaned the river"
    assert body["mode"] == "komunitas"
    assert body["skill_ids"] == ["cleanup", "logistics"]
    assert body["metadata"] == {"k": None, "n": 1}
    assert body["request_id"] == "req-contrib-1"
    assert len(body["contribution_id"]) == 32
    (event,) = _events(surreal_db, "contribution_created")
    assert event["subject"] == {
        "contribution_id": body["contribution_id"],
        "contribution_type": "community_service",
        "description": "",
        "evidence_url": "https://example.org/x",
        "metadata": {"k": None, "n": 1},
        "mode": "komunitas",
        "skill_ids": ["cleanup", "logistics"],
        "title": "Cleaned the river",
    }
    assert event["actor"] == {"user_id": ana.user_id, "username": "ana"}
    assert event["request_id"] == "req-contrib-1"
    fetched = ana.get(f"/v1/contributions/{body['contribution_id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"contribution_type": "custom"}, "title is required"),
        ({"title": "   ", "contribution_type": "custom"}, "title is required"),
        ({"title": "x" * 201, "contribution_type": "custom"}, "title exceeds max length of 200"),
        (
            {"title": "t", "description": "d" * 2001, "contribution_type": "custom"},
            "description exceeds max length of 2000",
        ),
        (
            {"title": "t", "skill_ids": [f"s{i}" for i in range(11)], "contribution_type": "custom"},
            "skill_ids exceeds max of 10",
        ),
        (
            {"title": "t", "metadata": {f"k{i}": i for i in range(51)}, "contribution_type": "custom"},
            "metadata exceeds max of 50 keys",
        ),
        (
            {"title": "t", "contribution_type": "gardening"},
            "contribution_type must be one of task_completion, code_review, documentation, mentoring, "
            "event_organization, community_service, custom",
        ),
        (
            {"title": "t", "contribution_type": "custom", "mode": "loud"},
            "mode must be one of komunitas, catatan_komunitas, catatan_saksi, siaga",
        ),
        (
            {"title": "t", "contribution_type": "custom", "evidence_url": "ftp://x"},
            "evidence_url must be an http(s) URL",
        ),
    ],
)
def test_validation_messages(ana, surreal_db, body, message):
    response = ana.post("/v1/contributions", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == f"validation failed: {message}"
    assert run_sync(surreal_db.query, "SELECT * FROM contribution;")[0] == []
    assert _events(surreal_db, "contribution_created") == []


def test_same_request_id_replays_and_creates_once(ana, surreal_db):
    body = {"title": "Once", "contribution_type": "custom"}
    first = ana.post("/v1/contributions", body, request_id="same-key")
    second = ana.post("/v1/contributions", body, request_id="same-key")
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    reused = ana.post("/v1/contributions", {**body, "title": "Other"}, request_id="same-key")
    assert reused.status_code == 409
    assert reused.json()["error"]["details"]["reason"] == "idempotency_key_reused"
    assert len(_events(surreal_db, "contribution_created")) == 1


def test_replay_after_the_idempotency_window_returns_the_stored_row(ana, surreal_db):
    from apps.core import idempotency

    body = {"title": "Once", "contribution_type": "custom"}
    first = ana.post("/v1/contributions", body, request_id="late-key").json()
    idempotency.reset_local_store()  # the 24 h record expired
    again = ana.post("/v1/contributions", body, request_id="late-key")
    assert again.status_code == 201
    assert again.json()["contribution_id"] == first["contribution_id"]
    assert len(_events(surreal_db, "contribution_created")) == 1


def test_list_is_newest_first_with_before_cursor(ana, budi):
    ids = [ana.contribution(title=f"c{i}")["contribution_id"] for i in range(5)]
    budi.contribution(title="not mine")
    page = ana.get("/v1/contributions", limit=2).json()
    assert [c["contribution_id"] for c in page] == ids[::-1][:2]
    rest = ana.get("/v1/contributions", before=page[-1]["contribution_id"], limit=10).json()
    assert [c["contribution_id"] for c in rest] == ids[::-1][2:]
    theirs = ana.get("/v1/contributions", author_id=budi.user_id).json()
    assert [c["title"] for c in theirs] == ["not mine"]


def test_unknown_contribution_is_404(ana):
    assert ana.get("/v1/contributions/" + "0" * 32).status_code == 404
    assert ana.get("/v1/contributions/" + "0" * 32 + "/evidence").status_code == 404


def test_anonymous_is_401(api):
    assert api.get("/v1/contributions").status_code == 401


def test_outbox_failure_leaves_no_contribution_and_vice_versa(ana, surreal_db, monkeypatch):
    """Atomicity: the entity and its event are one transaction."""
    from apps.core.db import Statement
    from apps.webhooks import outbox

    real = outbox.event_statement

    def broken_event(**kwargs):
        statement = real(**kwargs)
        return Statement(
            statement.sql.replace("CONTENT $row", "CONTENT $row_broken"),
            {"id": "evt_x", "row_broken": {"status": "bogus"}},
        )

    monkeypatch.setattr(services, "event_statement", broken_event)
    response = ana.post("/v1/contributions", {"title": "t", "contribution_type": "custom"})
    assert response.status_code == 500
    assert run_sync(surreal_db.query, "SELECT * FROM contribution;")[0] == []
    assert run_sync(surreal_db.query, "SELECT * FROM webhook_outbox_event;")[0] == []

    # Vice versa: the entity fails (violates its schema), so no event is stored either.
    monkeypatch.setattr(services, "event_statement", real)
    real_statement = services.repo.create_contribution_statement

    def broken_entity(row):
        statement = real_statement(row)
        return type(statement)(
            statement.sql, {**statement.variables, "row": {**statement.variables["row"], "mode": "bogus"}}
        )

    monkeypatch.setattr(services.repo, "create_contribution_statement", broken_entity)
    response = ana.post("/v1/contributions", {"title": "t", "contribution_type": "custom"})
    assert response.status_code == 500
    assert run_sync(surreal_db.query, "SELECT * FROM contribution;")[0] == []
    assert run_sync(surreal_db.query, "SELECT * FROM webhook_outbox_event;")[0] == []


def test_metadata_numbers_beyond_64_bits_are_kept_exactly(ana, surreal_db):
    """Found by the schema fuzzer: such a number in metadata turned a valid request into a 500."""
    huge = -3212306718268573876224
    response = ana.post(
        "/v1/contributions",
        {"title": "Big numbers", "contribution_type": "custom", "metadata": {"n": huge}},
        request_id="req-huge-1",
    )
    assert response.status_code == 201, response.content
    assert response.json()["metadata"] == {"n": huge}
    (event,) = _events(surreal_db, "contribution_created")
    assert event["subject"]["metadata"] == {"n": huge}
