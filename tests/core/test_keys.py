"""One key per purpose (issue 12 point 4): a signature made for one purpose is refused by the others.

JWTs are signed with ``JWT_SECRET``; local storage URLs and attachment download URLs
with keys derived from ``SECRET_KEY`` and a purpose label. Each refusal is checked at
the real endpoint (the Django test client through the whole middleware stack).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import time

import jwt
import pytest
from django.conf import settings
from django.test import Client

from apps.chat import attachments
from apps.core import keys
from apps.core import storage as storage_module
from apps.core.storage import LOCAL_PREFIX, sign_local
from tests.accounts.conftest import PASSWORD, bearer, post_json
from tests.evidence.fixtures import local_storage  # noqa: F401 - fixture

OBJECT_KEY = "test-objects/2026/11/00000000000000000000000000000000"
ATTACHMENT_ID = "att_0123456789abcdef"


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _jwt_key() -> bytes:
    return settings.CONFIG.jwt_secret.encode()


def _future_exp() -> int:
    return int(time.time()) + 600


# -- the derivation ------------------------------------------------------------------------


def test_each_purpose_has_its_own_key_derived_from_secret_key(settings):
    upload, attachment = keys.purpose_key(keys.LOCAL_UPLOAD_URL), keys.purpose_key(keys.ATTACHMENT_URL)
    assert upload == _mac(settings.CONFIG.secret_key.encode(), b"gotong:local-upload-url")
    assert attachment == _mac(settings.CONFIG.secret_key.encode(), b"gotong:attachment-url")
    assert len({upload, attachment, _jwt_key(), settings.CONFIG.secret_key.encode()}) == 4
    assert settings.SECRET_KEY == settings.CONFIG.secret_key != settings.CONFIG.jwt_secret

    settings.CONFIG = dataclasses.replace(settings.CONFIG, jwt_secret="another-jwt-secret-" + "x" * 32)
    assert keys.purpose_key(keys.LOCAL_UPLOAD_URL) == upload  # the JWT key plays no part in a URL key
    settings.CONFIG = dataclasses.replace(settings.CONFIG, secret_key="another-secret-key-" + "y" * 32)
    assert keys.purpose_key(keys.LOCAL_UPLOAD_URL) != upload


def test_an_unknown_purpose_is_refused():
    for label in ("", "gotong:jwt", "gotong:local-upload-url "):
        with pytest.raises(ValueError, match="unknown key purpose"):
            keys.purpose_key(label)


# -- attachment download URLs ------------------------------------------------------------------


def _download(exp: int, sig: str):
    return Client().get(f"/v1/chat/attachments/{ATTACHMENT_ID}/download", {"exp": exp, "sig": sig})


def test_attachment_downloads_accept_only_the_attachment_key():
    exp = _future_exp()
    message = f"{ATTACHMENT_ID}:{exp}".encode()
    own = _mac(keys.purpose_key(keys.ATTACHMENT_URL), message).hex()
    assert attachments.signature(ATTACHMENT_ID, exp) == own
    response = _download(exp, own)
    assert response.status_code == 404  # the signature passed; there is no such attachment
    forged = {
        "local-upload key": _mac(keys.purpose_key(keys.LOCAL_UPLOAD_URL), message).hex(),
        "JWT_SECRET": _mac(_jwt_key(), message).hex(),
        "SECRET_KEY itself": _mac(settings.CONFIG.secret_key.encode(), message).hex(),
        "a local URL signature": sign_local("GET", ATTACHMENT_ID, exp),
    }
    for name, sig in forged.items():
        assert not attachments.signature_valid(ATTACHMENT_ID, str(exp), sig), name
        response = _download(exp, sig)
        assert response.status_code == 403, name
        assert response.json()["error"]["code"] == "forbidden", name


# -- local storage URLs --------------------------------------------------------------------


@pytest.mark.usefixtures("local_storage")
def test_local_storage_urls_accept_only_the_local_upload_key():
    exp = _future_exp()
    get_message = "\n".join(("GET", OBJECT_KEY, str(exp), "", "", "")).encode()
    own = sign_local("GET", OBJECT_KEY, exp)
    assert own == _b64(_mac(keys.purpose_key(keys.LOCAL_UPLOAD_URL), get_message))
    assert Client().get(f"{LOCAL_PREFIX}{OBJECT_KEY}", {"exp": exp, "sig": own}).status_code == 404  # passed
    forged = {
        "attachment key": _b64(_mac(keys.purpose_key(keys.ATTACHMENT_URL), get_message)),
        "JWT_SECRET": _b64(_mac(_jwt_key(), get_message)),
        "an attachment URL signature": attachments.signature(OBJECT_KEY, exp),
    }
    for name, sig in forged.items():
        response = Client().get(f"{LOCAL_PREFIX}{OBJECT_KEY}", {"exp": exp, "sig": sig})
        assert response.status_code == 403, name
        assert response.json()["error"]["code"] == "forbidden", name


@pytest.mark.usefixtures("local_storage")
def test_a_local_upload_signed_with_another_key_is_refused_and_writes_nothing(settings, monkeypatch):
    async def open_for_upload(key: str) -> bool:
        return True

    monkeypatch.setitem(storage_module._put_guards, "test-objects/", open_for_upload)
    exp, body = _future_exp(), b"hello"

    def put(object_key: str, key: bytes):
        fields = ("PUT", object_key, str(exp), "text/plain", str(len(body)), "e30")
        sig = _b64(_mac(key, "\n".join(fields).encode()))
        query = f"exp={exp}&ct=text/plain&len={len(body)}&meta=e30&sig={sig}"
        return Client().put(f"{LOCAL_PREFIX}{object_key}?{query}", data=body, content_type="text/plain")

    own_key = OBJECT_KEY[:-1] + "1"
    assert put(own_key, keys.purpose_key(keys.LOCAL_UPLOAD_URL)).status_code == 200  # the guard lets it in
    assert (settings.MEDIA_ROOT / own_key).read_bytes() == body
    for key in (_jwt_key(), keys.purpose_key(keys.ATTACHMENT_URL), settings.CONFIG.secret_key.encode()):
        response = put(OBJECT_KEY, key)
        assert response.status_code == 403
        assert response.json()["error"]["message"] == "invalid signature"
    assert not (settings.MEDIA_ROOT / OBJECT_KEY).exists()


# -- JWTs ------------------------------------------------------------------------------------


def test_a_token_signed_with_a_url_key_is_refused_as_a_jwt(api):
    answer = post_json(api, "/v1/auth/signup", {"email": "keys@example.com", "username": "keys", "password": PASSWORD})
    assert answer.status_code == 201, answer.content
    access = answer.json()["access_token"]
    assert api.get("/v1/auth/me", **bearer(access)).status_code == 200
    claims = jwt.decode(access, options={"verify_signature": False})
    resigned = jwt.encode(claims, _jwt_key(), algorithm="HS256")
    assert api.get("/v1/auth/me", **bearer(resigned)).status_code == 200  # re-signing alone changes nothing
    for key in (
        keys.purpose_key(keys.LOCAL_UPLOAD_URL),
        keys.purpose_key(keys.ATTACHMENT_URL),
        settings.CONFIG.secret_key.encode(),
    ):
        forged = jwt.encode(claims, key, algorithm="HS256")
        response = api.get("/v1/auth/me", **bearer(forged))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
