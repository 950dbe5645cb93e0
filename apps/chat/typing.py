"""The typing indicator: ephemeral, never stored.

A member says "I am typing" (``POST …/typing`` or a WebSocket frame ``{"type": "typing"}``); the
server checks membership (a read), throttles to one announcement per ``THROTTLE_S`` per user and
thread, and publishes a ``typing`` event on the thread's realtime group — the same channel layer as
messages, so with ``CHAT_REALTIME_TRANSPORT=redis`` it reaches streams on every server process. The
hub hands it to the thread's local streams except the typer's own. Nothing is written to the
database: a lost typing event costs nothing, and clients forget it after ``EXPIRES_MS``.

The throttle is per process (a dict of monotonic times), which is enough for its purpose (bounding
the bus traffic a single client can cause); a client talking to two processes may announce twice.
"""

from __future__ import annotations

import time

from apps.accounts.domain import Principal
from apps.chat import realtime
from apps.core.errors import Forbidden
from apps.core.ids import now_ms

THROTTLE_S = 3.0
EXPIRES_MS = 5000
_MAX_TRACKED = 10_000
_last: dict[tuple[str, str], float] = {}


def _throttled(key: tuple[str, str]) -> bool:
    now = time.monotonic()
    if now - _last.get(key, float("-inf")) < THROTTLE_S:
        return True
    if len(_last) >= _MAX_TRACKED:  # bounded memory: forget entries older than the window
        for stale in [k for k, t in _last.items() if now - t >= THROTTLE_S]:
            del _last[stale]
    _last[key] = now
    return False


async def announce(principal: Principal, thread_id: str) -> bool:
    """Publish ``typing`` for the caller in the thread; False when throttled (nothing published)."""
    from apps.chat import services

    found = await services.access(principal, thread_id)  # 404 unknown/private, 403 public non-member
    mute_until = found.member.get("mute_until_ms") if found.member else None
    if mute_until is not None and mute_until > now_ms():
        raise Forbidden("you are muted in this thread", details={"reason": "muted", "mute_until_ms": mute_until})
    if _throttled((thread_id, principal.user_id)):
        return False
    await realtime.publish(
        thread_id,
        "typing",
        data={"user_id": principal.user_id, "username": principal.username, "expires_in_ms": EXPIRES_MS},
    )
    return True


def reset() -> None:
    """Forget the throttle (tests)."""
    _last.clear()
