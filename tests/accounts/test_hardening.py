"""Issue 12, point 1: no sign-in oracle for disabled accounts, and the refresh grace window.

* A disabled account answers exactly like a wrong password on the API, the sign-in page and the admin
  login page, after the same password check.
* Concurrent refreshes of one refresh token (two tabs after the access cookie expired) get the same
  new pair and keep the sign-in; presenting the replaced token after ``REFRESH_GRACE_MS`` is still
  reuse and revokes the family. Time is stepped with ``services.clock``, never slept.
"""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import jwt
import pytest
from django.conf import settings
from django.test import Client

from apps.accounts import services, tokens
from apps.accounts.pages import WRONG_CREDENTIALS
from apps.accounts.repository import AccountsRepository
from apps.core.db import run_sync
from apps.core.errors import Unauthorized
from apps.core.ids import now_ms
from apps.moderation.admin_auth import LOGIN_URL
from tests.accounts.conftest import PASSWORD, bearer, post_json

EMAIL = "ana@example.com"
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')


def set_user(user_id: str, **changes) -> None:
    run_sync(AccountsRepository().set_user_fields, user_id, changes)


def family_of(user_id: str, refresh_token: str) -> dict:
    claims = tokens.decode_refresh(refresh_token)
    return run_sync(AccountsRepository().auth_state, user_id, claims.family_id)["family"]


def revoked_reason(refresh_token: str) -> str | None:
    """The stored family row's reason (the service's view of revocation, not just an answer code)."""
    claims = tokens.decode_refresh(refresh_token)
    return run_sync(AccountsRepository().auth_state, claims.user_id, claims.family_id)["family"]["revoked_reason"]


@pytest.fixture
def password_checks(monkeypatch) -> list[str]:
    """Records every argon2 check the sign-in makes (the work a timing observer would see)."""
    seen: list[str] = []
    real = services.verify_password

    async def counting(password: str, encoded: str) -> bool:
        seen.append(encoded)
        return await real(password, encoded)

    monkeypatch.setattr(services, "verify_password", counting)
    return seen


# -- disabled accounts are not an oracle -----------------------------------------------------------------


def test_api_signin_disabled_account_answers_exactly_like_a_wrong_password(api, signup, password_checks):
    user = signup()
    set_user(user["user_id"], enabled=False)
    right = post_json(api, "/v1/auth/signin", {"email": EMAIL, "password": PASSWORD})
    wrong = post_json(api, "/v1/auth/signin", {"email": EMAIL, "password": "wrong password"})
    unknown = post_json(api, "/v1/auth/signin", {"email": "nobody@example.com", "password": PASSWORD})
    assert right.status_code == wrong.status_code == unknown.status_code == 401
    assert right.json() == wrong.json() == unknown.json()
    assert right.json()["error"]["code"] == "unauthorized"
    assert right.json()["error"]["message"] == services.BAD_CREDENTIALS
    assert "disabled" not in right.content.decode().lower()
    assert "gr_session" not in right.cookies
    assert "gr_refresh" not in right.cookies
    # Comparable work: one argon2 check per attempt, the disabled account's real hash included.
    assert len(password_checks) == 3
    assert password_checks[0] == password_checks[1] != password_checks[2]


def test_service_signin_refuses_a_disabled_account_with_bad_credentials(signup):
    user = signup()
    set_user(user["user_id"], enabled=False)
    with pytest.raises(Unauthorized) as refused:
        run_sync(services.signin, EMAIL, PASSWORD, ip="203.0.113.9")
    assert refused.value.message == services.BAD_CREDENTIALS
    set_user(user["user_id"], enabled=True)
    assert run_sync(services.signin, EMAIL, PASSWORD, ip="203.0.113.9").user_id == user["user_id"]


def _form_answers(path: str, email: str, password_checks: list[str]) -> tuple:
    """POST the right and a wrong password to a sign-in form; returns both answers without CSRF tokens."""
    client = Client(enforce_csrf_checks=True)
    assert client.get(path).status_code == 200
    token = client.cookies["csrftoken"].value
    answers = []
    for password in (PASSWORD, "wrong password"):
        response = client.post(path, {"email": email, "password": password, "csrfmiddlewaretoken": token})
        answers.append(response)
    right, wrong = answers
    assert len(password_checks) == 2
    assert password_checks[0] == password_checks[1]
    return right, wrong, CSRF_INPUT.sub(b"", right.content), CSRF_INPUT.sub(b"", wrong.content)


