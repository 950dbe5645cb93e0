"""The contribution pages in headless Chromium against a real server (local storage).

A person signs up, creates a contribution, adds photo evidence (a real JPEG with
EXIF GPS and capture time, generated here): the browser hashes it with Web
Crypto, uploads it straight to the signed URL with a progress bar, confirms and
submits. Errors are shown in words beside the field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.evidence.fixtures import jpeg, png

pytestmark = pytest.mark.slow


def _sign_up(page, url: str) -> None:
    page.goto(f"{url}/signup")
    page.fill("input[name=email]", "sari@example.com")
    page.fill("input[name=username]", "sari")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_add_photo_evidence_in_the_browser(browser, live_server_factory, tmp_path):
    server = live_server_factory(MEDIA_ROOT=str(tmp_path / "media"))
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    assert page.goto(f"{server.url}/contributions").url.startswith(f"{server.url}/signin")  # anonymous → sign in
    _sign_up(page, server.url)

    page.goto(f"{server.url}/contributions/new")
    page.click("button[type=submit]")  # empty title
    assert "Give your contribution a title." in page.inner_text("form")
    page.fill("#id_title", "Repaired the village footbridge")
    page.select_option("#id_contribution_type", "community_service")
    page.fill("#id_skill_ids", "carpentry, carpentry, , welding")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/contributions/*")
    assert "Repaired the village footbridge" in page.inner_text("h1")
    assert "carpentry, welding" in page.inner_text("main")

    # A PNG renamed .jpg is refused, in words, beside the file field.
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(png())
    captured = datetime.now(UTC) - timedelta(hours=1)
    page.fill("#ev_timestamp", captured.astimezone().strftime("%Y-%m-%dT%H:%M:%S"))
    page.set_input_files("#ev_file", str(fake))
    page.click("#ev_submit")
    file_error = page.locator('[data-error-for="file"]')
    file_error.wait_for(state="visible")
    assert "does not match its type" in file_error.inner_text()

    photo = tmp_path / "bridge.jpg"
    photo.write_bytes(jpeg(lat=-7.7956, lon=110.3695, captured=captured, size=(800, 600)))
    page.set_input_files("#ev_file", str(photo))
    page.fill("#ev_note", "before and after")
    with page.expect_navigation():
        page.click("#ev_submit")
    item = page.locator(".evidence-item").first
    assert "Photo with timestamp" in item.inner_text()
    assert "photo_with_timestamp" not in item.inner_text()
    assert "-7.7956" in item.inner_text()
    thumb = page.locator("img.thumb").first
    thumb.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert page.evaluate("img => img.naturalWidth", thumb.element_handle()) == 320  # not the 800 px original
    assert thumb.get_attribute("src").endswith("/thumbnail")

    # A timestamp in the future is refused beside the time field.
    page.fill("#ev_timestamp", (datetime.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S"))
    page.set_input_files("#ev_file", str(photo))
    page.click("#ev_submit")
    page.locator('[data-error-for="timestamp"]').wait_for(state="visible")
    assert page.inner_text('[data-error-for="timestamp"]') == (
        "This time is in the future. Choose when it actually happened."
    )
    assert page.inner_text("#ev_status").startswith("File verified.")
    assert page.locator("#ev_progress").evaluate("p => p.value") == 100
    page.screenshot(path=str(tmp_path / "contribution.png"))
    assert not [e for e in errors if "Content Security Policy" in e], errors

    page.goto(f"{server.url}/contributions")
    assert "Repaired the village footbridge" in page.inner_text(".contribution-list")
    context.close()
