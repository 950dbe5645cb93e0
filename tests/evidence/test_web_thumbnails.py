"""Thumbnails of image evidence (issue 11, point 4), on local files and on a real S3 server (SeaweedFS).

A real JPEG with GPS EXIF (piexif) goes through the API's upload flow. The page links the thumbnail
endpoint, which answers a redirect to a ≤ 320 px JPEG without any EXIF (no GPS), stored under its own
prefix keyed by the original's SHA-256; the original at its verified key is byte-identical (its hash is
the recorded one, it still carries its GPS) and stays the only file /media serves. Only those who may
open the original get a thumbnail.
"""

from __future__ import annotations

import io

from django.test import Client

from apps.core.storage import get_storage
from apps.evidence import files, thumbnails
from tests.evidence.conftest import rfc3339
from tests.evidence.fixtures import get_object, jpeg, png, put_object, sha


def upload_photo(user, cid: str, data: bytes | None = None, content_type: str = "image/jpeg"):
    """(evidence, bytes, sha256) of a photo uploaded, confirmed and linked through the API."""
    data = data if data is not None else jpeg(lat=-7.7956, lon=110.3695, size=(1600, 1200))
    body = {"contribution_id": cid, "file_name": "photo.jpg", "content_type": content_type,
            "size_bytes": len(data), "sha256": sha(data)}  # fmt: skip
    ticket = user.post("/v1/evidence/uploads", body)
    assert ticket.status_code == 201, ticket.content
    ticket = ticket.json()
    assert put_object(user.client, ticket["upload_url"], ticket["upload_headers"], data) == 200
    confirmed = user.post(f"/v1/evidence/uploads/{ticket['upload_id']}/confirm")
    assert confirmed.status_code == 200, confirmed.content
    evidence = user.post("/v1/evidence", {"contribution_id": cid, "evidence_type": "photo_with_timestamp",
                                          "upload_id": ticket["upload_id"],
                                          "proof": {"timestamp": rfc3339(), "media_hash": sha(data)}})  # fmt: skip
    assert evidence.status_code == 201, evidence.content
    return evidence.json(), data, sha(data)


def _page_client(user):
    from tests.evidence.test_web_pages import _browser

    return _browser(user)


def _gps_of(data: bytes) -> dict:
    import piexif

    try:
        return piexif.load(data).get("GPS") or {}
    except Exception:  # no EXIF segment at all
        return {}


def test_thumbnail_is_small_has_no_gps_and_the_original_is_unchanged(backend, ana, budi, api):
    from PIL import Image

    cid = ana.contribution()["contribution_id"]
    evidence, original, digest = upload_photo(ana, cid)
    eid = evidence["evidence_id"]
    assert _gps_of(original), "the test photo must carry GPS"
    page = _page_client(ana)

    html = page.get(f"/contributions/{cid}").content.decode()
    assert f'src="/evidence/{eid}/thumbnail"' in html  # the page uses the thumbnail ...
    assert f'href="/v1/evidence/{eid}/media"' in html  # ... and links the original

    response = page.get(f"/evidence/{eid}/thumbnail")
    assert response.status_code == 302, response.content
    status, thumb = get_object(api, response["Location"])
    assert status == 200
    image = Image.open(io.BytesIO(thumb))
    assert image.format == "JPEG"
    assert max(image.size) <= 320
    assert image.size == (320, 240)
    assert not image.getexif()
    assert "exif" not in image.info
    assert _gps_of(thumb) == {}

    # Stored under its own prefix, keyed by the original's hash; the original is untouched.
    storage = get_storage()
    assert storage.head(thumbnails.thumbnail_key(digest)) is not None
    with storage.open_stream(files.verified_key(digest)) as stream:
        stored = stream.read()
    assert sha(stored) == digest
    assert stored == original
    assert _gps_of(stored)
    served = ana.get(f"/v1/evidence/{eid}/media")
    assert served.status_code == 307
    assert "thumbnails" not in served["Location"]
    assert get_object(api, served["Location"]) == (200, original)

    # Cached: a second request reuses the stored thumbnail (same bytes, no second render).
    again = page.get(f"/evidence/{eid}/thumbnail")
    assert get_object(api, again["Location"]) == (200, thumb)

    # Another member sees the evidence but neither the original nor a thumbnail.
    as_budi = _page_client(budi)
    other = as_budi.get(f"/contributions/{cid}").content.decode()
    assert "/thumbnail" not in other
    assert f"/v1/evidence/{eid}/media" not in other
    assert digest in other  # the hash is public with the evidence
    assert as_budi.get(f"/evidence/{eid}/thumbnail").status_code == 403
    assert Client().get(f"/evidence/{eid}/thumbnail").status_code == 404  # anonymous


def test_png_with_transparency_and_unknown_ids(local_storage, ana, api):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (500, 1000), (10, 20, 30, 0)).save(out, "PNG")
    cid = ana.contribution()["contribution_id"]
    evidence, _, _ = upload_photo(ana, cid, out.getvalue(), "image/png")
    page = _page_client(ana)
    response = page.get(f"/evidence/{evidence['evidence_id']}/thumbnail")
    status, thumb = get_object(api, response["Location"])
    assert status == 200
    assert Image.open(io.BytesIO(thumb)).size == (160, 320)
    assert page.get("/evidence/" + "0" * 32 + "/thumbnail").status_code == 404
    assert page.get("/evidence/not-an-id/thumbnail").status_code == 404


def test_undecodable_image_gets_no_thumbnail_but_keeps_its_original(local_storage, ana):
    """A file that passed confirm but that Pillow cannot render: 404 for the thumbnail, nothing stored."""
    data = png()[:40]  # PNG magic bytes, truncated body
    cid = ana.contribution()["contribution_id"]
    evidence, _, digest = upload_photo(ana, cid, data, "image/png")
    response = _page_client(ana).get(f"/evidence/{evidence['evidence_id']}/thumbnail")
    assert response.status_code == 404
    assert get_storage().head(thumbnails.thumbnail_key(digest)) is None
    assert ana.get(f"/v1/evidence/{evidence['evidence_id']}/media").status_code == 307


def test_render_applies_orientation_and_strips_every_metadata():
    import piexif
    from PIL import Image

    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: 6, piexif.ImageIFD.Make: b"Cam"},
                        "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"S",
                                piexif.GPSIFD.GPSLatitude: ((7, 1), (47, 1), (0, 1))}})  # fmt: skip
    out = io.BytesIO()
    Image.new("RGB", (800, 400), (200, 10, 10)).save(out, "JPEG", exif=exif)
    thumb = thumbnails.render(io.BytesIO(out.getvalue()))
    image = Image.open(io.BytesIO(thumb))
    assert image.size == (160, 320)  # rotated upright, then fitted in 320
    assert not image.getexif()
    assert b"Exif" not in thumb[:2048]
