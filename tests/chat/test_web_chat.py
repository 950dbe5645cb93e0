"""The members' chat journeys in Chromium (issue 11, points 1, 2, 6 and 8 for threads and messages).

One real server per test (``manage.py serve``, its own database). Each journey fails when it breaks:
a new member discovers and joins a thread with the keyboard alone, chats with line breaks and sees
local timestamps and a day separator; the other member's thread list reorders and counts unread live
(own messages never unread); edit/delete marks reach the other browser live; a report with a reason
(threshold 1 here, so the report hides the message: placeholder for the others, status for the author);
blank, over-long and markup input; a double click sends once; a lost connection keeps the text; "Load
older" keeps the scroll position; the composer stays in view; axe-core, 390 px overflow, touch targets.
"""

from __future__ import annotations

import os
import time

import httpx
import pytest

from tests.conftest import run_browser_scenario
from tests.support.browser_pages import new_context
from tests.support.browser_pages import sign_in as _sign_in
from tests.support.browser_pages import sign_up as _sign_up

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
TIMEOUT_MS = 10_000
MARKUP = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
SHOTS = os.environ.get("CHAT_SCREENSHOTS")  # a directory: keep a picture of each checked page (not asserted)
SERVER_ENV = {"MODERATION_REPORT_THRESHOLD": "1", "RATE_LIMIT_CHAT_SEND": "1000/1:1000"}
SERIOUS = ("serious", "critical")
# Controls a finger must hit (links inside running text are exempt: WCAG 2.5.8 "inline").
TARGETS = """() => {
  const out = [];
  const sel = 'header a, main button, main input:not([type=hidden]):not([type=radio]):not([type=file]), main select,'
    + ' main textarea, main label.choice, main label.chat-attach, .thread-link, .back, #members-link, a.button';
  document.querySelectorAll(sel).forEach(el => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || getComputedStyle(el).visibility === 'hidden' || el.closest('[hidden]')) return;
    if (el.classList.contains('skip-link') || el.classList.contains('visually-hidden')) return;
    if (r.height < 44) out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} '${
      (el.textContent || '').trim().slice(0, 30)}' ${Math.round(r.width)}x${Math.round(r.height)}`);
  });
  return out;
}"""


