"""The moderation journey in headless Chromium against a real server.

An admin (``createadmin`` on the server's file database before it starts) promotes a
moderator in the admin site; the moderator sees the reported chat message's text, author
and reporter in the queue row and removes it with ONE click there; a member's open thread
page replaces it live; the author appeals through the API; the appeal shows in the queue;
the moderator approves it with the keyboard alone (``j`` then ``a``) and the message is back
live. Non-staff visitors cannot reach the admin pages.
"""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT, run_browser_scenario, server_env

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
TIMEOUT_MS = 10_000
# True once the message's body on the page reads `text` (polled by Playwright until its timeout).
BODY_IS = """([id, text]) => {
  const el = document.querySelector(`li[data-message-id='${id}'] .body`);
  return el !== null && el.textContent === text;
}"""
# True once the message is on the page without its text (blank or a placeholder in its place).
HIDDEN = """([id, text]) => {
  const el = document.querySelector(`li[data-message-id='${id}']`);
  return el !== null && !el.textContent.includes(text);
}"""


class Api:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=10)

    def signup(self, name: str) -> dict:
        response = self.http.post("/v1/auth/signup", json={"email": f"{name}@example.com", "username": name,
                                                           "password": PASSWORD})  # fmt: skip
        assert response.status_code == 201, response.text
        return response.json()

    def call(self, method: str, path: str, token: str, body: dict | None = None) -> httpx.Response:
        return self.http.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_moderator_rejects_and_overturns_a_reported_message_live(live_server_factory, tmp_path):
    env = {"SURREAL_ENDPOINT": f"surrealkv://{tmp_path / 'db'}", "ADMIN_PW": PASSWORD}
    for command in (["surreal_migrate"], ["createadmin", "--email", "root@example.com", "--username", "root",
                                          "--password-env", "ADMIN_PW"]):  # fmt: skip
        done = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=server_env(**env),
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
    server = live_server_factory(**env)
    run_browser_scenario(_scenario, server.url)


def _context(browser):
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _admin_login(context, base: str, email: str):
    page = context.new_page()
    page.goto(f"{base}/admin/login/")
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    return page


def _scenario(browser, base: str) -> None:
    api = Api(base)
    ana, bob, _mia = api.signup("ana"), api.signup("bob"), api.signup("mia")
    thread = api.call("POST", "/v1/chat/threads", ana["access_token"],
                      {"scope_id": "s1", "privacy_level": "public", "title": "Garden"}).json()["thread_id"]  # fmt: skip
    assert api.call("POST", f"/v1/chat/threads/{thread}/join", bob["access_token"]).status_code in (200, 201)
    message = api.call("POST", f"/v1/chat/threads/{thread}/messages/send", ana["access_token"],
                       {"body": "rude words here", "attachments": []}).json()  # fmt: skip
    report = api.call(
        "POST",
        "/v1/reports",
        bob["access_token"],
        {"content_type": "chat_message", "content_id": message["message_id"], "reason": "harassment"},
    )
    assert report.status_code == 201, report.text

    # Non-staff: an anonymous visitor is sent to the login, a signed-in member gets 403 (also by direct URL).
    anon = _context(browser).new_page()
    anon.goto(f"{base}/admin/moderation/queue/")
    assert "/admin/login/" in anon.url
    bob_ctx = _context(browser)
    bob_ctx.add_cookies([{"name": "gr_session", "value": bob["access_token"], "url": base}])
    probe = bob_ctx.new_page()
    for path in ("/admin/", "/admin/moderation/queue/", "/admin/users/", "/admin/webhooks/outbox/"):
        assert probe.goto(f"{base}{path}").status == 403, path

    # The admin promotes mia to moderator in the users page.
    admin = _admin_login(_context(browser), base, "root@example.com")
    admin.goto(f"{base}/admin/users/?q=mia")
    row = admin.locator("tr.user-row[data-username=mia]")
    row.locator("select[name=role]").select_option("moderator")
    row.locator(".role-form button").click()
    admin.wait_for_url("**/admin/users/?done=*")
    assert admin.locator("tr.user-row[data-username=mia] .user-role").inner_text() == "moderator"

    # Bob has the thread open.
    member = bob_ctx.new_page()
    member.goto(f"{base}/threads/{thread}")
    body = member.locator(f"li[data-message-id='{message['message_id']}'] .body")
    body.wait_for()
    assert body.inner_text() == "rude words here"

    # The moderator sees the content in the queue row and removes it in one click, right there.
    mod = _admin_login(_context(browser), base, "mia@example.com")
    mod.goto(f"{base}/admin/moderation/queue/?kind=reported")
    row = mod.locator(f"tr.queue-item[data-content-id='{message['message_id']}']")
    assert "rude words here" in row.locator(".gr-content").inner_text()
    assert row.locator(".gr-author").inner_text().endswith("ana")
    assert "harassment" in row.locator(".gr-reports").inner_text()
    assert "by bob" in row.locator(".gr-reports").inner_text()
    assert row.locator("time").inner_text() in ("just now", "1 min ago", "2 min ago")
    row.locator("button[value=remove]").click()
    mod.wait_for_url("**/admin/moderation/queue/?kind=reported&done=*")
    assert "removed" in mod.locator("#done-message").inner_text()
    assert mod.locator(f"tr.queue-item[data-content-id='{message['message_id']}']").count() == 0

    # Gone from Bob's page without a reload.
    member.wait_for_function(HIDDEN, arg=[message["message_id"], "rude words here"])
    assert "rude words here" not in member.content()

    # Ana appeals through the API; the appeal is in the queue; the keyboard alone approves it.
    appeal = api.call("POST", f"/v1/moderations/{message['message_id']}/appeals", ana["access_token"],
                      {"statement": "it was a quote"})  # fmt: skip
    assert appeal.status_code == 201, appeal.text
    mod.goto(f"{base}/admin/moderation/queue/?kind=appeal")
    row = mod.locator(f"tr.queue-item[data-content-id='{message['message_id']}']")
    assert "it was a quote" in row.inner_text()
    mod.keyboard.press("j")  # the first row is current already: j stays on it (one row), k too
    mod.keyboard.press("k")
    assert row.evaluate("el => el === document.activeElement")
    mod.keyboard.press("a")
    mod.wait_for_url("**/admin/moderation/queue/?kind=appeal&done=*")
    assert "approved" in mod.locator("#done-message").inner_text()
    mod.goto(f"{base}/admin/moderation/items/{message['message_id']}/")
    assert "overturned" in mod.locator("#item-appeal").inner_text()
    assert mod.locator("#chain-ok").is_visible()

    member.wait_for_function(BODY_IS, arg=[message["message_id"], "rude words here"])
