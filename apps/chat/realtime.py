"""Publishing chat events after commit; other domains' events reach the streams through subscriptions.

An event carries ids and ``seq`` (the Zulip event-system model), plus the
committed message row when the writer has it, so the hub renders it without a
read; otherwise each process's hub reads the row from the database once and
hands it to its local streams. A publish failure (Redis down) never fails the write that preceded it:
the database already has the change, and streams recover it by ``seq``
catch-up. Failures are counted in ``gotong_realtime_bridge_events_total``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from channels.layers import get_channel_layer

from apps.core import events, metrics
from apps.core.ids import now_ms

log = logging.getLogger(__name__)

GROUP_PREFIX = "chat.thread."
# Every process's hub also listens here for events that are not about one thread (a sign-in ended).
CONTROL_GROUP = "chat.control"
SESSIONS_REVOKED = "sessions_revoked"
EVENT_TYPE = "chat.event"  # the channel-layer message type the hub's reader handles
PUBLISH_TIMEOUT_S = 1.0


def group_name(thread_id: str) -> str:
    """Channel-layer group of one thread (channels-redis prepends CHAT_REALTIME_CHANNEL_PREFIX)."""
    return f"{GROUP_PREFIX}{thread_id}"


async def publish(
    thread_id: str,
    event_type: str,
    *,
    seq: int | None = None,
    message_id: str | None = None,
    data: dict[str, Any] | None = None,
    row: dict[str, Any] | None = None,
    authors: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Announce a committed change to every process; never raises.

    ``row`` is the message row as committed (``RETURN AFTER``): the hubs render it instead of reading it back.
    ``authors`` (``user_id`` → ``{user_id, username, role}``) are briefs the publisher holds, so the hubs do not
    read the author either.
    """
    event = {
        "type": EVENT_TYPE,
        "event_type": event_type,
        "thread_id": thread_id,
        "seq": seq,
        "message_id": message_id,
        "data": data,
        "committed_at_ms": now_ms(),
        "row": row,
        "authors": authors,
    }
    await _group_send(group_name(thread_id), event)


async def announce_revocation(user_id: str, family_id: str | None) -> None:
    """Tell every process that a sign-in (or, ``family_id=None``, every sign-in of a user) ended.

    Their hubs close the user's streams on receipt; the hubs' paged sweep is the safety net when the bus
    loses it. Never raises.
    """
    event = {
        "type": EVENT_TYPE,
        "event_type": SESSIONS_REVOKED,
        "thread_id": None,
        "data": {"user_id": user_id, "family_id": family_id},
        "committed_at_ms": now_ms(),
    }
    await _group_send(CONTROL_GROUP, event)


async def _group_send(group: str, event: dict[str, Any]) -> None:
    try:
        layer = get_channel_layer()
        # ``asyncio.timeout``, not ``wait_for``: the same bound without a task per publish (16 µs instead of
        # 22 µs of a send's CPU, issue 14).
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            await layer.group_send(group, event)
    except Exception as exc:  # the bus is best effort; the database has the truth
        metrics.realtime_bridge_events_total.labels("publish_failed").inc()
        log.warning(
            "realtime publish failed",
            extra={"group": group, "thread_id": event["thread_id"], "error": f"{type(exc).__name__}: {exc}"},
        )
        return
    metrics.realtime_bridge_events_total.labels("published").inc()


async def membership_ended(thread_id: str, user_id: str, event_type: str) -> None:
    """A member left or was removed: their streams of this thread close (here at once, elsewhere via the bus)."""
    await events.publish(MembershipEnded(thread_id, user_id))
    await publish(thread_id, event_type, data={"user_id": user_id})


@dataclass(frozen=True)
class MembershipEnded:
    """Chat's own event: the hub (subscribed in ``ChatConfig.ready``) closes the member's local streams."""

    thread_id: str
    user_id: str


async def on_message_visibility_changed(event: events.MessageVisibilityChanged) -> None:
    """A moderation decision hid or restored a message: streams show the change (each reader's own view)."""
    await publish(
        event.thread_id,
        "message_hidden" if event.hidden else "message_restored",
        seq=event.seq,
        message_id=event.message_id,
    )
