"""Who may see and act in a thread: the one membership check every chat entry point shares.

Separate from ``services`` so that modules ``services`` depends on (mentions) and the streams can use it
without importing ``services`` back (an import cycle before).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.accounts.domain import Principal
from apps.chat.repository import ChatRepository
from apps.core.errors import Forbidden, NotFound

NOT_A_MEMBER = "not a member of this thread"


@dataclass(frozen=True)
class Access:
    thread: dict[str, Any]
    member: dict[str, Any] | None  # the caller's active membership, if any

    @property
    def role(self) -> str | None:
        return self.member["role"] if self.member else None


def is_active(member: dict[str, Any] | None) -> bool:
    return member is not None and member.get("left_at_ms") is None


async def access(principal: Principal, thread_id: str, *, member_required: bool = True) -> Access:
    """The thread and the caller's membership. Private threads are invisible (404) to non-members;
    public ones answer 403 where membership is required.

    A send does not call this: the same rule runs inside its transaction (``repository.SEND_GUARD_SQL``, so the
    send is one round trip); a change to the rule here must be made there too."""
    repo = ChatRepository()
    thread = await repo.get_thread(thread_id)
    if thread is None:
        raise NotFound("thread not found")
    member = await repo.get_member(thread_id, principal.user_id)
    active = member if is_active(member) else None
    if active is None:
        if thread["privacy_level"] == "private":
            raise NotFound("thread not found")
        if member_required:
            raise Forbidden(NOT_A_MEMBER)
    return Access(thread, active)
