"""Contributions, evidence, vouches and moderation decisions each append one leaf in their own transaction.

The leaf's entry is what a member can check without trusting us: its ``content_sha256`` is recomputed here from
the record the API returns, its leaf hash from the exact leaf bytes, and nothing is appended by a refused or
replayed write.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from apps.core.db import get_db, run_sync
from apps.evidence import transparency as evidence_entries
from apps.transparency import verifier
from tests.evidence.conftest import User, make_user, rfc3339  # noqa: F401  (fixtures)
from tests.evidence.fixtures import jpeg, local_storage, put_object, sha  # noqa: F401  (fixtures)

RECORDED = {
    "contribution": evidence_entries.CONTRIBUTION_RECORDED,
    "evidence": evidence_entries.EVIDENCE_RECORDED,
    "vouch": evidence_entries.VOUCH_RECORDED,
}


def leaf_count() -> int:
    rows = run_sync(get_db().query, "SELECT count() AS n FROM tlog_leaf GROUP ALL;")[-1]
    return rows[0]["n"] if rows else 0


def canonical_sha256(record: dict[str, Any], fields: tuple[str, ...]) -> str:
    text = json.dumps({f: record.get(f) for f in fields}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def entry_at(user: User, index: int) -> dict[str, Any]:
    response = user.client.get(f"/v1/transparency/entries/{index}")
    assert response.status_code == 200, response.content
    body = response.json()
    data = base64.b64decode(body["leaf_data"])
    verifier.check_entry(body["entry"], data)  # the bytes are exactly the canonical JSON of the entry
    assert base64.b64decode(body["leaf_hash"]) == verifier.leaf_hash(data)
    return body


def check_record(user: User, kind: str, record: dict[str, Any], id_field: str) -> dict[str, Any]:
    """The record's leaf names it and commits to its recorded fields; its leaf hash is the one the API gave."""
    ref = record["transparency"]
    assert set(ref) == {"log_index", "leaf_hash"}
    body = entry_at(user, ref["log_index"])
    assert body["leaf_hash"] == ref["leaf_hash"]
    entry = body["entry"]
    assert entry["kind"] == kind
    assert entry[id_field] == record[id_field]
    assert entry["content_sha256"] == canonical_sha256(record, RECORDED[kind])
    # What a member runs: the record they hold is exactly what the log recorded; any change is caught.
    verifier.check_record(entry, record)
    for field in RECORDED[kind]:
        changed = record | {field: "something else"}
        with pytest.raises(verifier.VerificationError):
            verifier.check_record(entry, changed)
    return entry


@pytest.fixture
def ana(make_user) -> User:  # noqa: F811
    return make_user("ana")


@pytest.fixture
def budi(make_user) -> User:  # noqa: F811
    return make_user("budi")


def test_contribution_vouch_and_evidence_each_append_one_leaf(ana, budi):
    contribution = ana.contribution()
    vouch = budi.post("/v1/vouches", {"vouchee_id": ana.user_id, "skill_id": "plumbing"}).json()
    evidence = ana.post(
        "/v1/evidence",
        {
            "contribution_id": contribution["contribution_id"],
            "evidence_type": "gps_verification",
            "evidence_data": {"note": "at the well"},
            "proof": {"timestamp": rfc3339(-timedelta(minutes=5)), "location": {"lat": -6.2, "lon": 106.8}},
        },
    ).json()

    indexes = [r["transparency"]["log_index"] for r in (contribution, vouch, evidence)]
    assert indexes == [0, 1, 2]
    assert leaf_count() == 3
    check_record(ana, "contribution", contribution, "contribution_id")
    vouch_entry = check_record(ana, "vouch", vouch, "vouch_id")
    assert (vouch_entry["voucher_id"], vouch_entry["vouchee_id"]) == (budi.user_id, ana.user_id)
    evidence_entry = check_record(ana, "evidence", evidence, "evidence_id")
    assert evidence_entry["media"] is None
    # The public entry carries no free text or location.
    assert "well" not in json.dumps(evidence_entry)
    assert "106.8" not in json.dumps(evidence_entry)


def test_reads_carry_the_same_transparency_as_the_create(ana, budi):
    contribution = ana.contribution()
    vouch = budi.post("/v1/vouches", {"vouchee_id": ana.user_id}).json()
    cid = contribution["contribution_id"]

    assert ana.get(f"/v1/contributions/{cid}").json()["transparency"] == contribution["transparency"]
    listed = ana.get("/v1/contributions").json()
    assert [c["transparency"] for c in listed] == [contribution["transparency"]]
    assert budi.get("/v1/vouches").json()[0]["transparency"] == vouch["transparency"]
    # The record the GET returns is the one the leaf committed to.
    check_record(budi, "contribution", budi.get(f"/v1/contributions/{cid}").json(), "contribution_id")


def test_a_replayed_request_appends_nothing_and_answers_the_same_leaf(ana):
    request_id = str(uuid.uuid4())
    body = {"title": "Swept the square", "contribution_type": "community_service"}
    first = ana.post("/v1/contributions", body, request_id=request_id)
    again = ana.post("/v1/contributions", body, request_id=request_id)
    assert first.status_code == again.status_code == 201
    assert again.json()["transparency"] == first.json()["transparency"]
    assert leaf_count() == 1


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/contributions", {"title": " ", "contribution_type": "community_service"}, 400),
        ("/v1/contributions", {"title": "x", "contribution_type": "not_a_type"}, 400),
        ("/v1/vouches", {"vouchee_id": "0" * 32}, 404),
        ("/v1/evidence", {"contribution_id": "0" * 32, "evidence_type": "gps_verification", "proof": {}}, 404),
    ],
)
def test_a_refused_write_appends_nothing(ana, path, body, status):
    assert ana.post(path, body).status_code == status
    assert leaf_count() == 0


