"""Contributions, evidence and vouching in headless Chromium against a real server (issue 11, points 4, 6, 8).

* Vouching from the web with the keyboard alone: Tab to the form, arrows for the weight, type, Enter.
  A double click sends once; a second vouch for the same skill is refused in words beside the field.
* Evidence upload with errors and retries: the PUT's connection is lost, the confirm answers 500, the
  confirm never answers (timeout). Each ends in a visible message and "Try again", never a status stuck
  on "Checking the file…"; the retry succeeds and the page shows the ≤ 320 px thumbnail. A witness
  statement without a name is refused in plain words; with one, the witness is shown.
* Every page of this part (home, sign in/up, contributions list/detail/new, profile, including their
  error states) has 0 serious/critical axe-core violations, no horizontal overflow at 390 px, and touch
  targets of at least 44 px on a phone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.evidence.fixtures import jpeg
from tests.support.browser_pages import new_context
from tests.support.browser_pages import sign_in as _sign_in

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
TIMEOUT_MS = 15_000


class Api:
    """A member calling the JSON API of the live server (setup that is not the journey under test)."""

    def __init__(self, base: str, name: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=15)
        response = self.http.post("/v1/auth/signup", json={"email": f"{name}@example.com", "username": name,
                                                           "password": PASSWORD})  # fmt: skip
        assert response.status_code == 201, response.text
        self.user_id = response.json()["user_id"]
        self.token = response.json()["access_token"]

    def post(self, path: str, body: dict) -> dict:
        response = self.http.post(path, json=body, headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code == 201, response.text
        return response.json()

    def vouches_for(self, user_id: str) -> list[dict]:
        response = self.http.get("/v1/vouches", params={"vouchee_id": user_id},
                                 headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()["items"] if isinstance(response.json(), dict) else response.json()


def _context(browser, **options):
    return new_context(browser, timeout_ms=TIMEOUT_MS, **options)


def _tab_to(page, element_id: str, limit: int = 80) -> None:
    """Press Tab until the element has focus: it is reachable with the keyboard alone."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} is not reachable with Tab")


def test_vouch_from_the_web_with_the_keyboard(browser, live_server_factory, tmp_path):
    server = live_server_factory(MEDIA_ROOT=str(tmp_path / "media"))
    base = server.url
    ana = Api(base, "ana")
    Api(base, "budi")
    contribution = ana.post("/v1/contributions", {"title": "Rebuilt the school fence",
                                                  "contribution_type": "community_service",
                                                  "skill_ids": ["carpentry"]})  # fmt: skip
    context = _context(browser)
    page = _sign_in(context, base, "budi")

    # Find it the way a member does: header → Contributions → Everyone → the contribution.
    page.click("header >> text=Contributions")
    page.click("main >> text=Everyone")
    page.click("text=Rebuilt the school fence")
    page.wait_for_url(f"{base}/contributions/{contribution['contribution_id']}")
    assert "Community service" in page.inner_text("main")

    _tab_to(page, "vouch-weight-moderate")  # the checked radio is the group's tab stop
    page.keyboard.press("ArrowUp")  # moderate → strong
    assert page.is_checked("#vouch-weight-strong")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "vouch-skill"
    page.keyboard.type("carpentry")
    page.keyboard.press("Tab")
    page.keyboard.type("Careful work.")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("Finished on time.")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Your vouch for ana is recorded" in page.inner_text("#vouch")
    vouches = ana.vouches_for(ana.user_id)
    assert [(v["weight_hint"], v["skill_id"]) for v in vouches] == [("strong", "carpentry")]
    assert vouches[0]["message"] == "Careful work.\nFinished on time."

    # A double click on the button sends one vouch, even with a stale CSRF token in the page
    # (the form takes the current cookie's token when it is sent).
    page.fill("#vouch-skill", "welding")
    page.evaluate("() => { document.querySelector('#vouch input[name=csrfmiddlewaretoken]').value = 'x'.repeat(64); }")
    with page.expect_navigation():
        page.dblclick("#vouch button[type=submit]")
    page.wait_for_load_state()
    assert len(ana.vouches_for(ana.user_id)) == 2

    # The same skill again: refused in words beside the skill field, the message kept.
    page.fill("#vouch-skill", "carpentry")
    page.fill("#vouch-message", "Again!")
    with page.expect_navigation():
        page.click("#vouch button[type=submit]")
    assert "You have already vouched for ana for “carpentry”" in page.inner_text("#vouch-skill-error")
    assert page.input_value("#vouch-message") == "Again!"
    assert page.get_attribute("#vouch-skill", "aria-invalid") == "true"

    # The profile shows the vouches with friendly labels and the multi-line message.
    page.goto(f"{base}/members/ana")
    received = page.inner_text("#vouches-received")
    assert "budi" in received
    assert "Strong" in received
    assert "strong" not in received
    assert "Careful work.\nFinished on time." in received
    context.close()


