"""The public transparency API through the full middleware stack (Django test client), and one real server."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

import httpx
import pytest

from apps.core.db import SurrealClient, UnitOfWork, get_db, run_sync
from apps.core.ratelimit import overrides
from apps.transparency import services, verifier
from gotong.config import RateLimit
from tests.conftest import ROOT, server_env
from tests.transparency.support import KIND, append_many, b64d, entry, leaf_hashes

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


def test_a_real_worker_process_signs_a_checkpoint_covering_a_new_append(surreal_bridge, live_server_factory):
    """The production shape: API server and ``run_worker`` as separate processes on one database (the test
    bridge). An append made by another client is covered by a signed checkpoint within seconds, and the
    checkpoint's ``transparency_checkpoint`` outbox event exists."""
    env = {"SURREAL_ENDPOINT": surreal_bridge.endpoint, "SURREAL_NS": "app", "SURREAL_DB": "main",
           "WORKER_METRICS_PORT": "0"}  # fmt: skip
    migrated = subprocess.run([sys.executable, "manage.py", "surreal_migrate"], cwd=ROOT, env=server_env(**env),
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    server = live_server_factory(**env)
    worker = subprocess.Popen([sys.executable, "manage.py", "run_worker"], cwd=ROOT, env=server_env(**env),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        client = SurrealClient(surreal_bridge.endpoint, "app", "main")

        async def append() -> int:
            uow = UnitOfWork(client)
            slot = uow.add(services.append_statement(KIND, "live-1", entry(1)))
            return services.transparency_from((await uow.commit(operation="test"))[slot])["log_index"]

        index = run_sync(append)
        key = verifier.parse_verifier_key(httpx.get(f"{server.url}{BASE}/public-key", timeout=10).text)
        deadline = time.monotonic() + 20
        covered = None
        while time.monotonic() < deadline and covered is None:
            response = httpx.get(f"{server.url}{BASE}/checkpoint", timeout=10)
            if response.status_code == 200:
                checkpoint = verifier.verify_checkpoint(response.content, key)
                if checkpoint.tree_size > index:
                    covered = checkpoint
            if covered is None:
                time.sleep(0.1)  # polling interval only; the assertion is on the condition
        assert covered is not None, "no checkpoint covered the append within 20 s"
        proof = httpx.get(f"{server.url}{BASE}/proofs/inclusion",
                          params={"index": index, "tree_size": covered.tree_size}, timeout=10).json()  # fmt: skip
        data = verifier.canonical_json(entry(1)).encode()
        verifier.verify_inclusion(verifier.leaf_hash(data), index, covered.tree_size,
                                  [b64d(p) for p in proof["path"]], covered.root_hash)  # fmt: skip
        bodies = run_sync(client.query, "SELECT VALUE body FROM webhook_outbox_event WHERE event_type = $t;",
                          {"t": "transparency_checkpoint"})[-1]  # fmt: skip
        subjects = [json.loads(body)["subject"] for body in bodies]
        assert covered.tree_size in [s["tree_size"] for s in subjects]
    finally:
        worker.terminate()
        worker.wait(20)
