"""Attachments (endpoints 19-20) on local storage and on a real S3 server (SeaweedFS)."""

from __future__ import annotations

import time

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.chat import attachments as att
from apps.core.db import run_sync
from tests.evidence.fixtures import jpeg, png

T = "/v1/chat/threads"
UPLOAD = "/v1/chat/attachments/upload"
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 400
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 200


def upload(chat, user, data: bytes, name: str, content_type: str):
    file = SimpleUploadedFile(name, data, content_type=content_type)
    return chat.client.post(UPLOAD, {"file": file}, **user.headers)


def fetch(chat, url: str) -> tuple[int, bytes]:
    """Follow the signed URL as a browser would: the app's own bytes or the 307 to S3."""
    response = chat.client.get(url)
    if response.status_code == 307:
        follow = httpx.get(response["Location"])
        return follow.status_code, follow.content
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, body


def rows(surreal_db) -> list[dict]:
    return run_sync(surreal_db.query, "SELECT * FROM chat_attachment;")[0]


def test_upload_send_view_and_download(chat, backend, surreal_db):
    ana, bob = chat.signup("ana"), chat.signup("bob")
    tid = chat.thread(ana)["thread_id"]
    chat.call("post", f"{T}/{tid}/join", bob)
    image, sound = png(), MP3
    up = upload(chat, ana, image, "../../etc/my garden!.png", "image/png")
    assert up.status_code == 201, up.content
    view = up.json()
    assert view["file_name"] == "my_garden_.png"
    assert (view["mime_type"], view["media_type"], view["size_bytes"]) == ("image/png", "image", len(image))
    assert view["expires_at_ms"] > (time.time() + att.URL_TTL_S - 1) * 1000
    audio = upload(chat, ana, sound, "song.mp3", "audio/mpeg").json()
    assert audio["media_type"] == "audio"
    (stored,) = [r for r in rows(surreal_db) if r["attachment_id"] == view["attachment_id"]]
    assert stored["object_key"].startswith("chat-attachments/test/")

    ids = [{"attachment_id": view["attachment_id"]}, {"attachment_id": audio["attachment_id"]}]
    sent = chat.call("post", f"{T}/{tid}/messages/send", ana, {"body": "look", "attachments": ids})
    assert sent.status_code == 201, sent.content
    message = sent.json()
    assert [a["attachment_id"] for a in message["attachments"]] == [view["attachment_id"], audio["attachment_id"]]
    listed = chat.call("get", f"{T}/{tid}/messages", bob).json()[-1]
    assert listed["attachments"] == message["attachments"]
    first = listed["attachments"][0]
    assert {k: first[k] for k in ("file_name", "mime_type", "media_type", "size_bytes")} == {
        "file_name": "my_garden_.png", "mime_type": "image/png", "media_type": "image", "size_bytes": len(image)
    }  # fmt: skip
    assert fetch(chat, first["url"]) == (200, image)
    assert fetch(chat, view["url"]) == (200, image)  # the upload's own URL works too
    assert fetch(chat, listed["attachments"][1]["url"]) == (200, sound)
    raw = chat.client.get(first["url"])
    if backend == "s3":
        assert raw.status_code == 307
        assert raw["Location"].startswith("http://127.0.0.1:")
    else:
        assert raw["Content-Type"] == "image/png"
        assert raw["X-Content-Type-Options"] == "nosniff"

    # a deleted message no longer shows its attachments
    chat.call("delete", f"{T}/{tid}/messages/{message['message_id']}", ana)
    assert chat.call("get", f"{T}/{tid}/messages", bob).json()[-1]["attachments"] == []


@pytest.mark.parametrize(
    ("data", "name", "declared", "reason"),
    [
        (b"just some text\n", "a.txt", "text/plain", "type_not_allowed"),
        (b"%PDF-1.7\n" + b"0" * 100, "a.pdf", "image/png", "type_not_allowed"),  # PDF bytes, declared image
        (b"MZ\x90\x00" + b"\x00" * 100, "a.png", "image/png", "type_not_allowed"),  # an executable
        ("png", "a.jpg", "image/jpeg", "type_mismatch"),  # a PNG declared as JPEG
        ("jpeg", "a.mp3", "audio/mpeg", "type_mismatch"),
        (MP3, "a.mp4", "video/mp4", "type_mismatch"),
        (MP4, "a.png", "image/png", "type_mismatch"),
    ],
)
def test_wrong_or_mismatched_type_is_refused_and_nothing_stored(chat, local_storage, surreal_db, data, name,
                                                               declared, reason):  # fmt: skip
    ana = chat.signup("ana")
    data = {"png": png, "jpeg": jpeg}[data]() if isinstance(data, str) else data
    response = upload(chat, ana, data, name, declared)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"]["reason"] == reason
    assert rows(surreal_db) == []
    from django.conf import settings

    stored = settings.MEDIA_ROOT / "chat-attachments"
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))


def test_oversized_is_refused_before_and_while_reading(chat, local_storage, surreal_db):
    ana = chat.signup("ana")
    # Content-Length over the limit: 413 from the middleware before the body is read.
    response = chat.client.generic(
        "POST", UPLOAD, b"x", content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH=str(att.MAX_BYTES + att.MULTIPART_OVERHEAD + 1), **ana.headers,
    )  # fmt: skip
    assert response.status_code == 413
    # A file one byte over 20 MiB inside an allowed Content-Length: the capped handler stops it.
    big = png() + b"\x00" * (att.MAX_BYTES + 1 - len(png()))
    response = upload(chat, ana, big, "big.png", "image/png")
    assert response.status_code == 413
    assert response.json()["error"]["details"]["limit_bytes"] == att.MAX_BYTES
    assert rows(surreal_db) == []
    exact = png() + b"\x00" * (att.MAX_BYTES - len(png()))
    assert upload(chat, ana, exact, "edge.png", "image/png").status_code == 201


