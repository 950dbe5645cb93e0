"""``manage.py release_gates [--base-url URL] [--report PATH]``: the chat release gates (03-chat.md).

Without ``--base-url`` it starts what it needs itself — a ``manage.py serve`` process on a free
port over a file-backed temporary database (``surrealkv://``), and, when ``redis-server`` is
installed, a Redis with ``CHAT_REALTIME_TRANSPORT=redis`` — so the reconnect gate can restart
both. With ``--base-url`` it cannot restart anything: those checks are reported as SKIP with the
reason. Exit status 1 when any check fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.chat.gates.runner import report, run_gates

START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CommandError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise CommandError(f"{what} did not listen on {port} within {START_TIMEOUT_S} s")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class Stack:
    """The server (and Redis) this command starts and restarts; everything lives in one temp dir."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.server: subprocess.Popen | None = None
        self.redis: subprocess.Popen | None = None
        self.redis_port: int | None = None
        self.redis_binary = shutil.which("redis-server")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SURREAL_", "REDIS_", "CHAT_REALTIME"))}
        self.env.update(
            SURREAL_ENDPOINT=f"surrealkv://{workdir / 'db'}",
            RATE_LIMIT_AUTH="1000/1:1000",
            RATE_LIMIT_CHAT_SEND="1000/1:1000",
            RATE_LIMIT_DEFAULT="1000/1:2000",
            PYTHONDONTWRITEBYTECODE="1",
        )
        if self.redis_binary:
            self.redis_port = _free_port()
            self.env.update(
                CHAT_REALTIME_TRANSPORT="redis",
                REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
                CHAT_REALTIME_CHANNEL_PREFIX=f"gates:{uuid.uuid4().hex[:8]}:",
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_redis(self) -> None:
        assert self.redis_binary
        assert self.redis_port
        args = ["--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.redis = subprocess.Popen(
            [self.redis_binary, *args, "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.redis_port, self.redis, "redis-server")

    def start_server(self) -> None:
        log = (self.workdir / "serve.log").open("ab")
        self.server = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(self.port)],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _wait_port(self.port, self.server, f"manage.py serve (log: {self.workdir / 'serve.log'})")

    async def restart_server(self) -> None:
        await asyncio.to_thread(_stop, self.server)
        await asyncio.to_thread(self.start_server)

    async def restart_redis(self) -> None:
        await asyncio.to_thread(_stop, self.redis)
        await asyncio.to_thread(self.start_redis)

    def stop(self) -> None:
        _stop(self.server)
        _stop(self.redis)


class Command(BaseCommand):
    help = "Run the four chat release gates and write a Markdown report; exit 1 on any failure."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", help="a running server (restart checks are skipped)")
        parser.add_argument("--report", help="write the Markdown report here (default: stdout only)")

    def handle(self, *args: object, **options: object) -> None:
        base_url = options.get("base_url")
        notes: list[str] = []
        if base_url:
            notes.append("restart checks skipped: with --base-url this command cannot restart the server or Redis")
            results = asyncio.run(run_gates(str(base_url).rstrip("/"), skip_reason="--base-url: cannot restart it"))
            target = str(base_url)
        else:
            workdir = Path(tempfile.mkdtemp(prefix="gotong-gates-"))
            stack = Stack(workdir)
            try:
                if stack.redis_binary:
                    stack.start_redis()
                    notes.append(f"transport: redis (prefix `{stack.env['CHAT_REALTIME_CHANNEL_PREFIX']}`)")
                else:
                    notes.append("transport: local (redis-server not installed: the Redis restart check is skipped)")
                stack.start_server()
                notes.append("server: `manage.py serve` over `surrealkv://` in a temporary directory")
                results = asyncio.run(
                    run_gates(
                        stack.url,
                        restart_server=stack.restart_server,
                        restart_redis=stack.restart_redis if stack.redis_binary else None,
                        skip_reason="redis-server is not installed",
                    )
                )
            finally:
                stack.stop()
                shutil.rmtree(workdir, ignore_errors=True)
            target = "a server started by this command"
        text = report(results, target, notes)
        self.stdout.write(text)
        if options.get("report"):
            path = Path(str(options["report"]))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        if any(r.status == "FAIL" for r in results):
            raise CommandError("release gates failed", returncode=1)
