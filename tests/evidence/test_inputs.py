"""One validator per operation (issue 13): the serializers that parse evidence input are the published ones.

The spec's messages and their order are covered by test_contributions, test_evidence, test_uploads and
test_vouches; this file covers what the move to serializers must keep or adds: the published document
names the validating serializers, every failed field is reported (the first one is the message), the
404/403-before-400 order of evidence and vouch lists, and the query strings' rules.
"""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.core.db import run_sync
from apps.evidence import inputs
from tests.evidence.conftest import rfc3339
from tests.support.openapi_inputs import component_name

REQUEST_BODIES = {
    ("/v1/contributions", "post"): inputs.ContributionCreateSerializer,
    ("/v1/evidence", "post"): inputs.EvidenceCreateSerializer,
    ("/v1/evidence/uploads", "post"): inputs.UploadCreateSerializer,
    ("/v1/vouches", "post"): inputs.VouchCreateSerializer,
}
QUERIES = {
    ("/v1/contributions", "get"): inputs.ContributionListQuery,
    ("/v1/contributions/{contribution_id}/evidence", "get"): inputs.LimitQuery,
    ("/v1/vouches", "get"): inputs.VouchListQuery,
}


@pytest.fixture(scope="module")
def document() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(("operation", "serializer"), REQUEST_BODIES.items(), ids=lambda v: str(v))
def test_each_body_is_published_as_its_validator(document, operation, serializer):
    path, method = operation
    body = document["paths"][path][method]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{component_name(serializer)}"
    }
    published = document["components"]["schemas"][component_name(serializer)]["properties"]
    assert list(published) == list(serializer().fields)  # the spec's order, which is also the check order


@pytest.mark.parametrize(("operation", "serializer"), QUERIES.items(), ids=lambda v: str(v))
def test_each_query_is_published_from_its_validator(document, operation, serializer):
    path, method = operation
    published = {p["name"] for p in document["paths"][path][method]["parameters"] if p["in"] == "query"}
    assert published == set(serializer().fields)


def test_every_evidence_operation_with_input_is_listed_above(document):
    """A new operation (or one published from another class) must be added to the tables, so it is checked."""
    prefixes = ("/v1/contributions", "/v1/evidence", "/v1/vouches")
    bodies, queries = set(), set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not path.startswith(prefixes):
                continue
            if "requestBody" in operation:
                bodies.add((path, method))
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                queries.add((path, method))
    assert bodies == set(REQUEST_BODIES)
    assert queries == set(QUERIES)


