"""Direct-to-storage uploads on local files and on a real S3 server: verification, rejection, linking."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from apps.core.db import run_sync
from apps.core.storage import get_storage
from apps.evidence import services_uploads
from tests.evidence.conftest import rfc3339
from tests.evidence.fixtures import get_object, jpeg, jpeg_with_raw_exif, png, put_object, sha


def _ticket(user, cid, data, content_type="image/jpeg", **overrides):
    body = {"contribution_id": cid, "file_name": "photo.jpg", "content_type": content_type,
            "size_bytes": len(data), "sha256": sha(data), **overrides}  # fmt: skip
    return user.post("/v1/evidence/uploads", body)


def _upload(user, cid, data, content_type="image/jpeg", **overrides):
    response = _ticket(user, cid, data, content_type, **overrides)
    assert response.status_code == 201, response.content
    ticket = response.json()
    assert put_object(user.client, ticket["upload_url"], ticket["upload_headers"], data) in (200, 201, 204)
    return ticket, user.post(f"/v1/evidence/uploads/{ticket['upload_id']}/confirm")


def _exists(ticket) -> bool:
    row = run_sync(_upload_row, ticket["upload_id"])
    return get_storage().head(row["storage_key"]) is not None


async def _upload_row(upload_id):
    return await services_uploads.repo.get_upload(upload_id)


def _reason(response) -> str:
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "evidence_rejected"
    return response.json()["error"]["details"]["reason"]


def test_photo_flow_end_to_end(backend, ana, budi, api, surreal_db):
    cid = ana.contribution()["contribution_id"]
    captured = datetime.now(UTC) - timedelta(hours=2)
    data = jpeg(lat=-6.2, lon=106.8166, captured=captured)
    ticket, confirmed = _upload(ana, cid, data)
    assert ticket["upload_method"] == "PUT"
    assert ticket["upload_headers"]["Content-Type"] == "image/jpeg"
    row = run_sync(_upload_row, ticket["upload_id"])
    now = datetime.now(UTC)
    assert row["storage_key"] == f"evidence/{now:%Y}/{now:%m}/{ticket['upload_id']}"
    assert get_storage().head(row["storage_key"]) is None  # moved at confirm (tests/evidence/test_immutable_files.py)
    assert row["verified_key"] == f"evidence/sha256/{sha(data)}"
    info = get_storage().head(row["verified_key"])
    assert info.metadata == {"user_id": ana.user_id, "contribution_id": cid, "sha256": sha(data)}
    assert confirmed.status_code == 200, confirmed.content
    result = confirmed.json()
    assert result["status"] == "verified"
    assert result["sha256"] == sha(data)
    assert result["mime_type"] == "image/jpeg"
    exif = result["exif"]
    assert exif["captured_at_ms"] == int(captured.replace(microsecond=0).timestamp() * 1000)
    assert exif["lat"] == pytest.approx(-6.2, abs=1e-4)
    assert exif["lon"] == pytest.approx(106.8166, abs=1e-4)
    assert (exif["camera_make"], exif["camera_model"]) == ("Gotong", "TestCam 1")
    again = ana.post(f"/v1/evidence/uploads/{ticket['upload_id']}/confirm")
    assert again.status_code == 200
    assert again.json() == result

    # The original bytes are untouched.
    assert get_object(api, get_storage().presigned_get(row["verified_key"], expires_s=60)) == (200, data)

    proof = {"timestamp": rfc3339(timedelta(hours=-2)), "media_hash": "0" * 64}
    body = {
        "contribution_id": cid,
        "evidence_type": "photo_with_timestamp",
        "proof": proof,
        "upload_id": ticket["upload_id"],
    }
    mismatch = ana.post("/v1/evidence", body)
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["message"] == "validation failed: proof.media_hash does not match the uploaded file"
    body["proof"]["media_hash"] = sha(data).upper()
    created = ana.post("/v1/evidence", body)
    assert created.status_code == 201, created.content
    evidence = created.json()
    assert evidence["warnings"] == []
    media_keys = ("upload_id", "sha256", "mime_type", "size_bytes", "exif", "content_credentials")
    assert evidence["media"] == {k: result[k] for k in media_keys}
    assert ana.post("/v1/evidence", body).status_code == 409  # the upload is linked already

    media = ana.get(f"/v1/evidence/{evidence['evidence_id']}/media")
    assert media.status_code == 307
    assert get_object(api, media["Location"]) == (200, data)
    assert budi.get(f"/v1/evidence/{evidence['evidence_id']}/media").status_code == 403


def test_exif_disagreements_become_warnings(backend, ana):
    cid = ana.contribution()["contribution_id"]
    data = jpeg(lat=48.85, lon=2.35, captured=datetime.now(UTC) - timedelta(days=3))
    ticket, confirmed = _upload(ana, cid, data)
    assert confirmed.status_code == 200
    proof = {"timestamp": rfc3339(), "media_hash": sha(data)}
    body = {
        "contribution_id": cid,
        "evidence_type": "photo_with_timestamp",
        "proof": proof,
        "upload_id": ticket["upload_id"],
    }
    created = ana.post("/v1/evidence", body)
    assert created.status_code == 201
    assert created.json()["warnings"] == ["exif_time_mismatch", "outside_service_area"]


@pytest.mark.parametrize(
    ("name", "data", "content_type", "declared_sha", "reason"),
    [
        ("wrong hash", b"%PDF-1.4 hello", "application/pdf", "0" * 64, "hash_mismatch"),
        ("png declared as jpeg", None, "image/jpeg", None, "type_mismatch"),
        ("executable renamed .jpg", b"MZ\x90\x00" + b"\x00" * 200, "image/jpeg", None, "type_not_allowed"),
        ("elf renamed .jpg", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "image/jpeg", None, "type_not_allowed"),
        ("text declared as json", b"hello world", "application/json", None, "type_mismatch"),
    ],
)
def test_rejected_files_are_deleted(backend, ana, name, data, content_type, declared_sha, reason):
    data = png() if data is None else data
    cid = ana.contribution()["contribution_id"]
    overrides = {"sha256": declared_sha} if declared_sha else {}
    ticket, confirmed = _upload(ana, cid, data, content_type, **overrides)
    assert _reason(confirmed) == reason
    assert not _exists(ticket)
    assert _reason(ana.post(f"/v1/evidence/uploads/{ticket['upload_id']}/confirm")) == reason  # idempotent
    proof = {"timestamp": rfc3339(), "media_hash": declared_sha or sha(data)}
    body = {
        "contribution_id": cid,
        "evidence_type": "photo_with_timestamp",
        "proof": proof,
        "upload_id": ticket["upload_id"],
    }
    assert ana.post("/v1/evidence", body).status_code == 409


def _tiff(entries: int, *, next_ifd: int = 0, count_override: int | None = None) -> bytes:
    body = struct.pack("<H", count_override if count_override is not None else entries)
    body += b"".join(struct.pack("<HHII", 0x010F, 2, 4, 0x41414141) for _ in range(entries))
    return b"II*\x00" + struct.pack("<I", 8) + body + struct.pack("<I", next_ifd)


@pytest.mark.parametrize(
    ("tiff", "reason"),
    [
        (_tiff(600), "exif_too_large"),  # an IFD with hundreds of entries
        (_tiff(1, next_ifd=8), "exif_too_large"),  # an IFD chain looping to itself
        (_tiff(1, count_override=40), "exif_malformed"),  # declares more entries than it holds
        (b"JUNKJUNKJUNK", "exif_malformed"),
    ],
)
def test_exif_bombs_and_malformed_exif(local_storage, ana, tiff, reason):
    cid = ana.contribution()["contribution_id"]
    ticket, confirmed = _upload(ana, cid, jpeg_with_raw_exif(tiff))
    assert _reason(confirmed) == reason
    assert not _exists(ticket)


def test_exif_gps_out_of_range_is_malformed(local_storage, ana):
    cid = ana.contribution()["contribution_id"]
    _, confirmed = _upload(ana, cid, jpeg(lat=95.0, lon=10.0))
    assert _reason(confirmed) == "exif_malformed"


def test_upload_request_rules(local_storage, ana, budi):
    cid = ana.contribution()["contribution_id"]
    data = b"hello"
    too_big = _ticket(ana, cid, data, "image/jpeg", size_bytes=200 * 1024 * 1024)
    assert too_big.status_code == 413
    assert too_big.json()["error"]["details"]["limit_bytes"] == 15 * 1024 * 1024
    empty = _ticket(ana, cid, b"", "text/plain")
    assert empty.status_code == 400
    assert empty.json()["error"]["details"]["fields"] == {
        "size_bytes": ["size_bytes must be a positive integer (empty files are not accepted)"]
    }
    unknown = _ticket(ana, cid, data, "application/x-msdownload")
    assert unknown.status_code == 400
    assert "content_type must be one of" in unknown.json()["error"]["message"]
    assert _ticket(ana, cid, data, "text/plain", sha256="abc").status_code == 400
    assert _ticket(budi, cid, data, "text/plain").status_code == 403
    assert _ticket(ana, "0" * 32, data, "text/plain").status_code == 404


def test_another_users_upload_and_unknown_uploads(local_storage, ana, budi):
    cid = ana.contribution()["contribution_id"]
    ticket, confirmed = _upload(ana, cid, b"plain text", "text/plain")
    assert confirmed.status_code == 200
    assert budi.post(f"/v1/evidence/uploads/{ticket['upload_id']}/confirm").status_code == 404
    other = budi.contribution()["contribution_id"]
    body = {"contribution_id": other, "evidence_type": "photo_with_timestamp", "upload_id": ticket["upload_id"],
            "proof": {"timestamp": rfc3339(), "media_hash": sha(b"plain text")}}  # fmt: skip
    assert budi.post("/v1/evidence", body).status_code == 404
    assert ana.post("/v1/evidence/uploads/" + "0" * 32 + "/confirm").status_code == 404


def test_truncated_upload_is_refused(backend, ana):
    cid = ana.contribution()["contribution_id"]
    data = jpeg()
    ticket = _ticket(ana, cid, data).json()
    status = put_object(ana.client, ticket["upload_url"], ticket["upload_headers"], data[:-100])
    assert status in (400, 403)  # the length is part of the signature
    confirm = ana.post(f"/v1/evidence/uploads/{ticket['upload_id']}/confirm")
    assert confirm.status_code == 409  # nothing stored: upload again
    assert confirm.json()["error"]["message"] == "the file has not been uploaded yet"


def test_size_mismatch_when_the_store_does_not_bind_length(local_storage, ana):
    cid = ana.contribution()["contribution_id"]
    data = b"0123456789"
    ticket = _ticket(ana, cid, data, "text/plain").json()
    key = run_sync(_upload_row, ticket["upload_id"])["storage_key"]
    get_storage().put_bytes(key, data[:5], content_type="text/plain", metadata={})
    assert _reason(ana.post(f"/v1/evidence/uploads/{ticket['upload_id']}/confirm")) == "size_mismatch"
    assert get_storage().head(key) is None


def test_unconfirmed_uploads_expire_after_an_hour(backend, ana):
    from apps.core import jobs

    assert "evidence.expire_uploads" in {job.name for job in jobs.registered()}
    cid = ana.contribution()["contribution_id"]
    stale, _ = _upload(ana, cid, b"stale text", "text/plain"), None
    ticket = _ticket(ana, cid, b"pending", "text/plain").json()
    put_object(ana.client, ticket["upload_url"], ticket["upload_headers"], b"pending")
    key = run_sync(_upload_row, ticket["upload_id"])["storage_key"]
    assert run_sync(services_uploads.expire_unconfirmed_uploads) == 0  # younger than an hour
    later = run_sync(_upload_row, ticket["upload_id"])["created_at_ms"] + 3600 * 1000 + 1
    assert run_sync(services_uploads.expire_unconfirmed_uploads, later) == 1
    assert get_storage().head(key) is None
    assert run_sync(_upload_row, ticket["upload_id"]) is None
    assert run_sync(_upload_row, stale[0]["upload_id"])["status"] == "verified"  # confirmed ones stay
