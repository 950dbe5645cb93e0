"""seed_demo fills a fresh database with a living community, once."""

from __future__ import annotations

from apps.core.db import run_sync
from apps.demo.seed import seed


def test_seed_demo_creates_a_community_whose_accounts_can_sign_in(api, surreal_db):
    result = run_sync(seed)
    assert result.created
    assert (result.threads, result.messages, result.contributions, result.evidence, result.vouches) == (2, 10, 2, 2, 3)
    assert (result.held, result.reports, result.appeals) == (1, 1, 1)
    roles = {account.role for account in result.accounts}
    assert {"admin", "moderator", "user"} <= roles

    for account in result.accounts:
        signin = api.post(
            "/v1/auth/signin", {"email": account.email, "password": account.password}, content_type="application/json"
        )
        assert signin.status_code == 200, (account.email, signin.content)
        assert signin.json()["role"] == account.role

    ana = next(a for a in result.accounts if a.username == "ana")
    token = api.post(
        "/v1/auth/signin", {"email": ana.email, "password": ana.password}, content_type="application/json"
    ).json()["access_token"]
    threads = api.get("/v1/chat/threads", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert len(threads) == 2  # the public thread she created and the private one she was added to

    # Something for the moderator: a held message, a reported one and an appealed removal, in the queue.
    from apps.moderation import services as moderation

    queue = {tuple(item["kinds"]) for item in run_sync(moderation.review_queue)}
    assert queue == {("held",), ("reported",), ("appeal",)}

    events = run_sync(surreal_db.query, "SELECT event_type FROM webhook_outbox_event;")[0]
    kinds = sorted(e["event_type"] for e in events)
    assert kinds.count("contribution_created") == 2
    assert kinds.count("vouch_submitted") == 3
    assert kinds.count("co_witness_attested") == 1


def test_seeding_twice_changes_nothing(surreal_db):
    run_sync(seed)
    users = run_sync(surreal_db.query, "SELECT count() AS n FROM user GROUP ALL;")[0]
    assert run_sync(seed).created is False
    assert run_sync(surreal_db.query, "SELECT count() AS n FROM user GROUP ALL;")[0] == users


def test_serve_demo_shows_a_living_app_on_mem(tmp_path):
    """`make demo`: the one-process server on mem:// with demo data and printed sign-in details."""
    import re
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from tests.conftest import ROOT, free_port, server_env

    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--demo"],
            cwd=ROOT,
            env=server_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "Gotong Royong on" not in log.read_text() and time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.1)
            text = log.read_text()
            match = re.search(r"^\s+user\s+(ana@\S+)\s+(\S+)$", text, re.M)
            assert match, text
            signin = httpx.post(
                f"http://127.0.0.1:{port}/v1/auth/signin", json={"email": match[1], "password": match[2]}
            )
            assert signin.status_code == 200, signin.text
            page = httpx.get(f"http://127.0.0.1:{port}/threads", cookies=signin.cookies)
            assert "RT 05" in page.text
            assert re.search(r"webhooks go to the development receiver at http://127\.0\.0\.1:\d+/", text), text
            # The outbox delivers to the in-process receiver: events reach `delivered`, none dead-letters.
            admin = re.search(r"^\s+admin\s+(\S+)\s+(\S+)$", text, re.M)
            staff = httpx.Client(base_url=f"http://127.0.0.1:{port}")
            staff.post("/v1/auth/signin", json={"email": admin[1], "password": admin[2]}).raise_for_status()
            deadline = time.monotonic() + 30
            delivered = ""
            while time.monotonic() < deadline:
                delivered = staff.get("/admin/webhooks/outbox/?status=delivered").text
                if delivered.count('class="outbox-row"') >= 6:  # 2 contributions, 3 vouches, 1 co-witness
                    break
                time.sleep(0.2)
            assert delivered.count('class="outbox-row"') >= 6, delivered
            assert 'class="outbox-row"' not in staff.get("/admin/webhooks/outbox/?status=dead_letter").text
            queue = staff.get("/admin/moderation/queue/").text
            assert "Jual pulsa murah" in queue
            assert "drain cover" in queue
            assert "real form of the RT" in queue
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