def test_every_failed_field_is_reported_and_the_first_is_the_message(ana, surreal_db):
    response = ana.post("/v1/contributions", {"title": " ", "mode": "loud", "contribution_type": "gardening"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "validation failed: title is required"
    assert list(error["details"]["fields"]) == ["title", "mode", "contribution_type"]
    assert error["details"]["fields"]["mode"] == [
        "mode must be one of komunitas, catatan_komunitas, catatan_saksi, siaga"
    ]
    assert run_sync(surreal_db.query, "SELECT * FROM contribution;")[0] == []


def test_text_fields_refuse_other_types_and_nul_in_the_spec_words(ana):
    def message(body):
        return ana.post("/v1/contributions", body).json()["error"]["message"]

    base = {"title": "t", "contribution_type": "custom"}
    assert message({**base, "title": 5}) == "validation failed: title must be a string"
    assert (
        message({**base, "description": "a\x00b"}) == "validation failed: description must not contain NUL characters"
    )
    assert message({**base, "skill_ids": ["a", 1]}) == "validation failed: skill_ids must be an array of strings"
    assert message({**base, "metadata": [1]}) == "validation failed: metadata must be an object"
    assert message({**base, "mode": 1}) == "validation failed: mode must be a string"


def test_defaults_and_trimming_survive_the_serializer(ana):
    body = {"title": " T ", "contribution_type": "custom", "mode": None, "description": None, "skill_ids": None,
            "metadata": None, "evidence_url": "  "}  # fmt: skip
    response = ana.post("/v1/contributions", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["title"], created["mode"], created["description"]) == ("T", "komunitas", "")
    assert (created["skill_ids"], created["metadata"], created["evidence_url"]) == ([], {}, None)


def test_evidence_target_is_checked_before_the_contribution_and_the_rest_after(ana, budi):
    cid = ana.contribution()["contribution_id"]
    bad_proof = {"contribution_id": "0" * 32, "evidence_type": "gps_verification", "proof": "p"}
    assert ana.post("/v1/evidence", bad_proof).status_code == 404  # unknown contribution before the proof
    assert budi.post("/v1/evidence", {**bad_proof, "contribution_id": cid}).status_code == 403
    bad_target = {**bad_proof, "contribution_id": "0" * 31}
    response = ana.post("/v1/evidence", bad_target)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {
        "contribution_id": ["contribution_id must be a 32-character lowercase hex id"],
        "proof": ["proof must be an object"],
    }
    response = ana.post("/v1/evidence", {**bad_proof, "contribution_id": cid})
    assert response.json()["error"]["message"] == "validation failed: proof must be an object"
    proof = {"timestamp": rfc3339(), "location": {"lat": 0, "lon": 0}}
    ok = ana.post("/v1/evidence", {**bad_proof, "contribution_id": cid, "proof": proof, "evidence_data": {"n": 1}})
    assert ok.status_code == 201, ok.content
    assert ok.json()["evidence_data"] == {"n": 1}


def test_upload_request_messages(ana):
    cid = ana.contribution()["contribution_id"]
    base = {"contribution_id": cid, "file_name": "a.txt", "content_type": "text/plain", "size_bytes": 5,
            "sha256": "AB" * 32}  # fmt: skip

    def message(**overrides):
        return ana.post("/v1/evidence/uploads", {**base, **overrides}).json()["error"]["message"]

    assert message(file_name=7) == "validation failed: file_name is required"
    assert message(size_bytes=2.5) == (
        "validation failed: size_bytes must be a positive integer (empty files are not accepted)"
    )
    assert message(sha256=None) == "validation failed: sha256 is required"
    assert message(sha256=64) == "validation failed: sha256 must be 64 hex characters"
    assert message(content_type=1).startswith("validation failed: content_type must be one of image/jpeg, ")


def test_a_trailing_newline_does_not_slip_past_a_pattern(ana):
    """The published patterns end with ``$`` (end of input); Python's ``re.match`` let a final "\\n" through."""
    cid = ana.contribution()["contribution_id"]
    upload = {"contribution_id": cid, "file_name": "a.txt", "content_type": "text/plain", "size_bytes": 5,
              "sha256": "ab" * 32 + "\n"}  # fmt: skip
    refused = ana.post("/v1/evidence/uploads", upload)
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "validation failed: sha256 must be 64 hex characters"
    proof = {"timestamp": rfc3339(), "media_hash": "ab" * 32}
    evidence = {"contribution_id": cid, "evidence_type": "photo_with_timestamp"}

    def message(**changes):
        response = ana.post("/v1/evidence", {**evidence, "proof": {**proof, **changes}})
        return response.status_code, response.json().get("error", {}).get("message")

    assert message(timestamp=rfc3339() + "\n") == (400, "validation failed: proof.timestamp must be RFC3339")
    assert message(media_hash="ab" * 32 + "\n") == (
        400,
        "validation failed: proof.media_hash must be a hex string (at least 32 characters)",
    )
    assert message()[0] == 201  # the same proof without the newline is accepted


@pytest.mark.parametrize("path", ["/v1/contributions", "/v1/vouches", "/v1/contributions/{cid}/evidence"])
def test_limit_is_clamped_and_must_be_an_integer(ana, path):
    path = path.format(cid=ana.contribution()["contribution_id"])
    for limit in ("0", "-3", "100000", " 7 "):
        assert ana.get(path, limit=limit).status_code == 200, limit
    response = ana.get(path, limit="ten")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "validation failed: limit must be an integer"


def test_contribution_list_query_rules(ana):
    assert ana.get("/v1/contributions", before="nope").json()["error"]["message"] == (
        "validation failed: before must be a contribution_id"
    )
    assert ana.get("/v1/contributions", before="nope", limit="x").json()["error"]["details"]["fields"] == {
        "limit": ["limit must be an integer"],
        "before": ["before must be a contribution_id"],
    }
    assert ana.get("/v1/contributions", author_id="").status_code == 200  # empty: the caller


def test_unknown_vouch_user_is_404_whatever_else_is_wrong(ana, budi):
    assert ana.get("/v1/vouches", vouchee_id="f" * 32, limit="x").status_code == 404
    assert ana.get("/v1/vouches", voucher_id="not-an-id", vouchee_id=budi.user_id).status_code == 404
    both = ana.get("/v1/vouches", vouchee_id=budi.user_id, voucher_id=ana.user_id, limit="x")
    assert both.json()["error"]["message"] == "validation failed: provide only one of vouchee_id or voucher_id"