def test_signin_page_disabled_account_looks_like_a_wrong_password(signup, password_checks):
    user = signup()
    set_user(user["user_id"], enabled=False)
    right, wrong, right_body, wrong_body = _form_answers("/signin", EMAIL, password_checks)
    assert right.status_code == wrong.status_code == 400
    assert right_body == wrong_body
    assert WRONG_CREDENTIALS.encode() in right_body
    assert b"disabled" not in right_body.lower()
    assert "gr_session" not in right.cookies


def test_admin_login_disabled_moderator_looks_like_a_wrong_password(signup, password_checks):
    user = signup()
    set_user(user["user_id"], role="moderator", enabled=False)
    right, wrong, right_body, wrong_body = _form_answers(LOGIN_URL, EMAIL, password_checks)
    assert right.status_code == wrong.status_code == 400
    assert right_body == wrong_body
    assert WRONG_CREDENTIALS.encode() in right_body
    assert b"disabled" not in right_body.lower()
    assert "gr_session" not in right.cookies


# -- refresh grace window ------------------------------------------------------------------------------


def _assert_signed_in(client: Client, issued: dict) -> None:
    assert client.get("/v1/auth/me", **bearer(issued["access_token"])).status_code == 200


def test_concurrent_service_refreshes_get_the_same_pair_and_keep_the_family(api, signup, caplog):
    first = signup()

    async def race() -> list:
        return await asyncio.gather(*(services.refresh(first["refresh_token"]) for _ in range(4)))

    with caplog.at_level("WARNING", logger="apps.accounts.services"):
        results = run_sync(race)
    pairs = {(r.access_token, r.refresh_token) for r in results}
    assert len(pairs) == 1, "every concurrent refresh must get the winner's pair"
    (access, refresh), issued = pairs.pop(), results[0]
    assert refresh != first["refresh_token"]
    assert {r.expires_at_ms for r in results} == {issued.expires_at_ms}
    family = family_of(first["user_id"], refresh)
    assert family["revoked"] is False
    assert family["current_refresh_jti"] == tokens.decode_refresh(refresh).jti
    assert family["previous_refresh_jti"] == tokens.decode_refresh(first["refresh_token"]).jti
    assert "reuse" not in caplog.text  # not logged as theft
    _assert_signed_in(api, {"access_token": access})
    # The shared pair keeps working: its refresh token rotates normally.
    nxt = post_json(api, "/v1/auth/refresh", {"refresh_token": refresh})
    assert nxt.status_code == 200
    _assert_signed_in(api, nxt.json())


def test_api_refresh_inside_the_window_returns_the_same_pair(api, signup):
    first = signup()
    a = post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    b = post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()
    assert a.cookies["gr_refresh"].value == b.cookies["gr_refresh"].value
    assert a.cookies["gr_session"].value == b.cookies["gr_session"].value
    assert revoked_reason(first["refresh_token"]) is None
    _assert_signed_in(api, b.json())


def test_reuse_after_the_window_revokes_the_family(api, signup, monkeypatch, caplog):
    first = signup()
    rotated = post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]}).json()
    rotated_at = family_of(first["user_id"], rotated["refresh_token"])["rotated_at_ms"]
    # Still inside the window at its last millisecond: the same pair.
    monkeypatch.setattr(services, "clock", lambda: rotated_at + services.REFRESH_GRACE_MS)
    again = post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert again.status_code == 200
    assert again.json()["refresh_token"] == rotated["refresh_token"]
    # One millisecond later it is reuse: theft detection as before.
    monkeypatch.setattr(services, "clock", lambda: rotated_at + services.REFRESH_GRACE_MS + 1)
    with caplog.at_level("WARNING", logger="apps.accounts.services"):
        reuse = post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "unauthorized"
    assert "refresh token reuse" in caplog.text
    assert revoked_reason(first["refresh_token"]) == "refresh_reuse"
    assert api.get("/v1/auth/me", **bearer(rotated["access_token"])).status_code == 401
    assert post_json(api, "/v1/auth/refresh", {"refresh_token": rotated["refresh_token"]}).status_code == 401


