"""A stale or missing CSRF token on one of our forms keeps what was typed (apps.core.views.csrf_failure)."""

from __future__ import annotations

import html as html_lib
import re

from django.test import Client

ORIGIN = "http://testserver"
TITLE = 'Bersih <script>alert("x")</script> got'


def _member(api) -> Client:
    signup = {"email": "resubmit@example.com", "username": "resubmit", "password": "correct horse battery"}
    token = api.post("/v1/auth/signup", signup, content_type="application/json").json()["access_token"]
    browser = Client(enforce_csrf_checks=True)
    browser.cookies["gr_session"] = token
    return browser


def _token(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_a_same_origin_form_with_a_stale_token_comes_back_with_its_fields_and_sends_once_more(api):
    browser = _member(api)
    form = {"title": TITLE, "contribution_type": "community_service", "description": "line one\nline two",
            "csrfmiddlewaretoken": "stale-token-from-an-old-page"}  # fmt: skip
    refused = browser.post("/contributions/new", form, HTTP_ORIGIN=ORIGIN, HTTP_ACCEPT="text/html")
    assert refused.status_code == 403
    html = refused.content.decode()
    assert "Send the form again" in html
    assert "stale-token-from-an-old-page" not in html
    assert "<script>alert" not in html  # echoed as text only
    assert 'value="Bersih &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; got"' in html
    assert browser.get("/contributions").content.decode().count("Bersih") == 0  # nothing was saved

    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    assert set(fields) >= {"title", "contribution_type", "description", "csrfmiddlewaretoken"}
    again = {name: html_lib.unescape(value) for name, value in fields.items()}
    sent = browser.post("/contributions/new", again, HTTP_ORIGIN=ORIGIN, HTTP_ACCEPT="text/html")
    assert sent.status_code == 302, sent.content.decode()[:500]
    detail = browser.get(sent["Location"]).content.decode()
    assert "Bersih &lt;script&gt;" in detail


def test_a_cross_site_post_gets_only_the_refusal(api):
    browser = _member(api)
    form = {"title": "from elsewhere", "contribution_type": "custom"}
    refused = browser.post("/contributions/new", form, HTTP_ORIGIN="https://evil.example", HTTP_ACCEPT="text/html")
    assert refused.status_code == 403
    html = refused.content.decode()
    assert "from elsewhere" not in html
    assert "csrfmiddlewaretoken" not in html
    assert "CSRF verification failed" in html


def test_passwords_are_never_echoed_and_json_clients_get_the_envelope(api):
    browser = Client(enforce_csrf_checks=True)
    form = {"email": "someone@example.com", "password": "correct horse battery"}
    refused = browser.post("/signin", form, HTTP_REFERER=f"{ORIGIN}/signin", HTTP_ACCEPT="text/html")
    assert refused.status_code == 403
    html = refused.content.decode()
    assert "correct horse battery" not in html
    assert "someone@example.com" in html
    assert 'type="password" name="password"' in html
    as_json = browser.post("/signin", form, HTTP_ORIGIN=ORIGIN, HTTP_ACCEPT="application/json")
    assert as_json.status_code == 403
    assert as_json.json()["error"]["code"] == "forbidden"
