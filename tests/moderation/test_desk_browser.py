"""Every page of the moderators' desk in Chromium: axe-core, 390 px phones, touch targets, keyboard.

One real server (file database, an admin made by ``createadmin``), content made through the API:
a reported message with markup and a very long line, a held contribution, an outbox event. Then
each /admin/ page is loaded at 1280 px and at 390 px: axe-core (axe-playwright-python) must find
no serious or critical violation, the page must not scroll sideways at 390 px, and every button,
select and checkbox target must be at least 44 px on the phone.
"""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT, run_browser_scenario, server_env

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
TIMEOUT_MS = 10_000
SHOTS = os.environ.get("DESK_SCREENSHOTS")
MARKUP = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
LONG_WORD = "x" * 600
# Targets smaller than 44 px on the phone: visible buttons, submit inputs, selects and checkbox labels.
SMALL_TARGETS = """() => Array.from(document.querySelectorAll(
    "#content button, #content input[type=submit], #content select, #content .gr-check, #content summary"))
  .filter(el => el.offsetParent !== null)
  .map(el => [el, el.getBoundingClientRect()])
  .filter(([el, r]) => r.height < 44 || r.width < 44)
  .map(([el, r]) => `${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${r.width}x${r.height}`)"""


def _setup_database(tmp_path) -> dict[str, str]:
    env = {"SURREAL_ENDPOINT": f"surrealkv://{tmp_path / 'db'}", "ADMIN_PW": PASSWORD}
    for command in (["surreal_migrate"], ["createadmin", "--email", "root@example.com", "--username", "root",
                                          "--password-env", "ADMIN_PW"]):  # fmt: skip
        done = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=server_env(**env),
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
    return env


def test_every_admin_page_is_accessible_and_fits_a_phone(live_server_factory, tmp_path):
    server = live_server_factory(**_setup_database(tmp_path))
    run_browser_scenario(_scenario, server.url)


def _content(base: str) -> dict[str, str]:
    http = httpx.Client(base_url=base, timeout=10)

    def signup(name: str) -> str:
        response = http.post("/v1/auth/signup", json={"email": f"{name}@example.com", "username": name,
                                                      "password": PASSWORD})  # fmt: skip
        assert response.status_code == 201, response.text
        return response.json()["access_token"]

    def call(token: str, path: str, body: dict) -> dict:
        response = http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (200, 201), response.text
        return response.json()

    ana, bob = signup("ana"), signup("bob")
    root = http.post("/v1/auth/signin", json={"email": "root@example.com", "password": PASSWORD}).json()
    thread = call(ana, "/v1/chat/threads", {"scope_id": "s1", "privacy_level": "public", "title": "Garden"})
    call(bob, f"/v1/chat/threads/{thread['thread_id']}/join", {})
    long = call(ana, f"/v1/chat/threads/{thread['thread_id']}/messages/send",
                {"body": f"{MARKUP}\n{LONG_WORD}", "attachments": []})  # fmt: skip
    call(bob, "/v1/reports", {"content_type": "chat_message", "content_id": long["message_id"], "reason": "spam",
                              "note": MARKUP})  # fmt: skip
    contribution = call(ana, "/v1/contributions", {"title": "Fixed the pump " + MARKUP,
                                                   "contribution_type": "community_service"})  # fmt: skip
    call(root["access_token"], "/v1/moderations", {
        "content_id": contribution["contribution_id"], "content_type": "contribution",
        "moderation_status": "under_review", "moderation_action": "hold_for_review", "reason_code": "check_photos",
        "hold_duration_minutes": 60,
    })  # fmt: skip
    return {"message": long["message_id"], "contribution": contribution["contribution_id"]}


def _violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _scenario(browser, base: str) -> None:
    ids = _content(base)
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.goto(f"{base}/admin/login/")
    problems += [f"/admin/login/: {v}" for v in _violations(page)]
    page.fill("#id_email", "root@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    page.goto(f"{base}/admin/webhooks/outbox/")
    event = page.locator("tr.outbox-row a").first.get_attribute("href")
    paths = [
        "/admin/",
        "/admin/moderation/queue/",
        "/admin/moderation/queue/?kind=held&content_type=contribution",
        f"/admin/moderation/items/{ids['message']}/",
        f"/admin/moderation/items/{ids['contribution']}/",
        f"/admin/moderation/decisions/?verify={ids['contribution']}",
        "/admin/moderation/reports/",
        "/admin/users/",
        "/admin/webhooks/outbox/",
        event,
        "/admin/moderation/items/no_such_item/",  # the error page
    ]
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for path in paths:
            page.goto(f"{base}{path}")
            problems += [f"{path} @{width}: {v}" for v in _violations(page)]
            if SHOTS:  # DESK_SCREENSHOTS=<dir>: keep a picture of each page (for a look, not asserted)
                name = path.strip("/").split("?")[0].replace("/", "_") or "admin"
                page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
            if width == 390:
                scroll = page.evaluate("() => document.documentElement.scrollWidth")
                if scroll > 390:
                    problems.append(f"{path} @390: page is {scroll} px wide")
                problems += [f"{path} @390: small target {t}" for t in page.evaluate(SMALL_TARGETS)]
    assert page.evaluate("() => window.__xss") is None  # markup was shown, never run
    assert not problems, "\n".join(problems)

    # The queue on a phone: rows are cards with the content, and the keyboard alone decides.
    page.goto(f"{base}/admin/moderation/queue/")
    row = page.locator(f"tr.queue-item[data-content-id='{ids['message']}']")
    assert MARKUP in row.locator(".gr-content").inner_text()
    box = row.bounding_box()
    assert box is not None
    assert box["width"] <= 390
    page.keyboard.press("?")
    assert page.locator("#shortcut-help").evaluate("el => el.open")
    page.keyboard.press("?")
    # The first row (oldest) is the message; j moves to the held contribution, k back.
    first, second = page.locator("tr.queue-item").nth(0), page.locator("tr.queue-item").nth(1)
    page.keyboard.press("j")
    assert second.evaluate("el => el === document.activeElement && el.classList.contains('gr-current')")
    page.keyboard.press("k")
    assert first.evaluate("el => el === document.activeElement")
    # Typing in a field never triggers a shortcut.
    item = f"{base}/admin/moderation/items/{ids['message']}/"
    page.goto(item)
    page.click("#advanced summary")
    page.locator("#id_reasoning").press_sequentially("a hard row; warn?")
    page.locator("#id_reason_code").press_sequentially("r")
    assert page.url == item
    assert page.locator("#done-message").count() == 0
    assert page.locator("#shortcut-help").evaluate("el => !el.open")
    page.goto(f"{base}/admin/moderation/queue/")
    page.keyboard.press("j")  # to the contribution
    page.keyboard.press("h")
    page.wait_for_url("**/admin/moderation/queue/?done=*")
    assert "hidden for review" in page.locator("#done-message").inner_text()
