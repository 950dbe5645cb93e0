"""Verified files cannot change (issue 10, point 1), on local files and on a real S3 server (SeaweedFS).

The attack: after confirm, PUT other bytes to the same upload URL (local: refused while the upload is
no longer pending; S3: the presigned PUT is valid for 300 s and recreates the upload key) and fetch
``/v1/evidence/{id}/media``. What is served must always hash to the recorded SHA-256: confirm moves the
object to a private staging key, checks exactly the version it reads, copies that version to
``evidence/sha256/<hex>``, and only that key is ever served.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.domain import Principal
from apps.core import jobs, metrics
from apps.core.db import run_sync
from apps.core.storage import get_storage
from apps.evidence import services_uploads
from tests.evidence.conftest import rfc3339
from tests.evidence.fixtures import get_object, jpeg, png, put_object, sha


def _ticket(user, cid, data, content_type="image/jpeg", **overrides):
    body = {"contribution_id": cid, "file_name": "photo.jpg", "content_type": content_type,
            "size_bytes": len(data), "sha256": sha(data), **overrides}  # fmt: skip
    response = user.post("/v1/evidence/uploads", body)
    assert response.status_code == 201, response.content
    return response.json()


def _put(user, ticket, data) -> int:
    return put_object(user.client, ticket["upload_url"], ticket["upload_headers"], data)


def _confirm(user, ticket):
    return user.post(f"/v1/evidence/uploads/{ticket['upload_id']}/confirm")


def _row(upload_id):
    return run_sync(services_uploads.repo.get_upload, upload_id)


def _evidence(user, cid, ticket, data) -> dict:
    body = {"contribution_id": cid, "evidence_type": "photo_with_timestamp", "upload_id": ticket["upload_id"],
            "proof": {"timestamp": rfc3339(), "media_hash": sha(data)}}  # fmt: skip
    response = user.post("/v1/evidence", body)
    assert response.status_code == 201, response.content
    return response.json()


def _served(user, api, evidence_id) -> bytes:
    """Follow the 307 of /media as a browser would (local: /storage/local/..., S3: the presigned GET)."""
    response = user.get(f"/v1/evidence/{evidence_id}/media")
    assert response.status_code == 307, response.content
    status, body = get_object(api, response["Location"])
    assert status == 200
    return body


def _all_keys() -> set[str]:
    """Every object in the store (local: files and metadata sidecars under MEDIA_ROOT)."""
    storage = get_storage()
    if storage.backend == "s3":
        listed = storage.client.list_objects_v2(Bucket=storage.bucket_name)
        return {item["Key"] for item in listed.get("Contents", [])}
    return {str(path.relative_to(storage.root)) for path in storage.root.rglob("*") if path.is_file()}


def _only(key: str) -> set[str]:
    """What ``_all_keys`` should hold when ``key`` is the one object left."""
    return {key} if get_storage().backend == "s3" else {key, f".meta/{key}.json"}


def _principal(user) -> Principal:
    return Principal(user.user_id, user.username, "", "user", "default", "", "", "bearer")


def test_put_after_confirm_is_refused_or_has_no_effect(backend, ana, api):
    cid = ana.contribution()["contribution_id"]
    data = jpeg()
    ticket = _ticket(ana, cid, data)
    assert _put(ana, ticket, data) == 200
    confirmed = _confirm(ana, ticket)
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["sha256"] == sha(data)
    row = _row(ticket["upload_id"])
    final = f"evidence/sha256/{sha(data)}"
    assert row["verified_key"] == final
    storage = get_storage()
    assert storage.head(row["storage_key"]) is None
    assert storage.head(services_uploads.staging_key(ticket["upload_id"])) is None
    assert _all_keys() == _only(final)
    assert storage.head(final).metadata["sha256"] == sha(data)

    other = bytearray(data)
    other[-3] ^= 0xFF  # different bytes, same length: the URL's signature still fits
    status = _put(ana, ticket, bytes(other))
    if backend == "local":
        assert status == 403
        response = ana.client.generic(
            "PUT", ticket["upload_url"], bytes(other), content_type=ticket["upload_headers"]["Content-Type"]
        )
        assert response.json()["error"] == {"code": "forbidden", "message": "this object is not open for upload"}
        assert storage.head(row["storage_key"]) is None  # nothing written
    else:
        assert status == 200  # the presigned PUT is valid until it expires: it recreates the upload key ...
        assert storage.head(row["storage_key"]) is not None

    # ... which confirm and /media never read.
    again = _confirm(ana, ticket)
    assert again.status_code == 200
    assert again.json() == confirmed.json()
    evidence = _evidence(ana, cid, ticket, data)
    assert evidence["media"]["sha256"] == sha(data)
    assert sha(_served(ana, api, evidence["evidence_id"])) == sha(data)
    with storage.open_stream(final) as stream:
        assert stream.read() == data


def test_rejected_file_leaves_no_object_behind(backend, ana):
    cid = ana.contribution()["contribution_id"]
    data = jpeg()
    ticket = _ticket(ana, cid, data, sha256="0" * 64)
    assert _put(ana, ticket, data) == 200
    rejected = _confirm(ana, ticket)
    assert rejected.status_code == 422
    assert rejected.json()["error"]["details"]["reason"] == "hash_mismatch"
    assert _all_keys() == set()
    assert _row(ticket["upload_id"])["verified_key"] is None
    # A later PUT (S3: URL still valid) and confirm change nothing: the decision is recorded.
    if backend == "local":
        assert _put(ana, ticket, data) == 403
    again = _confirm(ana, ticket)
    assert again.status_code == 422
    assert again.json()["error"]["details"]["reason"] == "hash_mismatch"
    assert not any(key.startswith(("evidence/sha256/", ".meta/evidence/sha256/")) for key in _all_keys())


def test_local_endpoint_refuses_verified_chat_and_finished_keys(local_storage, ana):
    storage = get_storage()
    cid = ana.contribution()["contribution_id"]

    # A verified object: even a correctly signed URL for its key cannot write it.
    data = png()
    ticket = _ticket(ana, cid, data, "image/png")
    assert _put(ana, ticket, data) == 200
    assert _confirm(ana, ticket).status_code == 200
    final = _row(ticket["upload_id"])["verified_key"]
    for key in (final, "chat-attachments/test/sha256/" + sha(b"chat"), services_uploads.staging_key("0" * 32)):
        if key.startswith("chat-"):
            storage.put_bytes(key, b"chat", content_type="image/png", metadata={})
        signed = storage.presigned_put(key, content_type="image/png", size_bytes=4, metadata={}, expires_s=300)
        assert put_object(ana.client, "http://testserver" + signed.url, signed.headers, b"evil") == 403, key
    with storage.open_stream(final) as stream:
        assert stream.read() == data
    with storage.open_stream("chat-attachments/test/sha256/" + sha(b"chat")) as stream:
        assert stream.read() == b"chat"
    assert storage.head(services_uploads.staging_key("0" * 32)) is None

    # An upload that is no longer pending: rejected, and expired (row deleted by the expiry job).
    bad = _ticket(ana, cid, b"hello", "text/plain", sha256="1" * 64)
    assert _put(ana, bad, b"hello") == 200
    assert _confirm(ana, bad).status_code == 422
    assert _put(ana, bad, b"hello") == 403
    stale = _ticket(ana, cid, b"stale", "text/plain")
    later = _row(stale["upload_id"])["created_at_ms"] + services_uploads.UNCONFIRMED_TTL_MS + 1
    assert run_sync(services_uploads.expire_unconfirmed_uploads, later) == 1
    assert _put(ana, stale, b"stale") == 403
    assert storage.head(_row(bad["upload_id"])["storage_key"]) is None

    # While pending, the same kind of URL works (the guard is not a blanket refusal).
    fresh = _ticket(ana, cid, b"fresh", "text/plain")
    assert _put(ana, fresh, b"fresh") == 200
    assert _put(ana, fresh, b"fresh") == 200  # re-PUT before confirm is allowed


def test_confirm_continues_from_staging_after_a_crash(backend, ana, api):
    """A confirm that died after the move: the upload key is gone, staging holds the file."""
    cid = ana.contribution()["contribution_id"]
    data = jpeg(lat=-7.0, lon=110.0)
    ticket = _ticket(ana, cid, data)
    assert _put(ana, ticket, data) == 200
    row = _row(ticket["upload_id"])
    staging = services_uploads.staging_key(ticket["upload_id"])
    get_storage().move(row["storage_key"], staging)
    confirmed = _confirm(ana, ticket)
    assert confirmed.status_code == 200, confirmed.content
    assert _all_keys() == _only(f"evidence/sha256/{sha(data)}")
    evidence = _evidence(ana, cid, ticket, data)
    assert _served(ana, api, evidence["evidence_id"]) == data


def test_confirm_before_the_put_is_still_409(backend, ana):
    cid = ana.contribution()["contribution_id"]
    ticket = _ticket(ana, cid, b"not yet", "text/plain")
    response = _confirm(ana, ticket)
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "the file has not been uploaded yet"
    assert _row(ticket["upload_id"])["status"] == "pending"


async def _confirm_concurrently(principal: Principal, upload_id: str, n: int) -> list[dict]:
    return await asyncio.gather(*(services_uploads.confirm_upload(principal, upload_id) for _ in range(n)))


class OverlappingMoves:
    """Stands in for the storage's ``move`` during one round: no confirm's move runs until all ``n`` confirms have
    reached it, then one moves and the others follow once it is done. Without it, whether the confirms overlapped
    was up to the scheduler, and a run where one finished before the others started failed the test."""

    def __init__(self, move, n: int) -> None:
        self.move, self.arrived, self.first_done = move, threading.Barrier(n, timeout=30), threading.Event()

    def __call__(self, src: str, dst: str) -> None:
        first = self.arrived.wait() == 0  # each confirm's thread waits here until all n have come
        if not first:
            assert self.first_done.wait(30), "the first move never finished"
        try:
            self.move(src, dst)
        finally:
            if first:
                self.first_done.set()


def test_concurrent_confirms_end_with_one_verified_row(backend, ana, api, monkeypatch):
    cid = ana.contribution()["contribution_id"]
    principal = _principal(ana)
    lost_moves = metrics.storage_operations_total.labels("move", "not_found")
    before = lost_moves._value.get()
    storage, move = get_storage(), get_storage().move
    for round_ in range(3):
        data = jpeg(lat=-6.0 - round_, lon=107.0)
        ticket = _ticket(ana, cid, data)
        assert _put(ana, ticket, data) == 200

        monkeypatch.setattr(storage, "move", OverlappingMoves(move, 4))
        results = run_sync(_confirm_concurrently, principal, ticket["upload_id"], 4)
        monkeypatch.setattr(storage, "move", move)
        assert all(result == results[0] for result in results)
        assert results[0]["status"] == "verified"
        assert results[0]["sha256"] == sha(data)
        row = _row(ticket["upload_id"])
        assert (row["status"], row["verified_key"]) == ("verified", f"evidence/sha256/{sha(data)}")
        assert services_uploads.staging_key(ticket["upload_id"]) not in _all_keys()
        assert row["storage_key"] not in _all_keys()
        evidence = _evidence(ana, cid, ticket, data)
        assert _served(ana, api, evidence["evidence_id"]) == data
    assert lost_moves._value.get() == before + 3 * 3  # in each round, three confirms found the key moved


def test_a_file_replaced_during_confirm_is_never_copied(backend, ana, monkeypatch):
    """Never hash one object and copy another: staging replaced after the read → the copy is refused."""
    cid = ana.contribution()["contribution_id"]
    data = jpeg()
    evil = bytearray(data)
    evil[-3] ^= 0xFF
    evil = bytes(evil)
    ticket = _ticket(ana, cid, data)
    assert _put(ana, ticket, data) == 200
    original = services_uploads._inspect

    def inspect_then_replace(storage, key, declared):
        found = original(storage, key, declared)
        # What a concurrent confirm does when it moves a re-PUT upload key over staging.
        storage.put_bytes(key, evil, content_type="image/jpeg", metadata={})
        return found

    monkeypatch.setattr(services_uploads, "_inspect", inspect_then_replace)
    response = _confirm(ana, ticket)
    assert response.status_code == 409, response.content
    assert "changed while it was being confirmed" in response.json()["error"]["message"]
    assert _row(ticket["upload_id"])["status"] == "pending"
    assert not any(key.startswith(("evidence/sha256/", ".meta/evidence/sha256/")) for key in _all_keys())

    monkeypatch.setattr(services_uploads, "_inspect", original)
    retried = _confirm(ana, ticket)  # staging now holds the other bytes: they fail the declared hash
    assert retried.status_code == 422
    assert retried.json()["error"]["details"]["reason"] == "hash_mismatch"
    assert _all_keys() == set()


def test_media_is_served_only_from_a_verified_key(local_storage, ana, surreal_db):
    cid = ana.contribution()["contribution_id"]
    data = png()
    ticket = _ticket(ana, cid, data, "image/png")
    assert _put(ana, ticket, data) == 200
    assert _confirm(ana, ticket).status_code == 200
    evidence = _evidence(ana, cid, ticket, data)
    run_sync(
        surreal_db.query,
        "UPDATE type::record('evidence_upload', $id) SET verified_key = NONE;",
        {"id": ticket["upload_id"]},
    )
    response = ana.get(f"/v1/evidence/{evidence['evidence_id']}/media")
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "evidence media not found"}


def test_sweep_deletes_upload_keys_after_the_url_expired(backend, ana, surreal_db):
    assert "evidence.clear_upload_keys" in {job.name for job in jobs.registered()}
    storage = get_storage()
    cid = ana.contribution()["contribution_id"]
    verified = _ticket(ana, cid, b"verified text", "text/plain")
    assert _put(ana, verified, b"verified text") == 200
    assert _confirm(ana, verified).status_code == 200
    rejected = _ticket(ana, cid, b"rejected text", "text/plain", sha256="2" * 64)
    assert _put(ana, rejected, b"rejected text") == 200
    assert _confirm(ana, rejected).status_code == 422
    pending = _ticket(ana, cid, b"pending text", "text/plain")
    assert _put(ana, pending, b"pending text") == 200
    rows = {name: _row(t["upload_id"]) for name, t in (("v", verified), ("r", rejected), ("p", pending))}
    # What a still-valid S3 PUT (or a confirm that died after its copy) leaves behind.
    for name in ("v", "r"):
        storage.put_bytes(rows[name]["storage_key"], b"left behind!!", content_type="text/plain", metadata={})
        storage.put_bytes(services_uploads.staging_key(rows[name]["upload_id"]), b"x", content_type="text/plain",
                          metadata={})  # fmt: skip

    created = max(row["created_at_ms"] for row in rows.values())
    assert run_sync(services_uploads.clear_finished_upload_keys, created) == 0  # URLs still valid
    assert storage.head(rows["v"]["storage_key"]) is not None
    after = created + services_uploads.CLEAR_AFTER_MS + 1
    assert run_sync(services_uploads.clear_finished_upload_keys, after) == 2
    for name in ("v", "r"):
        assert storage.head(rows[name]["storage_key"]) is None
        assert storage.head(services_uploads.staging_key(rows[name]["upload_id"])) is None
    assert storage.head(rows["p"]["storage_key"]) is not None  # pending: its URL may still be in use
    assert storage.head(f"evidence/sha256/{sha(b'verified text')}") is not None  # the served object stays
    assert run_sync(services_uploads.clear_finished_upload_keys, after) == 0  # each row once

    # A row from before 0002_verified_files (flag NONE): its upload key is its only copy; never swept.
    old = _ticket(ana, cid, b"old upload", "text/plain")
    assert _put(ana, old, b"old upload") == 200
    run_sync(
        surreal_db.query,
        "UPDATE type::record('evidence_upload', $id) SET status = 'linked', upload_key_cleared = NONE;",
        {"id": old["upload_id"]},
    )
    much_later = _row(old["upload_id"])["created_at_ms"] + services_uploads.CLEAR_AFTER_MS + 1
    assert run_sync(services_uploads.clear_finished_upload_keys, much_later) == 0
    assert storage.head(_row(old["upload_id"])["storage_key"]) is not None


def test_chat_attachments_are_content_addressed(backend, ana, api):
    storage = get_storage()
    image = png()
    headers = ana.headers()
    response = api.post(
        "/v1/chat/attachments/upload", {"file": SimpleUploadedFile("a.png", image, content_type="image/png")}, **headers
    )
    assert response.status_code == 201, response.content
    view = response.json()
    rows = run_sync(api_rows_query, view["attachment_id"])
    assert rows["sha256"] == sha(image)
    assert rows["object_key"] == f"chat-attachments/test/sha256/{sha(image)}"
    assert storage.head(rows["object_key"]).size == len(image)
    download = api.get(view["url"])
    if download.status_code == 307:
        status, body = get_object(api, download["Location"])
    else:
        status, body = download.status_code, b"".join(download.streaming_content)
    assert status == 200
    assert sha(body) == rows["sha256"]
    if backend == "local":  # no upload URL reaches an attachment's key
        signed = storage.presigned_put(rows["object_key"], content_type="image/png", size_bytes=len(image),
                                       metadata={}, expires_s=300)  # fmt: skip
        assert put_object(api, "http://testserver" + signed.url, signed.headers, image[::-1]) == 403


async def api_rows_query(attachment_id: str) -> dict:
    from apps.chat.repository import ChatRepository

    return await ChatRepository().get_attachment(attachment_id)


@pytest.fixture(autouse=True)
def _generous_upload_limits():
    from apps.core import ratelimit
    from gotong.config import RateLimit

    ratelimit.overrides["evidence_upload"] = RateLimit(100_000, 1, 100_000)
    ratelimit.overrides["chat_send"] = RateLimit(100_000, 1, 100_000)
    yield
    ratelimit.overrides.pop("evidence_upload", None)
    ratelimit.overrides.pop("chat_send", None)