def test_evidence_upload_errors_and_retries(browser, live_server_factory, tmp_path):
    server = live_server_factory(MEDIA_ROOT=str(tmp_path / "media"))
    base = server.url
    Api(base, "sari")
    contribution = Api(base, "other")  # a second member, so the page is not the only account
    del contribution
    context = _context(browser)
    page = _sign_in(context, base, "sari")
    page.goto(f"{base}/contributions/new")
    page.fill("#id_title", "Cleared the drainage channel")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/contributions/*")

    photo = tmp_path / "channel.jpg"
    photo.write_bytes(jpeg(lat=-6.2, lon=106.8166, size=(1024, 768)))
    when = (datetime.now(UTC) - timedelta(hours=2)).astimezone().strftime("%Y-%m-%dT%H:%M:%S")
    page.fill("#ev_timestamp", when)
    page.set_input_files("#ev_file", str(photo))
    status = page.locator("#ev_status")
    file_error = page.locator('[data-error-for="file"]')

    # 1. The connection drops during the PUT.
    page.route("**/storage/local/evidence/**", lambda route: route.abort("connectionreset"))
    page.click("#ev_submit")
    file_error.wait_for(state="visible")
    assert "connection was lost" in file_error.inner_text()
    assert status.inner_text().startswith("Not uploaded.")
    assert page.inner_text("#ev_submit") == "Try again"
    assert page.is_enabled("#ev_submit")
    page.unroute("**/storage/local/evidence/**")

    # 2. The confirm answers 500 (no JSON body).
    page.route("**/confirm", lambda route: route.fulfill(status=500, body="oops", content_type="text/plain"))
    page.click("#ev_submit")
    page.wait_for_function("() => document.querySelector('#ev_submit').textContent === 'Try again'")
    assert "server had a problem (error 500)" in file_error.inner_text()
    assert "Checking the file" not in status.inner_text()
    page.unroute("**/confirm")

    # 3. The confirm never answers: the request times out, with a message.
    page.evaluate("() => { document.getElementById('evidence-form').dataset.timeoutMs = '1500'; }")
    page.route("**/confirm", lambda route: None)  # left pending
    page.click("#ev_submit")
    page.wait_for_function("() => document.querySelector('#ev_submit').textContent === 'Try again'")
    assert "did not answer in time" in file_error.inner_text()
    assert "Checking the file" not in status.inner_text()
    page.unroute("**/confirm")
    page.evaluate("() => { delete document.getElementById('evidence-form').dataset.timeoutMs; }")

    # 4. A double-clicked retry succeeds once: the page reloads with one evidence and its thumbnail.
    with page.expect_navigation():
        page.dblclick("#ev_submit")
    assert page.locator(".evidence-item").count() == 1
    thumb = page.locator("img.thumb").first
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert page.evaluate("img => [img.naturalWidth, img.naturalHeight]", thumb.element_handle()) == [320, 240]
    digest = page.inner_text("code.hash")
    assert len(digest) == 64
    # The copy button says it copied (clipboard needs a permission in headless Chromium).
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.click("button.copy")
    page.wait_for_function("() => document.querySelector('[id^=copied-]').textContent !== ''")
    assert page.evaluate("() => navigator.clipboard.readText()") == digest
    time_el = page.locator(".evidence-item time").first
    assert time_el.get_attribute("data-localised") == "1"
    assert "UTC" not in time_el.inner_text()

    # 5. A witness statement without the witness's name: plain words beside the field; then saved.
    page.select_option("#ev_type", "witness_attestation")
    page.fill("#ev_timestamp", when)
    page.click("#ev_submit")
    assert page.inner_text('[data-error-for="witness_name"]') == "Add the witness's name."
    assert page.evaluate("() => document.activeElement.id") == "ev_witness"
    page.fill("#ev_witness", "Pak <b>Joko</b>")
    page.select_option("#ev_relationship", "beneficiary")
    # An over-long name typed past the field's limit is refused by the API in words too.
    page.evaluate("() => { const f = document.getElementById('ev_witness'); f.removeAttribute('maxlength');"
                  " f.value = 'x'.repeat(101); }")  # fmt: skip
    page.click("#ev_submit")
    page.wait_for_function("() => document.querySelector('[data-error-for=witness_name]').textContent !== ''")
    assert page.inner_text('[data-error-for="witness_name"]') == "Add the witness's name (up to 100 characters)."
    page.fill("#ev_witness", "Pak <b>Joko</b>")
    with page.expect_navigation():
        page.click("#ev_submit")
    item = page.locator(".evidence-item").first
    assert "Witness statement" in item.inner_text()
    assert "Pak <b>Joko</b> (Someone who was helped)" in item.inner_text()  # shown as text, not markup
    context.close()


