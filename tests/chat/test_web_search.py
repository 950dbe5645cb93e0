"""The conversation features in the web pages.

Server-rendered search page (Django test client): escaping, errors with the input kept, pagination.
Chromium (slow): a mention with autocomplete, its highlight and the counter in the other member's
thread list; the typing indicator appearing and disappearing in the other browser; search finding a
message that is not on the thread's first page and jumping to it in context; axe-core on the search
page at 1280 and 390 px.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import run_browser_scenario

PASSWORD = "correct horse battery"
T = "/v1/chat/threads"
SERIOUS = {"serious", "critical"}


# -- the page through the test client ------------------------------------------------------------


@pytest.fixture
def setup(chat):
    ana, bob = chat.signup("ana"), chat.signup("bob")
    tid = chat.thread(ana, title="<i>Garden</i>")["thread_id"]
    assert chat.call("post", f"{T}/{tid}/join", bob).status_code == 200
    chat.send(ana, tid, '<script>alert("x")</script> tomato seeds')
    chat.client.cookies.clear()
    signin = chat.client.post(
        "/v1/auth/signin", {"email": "bob@example.com", "password": PASSWORD}, content_type="application/json"
    )
    assert signin.status_code in (200, 201), signin.content
    return ana, bob, tid


def test_search_page_shows_escaped_highlighted_results(chat, setup):
    _ana, _bob, tid = setup
    page = chat.client.get("/threads/search?q=tomato")
    assert page.status_code == 200
    html = page.content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; <mark>tomato</mark> seeds" in html
    assert "<script>alert" not in html
    assert "&lt;i&gt;Garden&lt;/i&gt;" in html  # the thread title, escaped
    assert f'href="/threads/{tid}?seq=1#m-1"' in html
    assert re.search(r'<time datetime="[0-9T:-]+Z" data-local-time="datetime">', html)


def test_search_page_errors_keep_the_input(chat, setup):
    empty = chat.client.get("/threads/search?q=%20%20")
    assert empty.status_code == 400
    assert "Enter one or more words" in empty.content.decode()
    long = chat.client.get("/threads/search?q=" + "w" * 250)
    assert long.status_code == 400
    text = long.content.decode()
    assert "too long" in text
    assert f'value="{"w" * 250}"' in text
    hostile = chat.client.get("/threads/search?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    assert hostile.status_code == 200
    assert "<img src=x" not in hostile.content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in hostile.content.decode()
    assert chat.client.get("/threads/search?q=a%00b").status_code == 400
    first_visit = chat.client.get("/threads/search")
    assert first_visit.status_code == 200
    assert 'id="search-results"' not in first_visit.content.decode()


def test_search_page_in_one_thread_pages_and_bad_thread(chat, setup):
    ana, _bob, tid = setup
    for i in range(25):
        chat.send(ana, tid, f"bean {i}")
    first = chat.client.get(f"/threads/search?q=bean&thread_id={tid}").content.decode()
    assert first.count('class="search-result"') == 20
    assert "offset=20" in first
    assert 'id="search-prev"' not in first
    second = chat.client.get(f"/threads/search?q=bean&thread_id={tid}&offset=20").content.decode()
    assert second.count('class="search-result"') == 5
    assert 'id="search-next"' not in second
    assert 'id="search-prev"' in second
    other = chat.client.get("/threads/search?q=bean&thread_id=" + "0" * 32)
    assert other.status_code == 200
    assert "not one you can search" in other.content.decode()
    chat.client.cookies.clear()
    assert chat.client.get("/threads/search?q=bean").status_code == 302


# -- Chromium ----------------------------------------------------------------------------------------


def _user(base: str, name: str) -> dict:
    r = httpx.post(f"{base}/v1/auth/signup", json={"email": f"{name}@example.com", "username": name,
                                                  "password": PASSWORD})  # fmt: skip
    assert r.status_code == 201, r.text
    data = r.json()
    return {"name": name, "user_id": data["user_id"], "headers": {"Authorization": f"Bearer {data['access_token']}"},
            "cookie": r.cookies.get("gr_session")}  # fmt: skip


def _context(browser, base: str, user: dict, **kwargs):
    context = browser.new_context(**kwargs)
    context.add_cookies([{"name": "gr_session", "value": user["cookie"], "url": base}])
    return context


def _thread(base: str, owner: dict, title: str, members: list[dict]) -> str:
    tid = httpx.post(f"{base}{T}", json={"scope_id": "default", "privacy_level": "public", "title": title},
                     headers=owner["headers"]).json()["thread_id"]  # fmt: skip
    for member in members:
        assert httpx.post(f"{base}{T}/{tid}/join", headers=member["headers"]).status_code == 200
    return tid


def _send(base: str, user: dict, tid: str, body: str) -> dict:
    r = httpx.post(f"{base}{T}/{tid}/messages/send", json={"body": body}, headers=user["headers"])
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.slow
def test_mention_autocomplete_highlight_counter_and_typing(live_server_factory):
    server = live_server_factory()
    run_browser_scenario(_mentions_and_typing, server.url)


def _mentions_and_typing(browser, base: str) -> None:
    ana, bob = _user(base, "ana"), _user(base, "bob")
    _user(base, "anabel")  # not a member: never offered
    tid = _thread(base, ana, "Garden", [bob])
    ana_ctx, bob_ctx = _context(browser, base, ana), _context(browser, base, bob)
    try:
        ana_page = ana_ctx.new_page()
        ana_page.goto(f"{base}/threads")
        row = f'li[data-thread-id="{tid}"]'
        ana_page.wait_for_selector(row)
        assert ana_page.locator(f"{row} .mention-count").is_hidden()

        bob_page = bob_ctx.new_page()
        bob_page.goto(f"{base}/threads/{tid}")
        bob_page.wait_for_selector("#chat[data-loaded='1']", state="attached")
        box = bob_page.locator("#composer-body")
        box.click()
        box.type("Hi @a")
        bob_page.wait_for_selector("#mention-list [role=option]")
        options = bob_page.locator("#mention-list [role=option]").all_text_contents()
        assert options == ["@ana"]  # members only, prefix-filtered
        assert box.get_attribute("aria-activedescendant") == "mention-option-0"
        assert bob_page.get_attribute("#mention-option-0", "aria-selected") == "true"
        box.press("Enter")  # chooses, does not send
        assert box.input_value() == "Hi @ana "
        assert bob_page.locator("#mention-list").is_hidden()
        box.type("the seeds are in")
        box.press("Enter")  # sends
        bob_page.wait_for_selector("#chat-messages li[data-seq='1'] mark.mention")
        assert bob_page.locator("#chat-messages li[data-seq='1'] mark.mention").inner_text() == "@ana"

        # Ana's thread list shows the unread mention without a reload.
        ana_page.wait_for_selector(f"{row} .mention-count:not([hidden])", timeout=15_000)
        assert ana_page.locator(f"{row} .mention-count").inner_text() == "@1"
        assert ana_page.locator(f"{row} .mention-count").get_attribute("aria-label") == "1 unread mention of you"

        ana_page.goto(f"{base}/threads/{tid}")
        mark = ana_page.wait_for_selector("#chat-messages li[data-seq='1'] mark.mention-me")
        assert mark.inner_text() == "@ana"
        assert "mentions-me" in ana_page.get_attribute("#chat-messages li[data-seq='1']", "class")
        body = ana_page.locator("#chat-messages li[data-seq='1'] .body").inner_text()
        assert body == "Hi @ana the seeds are in"  # the highlight keeps the text as it was
        ana_page.wait_for_selector("#chat[data-transport=websocket]", state="attached", timeout=15_000)

        # Typing: Bob types, Ana sees it (polite live region) and it goes away by itself. Ana's stream is
        # live once a message sent now reaches her page (a typing event is not caught up afterwards).
        assert ana_page.get_attribute("#typing", "aria-live") == "polite"
        _send(base, bob, tid, "are you there")
        ana_page.wait_for_selector("#chat-messages li[data-seq='2']", timeout=15_000)
        assert _typing_seen(bob_page, ana_page, "bob is typing…")
        assert bob_page.locator("#typing").inner_text() == ""  # never your own
        ana_page.wait_for_function("() => document.getElementById('typing').textContent === ''", timeout=10_000)
        # Back in the list, the mention is read now.
        ana_page.goto(f"{base}/threads")
        ana_page.wait_for_selector(f"{row} .mention-count[data-count='0']", state="attached", timeout=10_000)
    finally:
        ana_ctx.close()
        bob_ctx.close()


def _typing_seen(typist, reader, text: str) -> bool:
    """Type one character at a time until the reader shows ``text``: announcements are throttled to one
    per 3 s (client and server), so the first keystrokes may fall in a window of an earlier one."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = typist.locator("#composer-body")
    for ch in "still typing here, with more words":
        box.type(ch)
        try:
            reader.wait_for_function("t => document.getElementById('typing').textContent === t", arg=text, timeout=1000)
        except PlaywrightTimeout:
            continue
        return True
    return False


