"""The public transparency API through the full middleware stack (Django test client), and one real server."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from apps.core.db import get_db, run_sync
from apps.core.ratelimit import overrides
from apps.transparency import services, verifier
from gotong.config import RateLimit
from tests.transparency.support import append_many, b64d, entry, leaf_hashes

BASE = "/v1/transparency"


@pytest.fixture
def log_of_40():
    run_sync(append_many, 40)
    run_sync(services.integrate)


def leaf_count() -> int:
    return len(run_sync(get_db().query, "SELECT VALUE index FROM tlog_leaf;")[-1])


def test_public_key_and_checkpoint_are_text_and_verify(api, log_of_40):
    key = api.get(f"{BASE}/public-key", HTTP_ACCEPT="text/plain")
    assert key.status_code == 200
    assert key["Content-Type"].startswith("text/plain")
    assert key.content.decode().endswith("\n")
    note = api.get(f"{BASE}/checkpoint")
    assert note.status_code == 200
    assert note["Content-Type"].startswith("text/plain")
    checkpoint = verifier.verify_checkpoint(note.content, verifier.parse_verifier_key(key.content.decode()))
    assert checkpoint.tree_size == 40


def test_checkpoint_before_the_first_signature_is_a_404_envelope(api):
    response = api.get(f"{BASE}/checkpoint", HTTP_ACCEPT="text/plain")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_entry_and_proofs_verify_end_to_end(api, log_of_40):
    key = verifier.parse_verifier_key(api.get(f"{BASE}/public-key").content.decode())
    checkpoint = verifier.verify_checkpoint(api.get(f"{BASE}/checkpoint").content, key)
    body = api.get(f"{BASE}/entries/7").json()
    leaf_data = base64.b64decode(body["leaf_data"])
    verifier.check_entry(body["entry"], leaf_data)
    assert body["entry"] == entry(7)
    assert b64d(body["leaf_hash"]) == verifier.leaf_hash(leaf_data)
    proof = api.get(f"{BASE}/proofs/inclusion", {"index": 7, "tree_size": 40}).json()
    assert (proof["index"], proof["tree_size"], proof["leaf_hash"]) == (7, 40, body["leaf_hash"])
    verifier.verify_inclusion(verifier.leaf_hash(leaf_data), 7, 40, [b64d(p) for p in proof["path"]],
                              checkpoint.root_hash)  # fmt: skip
    consistency = api.get(f"{BASE}/proofs/consistency", {"first": 13, "second": 40}).json()
    assert (consistency["first"], consistency["second"]) == (13, 40)
    first_root = verifier.root_hash(run_sync(leaf_hashes)[:13])
    verifier.verify_consistency(13, 40, first_root, checkpoint.root_hash, [b64d(p) for p in consistency["path"]])
    same = api.get(f"{BASE}/proofs/consistency", {"first": 40, "second": 40}).json()
    assert same["path"] == []


BAD_INCLUSION = [
    ({"index": "x", "tree_size": "40"}, "index"),
    ({"index": "-1", "tree_size": "40"}, "index"),
    ({"index": "1.5", "tree_size": "40"}, "index"),
    ({"index": " 1", "tree_size": "40"}, "index"),
    ({"index": str(2**53 + 1), "tree_size": "40"}, "index"),
    ({"index": "9" * 400, "tree_size": "40"}, "index"),
    ({"tree_size": "40"}, "index"),
    ({"index": "1"}, "tree_size"),
    ({"index": "1", "tree_size": "0"}, "tree_size"),
    ({"index": "1", "tree_size": str(2**53 + 1)}, "tree_size"),
]
BAD_CONSISTENCY = [
    ({"first": "0", "second": "40"}, "first"),
    ({"first": "1", "second": "0"}, "second"),
    ({"first": "-3", "second": "4"}, "first"),
    ({"first": "abc"}, "first"),
    ({"first": "1", "second": str(10**30)}, "second"),
]


# Well-formed (the OpenAPI document calls them valid) but naming a tree, leaf or proof that does not exist: 404.
NOT_IN_THE_LOG = [
    ("inclusion", {"index": "40", "tree_size": "40"}, "entry 40 is not in a tree of size 40"),
    ("inclusion", {"index": "1", "tree_size": "41"}, "tree_size 41 is beyond the log (size 40)"),
    ("inclusion", {"index": "1", "tree_size": str(2**53)}, "is beyond the log (size 40)"),
    ("consistency", {"first": "20", "second": "10"}, "from size 20 to the smaller size 10"),
    ("consistency", {"first": "1", "second": "41"}, "second 41 is beyond the log (size 40)"),
]


@pytest.mark.parametrize(("proof", "params", "message"), NOT_IN_THE_LOG)
def test_proofs_of_what_the_log_does_not_hold_are_404_envelopes(api, log_of_40, proof, params, message):
    response = api.get(f"{BASE}/proofs/{proof}", params)
    assert response.status_code == 404, response.content
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert message in error["message"]
    assert leaf_count() == 40


@pytest.mark.parametrize(("params", "field"), BAD_INCLUSION)
def test_bad_inclusion_requests_are_400_envelopes(api, log_of_40, params, field):
    response = api.get(f"{BASE}/proofs/inclusion", params)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"]
    assert leaf_count() == 40


@pytest.mark.parametrize(("params", "field"), BAD_CONSISTENCY)
def test_bad_consistency_requests_are_400_envelopes(api, log_of_40, params, field):
    response = api.get(f"{BASE}/proofs/consistency", params)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]["fields"]


def test_beyond_the_log_names_its_size(api, log_of_40):
    response = api.get(f"{BASE}/proofs/inclusion", {"index": "1", "tree_size": "41"})
    assert "tree_size 41 is beyond the log (size 40)" in response.json()["error"]["message"]
    # Appended but not yet integrated: still beyond the provable log.
    run_sync(append_many, 1, start=40)
    assert api.get(f"{BASE}/proofs/inclusion", {"index": "40", "tree_size": "41"}).status_code == 404
    assert api.get(f"{BASE}/entries/40").status_code == 200


@pytest.mark.parametrize(("index", "status"), [("41", 404), ("9007199254740992", 404), ("abc", 400), ("-1", 400),
                                               ("9007199254740993", 400), ("1e3", 400)])  # fmt: skip
def test_bad_entry_indexes(api, log_of_40, index, status):
    response = api.get(f"{BASE}/entries/{index}")
    assert response.status_code == status
    assert response.json()["error"]["code"] == ("not_found" if status == 404 else "validation_error")


def test_no_sign_in_needed_stale_token_ignored_and_rate_limited_per_ip(api, log_of_40):
    assert api.get(f"{BASE}/public-key", HTTP_AUTHORIZATION="Bearer stale").status_code == 200
    overrides["transparency"] = RateLimit(1, 60, 2)
    assert api.get(f"{BASE}/entries/1").status_code == 200
    assert api.get(f"{BASE}/entries/1").status_code == 200
    limited = api.get(f"{BASE}/proofs/inclusion", {"index": "1", "tree_size": "40"})
    assert limited.status_code == 429
    assert limited["Retry-After"]
    assert limited.json()["error"]["code"] == "rate_limited"
    other_ip = api.get(f"{BASE}/entries/1", REMOTE_ADDR="10.9.8.7")
    assert other_ip.status_code == 200


def test_endpoints_are_in_the_openapi_document(api):
    document = api.get("/v1/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("public-key", "checkpoint", "entries/{index}", "proofs/inclusion", "proofs/consistency"):
        operation = document["paths"][f"{BASE}/{path}"]["get"]
        assert "400" in operation["responses"] or path in ("public-key", "checkpoint")
    assert "text/plain" in document["paths"][f"{BASE}/checkpoint"]["get"]["responses"]["200"]["content"]


def test_a_served_contribution_is_covered_by_a_signed_checkpoint_within_seconds(live_server_factory):
    """A real ``manage.py serve`` (embedded default: the worker runs in the server process). A contribution
    created over HTTP is covered by a signed checkpoint within seconds, and its inclusion proof verifies.

    The separate-process shape (API and ``run_worker`` on the ws:// test bridge) hung the bridge in 2 of about
    6 full runs (both processes blocked on it); that is the test harness's single shared session, not
    something a real SurrealDB server has, so this end-to-end check runs on the embedded default. The
    separate worker's integration is covered by ``test_log`` (several integrators at once) and the outbox
    event by ``test_log`` and ``tests/webhooks/test_witness.py``.
    """
    server = live_server_factory()
    signup = {"email": "log@example.com", "username": "logger", "password": "correct horse battery"}
    token = httpx.post(f"{server.url}/v1/auth/signup", json=signup, timeout=30).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"title": "Cleared the drain", "contribution_type": "community_service"}
    created = httpx.post(f"{server.url}/v1/contributions", headers=headers, json=body, timeout=30).json()
    index = created["transparency"]["log_index"]
    key = verifier.parse_verifier_key(httpx.get(f"{server.url}{BASE}/public-key", timeout=30).text)
    deadline = time.monotonic() + 20
    covered = None
    while time.monotonic() < deadline and covered is None:
        response = httpx.get(f"{server.url}{BASE}/checkpoint", timeout=30)
        if response.status_code == 200:
            checkpoint = verifier.verify_checkpoint(response.content, key)
            if checkpoint.tree_size > index:
                covered = checkpoint
        if covered is None:
            time.sleep(0.1)  # polling interval only; the assertion is on the condition
    assert covered is not None, "no checkpoint covered the append within 20 s"
    entry_doc = httpx.get(f"{server.url}{BASE}/entries/{index}", timeout=30).json()
    data = b64d(entry_doc["leaf_data"])
    verifier.check_record(entry_doc["entry"], created)
    proof = httpx.get(f"{server.url}{BASE}/proofs/inclusion",
                      params={"index": index, "tree_size": covered.tree_size}, timeout=30).json()  # fmt: skip
    verifier.verify_inclusion(verifier.leaf_hash(data), index, covered.tree_size,
                              [b64d(p) for p in proof["path"]], covered.root_hash)  # fmt: skip