# -- accessibility, 390 px, touch targets -----------------------------------------------------------

SERIOUS = ("serious", "critical")
# Controls a finger must hit. Links inside running text are exempt (WCAG 2.5.8 "inline" exception).
TARGETS = """() => {
  const out = [];
  const sel = 'header a, button, input:not([type=hidden]):not([type=radio]), select, textarea, label.choice,'
    + ' .tabs a, .contribution-row a, .vouch-item a, .start-links a, .thumb-link';
  document.querySelectorAll(sel).forEach(el => {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (r.width === 0 || style.visibility === 'hidden' || el.closest('[hidden]')) return;
    if (el.classList.contains('skip-link')) return;
    if (r.height < 44) out.push(`${el.tagName.toLowerCase()}#${el.id || ''}.${el.className} '${
      (el.textContent || el.name || '').trim().slice(0, 30)}' ${Math.round(r.width)}x${Math.round(r.height)}`);
  });
  return out;
}"""


def _check_page(page, name: str, problems: list[str]) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    for violation in results.response["violations"]:
        if violation["impact"] in SERIOUS:
            nodes = [n["target"] for n in violation["nodes"]][:3]
            problems.append(f"{name}: axe {violation['id']} ({violation['impact']}) {nodes}")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.evaluate("() => window.innerWidth")
    if width > viewport:
        problems.append(f"{name}: {width} px wide in a {viewport} px viewport")
    if viewport <= 400:
        problems.extend(f"{name}: small target {t}" for t in page.evaluate(TARGETS))


def test_pages_accessibility_overflow_and_touch_targets(browser, live_server_factory, tmp_path):
    server = live_server_factory(MEDIA_ROOT=str(tmp_path / "media"))
    base = server.url
    ana = Api(base, "ana")
    Api(base, "budi")
    long_title = "A very long title without spaces " + "x" * 150
    contribution = ana.post("/v1/contributions", {"title": long_title, "contribution_type": "mentoring",
                                                  "description": "<script>alert(1)</script>\n" + "y" * 300,
                                                  "evidence_url": "https://example.org/" + "p" * 200,
                                                  "skill_ids": ["teaching"]})  # fmt: skip
    cid = contribution["contribution_id"]
    proof = {"timestamp": datetime.now(UTC).replace(microsecond=0).isoformat(),
             "witnesses": [{"witness_name": "Ibu Sri", "relationship": "peer"}]}  # fmt: skip
    ana.post("/v1/evidence", {"contribution_id": cid, "evidence_type": "witness_attestation", "proof": proof})
    problems: list[str] = []
    for label, viewport in (("desktop", {"width": 1280, "height": 800}), ("phone", {"width": 390, "height": 844})):
        anonymous = _context(browser, viewport=viewport)
        page = anonymous.new_page()
        for path in ("/", "/signin", "/signup"):
            page.goto(f"{base}{path}")
            _check_page(page, f"{label} {path}", problems)
        page.goto(f"{base}/signup")
        page.click("main button[type=submit]")  # every field empty: the error state
        _check_page(page, f"{label} /signup (errors)", problems)
        anonymous.close()

        context = _context(browser, viewport=viewport)
        page = _sign_in(context, base, "budi")
        pages = ("/", "/contributions", "/contributions?everyone=1", "/contributions?member=nobody-here",
                 "/contributions/new", f"/contributions/{cid}", "/members/ana", "/members/budi")  # fmt: skip
        for path in pages:
            page.goto(f"{base}{path}")
            _check_page(page, f"{label} budi {path}", problems)
        page.goto(f"{base}/contributions/new")
        page.fill("#id_title", "t" * 5)
        page.evaluate("() => { document.getElementById('id_title').value = ''; }")
        page.click("main button[type=submit]")
        _check_page(page, f"{label} /contributions/new (errors)", problems)
        page.goto(f"{base}/members/ana")
        page.evaluate("() => { const m = document.getElementById('vouch-message');"
                      " m.removeAttribute('maxlength'); m.value = 'z'.repeat(600); }")  # fmt: skip
        page.click("#vouch button[type=submit]")
        page.wait_for_selector("#vouch-message-error")
        _check_page(page, f"{label} /members/ana (vouch errors)", problems)
        context.close()

        author = _context(browser, viewport=viewport)
        page = _sign_in(author, base, "ana")
        page.goto(f"{base}/contributions/{cid}")
        _check_page(page, f"{label} ana /contributions/{cid} (author, evidence form)", problems)
        page.click("#ev_submit")  # no time given: the error state
        page.wait_for_selector('[data-error-for="timestamp"]:not(:empty)')
        _check_page(page, f"{label} ana evidence form errors", problems)
        author.close()
    assert not problems, "\n".join(problems)
