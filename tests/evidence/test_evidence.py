"""Evidence records: per-type proof rules in order, authorisation, events, append-only."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from apps.core.db import run_sync
from tests.evidence.conftest import rfc3339

HASH = "ab" * 32


def _post(user, contribution_id, evidence_type, proof, **extra):
    body = {"contribution_id": contribution_id, "evidence_type": evidence_type, "proof": proof, **extra}
    return user.post("/v1/evidence", body)


def _message(response) -> str:
    assert response.status_code == 400, response.content
    return response.json()["error"]["message"].removeprefix("validation failed: ")


@pytest.mark.parametrize(
    ("evidence_type", "proof", "message"),
    [
        ("photo_with_timestamp", {}, "proof.timestamp is required"),
        ("photo_with_timestamp", {"timestamp": "now"}, "proof.media_hash is required"),
        (
            "photo_with_timestamp",
            {"timestamp": "now", "media_hash": "xyz"},
            "proof.media_hash must be a hex string (at least 32 characters)",
        ),
        (
            "photo_with_timestamp",
            {"timestamp": "2026-01-01T10:00:00", "media_hash": HASH},
            "proof.timestamp must be RFC3339",
        ),
        (
            "photo_with_timestamp",
            {"timestamp": "2026-01-01T10:00+07:00", "media_hash": HASH},
            "proof.timestamp must be RFC3339",
        ),
        (
            "photo_with_timestamp",
            {"timestamp": timedelta(minutes=10), "media_hash": HASH},  # made when the test runs
            "proof.timestamp cannot be in the future",
        ),
        (
            "photo_with_timestamp",
            {"timestamp": timedelta(days=-31), "media_hash": HASH},
            "proof.timestamp is too old (max 30 days)",
        ),
        ("gps_verification", {"timestamp": "x"}, "proof.location.lat is required"),
        ("gps_verification", {"timestamp": "x", "location": {"lat": 1}}, "proof.location.lon is required"),
        (
            "gps_verification",
            {"timestamp": "x", "location": {"lat": 91, "lon": 0}},
            "proof.location.lat must be between -90 and 90",
        ),
        (
            "gps_verification",
            {"timestamp": "x", "location": {"lat": 0, "lon": -180.5}},
            "proof.location.lon must be between -180 and 180",
        ),
        (
            "gps_verification",
            {"timestamp": "x", "location": {"lat": 0, "lon": 0, "accuracy_m": -1}},
            "proof.location.accuracy_m must be >= 0",
        ),
        ("witness_attestation", {"timestamp": "x"}, "proof.witnesses must be an array"),
        (
            "witness_attestation",
            {"timestamp": "x", "witnesses": []},
            "proof.witnesses must contain at least one witness",
        ),
        (
            "witness_attestation",
            {"timestamp": "x", "witnesses": [{"witness_name": "a", "relationship": "peer"}] * 51},
            "proof.witnesses exceeds max of 50",
        ),
        (
            "witness_attestation",
            {"timestamp": "x", "witnesses": [{"relationship": "peer"}]},
            "proof.witnesses[0].witness_name is required",
        ),
        (
            "witness_attestation",
            {"timestamp": "x", "witnesses": [{"witness_name": "a", "relationship": "peer"}, {"witness_name": "b"}]},
            "proof.witnesses[1].relationship is required",
        ),
        (
            "witness_attestation",
            {"timestamp": "x", "witnesses": [{"witness_name": "a", "relationship": "boss"}]},
            "proof.witnesses[0].relationship must be one of supervisor, peer, beneficiary, other",
        ),
        (
            "witness_attestation",
            {"timestamp": "x", "witnesses": [{"witness_name": "a", "relationship": "peer"}]},
            "proof.timestamp must be RFC3339",
        ),
    ],
)
def test_proof_rules_in_order(ana, surreal_db, evidence_type, proof, message):
    # Relative timestamps are made now, not at collection: in a long (loaded) run "10 min ahead" made at
    # collection aged into the accepted 5 min skew window and the refusal test failed.
    proof = {k: rfc3339(v) if isinstance(v, timedelta) else v for k, v in proof.items()}
    contribution = ana.contribution()
    assert _message(_post(ana, contribution["contribution_id"], evidence_type, proof)) == message
    assert run_sync(surreal_db.query, "SELECT * FROM evidence;")[0] == []


def test_object_and_enum_rules(ana):
    cid = ana.contribution()["contribution_id"]
    proof = {"timestamp": rfc3339(), "media_hash": HASH}
    assert (
        _message(_post(ana, cid, "photo_with_timestamp", proof, evidence_data=[1])) == "evidence_data must be an object"
    )
    assert _message(_post(ana, cid, "photo_with_timestamp", "p")) == "proof must be an object"
    assert _message(_post(ana, cid, "selfie", proof)).startswith("evidence_type must be one of")


def test_witness_attestation_creates_both_events(ana, surreal_db):
    cid = ana.contribution()["contribution_id"]
    witnesses = [{"witness_name": "Sari", "relationship": "peer"}, {"witness_name": "Tono", "relationship": "other"}]
    proof = {"timestamp": rfc3339(timedelta(hours=-2)).replace("Z", "+07:00"), "witnesses": witnesses}
    response = _post(ana, cid, "witness_attestation", proof, evidence_data={"note": None})
    assert response.status_code == 201, response.content
    evidence = response.json()
    assert evidence["evidence_data"] == {"note": None}
    assert evidence["media"] is None
    assert evidence["warnings"] == []
    rows = run_sync(surreal_db.query, "SELECT event_type, body FROM webhook_outbox_event;")[0]
    events = {r["event_type"]: json.loads(r["body"]) for r in rows}
    assert events["por_evidence"]["subject"] == {
        "contribution_id": cid,
        "evidence_data": {"note": None},
        "evidence_id": evidence["evidence_id"],
        "evidence_type": "witness_attestation",
        "media": None,
    }
    assert events["por_evidence"]["proof"] == proof
    assert events["co_witness_attested"]["subject"] == {
        "attestation_type": "witness_attestation",
        "contribution_id": cid,
        "evidence_id": evidence["evidence_id"],
        "witness_count": 2,
    }
    assert ana.get(f"/v1/evidence/{evidence['evidence_id']}").json() == evidence
    assert [e["evidence_id"] for e in ana.get(f"/v1/contributions/{cid}/evidence").json()] == [evidence["evidence_id"]]


def test_only_the_author_adds_evidence_and_unknown_contribution_is_404(ana, budi):
    cid = ana.contribution()["contribution_id"]
    proof = {"timestamp": rfc3339(), "location": {"lat": -6.2, "lon": 106.8}}
    assert _post(budi, cid, "gps_verification", proof).status_code == 403
    assert _post(ana, "0" * 32, "gps_verification", proof).status_code == 404
    assert _post(ana, cid, "gps_verification", proof).status_code == 201


def test_evidence_is_append_only(ana):
    cid = ana.contribution()["contribution_id"]
    evidence = _post(ana, cid, "gps_verification", {"timestamp": rfc3339(), "location": {"lat": 0, "lon": 0}}).json()
    path = f"/v1/evidence/{evidence['evidence_id']}"
    assert ana.client.delete(path, **ana.headers()).status_code == 405
    assert ana.client.put(path, "{}", content_type="application/json", **ana.headers()).status_code == 405
    assert ana.get(path).status_code == 200
    assert ana.get("/v1/evidence/" + "0" * 32).status_code == 404


def test_evidence_is_idempotent(ana, surreal_db):
    cid = ana.contribution()["contribution_id"]
    body = {
        "contribution_id": cid,
        "evidence_type": "gps_verification",
        "proof": {"timestamp": rfc3339(), "location": {"lat": 0, "lon": 0}},
    }
    first, again = ana.post("/v1/evidence", body, request_id="e-1"), ana.post("/v1/evidence", body, request_id="e-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert len(run_sync(surreal_db.query, "SELECT * FROM evidence;")[0]) == 1
