"""POST /v1/auth/signup, signin, refresh, logout and GET me: happy paths and bad input."""

from __future__ import annotations

import pytest

from apps.core import ratelimit
from gotong.config import RateLimit
from tests.accounts.conftest import PASSWORD, bearer, post_json

TOKEN_KEYS = {"access_token", "refresh_token", "user_id", "username", "role", "expires_at_ms"}


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


def test_signup_returns_tokens_sets_cookie_and_me_works(api):
    response = post_json(api, "/v1/auth/signup", {"email": "Ana@Example.com", "username": "Ana", "pass": PASSWORD})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == TOKEN_KEYS
    assert body["role"] == "user"
    assert body["username"] == "Ana"
    assert len(body["user_id"]) == 32
    assert response.cookies["gr_session"].value == body["access_token"]
    assert response.cookies["gr_session"]["httponly"]
    assert response.cookies["gr_refresh"].value == body["refresh_token"]
    me = api.get("/v1/auth/me", **bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == "ana@example.com"  # stored lower-case
    assert me.json()["community_id"] == "default"
    assert set(me.json()) == {"user_id", "username", "email", "role", "community_id", "created_at_ms"}


def test_signin_returns_tokens(api, signup):
    created = signup()
    response = post_json(api, "/v1/auth/signin", {"email": "ANA@example.com", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == TOKEN_KEYS
    assert body["user_id"] == created["user_id"]
    assert body["access_token"] != created["access_token"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "username": "bob", "password": PASSWORD}, "email"),
        ({"email": "b@example.com", "username": "bo", "password": PASSWORD}, "username"),
        ({"email": "b@example.com", "username": "x" * 65, "password": PASSWORD}, "username"),
        ({"email": "b@example.com", "username": "bad name!", "password": PASSWORD}, "username"),
        ({"email": "b@example.com", "username": "bob", "password": "short"}, "password"),
        ({"email": "b@example.com", "username": "bob", "password": "p" * 257}, "password"),
        ({"email": "b@example.com", "username": "bob"}, "password"),
        ({"username": "bob", "password": PASSWORD}, "email"),
        ({"email": 12345, "username": "bob", "password": PASSWORD}, "email"),
        ({"email": "b@example.com", "username": 123456, "password": PASSWORD}, "username"),
        ({"email": "b@example.com", "username": "bob", "password": 12345678}, "password"),
        ({"email": "b@example.com", "username": "bob", "password": PASSWORD, "community_id": "c" * 65}, "community_id"),
    ],
)
def test_signup_validation(api, body, field):
    response = post_json(api, "/v1/auth/signup", body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["message"].startswith("validation failed: ")
    assert field in error["details"]["fields"]


@pytest.mark.parametrize("path", ["/v1/auth/signup", "/v1/auth/signin", "/v1/auth/refresh"])
def test_malformed_and_non_object_json(api, path):
    response = api.post(path, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    response = post_json(api, path, ["a", "list"])
    assert response.status_code == 400
    assert error_of(response)["details"]["fields"] == {"body": ["must be a JSON object"]}


def test_wrong_content_type_is_415(api):
    response = api.post("/v1/auth/signup", data="email=a@b.c", content_type="text/plain")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("second", "field"),
    [
        ({"email": "ANA@example.com", "username": "other"}, "email"),
        ({"email": "other@example.com", "username": "ANA"}, "username"),
    ],
)
def test_duplicates_are_409_case_insensitive(api, signup, second, field):
    signup()
    response = post_json(api, "/v1/auth/signup", {**second, "password": PASSWORD})
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "conflict"
    assert error["details"]["field"] == field


def test_wrong_password_and_unknown_email_same_401(api, signup):
    signup()
    wrong = post_json(api, "/v1/auth/signin", {"email": "ana@example.com", "password": "wrong password"})
    unknown = post_json(api, "/v1/auth/signin", {"email": "nobody@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert error_of(wrong) == error_of(unknown)
    assert error_of(wrong)["code"] == "unauthorized"


def test_signin_validation(api):
    response = post_json(api, "/v1/auth/signin", {"email": "ana@example.com"})
    assert response.status_code == 400
    assert "password" in error_of(response)["details"]["fields"]


def test_signin_rate_limited_per_email(api, signup):
    signup()
    ratelimit.overrides["auth_email"] = RateLimit(2, 60, 2)
    for _ in range(2):
        assert (
            post_json(api, "/v1/auth/signin", {"email": "ana@example.com", "password": "nope-nope"}).status_code == 401
        )
    limited = post_json(api, "/v1/auth/signin", {"email": "ana@example.com", "password": PASSWORD})
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "rate_limited"
    assert int(limited["Retry-After"]) >= 1


def test_signup_rate_limited_per_ip(api):
    ratelimit.overrides["auth_ip"] = RateLimit(1, 60, 1)
    first = post_json(api, "/v1/auth/signup", {"email": "a1@example.com", "username": "a1x", "password": PASSWORD})
    assert first.status_code == 201
    second = post_json(api, "/v1/auth/signup", {"email": "a2@example.com", "username": "a2x", "password": PASSWORD})
    assert second.status_code == 429


def test_me_and_logout_need_authentication(api):
    me = api.get("/v1/auth/me")
    assert me.status_code == 401
    assert error_of(me)["code"] == "unauthorized"
    assert me["WWW-Authenticate"] == "Bearer"
    assert api.post("/v1/auth/logout").status_code == 401


def test_malformed_authorization_header_is_401(api, signup):
    token = signup()["access_token"]
    response = api.get("/v1/auth/me", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 401


def test_token_in_query_string_is_ignored(api, signup):
    token = signup()["access_token"]
    from django.test import Client

    assert Client().get(f"/v1/auth/me?access_token={token}").status_code == 401
    assert Client().get(f"/v1/auth/me?token={token}").status_code == 401


def test_refresh_validation(api):
    response = post_json(api, "/v1/auth/refresh", {})
    assert response.status_code == 400
    assert "refresh_token" in error_of(response)["details"]["fields"]
    assert post_json(api, "/v1/auth/refresh", {"refresh_token": "garbage"}).status_code == 401


def test_schema_documents_every_endpoint(api):
    response = api.get("/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    signup = paths["/v1/auth/signup"]["post"]
    assert {"201", "400", "409", "429"} <= set(signup["responses"])
    assert "401" in paths["/v1/auth/signin"]["post"]["responses"]
    assert "200" in paths["/v1/auth/refresh"]["post"]["responses"]
    assert "204" in paths["/v1/auth/logout"]["post"]["responses"]
    assert "200" in paths["/v1/auth/me"]["get"]["responses"]
    signup_fields = schema["components"]["schemas"]["SignupRequest"]["properties"]
    assert set(signup_fields) == {"email", "username", "password", "community_id"}
    assert "alias: `pass`" in signup_fields["password"]["description"]
