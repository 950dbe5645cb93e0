"""The release gates end to end, as CI runs them: ``manage.py release_gates`` starts its own server
(file-backed DB, Redis when installed), restarts it and Redis mid-stream, and writes the report."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, server_env

pytestmark = pytest.mark.slow
CHECKS = 6


def _rows(report: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("|").split("|")] for line in report.splitlines() if re.match(r"^\| \d ", line)
    ]


def test_release_gates_command_starts_its_own_server_and_passes(tmp_path, redis_server):
    report_path = tmp_path / "var" / "release-gates.md"
    done = subprocess.run(
        [sys.executable, "manage.py", "release_gates", "--report", str(report_path)],
        cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    report = report_path.read_text()
    assert done.returncode == 0, report + done.stderr[-3000:]
    rows = _rows(report)
    assert len(rows) == CHECKS
    assert [r[2] for r in rows] == ["PASS"] * CHECKS, report  # Redis is installed here: nothing skipped
    assert {r[0] for r in rows} == {"1 payload shape", "2 ordering/catch-up", "3 permission filtering",
                                    "4 reconnect resilience"}  # fmt: skip
    assert "server restart (file-backed DB)" in report
    assert "Redis restart" in report
    assert "result: **PASS**" in report
    assert "transport: redis" in report


def test_release_gates_against_a_running_server_skips_restarts(tmp_path, live_server_factory):
    server = live_server_factory(RATE_LIMIT_AUTH="1000/1:1000", RATE_LIMIT_CHAT_SEND="1000/1:1000")
    report_path = tmp_path / "gates.md"
    done = subprocess.run(
        [sys.executable, "manage.py", "release_gates", "--base-url", server.url, "--report", str(report_path)],
        cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    report = report_path.read_text()
    assert done.returncode == 0, report + done.stderr[-3000:]
    statuses = [r[2] for r in _rows(report)]
    assert statuses == ["PASS"] * 4 + ["SKIP"] * 2, report
    assert "cannot restart" in report


def test_a_failing_gate_fails_the_command(tmp_path):
    """A server that is not there: every check FAILs, the report says so and the exit status is 1."""
    from tests.conftest import free_port

    report_path = tmp_path / "gates.md"
    done = subprocess.run(
        [sys.executable, "manage.py", "release_gates", "--base-url", f"http://127.0.0.1:{free_port()}",
         "--report", str(report_path)],
        cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "result: **FAIL**" in report_path.read_text()
