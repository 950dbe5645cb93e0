"""Token lifecycle: expiry, forgery, type confusion, rotation, reuse detection, revocation, live user state."""

from __future__ import annotations

import logging
import time
import uuid

import jwt
import pytest
from django.conf import settings
from django.test import Client

from apps.accounts import services, tokens
from apps.accounts.repository import AccountsRepository
from apps.core.db import run_sync
from apps.core.errors import Unauthorized
from tests.accounts.conftest import PASSWORD, bearer, post_json


def payload_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def sign(payload: dict, secret: str | None = None) -> str:
    return jwt.encode(payload, secret or settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")


def me_status(client: Client, token: str) -> int:
    return client.get("/v1/auth/me", **bearer(token)).status_code


def set_user(user_id: str, **changes) -> None:
    run_sync(AccountsRepository().set_user_fields, user_id, changes)


def test_access_token_claims(signup):
    body = signup()
    claims = payload_of(body["access_token"])
    assert claims["sub"] == body["user_id"]
    assert claims["username"] == "ana"
    assert claims["role"] == "user"
    assert claims["token_type"] == "access"
    assert claims["jti"]
    assert claims["fam"]
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert body["expires_at_ms"] == claims["exp"] * 1000
    refresh = payload_of(body["refresh_token"])
    assert refresh["token_type"] == "refresh"
    assert refresh["fam"] == claims["fam"]
    assert refresh["exp"] - refresh["iat"] == 7 * 24 * 3600
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"


def test_expired_access_token_is_401(api, signup):
    body = signup()
    claims = payload_of(body["access_token"])
    expired = sign({**claims, "iat": int(time.time()) - 3600, "exp": int(time.time()) - 60})
    assert me_status(api, sign(claims)) == 200  # re-signing itself is fine: only the expiry differs
    assert me_status(api, expired) == 401


def test_forged_signature_is_401(api, signup):
    claims = payload_of(signup()["access_token"])
    forged = sign({**claims, "role": "admin"}, secret="not-the-secret-" * 3)
    response = api.get("/v1/auth/me", **bearer(forged))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_refresh_token_cannot_be_used_as_access(api, signup):
    body = signup()
    assert me_status(api, body["refresh_token"]) == 401
    assert post_json(api, "/v1/auth/refresh", {"refresh_token": body["access_token"]}).status_code == 401


def test_refresh_rotates_and_reuse_revokes_family(api, signup, monkeypatch):
    first = signup()
    rotated = post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert payload_of(second["refresh_token"])["fam"] == payload_of(first["refresh_token"])["fam"]
    assert me_status(api, second["access_token"]) == 200
    # Past the grace window (tests/accounts/test_hardening.py covers inside it) the old refresh token
    # is dead, and presenting it revokes the whole family.
    stepped = services.now_ms() + services.REFRESH_GRACE_MS + 1
    monkeypatch.setattr(services, "clock", lambda: stepped)
    reuse = post_json(api, "/v1/auth/refresh", {"refresh": first["refresh_token"]})
    assert reuse.status_code == 401
    assert me_status(api, second["access_token"]) == 401
    assert me_status(api, first["access_token"]) == 401
    assert post_json(api, "/v1/auth/refresh", {"refresh_token": second["refresh_token"]}).status_code == 401


def test_other_families_survive_reuse_detection(api, signup):
    first = signup()
    other = post_json(api, "/v1/auth/signin", {"email": "ana@example.com", "password": PASSWORD}).json()
    post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert me_status(api, other["access_token"]) == 200


def test_logout_revokes_access_and_refresh(signup):
    body = signup()
    client = Client()
    response = client.post("/v1/auth/logout", **bearer(body["access_token"]))
    assert response.status_code == 204
    assert response.cookies["gr_session"].value == ""  # cleared
    assert response.cookies["gr_refresh"].value == ""
    assert me_status(client, body["access_token"]) == 401
    assert post_json(client, "/v1/auth/refresh", {"refresh_token": body["refresh_token"]}).status_code == 401


def test_disabled_user_rejected_on_signin_token_and_refresh(api, signup):
    body = signup()
    assert me_status(api, body["access_token"]) == 200
    set_user(body["user_id"], enabled=False)
    assert me_status(api, body["access_token"]) == 401
    signin = post_json(api, "/v1/auth/signin", {"email": "ana@example.com", "password": PASSWORD})
    assert signin.status_code == 401
    assert post_json(api, "/v1/auth/refresh", {"refresh_token": body["refresh_token"]}).status_code == 401
    set_user(body["user_id"], enabled=True)
    assert me_status(api, body["access_token"]) == 200


def test_role_change_visible_on_next_request(api, signup):
    body = signup()
    set_user(body["user_id"], role="moderator")
    me = api.get("/v1/auth/me", **bearer(body["access_token"]))
    assert me.json()["role"] == "moderator"  # the token still says "user"
    assert payload_of(body["access_token"])["role"] == "user"


def test_cookie_logout_without_csrf_is_403_bearer_is_fine(signup):
    client = Client(enforce_csrf_checks=True)
    body = post_json(client, "/v1/auth/signup", {"email": "c@example.com", "username": "csrf", "password": PASSWORD})
    assert body.status_code == 201
    refused = client.post("/v1/auth/logout")  # authenticated by the gr_session cookie, no CSRF token
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert client.get("/v1/auth/me").status_code == 200  # not logged out
    bearer_only = Client(enforce_csrf_checks=True)
    assert bearer_only.post("/v1/auth/logout", **bearer(body.json()["access_token"])).status_code == 204


def test_cookie_logout_with_csrf_token_works():
    client = Client(enforce_csrf_checks=True)
    post_json(client, "/v1/auth/signup", {"email": "d@example.com", "username": "csrf2", "password": PASSWORD})
    client.get("/signin")  # the page sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    assert client.post("/v1/auth/logout", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert client.get("/v1/auth/me").status_code == 401


def test_no_password_or_token_in_logs(api, caplog):
    caplog.set_level(logging.DEBUG)
    secret_password = "unique-Pa55word-xyz"
    signup = post_json(
        api, "/v1/auth/signup", {"email": "l@example.com", "username": "logs", "password": secret_password}
    )
    signin = post_json(api, "/v1/auth/signin", {"email": "l@example.com", "password": secret_password})
    refreshed = post_json(api, "/v1/auth/refresh", {"refresh_token": signin.json()["refresh_token"]})
    api.get("/v1/auth/me", **bearer(refreshed.json()["access_token"]))
    post_json(api, "/v1/auth/signin", {"email": "l@example.com", "password": secret_password + "-wrong"})
    assert caplog.records, "expected the requests to log something"
    secrets = [secret_password]
    for response in (signup, signin, refreshed):
        secrets += [response.json()["access_token"], response.json()["refresh_token"]]
    everything = caplog.text + "".join(repr(r.__dict__) for r in caplog.records)
    for secret in secrets:
        assert secret not in everything
    assert "$argon2" not in everything


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc", "bearer not.a.jwt"])
def test_bad_authorization_headers(api, header):
    assert api.get("/v1/auth/me", HTTP_AUTHORIZATION=header).status_code == 401


def _fresh_access_token() -> str:
    issued_at_ms = int(time.time() * 1000)
    access, _refresh = tokens.issue_pair(user_id="u-cache", username="cache", role="user", family_id="f-cache",
                                         refresh_jti=uuid.uuid4().hex, issued_at_ms=issued_at_ms)  # fmt: skip
    return str(access)


def test_a_verified_token_is_reused_but_still_expires(monkeypatch):
    """The verified-token cache (issue 14 point 3) skips the HMAC on reuse, never the expiry check."""
    raw = _fresh_access_token()
    first = tokens.decode_access(raw)
    hits = tokens._verified_access.cache_info().hits
    assert tokens.decode_access(raw) == first
    assert tokens._verified_access.cache_info().hits == hits + 1  # the second decode came from the cache
    monkeypatch.setattr(tokens, "_clock", lambda: first.exp - 1)
    assert tokens.decode_access(raw) == first
    monkeypatch.setattr(tokens, "_clock", lambda: first.exp)  # expired at exp itself, as PyJWT and simplejwt say
    with pytest.raises(Unauthorized):
        tokens.decode_access(raw)


def test_a_forged_or_expired_token_is_never_cached():
    raw = _fresh_access_token()
    claims = payload_of(raw)
    forged = sign({**claims, "role": "admin"}, secret="not-the-secret-" * 3)
    expired = sign({**claims, "iat": int(time.time()) - 3600, "exp": int(time.time()) - 60})
    size = tokens._verified_access.cache_info().currsize
    for bad in (forged, expired, raw[:-2]):
        for _ in range(2):
            with pytest.raises(Unauthorized):
                tokens.decode_access(bad)
    assert tokens._verified_access.cache_info().currsize == size
