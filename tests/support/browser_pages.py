"""Shared steps of the Chromium page tests: a context with the test timeout, signing up and in by the forms."""

from __future__ import annotations

from typing import Any

PASSWORD = "correct horse battery"
TIMEOUT_MS = 10_000


def new_context(browser: Any, *, timeout_ms: int = TIMEOUT_MS, **options: Any) -> Any:
    context = browser.new_context(**options)
    context.set_default_timeout(timeout_ms)
    return context


def sign_up(context: Any, base: str, name: str, password: str = PASSWORD) -> Any:
    """Fill the sign-up form as ``name@example.com`` and wait for the thread list it leads to."""
    page = context.new_page()
    page.goto(f"{base}/signup")
    page.fill("input[name=email]", f"{name}@example.com")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/threads")
    return page


def sign_in(context: Any, base: str, name: str, password: str = PASSWORD) -> Any:
    page = context.new_page()
    page.goto(f"{base}/signin")
    page.fill("input[name=email]", f"{name}@example.com")
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/threads*")
    return page
