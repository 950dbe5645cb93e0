"""Run the gates in order, time each check, and render the Markdown report."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime

from apps.chat.gates import checks
from apps.chat.gates.checks import Hook
from apps.chat.gates.client import Api, GateFailure


@dataclass
class Result:
    gate: str
    check: str
    status: str  # PASS | FAIL | SKIP
    seconds: float
    note: str


async def run_gates(
    base_url: str, *, restart_server: Hook | None = None, restart_redis: Hook | None = None, skip_reason: str = ""
) -> list[Result]:
    """Every check of the four gates; a hook left ``None`` skips its check with ``skip_reason``."""
    api = Api(base_url)
    plan = [
        ("1 payload shape", "WS, SSE and poll events vs schema and HTTP view", lambda: checks.payload_shape(api)),
        ("2 ordering/catch-up", "concurrent senders, gapless identical order, catch-up", lambda: checks.ordering(api)),
        ("3 permission filtering", "outsiders, removed, left, revoked; close < 1 s", lambda: checks.permissions(api)),
        ("4 reconnect resilience", "client close at random points", lambda: checks.reconnect(api, "close")),
        ("4 reconnect resilience", "server restart (file-backed DB)",
         (lambda: checks.reconnect(api, "server_restart", restart_server)) if restart_server else None),
        ("4 reconnect resilience", "Redis restart",
         (lambda: checks.reconnect(api, "redis_restart", restart_redis)) if restart_redis else None),
    ]  # fmt: skip
    results = []
    unreachable = await _unreachable(api)
    try:
        for gate, name, run in plan:
            if unreachable:
                results.append(Result(gate, name, "FAIL", 0.0, unreachable))
                continue
            if run is None:
                results.append(Result(gate, name, "SKIP", 0.0, skip_reason or "not available here"))
                continue
            started = time.monotonic()
            try:
                note = await run()
                status = "PASS"
            except GateFailure as exc:
                status, note = "FAIL", str(exc)
            except Exception as exc:  # a crash of the check is a failure of the gate, with its cause
                status, note = "FAIL", f"{type(exc).__name__}: {exc} ({traceback.format_exc(limit=3)[-300:]})"
            results.append(Result(gate, name, status, time.monotonic() - started, note))
    finally:
        await api.close()
    return results


async def _unreachable(api: Api) -> str:
    """Fail fast (instead of each check retrying for 30 s) when nothing answers at the base URL."""
    try:
        await api.http.get("/health", timeout=5)
    except Exception as exc:
        return f"server unreachable at {api.base_url}: {type(exc).__name__}"
    return ""


def report(results: list[Result], base_url: str, notes: list[str]) -> str:
    failed = [r for r in results if r.status == "FAIL"]
    lines = [
        "# Chat release gates",
        "",
        f"- target: `{base_url}`",
        f"- run at: {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
        f"- result: **{'FAIL' if failed else 'PASS'}** ({len(results) - len(failed)} of {len(results)} not failing)",
        *(f"- {note}" for note in notes),
        "",
        "| gate | check | result | seconds | details |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        detail = r.note.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r.gate} | {r.check} | {r.status} | {r.seconds:.2f} | {detail} |")
    return "\n".join(lines) + "\n"