def test_a_conflicting_vouch_rolls_back_its_leaf(ana, budi):
    assert budi.post("/v1/vouches", {"vouchee_id": ana.user_id, "skill_id": "s"}).status_code == 201
    assert budi.post("/v1/vouches", {"vouchee_id": ana.user_id, "skill_id": "s"}).status_code == 409
    assert budi.post("/v1/vouches", {"vouchee_id": budi.user_id}).status_code == 400
    assert leaf_count() == 1


def test_evidence_with_a_file_commits_to_the_file(ana, local_storage, tmp_path):  # noqa: F811
    data = jpeg()
    contribution = ana.contribution()
    cid = contribution["contribution_id"]
    ticket = ana.post(
        "/v1/evidence/uploads",
        {"contribution_id": cid, "file_name": "p.jpg", "content_type": "image/jpeg", "size_bytes": len(data),
         "sha256": sha(data)},
    ).json()  # fmt: skip
    assert put_object(ana.client, ticket["upload_url"], ticket["upload_headers"], data) == 200
    assert ana.post(f"/v1/evidence/uploads/{ticket['upload_id']}/confirm").status_code == 200
    evidence = ana.post(
        "/v1/evidence",
        {"contribution_id": cid, "evidence_type": "photo_with_timestamp", "upload_id": ticket["upload_id"],
         "proof": {"timestamp": rfc3339(-timedelta(hours=1)), "media_hash": sha(data)}},
    ).json()  # fmt: skip

    entry = check_record(ana, "evidence", evidence, "evidence_id")
    assert entry["media"]["sha256"] == sha(data)
    assert entry["media"]["size_bytes"] == len(data)
    assert entry["media"]["mime_type"] == "image/jpeg"
    assert entry["media"]["content_credentials"] == evidence["media"]["content_credentials"]
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    verifier.check_file(path, entry)
    path.write_bytes(data + b"\0")
    with pytest.raises(verifier.VerificationError):
        verifier.check_file(path, entry)


def test_a_moderation_decision_appends_a_leaf_with_its_event_hash(make_user):  # noqa: F811
    from apps.accounts.repository import AccountsRepository

    author = make_user("ana")
    moderator = make_user("mods")
    run_sync(AccountsRepository().set_user_fields, moderator.user_id, {"role": "moderator"})
    contribution = author.contribution()
    response = moderator.post(
        "/v1/moderations",
        {"content_id": contribution["contribution_id"], "content_type": "contribution",
         "moderation_status": "rejected", "moderation_action": "block", "reason_code": "spam", "confidence": 0.9},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    decision = response.json()["decision"]
    body = entry_at(author, decision["transparency"]["log_index"])
    entry = body["entry"]
    assert entry["kind"] == "moderation_decision"
    assert entry["decision_id"] == decision["decision_id"]
    assert entry["event_hash"] == decision["event_hash"]
    assert entry["prev_hash"] is None
    assert entry["chain_seq"] == 1
    assert "reasoning" not in entry
    verifier.check_record(entry, decision)
    with pytest.raises(verifier.VerificationError, match="event_hash"):
        verifier.check_record(entry, decision | {"reasoning": "rewritten"})
    view = moderator.get(f"/v1/moderations/{contribution['contribution_id']}").json()["Moderator"]
    assert view["decisions"][0]["transparency"] == decision["transparency"]
    # A refused decision (bad input) appends nothing.
    before = leaf_count()
    bad = moderator.post("/v1/moderations", {"content_id": contribution["contribution_id"]})
    assert bad.status_code == 400
    assert leaf_count() == before


def test_the_contribution_page_links_each_record_to_its_log_entry(ana):
    contribution = ana.contribution()
    cid = contribution["contribution_id"]
    evidence = ana.post(
        "/v1/evidence",
        {"contribution_id": cid, "evidence_type": "gps_verification",
         "proof": {"timestamp": rfc3339(-timedelta(minutes=5)), "location": {"lat": -6.2, "lon": 106.8}}},
    ).json()  # fmt: skip
    ana.client.cookies["gr_session"] = ana.token
    page = ana.client.get(f"/contributions/{cid}").content.decode()
    for record in (contribution, evidence):
        index = record["transparency"]["log_index"]
        assert f'href="/v1/transparency/entries/{index}"' in page


def test_the_standalone_verifier_checks_a_record_against_its_entry(ana, tmp_path):
    """``verifier.py inclusion --record``: the record a member holds, its entry, a proof and a signed checkpoint."""
    from apps.transparency import services

    contribution = ana.contribution()
    run_sync(services.integrate)
    index = contribution["transparency"]["log_index"]
    files = {
        "key.txt": ana.client.get("/v1/transparency/public-key").content,
        "checkpoint.txt": ana.client.get("/v1/transparency/checkpoint").content,
        "entry.json": ana.client.get(f"/v1/transparency/entries/{index}").content,
        "proof.json": ana.client.get("/v1/transparency/proofs/inclusion", {"index": index, "tree_size": 1}).content,
        "record.json": json.dumps(contribution).encode(),
        "forged.json": json.dumps(contribution | {"title": "Something else"}).encode(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    args = ["inclusion", "--key", str(tmp_path / "key.txt"), "--checkpoint", str(tmp_path / "checkpoint.txt"),
            "--entry", str(tmp_path / "entry.json"), "--proof", str(tmp_path / "proof.json")]  # fmt: skip
    assert verifier.main([*args, "--record", str(tmp_path / "record.json")]) == 0
    assert verifier.main([*args, "--record", str(tmp_path / "forged.json")]) == 1
