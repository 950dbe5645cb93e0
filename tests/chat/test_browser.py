"""Two people chat live in headless Chromium; a broken WebSocket still delivers through the fallback."""

from __future__ import annotations

import io
import json
import time

import httpx
import pytest

from tests.conftest import run_browser_scenario
from tests.support.browser_pages import sign_up as _sign_up

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
BREAK_WEBSOCKET = """
window.WebSocket = function () { throw new Error("WebSocket disabled by the test"); };
"""
MESSAGE = "#chat-messages li[data-seq]"  # a message row (day separators are rows too)
BREAK_EVENTSOURCE = """
window.EventSource = function () { throw new Error("EventSource disabled by the test"); };
"""


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


def _say(page, text: str) -> None:
    page.fill("#composer-body", text)
    page.click("#composer-send")


def test_two_people_chat_live_and_fallback_delivers(live_server_factory):
    server = live_server_factory()
    run_browser_scenario(_scenario, server.url)


def _telemetry(context) -> list[dict]:
    """Every fallback report the page POSTs (the fallback-activation metric's input)."""
    seen: list[dict] = []
    context.on(
        "request",
        lambda r: seen.append(json.loads(r.post_data or "{}")) if r.url.endswith("/v1/chat/telemetry") else None,
    )
    return seen


def _metric(base: str, text: str) -> float:
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith("gotong_realtime_fallback_total{") and text in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _scenario(browser, base: str) -> None:
    ana_ctx, bob_ctx, cai_ctx = browser.new_context(), browser.new_context(), browser.new_context()
    bob_ctx.add_init_script(BREAK_WEBSOCKET)  # Bob's browser cannot open WebSockets
    cai_ctx.add_init_script(BREAK_WEBSOCKET + BREAK_EVENTSOURCE)  # Cai has neither: polling
    bob_reports, cai_reports = _telemetry(bob_ctx), _telemetry(cai_ctx)
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
        # The page must reach SSE (not merely leave WebSocket) and say so to the server.
        bob.wait_for_selector("#chat[data-transport=sse]", state="attached", timeout=15_000)
        assert bob.get_attribute("#chat", "data-transport-reason") == "ws_error"
        _wait(lambda: {"from": "websocket", "to": "sse", "reason": "ws_error"} in bob_reports, "bob's telemetry")
        _wait(lambda: _metric(base, 'to="sse"') >= 1, "fallback metric websocket→sse")

        cai = _sign_up(cai_ctx, base, "cai")
        cai.goto(thread_url)
        cai.click("#join")
        cai.wait_for_url(thread_url)
        cai.wait_for_selector("#chat[data-transport=polling]", state="attached", timeout=15_000)
        _wait(lambda: any(r.get("to") == "polling" for r in cai_reports), "cai's telemetry")

        # Sent after both fallbacks are up, so only a working live path can deliver it (no reload).
        _say(ana, "hello bob")
        bob.wait_for_selector(f"{MESSAGE}:has-text('hello bob')", timeout=10_000)
        cai.wait_for_selector(f"{MESSAGE}:has-text('hello bob')", timeout=12_000)  # ≤ one 5 s poll + slack
        assert bob.get_attribute("#chat", "data-transport") == "sse"  # still on SSE, not recovered by a reload
        _say(bob, "hi ana")
        ana.wait_for_selector("#chat-messages li[data-seq]:has-text('hi ana')", timeout=10_000)
        assert ana.locator("#chat-messages li[data-seq]").count() == 2
        assert bob.locator("#chat-messages li[data-seq]").count() == 2

        # An attachment: Ana attaches a PNG, Bob sees it inline through its signed URL.
        ana.set_input_files("#composer-file", files=[{"name": "leaf.png", "mimeType": "image/png", "buffer": PNG}])
        _say(ana, "a leaf")
        image = bob.wait_for_selector(f"{MESSAGE}:has-text('a leaf') .attachment-image img", timeout=10_000)
        bob.wait_for_function("img => img.complete && img.naturalWidth === 8", arg=image, timeout=10_000)
        assert "/v1/chat/attachments/" in image.get_attribute("src")

        ana.goto(f"{base}/threads")
        assert ana.locator(".thread-item").count() == 1
        assert "Threads" in ana.locator("nav").inner_text()
    finally:
        for context in (ana_ctx, bob_ctx, cai_ctx):
            context.close()


def _wait(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout} s")
        time.sleep(0.1)