def test_a_token_two_rotations_old_is_reuse_even_inside_the_window(api, signup):
    first = signup()
    second = post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]}).json()
    third = post_json(api, "/v1/auth/refresh", {"refresh_token": second["refresh_token"]}).json()
    assert third["refresh_token"] != second["refresh_token"]
    reuse = post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert revoked_reason(first["refresh_token"]) == "refresh_reuse"
    assert api.get("/v1/auth/me", **bearer(third["access_token"])).status_code == 401


def test_grace_does_not_revive_a_revoked_or_disabled_sign_in(api, signup):
    first = signup()
    rotated = post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]}).json()
    set_user(first["user_id"], enabled=False)
    assert post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]}).status_code == 401
    set_user(first["user_id"], enabled=True)
    assert api.post("/v1/auth/logout", **bearer(rotated["access_token"])).status_code == 204
    assert post_json(api, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]}).status_code == 401
    assert revoked_reason(first["refresh_token"]) == "logout"


def _expired_access_cookie(access_token: str) -> str:
    claims = jwt.decode(access_token, options={"verify_signature": False})
    past = int(time.time()) - 3600
    return jwt.encode({**claims, "iat": past, "exp": past + 900}, settings.SIMPLE_JWT["SIGNING_KEY"], "HS256")


def test_two_page_loads_with_an_expired_cookie_on_a_real_server_stay_signed_in(live_server_factory):
    server = live_server_factory()
    signed_up = httpx.post(
        f"{server.url}/v1/auth/signup",
        json={"email": EMAIL, "username": "ana", "password": PASSWORD},
        timeout=30,
    )
    assert signed_up.status_code == 201, signed_up.text
    body = signed_up.json()
    cookies = {"gr_session": _expired_access_cookie(body["access_token"]), "gr_refresh": body["refresh_token"]}

    async def load(client: httpx.AsyncClient) -> httpx.Response:
        async with client:
            return await client.get("/")

    async def two_tabs() -> list[httpx.Response]:
        tabs = [httpx.AsyncClient(base_url=server.url, cookies=cookies, timeout=30) for _ in range(2)]
        return await asyncio.gather(*(load(tab) for tab in tabs))

    pages = asyncio.run(two_tabs())
    for page in pages:
        assert page.status_code == 200
        assert "Welcome, ana" in page.text, "a concurrent page load was signed out"
    new_refresh = {page.cookies.get("gr_refresh") for page in pages}
    new_access = {page.cookies.get("gr_session") for page in pages}
    assert len(new_refresh) == 1, "both tabs must receive the same refresh cookie"
    assert len(new_access) == 1, "both tabs must receive the same access cookie"
    (refresh,), (access,) = new_refresh, new_access
    assert refresh
    assert refresh != body["refresh_token"]
    me = httpx.get(f"{server.url}/v1/auth/me", headers={"Authorization": f"Bearer {access}"}, timeout=30)
    assert me.status_code == 200, "the sign-in family was revoked"
    again = httpx.post(f"{server.url}/v1/auth/refresh", json={"refresh_token": refresh}, timeout=30)
    assert again.status_code == 200
    assert "refresh token reuse" not in server.log()


def test_rotation_time_is_the_pairs_issue_time():
    """The pair is re-derivable: the same inputs give byte-identical tokens."""
    args = {"user_id": "u1", "username": "ana", "role": "user", "family_id": "f1", "refresh_jti": "j1"}
    issued_at = now_ms()
    one = tokens.issue_pair(**args, issued_at_ms=issued_at)
    two = tokens.issue_pair(**args, issued_at_ms=issued_at)
    assert (str(one[0]), str(one[1])) == (str(two[0]), str(two[1]))
    assert one[0]["iat"] == issued_at // 1000
    assert str(tokens.issue_pair(**{**args, "refresh_jti": "j2"}, issued_at_ms=issued_at)[1]) != str(one[1])
