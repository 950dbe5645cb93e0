"""Test set-up: a fresh SurrealDB namespace per test, a real Redis per session.

Every test runs against the real embedded engine (``mem://``) in a namespace
of its own with all migrations applied, so tests never see each other's data.
In-process stores (rate limits, idempotency) are reset between tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from apps.core.db import get_db, run_sync
from apps.core.db.migrations import migrate
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def surreal_db() -> Iterator:
    """A fresh namespace with every migration applied; removed afterwards."""
    db = get_db()
    namespace = f"test_{uuid.uuid4().hex[:12]}"
    run_sync(db.use, namespace, "test")
    run_sync(migrate, db)
    yield db
    run_sync(db.query, f"REMOVE NAMESPACE IF EXISTS {namespace};")


@pytest.fixture(autouse=True)
def _reset_process_state() -> Iterator[None]:
    from apps.core import idempotency, ratelimit

    ratelimit.limiter.reset()
    idempotency.reset_local_store()
    ratelimit.overrides.clear()
    yield
    ratelimit.overrides.clear()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A real redis-server on a free loopback port for this test session."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; scripts/test.sh installs it (apt-get install redis-server)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="gotong-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server did not start")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """Point the app at the session's Redis (flushed) for one test; in-process stores otherwise."""
    import redis as sync_redis

    from apps.core.redis import set_redis_url

    sync_redis.Redis.from_url(redis_server).flushdb()
    set_redis_url(redis_server)
    yield redis_server
    set_redis_url(None)


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail(f"{what} did not listen on {port} within {timeout:g} s")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, str]]:
    """A real S3 server (SeaweedFS ``weed mini`` from PyPI, verifies SigV4) on free loopback ports.

    Yields ``endpoint``, ``access_key``, ``secret_key``, ``region``; tests create their own buckets.
    """
    from tests.support.seaweed import start_weed_mini

    workdir = Path(tempfile.mkdtemp(prefix="gotong-s3-"))
    try:
        proc, weed = start_weed_mini(workdir, "gotongtestkey", "gotong-test-secret-key-0123456789")
    except RuntimeError as exc:  # the binary is missing, or every attempt failed (the message has the log)
        pytest.fail(str(exc))
    s3_port, access_key, secret_key = weed.s3_port, weed.access_key, weed.secret_key
    yield {
        "endpoint": f"http://127.0.0.1:{s3_port}",
        "access_key": access_key,
        "secret_key": secret_key,
        "region": "us-east-1",
    }
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(workdir, ignore_errors=True)


BRIDGE_DIR = ROOT / "tests" / "support" / "surreal_bridge"


@dataclass
class SurrealBridge:
    """The test-only ws:// SurrealDB server (tests/support/surreal_bridge/bridge.js): one shared engine."""

    port: int
    endpoint: str
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    def start(self) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is not installed; the bridge needs Node.js")
        if not (BRIDGE_DIR / "node_modules").is_dir():
            pytest.fail(f"run `npm ci --ignore-scripts` in {BRIDGE_DIR} (scripts/test.sh does)")
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [node, str(BRIDGE_DIR / "bridge.js"), str(self.port)], stdout=log, stderr=subprocess.STDOUT
        )
        _wait_for_port(self.port, self.proc, "surreal bridge")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def surreal_bridge(tmp_path: Path) -> Iterator[SurrealBridge]:
    """A fresh ws:// SurrealDB (root/root) for one test; what it proves is in docs/data-layer.md."""
    port = free_port()
    bridge = SurrealBridge(port, f"ws://127.0.0.1:{port}/rpc", log_path=tmp_path / "bridge.log")
    bridge.start()
    yield bridge
    bridge.stop()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def run_browser_scenario(scenario: Callable[[Any, str], None], base_url: str) -> None:
    """Run ``scenario(browser, base_url)`` with Playwright in a thread of its own.

    For tests that also use Django's test client or ``run_sync`` around the browser work:
    Playwright's sync API runs an event loop in the thread that drives it.
    """

    def drive() -> None:
        from playwright.sync_api import sync_playwright

        executable = shutil.which("chromium")
        if executable is None:
            raise RuntimeError("chromium is not installed; scripts/test.sh installs it (apt-get install chromium)")
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
            try:
                scenario(instance, base_url)
            finally:
                instance.close()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright") as pool:
        pool.submit(drive).result()


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (its own browser download does not work here).

    Function-scoped on purpose: Playwright's sync API keeps an event loop running in the
    test thread while it is open, and Django's test client (async_to_sync) refuses such a
    thread, so a longer-lived browser would break every later test of the worker.
    """
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed; scripts/test.sh installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@dataclass
class LiveServer:
    """A ``manage.py serve`` process (its own embedded database) reached over real HTTP."""

    url: str
    port: int
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def server_env(**extra: str) -> dict[str, str]:
    """The test environment for a child process: APP_ENV=test, no inherited database or Redis settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SURREAL_", "REDIS_", "S3_", "PORT"))}
    env.update(APP_ENV="test", PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


@pytest.fixture
def live_server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start real servers: ``live_server_factory(REDIS_URL=..., S3_ENDPOINT=...)``; stopped after the test."""
    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        port = free_port()
        log_path = tmp_path / f"serve-{port}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT,
            env=server_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = LiveServer(f"http://127.0.0.1:{port}", port, proc, log_path)
        started.append(server)
        _wait_for_port(port, proc, f"manage.py serve ({log_path})", timeout=60)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGTERM)
            try:
                server.proc.wait(15)
            except subprocess.TimeoutExpired:
                server.proc.kill()


@pytest.fixture
def api():
    """Django's test client speaking JSON (through the full middleware stack)."""
    from django.test import Client

    return Client()


def pytest_sessionfinish(session, exitstatus) -> None:
    """Close the embedded engine before interpreter exit (environment notes, defect 3)."""
    from apps.core.db.shutdown import close_before_exit

    close_before_exit()
    os.environ.setdefault("GOTONG_TESTS_FINISHED", "1")
