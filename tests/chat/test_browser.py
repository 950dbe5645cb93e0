"""Two people chat live in headless Chromium; a broken WebSocket still delivers through the fallback."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
BREAK_WEBSOCKET = """
window.WebSocket = function () { throw new Error("WebSocket disabled by the test"); };
"""


STATIC = Path(__file__).resolve().parents[2] / "static"
TYPES = {".js": "text/javascript", ".css": "text/css"}


def _static(route) -> None:
    relative = route.request.url.split("/static/", 1)[1].split("?", 1)[0]
    path = (STATIC / relative).resolve()
    if STATIC in path.parents and path.is_file():
        route.fulfill(
            status=200, body=path.read_bytes(), content_type=TYPES.get(path.suffix, "application/octet-stream")
        )
    else:
        route.fulfill(status=404, body=b"")


def _sign_up(context, base: str, name: str):
    page = context.new_page()
    page.goto(f"{base}/signup")
    page.fill("input[name=email]", f"{name}@example.com")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/threads")
    return page


def _say(page, text: str) -> None:
    page.fill("#chat-body", text)
    page.click("#chat-send")


def test_two_people_chat_live_and_fallback_delivers(live_server_factory):
    """Runs Playwright in its own thread: the session-wide ``browser`` fixture keeps an event loop running
    in the main thread, which breaks every later sync test of the same xdist worker (reported)."""
    server = live_server_factory()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_in_thread, server.url).result()


def _in_thread(base: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            _scenario(browser, base)
        finally:
            browser.close()


def _scenario(browser, base: str) -> None:
    ana_ctx, bob_ctx = browser.new_context(), browser.new_context()
    bob_ctx.add_init_script(BREAK_WEBSOCKET)  # Bob's browser cannot open WebSockets
    for context in (ana_ctx, bob_ctx):
        # `manage.py serve` does not serve /static/ yet (reported); hand the browser the files from the tree.
        context.route("**/static/**", _static)
    try:
        ana = _sign_up(ana_ctx, base, "ana")
        ana.fill("input[name=title]", "Garden")
        ana.click("#new-thread button[type=submit]")
        ana.wait_for_url(f"{base}/threads/*")
        thread_url = ana.url
        ana.wait_for_selector("#chat[data-transport=websocket]", state="attached", timeout=10_000)

        bob = _sign_up(bob_ctx, base, "bob")
        bob.goto(thread_url)
        bob.click("#join")
        bob.wait_for_url(thread_url)
        bob.wait_for_selector(
            "#chat[data-transport=sse], #chat[data-transport=polling]", state="attached", timeout=15_000
        )

        _say(ana, "hello bob")
        bob.wait_for_selector("#chat-messages li:has-text('hello bob')", timeout=10_000)
        _say(bob, "hi ana")
        ana.wait_for_selector("#chat-messages li:has-text('hi ana')", timeout=10_000)
        assert ana.locator("#chat-messages li").count() == 2
        assert bob.locator("#chat-messages li").count() == 2

        ana.goto(f"{base}/threads")
        assert ana.locator(".thread-item").count() == 1
        assert "Threads" in ana.locator("nav").inner_text()
    finally:
        ana_ctx.close()
        bob_ctx.close()
