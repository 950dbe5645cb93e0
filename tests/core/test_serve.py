"""``manage.py serve`` and the exit status of manage.py, tested as real processes over real HTTP.

Each server runs in its own process on a free loopback port with the embedded
engine (``mem://`` or a ``surrealkv://`` temp dir), exactly as ``make run``
starts it. The lifecycle tests run once per ASGI server (``ASGI_SERVER``: daphne
and uvicorn share one lifecycle, apps/core/servers/). The exit-status tests guard the workaround for defect 3 of the
environment notes (panic/abort at interpreter exit after the work is done).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets

from gotong.config import ASGI_SERVERS
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10

# Runs the real serve command with a slow view and a background task added, to
# observe draining and the background hooks from outside the process.
HARNESS = """
import asyncio, os, sys
sys.path.insert(0, os.environ["GOTONG_ROOT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")
import django
django.setup()
from django.http import JsonResponse
from django.urls import path
from apps.core import background
from gotong import urls

marks = os.environ["HARNESS_MARKS"]

def mark(name):
    open(os.path.join(marks, name), "w").close()

async def slow(request):
    mark("slow-entered")
    await asyncio.sleep(float(request.GET.get("s", "2")))
    return JsonResponse({"slow": "done"})

urls.urlpatterns.insert(0, path("test-slow", slow))

@background.register
async def ticker():
    mark("bg-started")
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        mark("bg-cancelled")
        raise

import manage
sys.argv = ["manage.py", "serve", "--port", sys.argv[1]]
code = manage.main()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SURREAL_", "REDIS_", "PORT", "ASGI_SERVER"))}
    env.update(APP_ENV="test", PYTHONDONTWRITEBYTECODE="1", GOTONG_ROOT=str(ROOT))
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    out: Path
    err: Path

    @property
    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` and return the exit status (fails the test if it takes over STOP_TIMEOUT_S)."""
        self.proc.send_signal(sig)
        return self.proc.wait(STOP_TIMEOUT_S)


@contextmanager
def serving(tmp: Path, *, argv: list[str] | None = None, env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start a server process and wait (with a deadline) until /health answers."""
    port = free_port()
    out, err = tmp / f"serve-{port}.out", tmp / f"serve-{port}.err"
    command = argv or [sys.executable, "manage.py", "serve", "--port"]
    with out.open("wb") as out_f, err.open("wb") as err_f:
        proc = subprocess.Popen([*command, str(port)], cwd=ROOT, env=env or _env(), stdout=out_f, stderr=err_f)
    server = Server(proc, f"http://127.0.0.1:{port}", out, err)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode} before serving:\n{server.stderr}")
            try:
                if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer /health within {START_TIMEOUT_S} s:\n{server.stderr}")
            time.sleep(0.05)
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)


def _wait_for(path: Path, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear within {timeout} s"
        time.sleep(0.02)


@pytest.fixture(scope="module", params=ASGI_SERVERS)
def mem_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("serve"), env=_env(ASGI_SERVER=request.param)) as server:
        yield server


@pytest.fixture(params=ASGI_SERVERS)
def asgi_server(request: pytest.FixtureRequest) -> str:
    return request.param


def test_serves_health_ready_and_error_envelopes(mem_server: Server) -> None:
    with httpx.Client(base_url=mem_server.url, timeout=5) as client:
        health = client.get("/health", headers={"X-Request-ID": "serve-test-0001"})
        ready = client.get("/ready")
        missing = client.get("/no/such/route", headers={"Accept": "application/json"})
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.headers["X-Request-ID"] == "serve-test-0001"
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["ok"] is True
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert "Gotong Royong on " + mem_server.url + " (SurrealDB mem://, in-process stores)" in mem_server.stdout
    assert "applied core/0001_core.surql" in mem_server.stdout


def test_answers_carry_their_length_and_are_not_chunked(mem_server: Server) -> None:
    """JSON answers and error envelopes say how long they are; an answer without a body says nothing."""
    with httpx.Client(base_url=mem_server.url, timeout=5) as client:
        answers = [
            client.get("/health"),
            client.get("/no/such/route", headers={"Accept": "application/json"}),
            client.post("/v1/auth/signin", content=b"{not json", headers={"Content-Type": "application/json"}),
        ]
        signed_up = client.post(
            "/v1/auth/signup",
            json={"email": "length@example.com", "username": "lengthy", "password": "correct horse battery 9"},
        )
        token = signed_up.json()["access_token"]
        logout = client.post("/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert [answer.status_code for answer in answers] == [200, 404, 400]
    for answer in [*answers, signed_up]:
        assert answer.headers.get("Content-Length") == str(len(answer.content)), answer.headers
        assert "Transfer-Encoding" not in answer.headers
    assert logout.status_code == 204
    assert "Content-Length" not in logout.headers
    assert logout.content == b""


def test_websocket_to_unknown_path_is_refused_and_server_stays_up(mem_server: Server) -> None:
    async def connect() -> int:
        ws_url = mem_server.url.replace("http://", "ws://") + "/ws/no-such-socket"
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(ws_url, open_timeout=5):
                pass
        return refused.value.response.status_code

    assert asyncio.run(connect()) == 403
    assert httpx.get(f"{mem_server.url}/health", timeout=5).status_code == 200
    assert mem_server.proc.poll() is None
    assert "Traceback" not in mem_server.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_promptly_with_status_zero(tmp_path: Path, sig: signal.Signals, asgi_server: str) -> None:
    with serving(tmp_path, env=_env(ASGI_SERVER=asgi_server)) as server:
        began = time.monotonic()
        assert server.stop(sig) == 0
        assert time.monotonic() - began < STOP_TIMEOUT_S
    assert "stopped" in server.stdout
    assert "Traceback" not in server.stderr


def test_sigterm_drains_in_flight_request_and_stops_background_tasks(tmp_path: Path, asgi_server: str) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    env = _env(HARNESS_MARKS=str(marks), ASGI_SERVER=asgi_server)
    with serving(tmp_path, argv=[sys.executable, str(script)], env=env) as server:
        _wait_for(marks / "bg-started")
        result: dict[str, httpx.Response | BaseException] = {}

        def slow_request() -> None:
            try:
                result["response"] = httpx.get(f"{server.url}/test-slow?s=2", timeout=10)
            except BaseException as exc:
                result["response"] = exc

        thread = threading.Thread(target=slow_request)
        thread.start()
        _wait_for(marks / "slow-entered")
        server.proc.send_signal(signal.SIGTERM)
        # Stops accepting at once, while the slow request is still running.
        deadline = time.monotonic() + 1.5
        refused = False
        while time.monotonic() < deadline and not refused:
            try:
                httpx.get(f"{server.url}/health", timeout=0.5)
            except httpx.ConnectError:
                refused = True
            time.sleep(0.05)
        thread.join(10)
        assert server.proc.wait(STOP_TIMEOUT_S) == 0
    response = result["response"]
    assert isinstance(response, httpx.Response), response
    assert response.status_code == 200
    assert response.json() == {"slow": "done"}
    assert refused, "new connections were still accepted after SIGTERM"
    assert (marks / "bg-cancelled").exists()
    assert "Traceback" not in server.stderr


def test_file_database_persists_and_is_released_after_stop(tmp_path: Path) -> None:
    env = _env(SURREAL_ENDPOINT=f"surrealkv://{tmp_path / 'db'}")
    with serving(tmp_path, env=env) as server:
        assert "applied core/0001_core.surql" in server.stdout
        assert server.stop() == 0
    check = manage("surreal_check", env=env)
    assert check.returncode == 0, check.stderr
    assert "schema ok" in check.stdout
    again = manage("surreal_migrate", env=env)
    assert again.returncode == 0, again.stderr
    assert "no pending migrations" in again.stdout


def test_refuses_to_start_without_a_reachable_server_database() -> None:
    dead = f"ws://127.0.0.1:{free_port()}"
    result = manage("serve", "--port", str(free_port()), env=_env(SURREAL_ENDPOINT=dead))
    assert result.returncode == 1
    assert f"cannot use SurrealDB at {dead}" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_an_error(mem_server: Server, asgi_server: str) -> None:
    port = mem_server.url.rsplit(":", 1)[1]
    result = manage("serve", "--port", port, "--server", asgi_server)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


RUNS = 8


def test_exit_status_is_the_commands_own_over_repeated_runs(tmp_path: Path) -> None:
    """Defect 3: a panic or abort at exit must never replace the status (0 ok, 1 problem; never 134)."""
    file_env = _env(SURREAL_ENDPOINT=f"surrealkv://{tmp_path / 'db'}")
    migrated = manage("surreal_migrate", env=file_env)
    assert migrated.returncode == 0, migrated.stderr

    def checks(env: dict[str, str]) -> list[tuple[int, str]]:
        # One file database admits one process at a time: runs on it are sequential.
        return [(r.returncode, r.stdout) for r in (manage("surreal_check", env=env) for _ in range(RUNS))]

    with ThreadPoolExecutor(2) as pool:
        on_file = pool.submit(checks, file_env)
        in_memory = pool.submit(checks, _env())  # nothing applied on a fresh mem:// → exit 1
        file_runs, memory_runs = on_file.result(), in_memory.result()
    assert [code for code, _ in file_runs] == [0] * RUNS
    assert all("schema ok" in out for _, out in file_runs)
    assert [code for code, _ in memory_runs] == [1] * RUNS


def test_manage_closes_the_client_and_keeps_the_status() -> None:
    code = (
        "import sys\n"
        "from apps.core.db import client, get_db, run_sync\n"
        "original = client.SurrealClient.close\n"
        "async def close(self):\n"
        "    await original(self)\n"
        "    print('client closed', flush=True)\n"
        "client.SurrealClient.close = close\n"
        "run_sync(get_db().ping)\n"
        "print('pinged', flush=True)\n"
    )
    result = manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.index("pinged") < result.stdout.index("client closed")

    failing = manage(
        "shell", "-c", "from apps.core.db import get_db, run_sync; run_sync(get_db().ping); raise SystemExit(3)"
    )
    assert failing.returncode == 3, failing.stderr
