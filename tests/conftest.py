"""Test set-up: a fresh SurrealDB namespace per test, a real Redis per session.

Every test runs against the real embedded engine (``mem://``) in a namespace
of its own with all migrations applied, so tests never see each other's data.
In-process stores (rate limits, idempotency) are reset between tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.core.db import get_db, run_sync
from apps.core.db.migrations import migrate

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
