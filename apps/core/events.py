"""Domain events inside one process: a domain says what happened; whoever cares subscribes.

Why (issue 13, the Zulip model): accounts and moderation used to import chat's realtime layer to close
streams or announce hidden messages, which tied every domain to chat and hid import cycles. Now they
publish one of the events below after their transaction commits, and chat's realtime layer subscribes
in ``ChatConfig.ready``. Domains never import the realtime layer.

In-process only on purpose: an event here is a notification about a change the database already has.
Other processes learn of it through their own paths (the chat bus, the streams' periodic re-validation),
so a lost handler call delays an effect; it never loses data. A failing handler is logged and skipped,
never raised into the write that emitted the event.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserSessionsRevoked:
    """A sign-in (``family_id``) or, with ``family_id=None``, every sign-in of a user ended (logout, block)."""

    user_id: str
    family_id: str | None = None


@dataclass(frozen=True)
class MessageVisibilityChanged:
    """A moderation decision hid (``hidden=True``) or restored a chat message."""

    thread_id: str
    seq: int | None
    message_id: str
    hidden: bool


E = TypeVar("E")
Handler = Callable[[Any], Awaitable[None] | None]
_handlers: dict[type, list[Handler]] = {}


def subscribe(event_type: type[E], handler: Callable[[E], Awaitable[None] | None]) -> None:
    """Call ``handler(event)`` for every ``event_type`` published in this process (idempotent per handler)."""
    handlers = _handlers.setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)


async def publish(event: object) -> None:
    """Hand ``event`` to its subscribers, in subscription order; never raises."""
    for handler in list(_handlers.get(type(event), ())):
        try:
            result = handler(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("domain event handler failed", extra={"event": type(event).__name__})