@pytest.mark.slow
def test_search_finds_a_message_and_jumps_to_it_in_context(live_server_factory):
    server = live_server_factory(RATE_LIMIT_CHAT_SEND="1000/1:1000")
    run_browser_scenario(_search_and_jump, server.url)


def _search_and_jump(browser, base: str) -> None:
    ana, bob = _user(base, "ana"), _user(base, "bob")
    tid = _thread(base, ana, "Harvest", [bob])
    for i in range(1, 121):
        body = "the <b>secret</b> pumpkin recipe" if i == 7 else f"filler message {i}"
        _send(base, ana if i % 2 else bob, tid, body)
    context = _context(browser, base, bob, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{base}/threads")
        page.fill("#thread-search-q", "pumpkins")
        page.press("#thread-search-q", "Enter")
        page.wait_for_url(re.compile(r".*/threads/search\?q=pumpkins"))
        results = page.locator(".search-result")
        assert results.count() == 1
        assert page.locator(".search-result mark").all_text_contents() == ["pumpkin"]
        snippet = page.locator(".search-result .result-snippet").inner_text()
        assert snippet == "the <b>secret</b> pumpkin recipe"  # markup shown as text
        assert page.locator(".search-result .result-thread").inner_text() == "Harvest"
        assert page.locator(".search-result .result-author").inner_text() == "ana"
        assert page.get_attribute(".search-result time", "data-localised") == "1"  # local time
        page.click(".search-result a")
        page.wait_for_url(re.compile(rf".*/threads/{tid}\?seq=7#m-7"))
        # seq 7 is not among the latest 50: the page loads older messages until it is there.
        page.wait_for_selector("#chat[data-jump=found]", state="attached", timeout=20_000)
        target = page.locator("#chat-messages li[data-seq='7']")
        assert "jump-target" in target.get_attribute("class")
        assert target.locator(".body").inner_text() == "the <b>secret</b> pumpkin recipe"
        shown = page.evaluate("""() => {
            const li = document.querySelector("#chat-messages li[data-seq='7']").getBoundingClientRect();
            const list = document.getElementById("chat-messages").getBoundingClientRect();
            return li.top >= list.top - 1 && li.bottom <= list.bottom + 1;
        }""")
        assert shown, "the target message is scrolled into view"
        assert page.locator("#chat-messages li[data-seq='6']").count() == 1  # in context: its neighbours too
        assert page.locator("#chat-messages li[data-seq='8']").count() == 1

        # A search for nothing shows a clear message, keeps the input, and the page passes axe.
        problems: list[str] = []
        for label, viewport in (("desktop", {"width": 1280, "height": 800}), ("phone", {"width": 390, "height": 844})):
            page.set_viewport_size(viewport)
            page.goto(f"{base}/threads/search?q=pumpkin")
            _check(page, f"{label} results", problems)
            page.goto(f"{base}/threads/search?q=" + "x" * 250)
            assert "too long" in page.locator("#search-error").inner_text()
            assert page.input_value("#search-q") == "x" * 250
            _check(page, f"{label} error", problems)
            page.goto(f"{base}/threads/search?q=filler&thread_id={tid}")
            assert page.locator(".search-result").count() == 20
            _check(page, f"{label} paged", problems)
        assert problems == []
    finally:
        context.close()


TARGETS = """() => {
  const out = [];
  document.querySelectorAll('main a, main button, main input, main select, main textarea').forEach(el => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || el.type === 'hidden' || el.closest('[hidden]')) return;
    if (r.height < 44) out.push(`${el.tagName} ${el.id} ${Math.round(r.height)}`);
  });
  return out;
}"""


def _check(page, name: str, problems: list[str]) -> None:
    from axe_playwright_python.sync_playwright import Axe

    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in SERIOUS:
            problems.append(f"{name}: axe {violation['id']} {[n['target'] for n in violation['nodes']][:3]}")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.evaluate("() => window.innerWidth")
    if width > viewport:
        problems.append(f"{name}: {width} px wide in {viewport} px")
    if viewport <= 400:
        problems.extend(f"{name}: small target {t}" for t in page.evaluate(TARGETS))
