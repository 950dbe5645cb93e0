"""Screenshots of every page at 1280 and 390 px for docs/ui.md (`make screenshots`).

Starts `manage.py serve --demo` (embedded mem:// database, demo data, the development webhook
receiver) on a free port, signs in as the demo member, moderator and admin through the API, opens
every member and admin page in Debian's Chromium (Playwright) at both widths and saves
docs/ui/<page>-<width>.jpg. Then it rewrites the gallery between the markers in docs/ui.md.

Not a test: it only shows the pages. The browser tests under tests/ check them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "ui"
DOC = ROOT / "docs" / "ui.md"
START, END = "<!-- screenshots:start -->", "<!-- screenshots:end -->"
WIDTHS = {1280: 800, 390: 844}
ACCOUNT = re.compile(r"^\s+(admin|moderator|user)\s+(\S+@\S+)\s+(\S+)\s*$", re.MULTILINE)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str, dict[str, tuple[str, str]]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SURREAL_", "REDIS_", "S3_", "WEBHOOK_"))}
    env.update(APP_ENV="development", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the demo server exited:\n" + "".join(lines))
        lines.append(line)
        if line.startswith("Gotong Royong on http://"):
            break
    else:
        proc.kill()
        raise SystemExit("the demo server did not start within 120 s")
    accounts: dict[str, tuple[str, str]] = {}
    for role, email, password in ACCOUNT.findall("".join(lines)):
        accounts.setdefault("member" if role == "user" else role, (email, password))
    # Keep reading the server's output so its pipe never fills up.
    subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}", accounts


def token(base: str, email: str, password: str) -> str:
    answer = httpx.post(f"{base}/v1/auth/signin", json={"email": email, "password": password}, timeout=30)
    answer.raise_for_status()
    return answer.json()["access_token"]


def pages(base: str, tokens: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """(name, path, role) for every page; role None = signed out."""

    def get(path: str, role: str):
        answer = httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {tokens[role]}"}, timeout=30)
        answer.raise_for_status()
        return answer.json()

    thread = get("/v1/chat/threads", "member")[0]["thread_id"]
    contribution = get("/v1/contributions", "member")[0]["contribution_id"]
    me = get("/v1/auth/me", "member")["username"]
    queue = get("/v1/moderations/review-queue", "moderator")
    items = queue.get("items", queue) if isinstance(queue, dict) else queue
    item = items[0]["content_id"] if items else None
    return [
        ("home", "/", None),
        ("signin", "/signin", None),
        ("signup", "/signup", None),
        ("threads", "/threads", "member"),
        ("discover", "/threads/discover", "member"),
        ("thread", f"/threads/{thread}", "member"),
        ("members", f"/threads/{thread}/members", "member"),
        ("search", "/threads/search?q=drainage", "member"),
        ("contributions", "/contributions", "member"),
        ("contributions-everyone", "/contributions?everyone=1", "member"),
        ("contribution", f"/contributions/{contribution}", "member"),
        ("contribution-new", "/contributions/new", "member"),
        ("profile", f"/members/{me}", "member"),
        ("admin-login", "/admin/login/", None),
        ("admin-index", "/admin/", "admin"),
        ("admin-queue", "/admin/moderation/queue/", "moderator"),
        *([("admin-item", f"/admin/moderation/items/{item}/", "moderator")] if item else []),
        ("admin-decisions", "/admin/moderation/decisions/", "moderator"),
        ("admin-reports", "/admin/moderation/reports/", "moderator"),
        ("admin-users", "/admin/users/", "admin"),
        ("admin-outbox", "/admin/webhooks/outbox/", "admin"),
    ]


def shoot(base: str, tokens: dict[str, str]) -> list[str]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("chromium is not installed (scripts/test.sh installs it: apt-get install chromium)")
    OUT.mkdir(parents=True, exist_ok=True)
    names = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        for name, path, role in pages(base, tokens):
            for width, height in WIDTHS.items():
                context = browser.new_context(viewport={"width": width, "height": height})
                if role is not None:
                    context.add_cookies([{"name": "gr_session", "value": tokens[role], "url": base}])
                page = context.new_page()
                page.goto(f"{base}{path}", wait_until="load")
                # Scripts render messages and local times after load; give them a moment (a picture, not a test).
                page.wait_for_timeout(800)
                page.screenshot(path=str(OUT / f"{name}-{width}.jpg"), type="jpeg", quality=70)
                context.close()
            names.append(name)
            print(f"  {name}: {path}")
        browser.close()
    return names


def gallery(names: list[str]) -> str:
    rows = ["| page | 1280 px | 390 px |", "|---|---|---|"]
    for name in names:
        rows.append(f"| {name} | ![{name} at 1280 px](ui/{name}-1280.jpg) | ![{name} at 390 px](ui/{name}-390.jpg) |")
    return "\n".join([START, "Regenerated by `make screenshots` (scripts/screenshots.py) on the demo data.", "",
                      *rows, END])  # fmt: skip


def main() -> None:
    proc, base, accounts = start_server()
    try:
        tokens = {role: token(base, email, password) for role, (email, password) in accounts.items()}
        names = shoot(base, tokens)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    text = DOC.read_text()
    block = gallery(names)
    if START in text and END in text:
        text = text[: text.index(START)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n## Screenshots\n" + block + "\n"
    DOC.write_text(text)
    print(f"{len(names) * len(WIDTHS)} screenshots in {OUT.relative_to(ROOT)}; gallery in {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