def test_upload_input_errors(chat, local_storage):
    ana = chat.signup("ana")
    assert chat.client.post(UPLOAD, {}, **ana.headers).status_code == 400
    two = {"file": [SimpleUploadedFile("a.png", png(), "image/png"), SimpleUploadedFile("b.png", png(), "image/png")]}
    assert chat.client.post(UPLOAD, two, **ana.headers).status_code == 400
    assert chat.call("post", UPLOAD, ana, {"file": "x"}).status_code == 415
    assert upload(chat, ana, b"", "e.png", "image/png").status_code == 400
    from django.test import Client

    anonymous = Client().post(UPLOAD, {"file": SimpleUploadedFile("a.png", png(), "image/png")})
    assert anonymous.status_code == 401


def test_only_own_unused_attachments_can_be_sent(chat, local_storage):
    ana, bob = chat.signup("ana"), chat.signup("bob")
    tid = chat.thread(ana)["thread_id"]
    chat.call("post", f"{T}/{tid}/join", bob)
    mine = upload(chat, ana, png(), "a.png", "image/png").json()["attachment_id"]
    send = f"{T}/{tid}/messages/send"
    # another user's upload looks unknown
    stolen = chat.call("post", send, bob, {"body": "mine now", "attachments": [{"attachment_id": mine}]})
    assert stolen.status_code == 404
    assert "unknown attachment" in stolen.json()["error"]["message"]
    twice = chat.call("post", send, ana, {"body": "x", "attachments": [{"attachment_id": mine}] * 2})
    assert twice.status_code == 400
    body = {"body": "once", "attachments": [{"attachment_id": mine}]}
    first = chat.call("post", send, ana, body, HTTP_X_REQUEST_ID="att-1")
    assert first.status_code == 201
    # the same request again (retry) answers the same message; a new message cannot reuse it
    retry = chat.call("post", send, ana, body, HTTP_X_REQUEST_ID="att-1")
    assert retry.status_code == 201
    assert retry.json()["message_id"] == first.json()["message_id"]
    reuse = chat.call("post", send, ana, body, HTTP_X_REQUEST_ID="att-2")
    assert reuse.status_code == 409
    assert "already used" in reuse.json()["error"]["message"]
    listed = chat.call("get", f"{T}/{tid}/messages", ana).json()
    assert [m["seq"] for m in listed] == [1]  # the refused sends consumed no seq
    over = chat.call("post", send, ana, {"body": "x", "attachments": [{"attachment_id": "a" * 32}] * 21})
    assert over.status_code == 400


def test_download_signature_is_checked(chat, local_storage):
    ana = chat.signup("ana")
    view = upload(chat, ana, png(), "a.png", "image/png").json()
    aid = view["attachment_id"]
    exp = int(time.time()) + 600
    good = f"/v1/chat/attachments/{aid}/download?exp={exp}&sig={att.signature(aid, exp)}"
    assert fetch(chat, good)[0] == 200
    tampered_sig = good[:-1] + ("0" if good[-1] != "0" else "1")
    other_exp = f"/v1/chat/attachments/{aid}/download?exp={exp + 1}&sig={att.signature(aid, exp)}"
    other_id = f"/v1/chat/attachments/{'b' * 32}/download?exp={exp}&sig={att.signature(aid, exp)}"
    past = int(time.time()) - 1
    expired = f"/v1/chat/attachments/{aid}/download?exp={past}&sig={att.signature(aid, past)}"
    for url in (tampered_sig, other_exp, other_id, expired, f"/v1/chat/attachments/{aid}/download",
                f"/v1/chat/attachments/{aid}/download?exp=soon&sig=x"):  # fmt: skip
        response = chat.client.get(url)
        assert response.status_code == 403, url
        assert response.json()["error"]["code"] == "forbidden"
    unknown = "c" * 32
    assert chat.client.get(att.signed_url(unknown)[0]).status_code == 404


def test_signed_urls_are_stable_within_their_window():
    """Views built seconds apart are identical (stream event == HTTP view), and always valid ≥ URL_TTL_S."""
    now = 1_700_000_000.0
    url, exp = att.signed_url("a" * 32, now)
    assert att.signed_url("a" * 32, now + 5)[0] == url or exp % att.URL_BUCKET_S == 0
    assert exp - now >= att.URL_TTL_S
    assert exp - now <= att.URL_TTL_S + att.URL_BUCKET_S


def test_chat_uses_only_the_storage_protocol():
    """No private storage attributes and no boto3 client in chat: only ``ObjectStorage``'s public members."""
    import ast
    from pathlib import Path

    import apps.chat
    from tests.core.test_storage import protocol_members

    allowed = protocol_members()
    used: set[tuple[str, str]] = set()
    for path in Path(apps.chat.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text())
        storages = {"storage"}  # names bound to get_storage() in the module
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and _is_get_storage(node.value):
                storages |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and (
                _is_get_storage(node.value) or (isinstance(node.value, ast.Name) and node.value.id in storages)
            ):
                used.add((path.name, node.attr))
    assert used, "the scan found no storage use at all: it no longer sees how chat reaches storage"
    assert {attr for _, attr in used} <= allowed, sorted(u for u in used if u[1] not in allowed)


def _is_get_storage(node: object) -> bool:
    import ast

    return isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "get_storage"
