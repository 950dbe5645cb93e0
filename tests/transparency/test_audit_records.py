"""The audit (and the standalone verifier, where it applies) name what a database administrator changed in the
real records: an evidence row, a decision chain rewritten with every hash recomputed, a stored file, a deleted row.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from apps.accounts.repository import AccountsRepository
from apps.core.db import get_db, run_sync
from apps.core.storage import get_storage
from apps.evidence.files import verified_key
from apps.moderation import ledger
from apps.transparency import services, verifier
from tests.evidence.conftest import User, make_user, rfc3339  # noqa: F401  (fixtures)
from tests.evidence.fixtures import jpeg, local_storage, put_object, sha  # noqa: F401  (fixtures)
from tests.transparency.support import run_audit_command


def query(sql: str, **variables: Any) -> list:
    return run_sync(get_db().query, sql, variables)[-1]


audit = run_audit_command


class Records:
    """One of each logged kind, written through the API, then integrated and checkpointed."""

    def __init__(self, make_user) -> None:  # noqa: F811
        self.ana, budi, mod = make_user("ana"), make_user("budi"), make_user("mods")
        run_sync(AccountsRepository().set_user_fields, mod.user_id, {"role": "moderator"})
        self.data = jpeg()
        self.contribution = self.ana.contribution()
        cid = self.contribution["contribution_id"]
        ticket = self.ana.post(
            "/v1/evidence/uploads",
            {"contribution_id": cid, "file_name": "p.jpg", "content_type": "image/jpeg",
             "size_bytes": len(self.data), "sha256": sha(self.data)},
        ).json()  # fmt: skip
        assert put_object(self.ana.client, ticket["upload_url"], ticket["upload_headers"], self.data) == 200
        assert self.ana.post(f"/v1/evidence/uploads/{ticket['upload_id']}/confirm").status_code == 200
        self.evidence = self.ana.post(
            "/v1/evidence",
            {"contribution_id": cid, "evidence_type": "photo_with_timestamp", "upload_id": ticket["upload_id"],
             "proof": {"timestamp": rfc3339(-timedelta(hours=1)), "media_hash": sha(self.data)}},
        ).json()  # fmt: skip
        self.vouch = budi.post("/v1/vouches", {"vouchee_id": self.ana.user_id}).json()
        self.decisions = []
        for status, action, extra in (
            ("under_review", "hold_for_review", {"hold_duration_minutes": 60}),
            ("published", "publish_now", {}),
        ):
            response = mod.post(
                "/v1/moderations",
                {"content_id": cid, "content_type": "contribution", "moderation_status": status,
                 "moderation_action": action, "reason_code": "check", "confidence": 0.5, **extra},
            )  # fmt: skip
            assert response.status_code == 201, response.content
            self.decisions.append(response.json()["decision"])
        assert run_sync(services.integrate) >= 0
        self.public = Client()
        self.key = self.public.get("/v1/transparency/public-key").content.decode()
        self.checkpoint = self.public.get("/v1/transparency/checkpoint").content.decode()

    def index(self, record: dict[str, Any]) -> int:
        return record["transparency"]["log_index"]

    def verify_inclusion(self, index: int) -> None:
        """What a member does with the checkpoint and key they saved earlier (never trusting the server now)."""
        checkpoint = verifier.verify_checkpoint(self.checkpoint, verifier.parse_verifier_key(self.key.strip()))
        entry = self.public.get(f"/v1/transparency/entries/{index}").json()
        data = base64.b64decode(entry["leaf_data"])
        verifier.check_entry(entry["entry"], data)
        proof = self.public.get(
            "/v1/transparency/proofs/inclusion", {"index": index, "tree_size": checkpoint.tree_size}
        ).json()
        path = [base64.b64decode(p) for p in proof["path"]]
        verifier.verify_inclusion(verifier.leaf_hash(data), index, checkpoint.tree_size, path, checkpoint.root_hash)


@pytest.fixture
def records(make_user, local_storage) -> Records:  # noqa: F811
    return Records(make_user)


def test_untouched_records_pass_the_audit_and_the_verifier(records):
    status, lines = audit()
    assert status == 0, lines
    assert "row checks for: " in lines[-1]
    assert "no row check registered" not in lines[-1]
    checked = lines[-1].split("row checks for: ", 1)[1]
    for kind in ("contribution", "evidence", "vouch", "moderation_decision"):
        assert kind in checked
    for index in range(5):
        records.verify_inclusion(index)


def test_an_edited_evidence_row_is_named(records):
    evidence_id = records.evidence["evidence_id"]
    query(
        "UPDATE type::record('evidence', $id) SET proof_json = $p;",
        id=evidence_id,
        p=json.dumps({"timestamp": rfc3339(-timedelta(days=2)), "media_hash": sha(records.data)}),
    )
    status, lines = audit()
    assert status == 1
    assert lines[0] == (
        f"FIRST PROBLEM: entry {records.index(records.evidence)} (evidence {evidence_id}): "
        "the evidence row differs from its leaf"
    )


def test_a_decision_chain_rewritten_with_every_hash_recomputed_is_named(records):
    """The hash chain alone cannot catch this: the attacker recomputes event_hash and prev_hash of every row."""
    query("REMOVE EVENT moderation_decision_append_only ON moderation_decision;")  # an admin can drop the guard
    rows = query("SELECT * OMIT id FROM moderation_decision ORDER BY chain_seq;")
    previous = None
    for row in rows:
        view = ledger.decision_view(row)
        view["reasoning"] = "it was always fine"  # the rewrite
        view["prev_hash"] = previous
        view["event_hash"] = ledger.event_hash(view)
        previous = view["event_hash"]
        query(
            "UPDATE type::record('moderation_decision', $id) SET reasoning = $r, prev_hash = $p, event_hash = $h;",
            id=row["decision_id"],
            r=view["reasoning"],
            p=view["prev_hash"],
            h=view["event_hash"],
        )
    assert ledger.verify_chain([ledger.decision_view(r) for r in query("SELECT * FROM moderation_decision "
                                                                         "ORDER BY chain_seq;")]).ok  # fmt: skip
    status, lines = audit()
    assert status == 1
    first = records.decisions[0]
    assert lines[0] == (
        f"FIRST PROBLEM: entry {records.index(first)} (moderation_decision {first['decision_id']}): "
        "the moderation_decision row differs from its leaf"
    )
    assert len([line for line in lines if "moderation_decision row differs" in line]) == 2


def test_a_replaced_stored_file_is_named(records):
    key = verified_key(sha(records.data))
    get_storage().put_bytes(key, records.data[:-1] + b"\x00", content_type="image/jpeg", metadata={})
    status, lines = audit()
    assert status == 1
    index = records.index(records.evidence)
    assert lines[0].startswith(
        f"FIRST PROBLEM: entry {index} (evidence {records.evidence['evidence_id']}): the stored file differs from its "
        f"SHA-256 {sha(records.data)}"
    )


def test_a_deleted_vouch_row_is_named(records):
    query("DELETE type::record('vouch', $id);", id=records.vouch["vouch_id"])
    status, lines = audit()
    assert status == 1
    assert lines[0] == (
        f"FIRST PROBLEM: entry {records.index(records.vouch)} (vouch {records.vouch['vouch_id']}): the vouch row is "
        "missing"
    )


def test_an_edited_leaf_fails_the_verifier_against_the_saved_checkpoint(records):
    """The DB admin rewrites a contribution's leaf, its hash and the whole tree; the saved checkpoint still knows."""
    index = records.index(records.contribution)
    leaf = query("SELECT * FROM ONLY type::record('tlog_leaf', $i);", i=index)
    forged = json.loads(leaf["data"]) | {"contribution_type": "mentoring"}
    data = verifier.canonical_json(forged)
    query(
        "UPDATE type::record('tlog_leaf', $i) SET data = $d, leaf_hash = $h;",
        i=index,
        d=data,
        h=base64.b64encode(verifier.leaf_hash(data.encode())).decode(),
    )
    query("DELETE tlog_node; DELETE tlog_checkpoint; UPDATE tlog_state:tree SET size = 0;")
    run_sync(services.integrate)  # a fresh tree and a fresh checkpoint, signed with the same key
    with pytest.raises(verifier.VerificationError):
        records.verify_inclusion(index)
    status, lines = audit()
    assert status == 1
    assert lines[0].startswith(f"FIRST PROBLEM: entry {index}")
