"""File checks in isolation: sniffing, streaming, robustness against damaged EXIF; upload rate limit; moderators."""

from __future__ import annotations

import io
import random

import pytest

from apps.accounts.repository import AccountsRepository
from apps.core.db import run_sync
from apps.core.errors import EvidenceRejected
from apps.core.ratelimit import overrides
from apps.evidence import files
from gotong.config import RateLimit
from tests.evidence.conftest import rfc3339
from tests.evidence.fixtures import jpeg, png, put_object, sha


@pytest.mark.parametrize(
    ("head", "is_text", "expected"),
    [
        (b"\xff\xd8\xff\xe0", False, "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", False, "image/png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", False, "image/webp"),
        (b"\x00\x00\x00\x18ftypheic", False, "image/heic"),
        (b"\x00\x00\x00\x18ftypisom", False, "video/mp4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x82\x84webm", False, "video/webm"),
        (b"%PDF-1.7", False, "application/pdf"),
        (b' {"type": "Feature"}', True, "application/json"),
        (b"hello", True, "text/plain"),
        (b"MZ\x90\x00", False, None),
        (b"\x7fELF", False, None),
    ],
)
def test_sniff(head, is_text, expected):
    assert files.sniff(head, is_text=is_text) == expected


def test_inspect_streams_in_chunks_and_keeps_only_the_head():
    data = jpeg() + b"\x00" * (3 * files.CHUNK)
    reads: list[int] = []

    class Stream(io.BytesIO):
        def read(self, n=-1):
            reads.append(n)
            return super().read(n)

    found = files.inspect_stream(Stream(data))
    assert found.sha256 == sha(data)
    assert found.size == len(data)
    assert found.mime_type == "image/jpeg"
    assert found.exif["camera_model"] == "TestCam 1"
    assert set(reads) == {files.CHUNK}  # never read(-1): the object is not read whole


def test_damaged_exif_never_crashes():
    """Random byte flips inside the EXIF segment: a verdict or a 422 reason, never another exception."""
    original = jpeg()
    start = original.index(b"Exif\x00\x00")
    rng = random.Random(7)
    for _ in range(300):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(start, start + 200)] = rng.randrange(256)
        try:
            files.inspect_stream(io.BytesIO(bytes(data)))
        except EvidenceRejected as exc:
            pytest.fail(f"inspect_stream must report EXIF problems in exif_error, not raise: {exc}")
        found = files.inspect_stream(io.BytesIO(bytes(data)))
        if found.exif_error is not None:
            assert found.exif_error.details["reason"] in ("exif_malformed", "exif_too_large")


def test_upload_requests_are_rate_limited(local_storage, ana):
    overrides["evidence_upload"] = RateLimit(1, 3600, 1)
    cid = ana.contribution()["contribution_id"]
    body = {
        "contribution_id": cid,
        "file_name": "a.txt",
        "content_type": "text/plain",
        "size_bytes": 1,
        "sha256": sha(b"a"),
    }
    assert ana.post("/v1/evidence/uploads", body).status_code == 201
    limited = ana.post("/v1/evidence/uploads", body)
    assert limited.status_code == 429
    assert limited["Retry-After"]


def test_moderators_may_fetch_media(local_storage, ana, budi):
    cid = ana.contribution()["contribution_id"]
    data = png()
    body = {
        "contribution_id": cid,
        "file_name": "p.png",
        "content_type": "image/png",
        "size_bytes": len(data),
        "sha256": sha(data),
    }
    ticket = ana.post("/v1/evidence/uploads", body).json()
    put_object(ana.client, ticket["upload_url"], ticket["upload_headers"], data)
    assert ana.post(f"/v1/evidence/uploads/{ticket['upload_id']}/confirm").json()["exif"] is None
    evidence = ana.post(
        "/v1/evidence",
        {"contribution_id": cid, "evidence_type": "photo_with_timestamp", "upload_id": ticket["upload_id"],
         "proof": {"timestamp": rfc3339(), "media_hash": sha(data)}},
    ).json()  # fmt: skip
    path = f"/v1/evidence/{evidence['evidence_id']}/media"
    assert budi.get(path).status_code == 403
    run_sync(AccountsRepository().set_user_fields, budi.user_id, {"role": "moderator"})
    assert budi.get(path).status_code == 307