class Api:
    """A member through the JSON API (set-up only; every journey step under test goes through a page)."""

    def __init__(self, base: str, name: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=10)
        response = self.http.post("/v1/auth/signup", json={"email": f"{name}@example.com", "username": name,
                                                           "password": PASSWORD})  # fmt: skip
        assert response.status_code == 201, response.text
        self.user_id = response.json()["user_id"]
        self.token = response.json()["access_token"]

    def call(self, method: str, path: str, body: dict | None = None) -> dict | list:
        response = self.http.request(method, path, json=body, headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code in (200, 201), response.text
        return response.json()


def _context(browser, width: int = 1280, height: int = 800):
    return new_context(browser, timeout_ms=TIMEOUT_MS, viewport={"width": width, "height": height})


def _live(page) -> None:
    page.wait_for_selector("#chat[data-loaded='1']", state="attached")
    page.wait_for_selector("#chat[data-transport=websocket]", state="attached")


def _message(page, text: str):
    return page.locator("#chat-messages li[data-seq]", has_text=text)


def _wait(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout} s")
        time.sleep(0.1)


# -- journey: discover, join, chat, live list -----------------------------------------------------------


def test_new_member_discovers_joins_and_chats(live_server_factory):
    server = live_server_factory(**SERVER_ENV)
    run_browser_scenario(_discover_and_chat, server.url)


def _discover_and_chat(browser, base: str) -> None:
    ana = Api(base, "ana")
    garden = ana.call("POST", "/v1/chat/threads", {"scope_id": "default", "privacy_level": "public",
                                                   "title": "Garden " + MARKUP})  # fmt: skip
    ana.call("POST", f"/v1/chat/threads/{garden['thread_id']}/messages/send", {"body": "welcome"})
    tools = ana.call("POST", "/v1/chat/threads", {"scope_id": "default", "privacy_level": "public", "title": "Tools"})
    ana_ctx, bob_ctx = _context(browser), _context(browser)
    try:
        # Ana watches her thread list: Tools (newer) is first, nothing unread (her own message).
        ana_list = _sign_in(ana_ctx, base, "ana")
        rows = ana_list.locator("#thread-list li[data-thread-id]")
        assert [r.get_attribute("data-thread-id") for r in rows.all()] == [tools["thread_id"], garden["thread_id"]]
        assert ana_list.locator(f"li[data-thread-id='{garden['thread_id']}'] .unread").is_hidden()
        assert ana_list.locator(f"li[data-thread-id='{garden['thread_id']}'] .mention-count").count() == 1

        # Bob is new: no dead end, the public threads are right there; the keyboard alone joins.
        bob = _sign_up(bob_ctx, base, "bob")
        assert "You are not in any thread yet" in bob.inner_text("main")
        item = bob.locator(f"#discover-inline li[data-thread-id='{garden['thread_id']}']")
        assert MARKUP in item.locator(".thread-link").inner_text()  # shown as text
        assert "1 member" in item.inner_text()
        join = item.locator("button.join-button")
        join.focus()
        bob.keyboard.press("Enter")
        bob.wait_for_url(f"{base}/threads/{garden['thread_id']}")
        _live(bob)
        assert bob.evaluate("() => window.__xss") is None

        # Timestamps: "just now"/"N min ago" today with the full date in the tooltip; a day separator.
        first = _message(bob, "welcome")
        when = first.locator("time.when")
        assert when.inner_text() in ("just now", "1 min ago", "2 min ago")
        assert str(time.gmtime().tm_year) in when.get_attribute("title")
        assert bob.locator("#chat-messages li.day-separator").first.inner_text() == "Today"

        # Keyboard alone: type two lines (Shift+Enter), Enter sends.
        bob.focus("#composer-body")
        bob.keyboard.type("first line")
        bob.keyboard.press("Shift+Enter")
        bob.keyboard.type("second line")
        bob.keyboard.press("Enter")
        mine = _message(bob, "second line")
        mine.wait_for()
        # The stream may show the message before the send's answer clears the composer: wait for the clearing.
        bob.wait_for_function("() => document.querySelector('#composer-body').value === ''")
        assert mine.locator(".body").inner_text() == "first line\nsecond line"
        assert mine.locator(".body").evaluate("el => getComputedStyle(el).whiteSpace") == "pre-wrap"

        # Ana's list, without a reload: Garden moves to the top with 1 unread (bob's, not her own).
        garden_row = ana_list.locator(f"li[data-thread-id='{garden['thread_id']}']")
        garden_row.locator(".unread:has-text('1 unread')").wait_for()
        ana_list.wait_for_function(
            "id => document.querySelector('#thread-list li[data-thread-id]').dataset.threadId === id",
            arg=garden["thread_id"],
        )
        assert "bob: first line" in garden_row.locator(".thread-last").inner_text()

        # Ana opens it, answers; bob sees it live; nobody's own messages count as unread.
        ana = ana_ctx.new_page()
        ana.goto(f"{base}/threads/{garden['thread_id']}")
        _live(ana)
        assert _message(ana, "second line").locator(".body").inner_text() == "first line\nsecond line"
        ana.fill("#composer-body", "hello bob\n\nwith a blank line")
        ana.click("#composer-send")
        _message(bob, "hello bob").wait_for()
        assert _message(bob, "hello bob").locator(".body").inner_text() == "hello bob\n\nwith a blank line"
        bob.goto(f"{base}/threads")
        row = bob.locator(f"#thread-list li[data-thread-id='{garden['thread_id']}']")
        row.locator(".unread").wait_for(state="hidden")  # read on the page; his own message never counted
        garden_row.locator(".unread").wait_for(state="hidden")  # ana read bob's message on her page
    finally:
        ana_ctx.close()
        bob_ctx.close()


# -- journey: edit, delete, report, hidden placeholder -----------------------------------------------


def test_edit_delete_and_report_reach_the_other_browser(live_server_factory):
    server = live_server_factory(**SERVER_ENV)
    run_browser_scenario(_edit_delete_report, server.url)


def _edit_delete_report(browser, base: str) -> None:
    ana, bob = Api(base, "ana"), Api(base, "bob")
    thread = ana.call("POST", "/v1/chat/threads", {"scope_id": "default", "privacy_level": "public", "title": "G"})
    tid = thread["thread_id"]
    bob.call("POST", f"/v1/chat/threads/{tid}/join")
    ana_ctx, bob_ctx = _context(browser), _context(browser, 390, 844)
    try:
        ana_page, bob_page = _sign_in(ana_ctx, base, "ana"), _sign_in(bob_ctx, base, "bob")
        for page in (ana_page, bob_page):
            page.goto(f"{base}/threads/{tid}")
            _live(page)
        bob_page.fill("#composer-body", "typo here")
        bob_page.click("#composer-send")
        _message(ana_page, "typo here").wait_for()

        # Bob edits (keyboard: the ⋯ button, Edit, type, Enter on Save); Ana sees text and mark live.
        seq = _message(bob_page, "typo here").get_attribute("data-seq")
        message = bob_page.locator(f"#chat-messages li[data-seq='{seq}']")
        message.locator("button.more").click()
        message.locator("button.edit").click()
        area = message.locator(".edit-form textarea")
        area.fill("")
        message.locator("button.save").click()
        assert "empty" in message.locator(".edit-error").inner_text()  # blank edit refused, form kept
        area.fill("fixed text\nsecond line")
        message.locator("button.save").click()
        message.locator(".mark-edited").wait_for()
        other = ana_page.locator(f"#chat-messages li[data-seq='{seq}']")
        other.locator(".mark-edited").wait_for()
        assert other.locator(".body").inner_text() == "fixed text\nsecond line"

        # Bob deletes: a confirmation, then "deleted" for both, live.
        message.locator("button.more").click()
        message.locator("button.delete").click()
        message.locator("button.confirm-delete").dblclick()  # a double click deletes once (no error)
        message.locator(".mark-deleted").wait_for()
        other.locator(".mark-deleted").wait_for()
        assert other.locator(".body").inner_text() == "This message was deleted."
        assert other.locator("button.more").is_hidden()
        assert bob_page.locator("#chat-error").inner_text() == ""

        # Ana reports bob's next message with a reason. The threshold is 1 here, so the report holds it:
        # Ana (and everyone else) see the placeholder live, Bob sees his text and its status.
        bob_page.fill("#composer-body", "rude words")
        bob_page.click("#composer-send")
        target = _message(ana_page, "rude words")
        target.wait_for()
        target.locator("button.more").click()
        target.locator("button.report").click()
        dialog = ana_page.locator("#report-dialog")
        assert dialog.is_visible()
        ana_page.click("#report-send")
        assert ana_page.locator("#report-error").inner_text() == "Choose a reason."  # no reason: not sent
        ana_page.select_option("#report-reason", "harassment")
        ana_page.fill("#report-note", MARKUP)
        ana_page.click("#report-send")
        seq = target.get_attribute("data-seq")
        held = ana_page.locator(f"#chat-messages li[data-seq='{seq}']")
        held.locator(".reported").wait_for()
        assert "You reported this message" in held.locator(".reported").inner_text()
        ana_page.wait_for_function(
            "seq => document.querySelector(`li[data-seq='${seq}'] .body`).textContent === 'Hidden by a moderator'",
            arg=seq,
        )
        own = bob_page.locator(f"#chat-messages li[data-seq='{seq}']")
        own.locator(".status:has-text('Held for review')").wait_for()
        assert own.locator(".body").inner_text() == "rude words"
        assert ana_page.evaluate("() => window.__xss") is None
    finally:
        ana_ctx.close()
        bob_ctx.close()


# -- bad input, composer, scroll-back, accessibility ---------------------------------------------------


def test_composer_bad_input_scrollback_and_accessibility(live_server_factory):
    server = live_server_factory(**SERVER_ENV)
    run_browser_scenario(_composer_and_pages, server.url)


def _composer_and_pages(browser, base: str) -> None:
    ana = Api(base, "ana")
    Api(base, "bob")
    thread = ana.call("POST", "/v1/chat/threads", {"scope_id": "default", "privacy_level": "public",
                                                   "title": "Long " + MARKUP + " " + "w" * 120})  # fmt: skip
    tid = thread["thread_id"]
    for i in range(1, 61):
        ana.call("POST", f"/v1/chat/threads/{tid}/messages/send", {"body": f"message {i}\nline two of {i}"})
    ana.call("POST", f"/v1/chat/threads/{tid}/members", {"username": "bob"})
    context = _context(browser)
    try:
        page = _sign_in(context, base, "ana")
        page.goto(f"{base}/threads/{tid}")
        _live(page)
        assert page.locator("#chat-messages li[data-seq]").count() == 50
        # The composer is in view with 50 messages at 1280x800; only the list scrolls.
        box = page.locator("#composer-send").bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= 800
        assert page.evaluate("() => document.documentElement.scrollHeight") <= 800

        # Load older keeps what was on screen where it was, then looks (and is) disabled.
        page.evaluate("() => { document.getElementById('chat-messages').scrollTop = 0; }")
        anchor = page.locator("#chat-messages li[data-seq='11']")
        before = anchor.bounding_box()["y"]
        older = page.locator("#chat-older")
        assert older.is_enabled()
        older.click()
        page.locator("#chat-messages li[data-seq='1']").wait_for(state="attached")
        assert abs(anchor.bounding_box()["y"] - before) <= 2
        assert older.is_disabled()
        assert older.inner_text() == "No older messages"
        assert page.locator("#chat-messages li[data-seq]").count() == 60

        # Blank send: a visible hint, nothing sent.
        page.fill("#composer-body", "   \n  ")
        page.click("#composer-send")
        assert "Type a message first" in page.locator("#chat-error").inner_text()
        assert page.locator("#chat-error").is_visible()
        assert page.locator("#chat-messages li[data-seq]").count() == 60

        # Over-long: refused with a message, the text kept.
        long_text = "z" * 2001
        page.fill("#composer-body", long_text)
        page.click("#composer-send")
        assert "Too long: 2,001 characters" in page.locator("#chat-error").inner_text()
        assert page.input_value("#composer-body") == long_text

        # Markup shown as text; a double click on Send sends once.
        page.fill("#composer-body", MARKUP)
        page.dblclick("#composer-send")
        _message(page, "window.__xss = 1").wait_for()
        page.wait_for_timeout(300)  # a second (duplicate) send would have answered by now
        assert _message(page, "window.__xss = 1").count() == 1
        assert page.evaluate("() => window.__xss") is None
        count = page.locator("#chat-messages li[data-seq]").count()
        assert count == 61

        # Lost connection during a send: the text stays and the page says so; back online, Send delivers once.
        context.set_offline(True)
        page.fill("#composer-body", "sent while offline")
        page.click("#composer-send")
        page.locator("#chat-error:has-text('no connection')").wait_for()
        assert "Your message is kept" in page.locator("#chat-error").inner_text()
        assert page.input_value("#composer-body") == "sent while offline"
        context.set_offline(False)
        page.click("#composer-send")
        _message(page, "sent while offline").wait_for()
        # Shown by the stream first, maybe: the composer is cleared when the send's answer comes.
        page.wait_for_function("() => document.querySelector('#composer-body').value === ''")
        assert _message(page, "sent while offline").count() == 1

        # A lost CSRF cookie (a stale page token alone is fine: the script sends the current cookie's
        # token): a clear message, the text kept, nothing sent.
        context.clear_cookies(name="csrftoken")
        page.fill("#composer-body", "no token")
        page.click("#composer-send")
        page.locator("#chat-error:has-text('security token')").wait_for()
        assert page.input_value("#composer-body") == "no token"
        assert _message(page, "no token").count() == 0

        # Accessibility, 390 px overflow and touch targets on every chat page (ana: member and owner).
        empty_ctx = _context(browser)
        Api(base, "cai")  # no threads: the thread list shows Discover inline
        cai = _sign_in(empty_ctx, base, "cai")
        problems: list[str] = []
        for width, height in ((1280, 800), (390, 844)):
            for who, viewer, paths in (
                ("ana", page, ["/threads", "/threads/discover", f"/threads/{tid}", f"/threads/{tid}/members"]),
                ("cai", cai, ["/threads", f"/threads/{tid}"]),
            ):
                viewer.set_viewport_size({"width": width, "height": height})
                for path in paths:
                    viewer.goto(f"{base}{path}")
                    if path == f"/threads/{tid}" and who == "ana":
                        _live(viewer)
                        _message(viewer, "message 60").locator("button.more").click()  # the actions open
                    _check(viewer, f"{who} {path} @{width}", problems)
        # A double click on Join: one membership, the thread opens (no error page).
        cai.set_viewport_size({"width": 1280, "height": 800})
        cai.goto(f"{base}/threads/{tid}")
        cai.dblclick("#join")
        cai.wait_for_url(f"{base}/threads/{tid}")
        _live(cai)
        members = ana.call("GET", f"/v1/chat/threads/{tid}/members")
        assert [m["username"] for m in members] == ["ana", "bob", "cai"]
        empty_ctx.close()
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def _check(page, name: str, problems: list[str]) -> None:
    from axe_playwright_python.sync_playwright import Axe

    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in SERIOUS:
            problems.append(f"{name}: axe {violation['id']} ({violation['impact']}) "
                            f"{[n['target'] for n in violation['nodes']][:3]}")  # fmt: skip
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.evaluate("() => window.innerWidth")
    if width > viewport:
        problems.append(f"{name}: {width} px wide in a {viewport} px viewport")
    if viewport <= 400:
        problems.extend(f"{name}: small target {t}" for t in page.evaluate(TARGETS))
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name.replace('/', '_').replace(' ', '-')}.png", full_page=True)
