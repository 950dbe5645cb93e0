"""Sign-up, sign-in and sign-out pages (Django forms, CSRF, cookies)."""

from __future__ import annotations

from django.test import Client

from apps.accounts.pages import HOME
from tests.accounts.conftest import PASSWORD, bearer

FORM = {"email": "page@example.com", "username": "pageuser", "password": PASSWORD}


def csrf_client() -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    response = client.get("/signup")
    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content
    return client, client.cookies["csrftoken"].value


def test_home_anonymous_shows_links():
    response = Client().get("/")
    assert response.status_code == 200
    assert b'href="/signin"' in response.content
    assert b'href="/signup"' in response.content
    assert b"Welcome" not in response.content


def test_signup_page_signs_in_and_home_greets():
    client, token = csrf_client()
    response = client.post("/signup", {**FORM, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert response["Location"] == HOME
    assert response.cookies["gr_session"].value
    assert response.cookies["gr_refresh"].value
    home = client.get("/")
    assert b"Welcome, pageuser" in home.content
    assert b'<strong class="role">user</strong>' in home.content


def test_forged_csrf_token_is_refused():
    client, _ = csrf_client()
    response = client.post("/signup", {**FORM, "csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403
    assert "gr_session" not in response.cookies
    assert client.post("/signup", FORM).status_code == 403  # no token at all


def test_signup_errors_beside_fields():
    client = Client()
    client.post("/signup", FORM)
    duplicate = Client().post("/signup", {**FORM, "email": "other@example.com", "username": "PAGEUSER"})
    assert duplicate.status_code == 400
    assert b"This username is already taken." in duplicate.content
    invalid = Client().post("/signup", {"email": "nope", "username": "a", "password": "short"})
    assert invalid.status_code == 400
    assert invalid.content.count(b'class="field-errors"') == 3


def test_signin_page_wrong_password_and_success():
    Client().post("/signup", FORM)
    client, token = csrf_client()
    wrong = client.post("/signin", {"email": FORM["email"], "password": "wrong-password", "csrfmiddlewaretoken": token})
    assert wrong.status_code == 400
    assert b"Wrong email or password." in wrong.content
    unknown = client.post("/signin", {"email": "x@example.com", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert b"Wrong email or password." in unknown.content
    ok = client.post("/signin", {"email": "PAGE@example.com", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert ok.status_code == 302
    assert ok["Location"] == HOME
    assert b"Welcome, pageuser" in client.get("/").content


def test_signout_get_confirms_post_revokes():
    client = Client()
    client.post("/signup", FORM)
    access = client.cookies["gr_session"].value
    confirm = client.get("/signout")
    assert confirm.status_code == 200
    assert b'action="/signout"' in confirm.content
    assert client.get("/v1/auth/me", **bearer(access)).status_code == 200  # GET did not sign out
    response = client.post("/signout")
    assert response.status_code == 302
    assert response.cookies["gr_session"].value == ""
    assert response.cookies["gr_refresh"].value == ""
    assert Client().get("/v1/auth/me", **bearer(access)).status_code == 401
    assert b"Welcome" not in client.get("/").content


def test_page_refreshes_session_from_refresh_cookie():
    client = Client()
    client.post("/signup", FORM)
    old_refresh = client.cookies["gr_refresh"].value
    del client.cookies["gr_session"]  # the 15-minute access cookie expired in the browser
    home = client.get("/")
    assert b"Welcome, pageuser" in home.content
    assert home.cookies["gr_session"].value
    assert home.cookies["gr_refresh"].value not in ("", old_refresh)


def test_dead_cookies_on_pages_render_anonymous():
    client = Client()
    client.cookies["gr_session"] = "garbage"
    client.cookies["gr_refresh"] = "garbage"
    response = client.get("/")
    assert response.status_code == 200
    assert b"Welcome" not in response.content
    assert response.cookies["gr_session"].value == ""
