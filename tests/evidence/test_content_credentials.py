"""C2PA content credentials of evidence media (issue 10, point 7).

Files are signed here with c2pa's own Builder and a callback Signer, by throwaway certificates
generated in the test (tests/support/c2pa_signing.py), then tampered with. The reader under test
is the real c2pa native library; nothing is mocked.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from html import unescape
from pathlib import Path

import pytest
from django.template import Context, Template
from django.test import Client

from apps.evidence import credentials, services_uploads
from apps.evidence.credentials import content_credentials, summarize
from apps.evidence.templatetags.content_credentials import badge_text
from tests.evidence.conftest import rfc3339
from tests.evidence.fixtures import jpeg, put_object, sha
from tests.support.c2pa_signing import CLAIM_GENERATOR, SignedAsset, image_bytes, make_identity, sign

FORMATS = [("JPEG", "image/jpeg"), ("PNG", "image/png")]
NONE_FIELDS = {"claim_generator": None, "issuer": None, "signed_at": None}


@pytest.fixture(scope="module")
def identity():
    return make_identity("Gotong Royong Test Signer")


@pytest.fixture(scope="module")
def stranger():
    """Another CA and signer: valid signatures, never in our anchors."""
    return make_identity("Someone Else Entirely")


@pytest.fixture(scope="module")
def signed(identity) -> dict[str, SignedAsset]:
    return {mime: sign(identity, image_bytes(fmt), mime) for fmt, mime in FORMATS}


@pytest.fixture
def anchors(settings, tmp_path, identity):
    """``C2PA_TRUST_ANCHORS`` naming a PEM file with the test CA."""
    path = identity.write_anchors(tmp_path)
    settings.CONFIG = dataclasses.replace(settings.CONFIG, c2pa_trust_anchors=str(path))
    return path


@pytest.fixture(autouse=True)
def no_anchors_by_default(settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, c2pa_trust_anchors="")


def read(tmp_path: Path, data: bytes, mime_type: str) -> dict | None:
    path = tmp_path / "spooled"
    path.write_bytes(data)
    return content_credentials(str(path), mime_type)


def flip(data: bytes, at: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


def pixel_offset(asset: bytes, mime_type: str) -> int:
    """A byte of image data outside the manifest: inside JPEG scan data / the PNG IDAT chunk."""
    if mime_type == "image/jpeg":
        return asset.rindex(b"\xff\xd9") - 10  # just before End Of Image, inside the entropy-coded data
    return asset.index(b"IDAT") + 4 + 10


# -- reading files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mime"), FORMATS)
def test_valid_signature_outside_the_anchors_is_valid_not_trusted(tmp_path, signed, fmt, mime):
    summary = read(tmp_path, signed[mime].data, mime)
    assert summary == {
        "present": True,
        "validation_state": "valid",
        "codes": ["signingCredential.untrusted"],
        "claim_generator": f"{CLAIM_GENERATOR['name']} {CLAIM_GENERATOR['version']}",
        "issuer": "Gotong Royong Test Signer",
        "signed_at": None,  # no timestamp authority: c2pa gives no trusted signing time
    }


@pytest.mark.parametrize(("fmt", "mime"), FORMATS)
def test_signature_chained_to_an_anchor_is_trusted(tmp_path, signed, anchors, fmt, mime):
    summary = read(tmp_path, signed[mime].data, mime)
    assert summary["validation_state"] == "trusted"
    assert summary["present"] is True
    assert summary["codes"] == []
    assert summary["issuer"] == "Gotong Royong Test Signer"


def test_anchors_of_someone_else_do_not_make_a_signer_trusted(tmp_path, settings, signed, stranger):
    path = stranger.write_anchors(tmp_path)
    settings.CONFIG = dataclasses.replace(settings.CONFIG, c2pa_trust_anchors=str(path))
    summary = read(tmp_path, signed["image/jpeg"].data, "image/jpeg")
    assert summary["validation_state"] == "valid"
    assert summary["codes"] == ["signingCredential.untrusted"]
    # ... and the stranger's own file is trusted under its anchors: the setting is really applied.
    theirs = sign(stranger, image_bytes("JPEG"), "image/jpeg")
    assert read(tmp_path, theirs.data, "image/jpeg")["validation_state"] == "trusted"


def test_unreadable_anchors_file_means_no_anchors_not_an_error(tmp_path, settings, signed):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, c2pa_trust_anchors=str(tmp_path / "missing.pem"))
    assert read(tmp_path, signed["image/png"].data, "image/png")["validation_state"] == "valid"
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"\xff\xfe not a certificate")
    settings.CONFIG = dataclasses.replace(settings.CONFIG, c2pa_trust_anchors=str(garbage))
    assert read(tmp_path, signed["image/png"].data, "image/png")["validation_state"] == "valid"


@pytest.mark.parametrize("with_anchors", [False, True])
@pytest.mark.parametrize(("fmt", "mime"), FORMATS)
def test_image_bytes_edited_after_signing_are_invalid(tmp_path, request, signed, with_anchors, fmt, mime):
    if with_anchors:
        request.getfixturevalue("anchors")  # even a trusted signer cannot vouch for changed pixels
    asset = signed[mime]
    tampered = flip(asset.data, pixel_offset(asset.data, mime))
    assert asset.signature in tampered  # the manifest itself is untouched
    summary = read(tmp_path, tampered, mime)
    assert summary["present"] is True
    assert summary["validation_state"] == "invalid"
    assert summary["codes"][0] == "assertion.dataHash.mismatch"


@pytest.mark.parametrize("with_anchors", [False, True])
@pytest.mark.parametrize(("fmt", "mime"), FORMATS)
def test_damaged_claim_signature_is_invalid(tmp_path, request, signed, with_anchors, fmt, mime):
    if with_anchors:
        request.getfixturevalue("anchors")
    asset = signed[mime]
    assert asset.data.count(asset.signature) == 1
    tampered = flip(asset.data, asset.data.index(asset.signature) + 7)
    summary = read(tmp_path, tampered, mime)
    assert summary["present"] is True
    assert summary["validation_state"] == "invalid"
    assert summary["codes"][0] == "claimSignature.mismatch"


@pytest.mark.parametrize(("fmt", "mime"), FORMATS)
def test_truncated_file_that_carries_a_manifest_is_invalid_never_an_error(tmp_path, signed, fmt, mime):
    data = signed[mime].data
    half = read(tmp_path, data[: len(data) // 2], mime)  # the manifest store is in the first half
    assert half == {"present": True, "validation_state": "invalid", "codes": ["general.error"], **NONE_FIELDS}
    tail_cut = read(tmp_path, data[:-100], mime)  # the image data is cut, the manifest is whole
    assert tail_cut["present"] is True
    assert tail_cut["validation_state"] == "invalid"
    assert tail_cut["codes"][0] in ("general.error", "assertion.dataHash.mismatch")


@pytest.mark.parametrize(
    ("name", "data"),
    [("garbage segment", b"\xff\xd8\xff\xeb" + b"\x00" * 500), ("not a jpeg", b"GIF89a" + b"\x07" * 100)],
)
def test_corrupt_files_without_a_detectable_manifest(tmp_path, name, data):
    summary = read(tmp_path, data, "image/jpeg")
    assert summary == {"present": False, "validation_state": None, "codes": ["general.error"], **NONE_FIELDS}
    # An empty file, or one cut right after its magic bytes, simply has no manifest.
    for nothing in (b"", b"\xff\xd8\xff"):
        assert read(tmp_path, nothing, "image/jpeg") == {"present": False, "validation_state": None, "codes": [],
                                                         **NONE_FIELDS}  # fmt: skip


def test_first_bytes_of_a_signed_file_never_read_as_valid(tmp_path, signed):
    data = signed["image/jpeg"].data
    for cut in (30, 200, 1000, len(data) // 3, len(data) - 1):
        summary = read(tmp_path, data[:cut], "image/jpeg")
        assert summary["validation_state"] in (None, "invalid"), cut
        assert summary["codes"], cut


def test_plain_images_have_no_credentials(tmp_path):
    assert read(tmp_path, jpeg(), "image/jpeg") == {
        "present": False, "validation_state": None, "codes": [], **NONE_FIELDS
    }  # fmt: skip
    assert read(tmp_path, image_bytes("PNG"), "image/png")["present"] is False


def test_video_types_are_read_and_unsupported_containers_have_none(tmp_path):
    # video/webm is allowed for evidence but is not a container c2pa reads: no credentials, no error.
    assert read(tmp_path, b"\x1a\x45\xdf\xa3" + b"\x00" * 64, "video/webm") == {
        "present": False, "validation_state": None, "codes": [], **NONE_FIELDS
    }  # fmt: skip
    assert read(tmp_path, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4")["validation_state"] is None


@pytest.mark.parametrize("mime", ["application/pdf", "text/plain", "application/json", "application/geo+json"])
def test_other_types_are_not_applicable(tmp_path, signed, mime):
    assert read(tmp_path, signed["image/jpeg"].data, mime) is None


def test_summary_never_upgrades_an_unknown_state_and_bounds_manifest_strings():
    store = {
        "active_manifest": "m",
        "manifests": {"m": {"claim_generator": "x" * 5000, "signature_info": {"issuer": "<b>" * 100}}},
        "validation_state": "Unknown",
        "validation_results": {"activeManifest": {"failure": [{"code": f"c{i}"} for i in range(100)]}},
    }
    summary = summarize(store)
    assert summary["validation_state"] == "invalid"
    assert len(summary["claim_generator"]) == credentials.MAX_TEXT_CHARS
    assert len(summary["issuer"]) == credentials.MAX_TEXT_CHARS
    assert len(summary["codes"]) == credentials.MAX_CODES
    assert summarize({"manifests": {}})["codes"] == ["general.error"]


# -- the badge ---------------------------------------------------------------------------------------


def test_badge_wording():
    base = {"present": True, "codes": [], **NONE_FIELDS}
    assert badge_text(None) == ""
    assert badge_text({"present": False, "validation_state": None, "codes": [], **NONE_FIELDS}) == (
        "Content credentials: none"
    )
    assert badge_text(base | {"validation_state": "valid"}) == "Content credentials: valid"
    assert badge_text(base | {"validation_state": "trusted"}) == "Content credentials: trusted"
    invalid = base | {"validation_state": "invalid"}
    assert badge_text(invalid | {"codes": ["assertion.dataHash.mismatch", "signingCredential.untrusted"]}) == (
        "Content credentials: invalid — file changed after signing (assertion.dataHash.mismatch)"
    )
    assert badge_text(invalid | {"codes": ["claimSignature.mismatch"]}) == (
        "Content credentials: invalid — signature does not match (claimSignature.mismatch)"
    )
    assert badge_text(invalid | {"codes": ["some.newCode"]}) == "Content credentials: invalid — some.newCode"


def test_badge_tag_escapes_manifest_text():
    summary = {"present": True, "validation_state": "valid", "codes": ["signingCredential.untrusted"],
               "claim_generator": "<script>x</script>", "issuer": '"><img src=x>', "signed_at": None}  # fmt: skip
    html = Template("{% load content_credentials %}{% credentials_badge cc %}").render(Context({"cc": summary}))
    assert 'class="cc-badge cc-valid"' in html
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html
    assert Template("{% load content_credentials %}{% credentials_badge cc %}").render(Context({"cc": None})) == ""


# -- the OpenAPI document -----------------------------------------------------------------------------


def test_openapi_documents_content_credentials(api):
    document = api.get("/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schemas = document["components"]["schemas"]
    cc = schemas["ContentCredentials"]
    assert set(cc["properties"]) == {"present", "validation_state", "codes", "claim_generator", "issuer",
                                     "signed_at"}  # fmt: skip
    assert cc["properties"]["validation_state"].get("nullable") or any(
        "null" in str(part) for part in cc["properties"]["validation_state"].get("oneOf", [])
    )
    for shape in ("Media", "UploadVerified"):
        prop = schemas[shape]["properties"]["content_credentials"]
        assert prop.get("nullable") is True, (shape, prop)
        assert "ContentCredentials" in str(prop)


# -- end to end: confirm, evidence, pages ---------------------------------------------------------------

CONFIRM_CALLS_IT = "content_credentials" in inspect.getsource(services_uploads)


def _upload(user, cid: str, data: bytes, mime: str) -> dict:
    body = {"contribution_id": cid, "file_name": "photo", "content_type": mime, "size_bytes": len(data),
            "sha256": sha(data)}  # fmt: skip
    response = user.post("/v1/evidence/uploads", body)
    assert response.status_code == 201, response.content
    ticket = response.json()
    assert put_object(user.client, ticket["upload_url"], ticket["upload_headers"], data) in (200, 201, 204)
    confirmed = user.post(f"/v1/evidence/uploads/{ticket['upload_id']}/confirm")
    assert confirmed.status_code == 200, confirmed.content
    return confirmed.json()


def _evidence(user, cid: str, upload: dict) -> dict:
    body = {"contribution_id": cid, "evidence_type": "photo_with_timestamp", "upload_id": upload["upload_id"],
            "proof": {"timestamp": rfc3339(), "media_hash": upload["sha256"]}}  # fmt: skip
    response = user.post("/v1/evidence", body)
    assert response.status_code == 201, response.content
    return response.json()


def _badges(html: str) -> list[str]:
    return [unescape(b) for b in re.findall(r'<span class="cc-badge[^"]*"[^>]*>([^<]*)</span>', html)]


def _moderator_client(make_user) -> Client:
    """A moderator signed in through the admin login page (as tests/moderation does)."""
    from apps.accounts.repository import AccountsRepository
    from apps.core.db import run_sync
    from tests.evidence.conftest import PASSWORD

    mia = make_user("mia")
    run_sync(AccountsRepository().set_user_fields, mia.user_id, {"role": "moderator"})
    client = Client()
    login = client.get("/admin/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
    response = client.post("/admin/login/", {"email": "mia@example.com", "password": PASSWORD, "next": "/admin/",
                                             "csrfmiddlewaretoken": token})  # fmt: skip
    assert response.status_code == 302, response.content
    return client


INVALID_PIXELS = "Content credentials: invalid — file changed after signing (assertion.dataHash.mismatch)"


@pytest.mark.skipif(not CONFIRM_CALLS_IT, reason="confirm_upload does not call content_credentials yet")
def test_confirm_stores_credentials_and_pages_show_the_badge(local_storage, anchors, ana, budi, make_user, signed):
    cid = ana.contribution()["contribution_id"]
    good = signed["image/jpeg"].data
    tampered = flip(good, pixel_offset(good, "image/jpeg"))
    uploads = [_upload(ana, cid, data, "image/jpeg") for data in (good, tampered, jpeg())]
    assert [u["content_credentials"]["validation_state"] for u in uploads] == ["trusted", "invalid", None]
    assert uploads[1]["content_credentials"]["codes"][0] == "assertion.dataHash.mismatch"
    assert uploads[2]["content_credentials"]["present"] is False
    assert _upload(ana, cid, b"a note", "text/plain").get("content_credentials") is None  # not applicable

    evidence = [_evidence(ana, cid, u) for u in uploads]
    for ev, upload in zip(evidence, uploads, strict=True):
        assert ev["media"]["content_credentials"] == upload["content_credentials"]
        fetched = ana.get(f"/v1/evidence/{ev['evidence_id']}")
        assert fetched.json()["media"]["content_credentials"] == upload["content_credentials"]

    # The contribution page, as its author sees it: one badge per file.
    page = Client()
    page.cookies["gr_session"] = ana.token
    response = page.get(f"/contributions/{cid}")
    assert response.status_code == 200
    assert sorted(_badges(response.content.decode())) == sorted(
        ["Content credentials: trusted", INVALID_PIXELS, "Content credentials: none"]
    )

    # The moderators' pages for the reported, tampered evidence.
    reported_id = evidence[1]["evidence_id"]
    report = budi.post("/v1/reports", {"content_type": "evidence", "content_id": reported_id, "reason": "spam"})
    assert report.status_code == 201, report.content
    moderator = _moderator_client(make_user)
    item = moderator.get(f"/admin/moderation/items/{reported_id}/")
    assert item.status_code == 200
    assert _badges(item.content.decode()) == [INVALID_PIXELS]
    queue = moderator.get("/admin/moderation/queue/?kind=reported")
    assert reported_id in queue.content.decode()
    assert _badges(queue.content.decode()) == [INVALID_PIXELS]
