"""The moderated entities as the moderation service sees them: who wrote them, who may see them,
and the statements that carry a decision's status onto them (inside the decision's transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.accounts.domain import MODERATOR_ROLES, Principal
from apps.accounts.repository import AccountsRepository
from apps.chat.repository import ChatRepository
from apps.core.db import Statement
from apps.core.errors import NotFound
from apps.evidence.repository import EvidenceRepository
from apps.moderation.domain import HIDDEN_STATUSES, DecisionInput, valid_content_id


@dataclass(frozen=True)
class Entity:
    kind: str
    content_id: str
    author_id: str
    author_username: str | None
    moderation_status: str | None
    thread_id: str | None = None
    seq: int | None = None
    row: dict[str, Any] | None = None


async def load_entity(kind: str, content_id: str) -> Entity | None:
    """The entity behind a content id, or None when it does not exist here."""
    if not valid_content_id(content_id):
        return None
    if kind == "chat_message":
        row = await ChatRepository().message_for_moderation(content_id)
        if row is None:
            return None
        users = await AccountsRepository().get_user(row["author_id"])
        return Entity(kind, content_id, row["author_id"], (users or {}).get("username"), row.get("moderation_status"),
                      row["thread_id"], row["seq"], row)  # fmt: skip
    if kind == "contribution":
        row = await EvidenceRepository().contribution_for_moderation(content_id)
        if row is None:
            return None
        return Entity(kind, content_id, row["author_id"], row.get("author_username"), row.get("moderation_status"),
                      row=row)  # fmt: skip
    if kind == "evidence":
        row = await EvidenceRepository().evidence_for_moderation(content_id)
        if row is None:
            return None
        return Entity(kind, content_id, row["actor_id"], row.get("actor_username"), row.get("moderation_status"),
                      row=row)  # fmt: skip
    row = await AccountsRepository().get_user(content_id)
    if row is None:
        return None
    return Entity(kind, content_id, row["user_id"], row["username"], None, row=row)


async def ensure_visible(principal: Principal, kind: str, content_id: str) -> Entity:
    """The entity if ``principal`` may see it; 404 otherwise (as if it did not exist)."""
    entity = await load_entity(kind, content_id)
    if entity is None:
        raise NotFound("content not found")
    privileged = principal.role in MODERATOR_ROLES or principal.user_id == entity.author_id
    if entity.moderation_status in HIDDEN_STATUSES and not privileged:
        raise NotFound("content not found")
    if kind == "chat_message":
        from apps.chat import services as chat

        if (entity.row or {}).get("deleted_at_ms") is not None:
            raise NotFound("content not found")
        await chat.access(principal, entity.thread_id or "", member_required=False)  # private: 404 to outsiders
    if kind == "user" and not entity.row.get("enabled", True) and not privileged:
        raise NotFound("content not found")
    return entity


def status_statements(kind: str, content_id: str, inp: DecisionInput, now: int) -> list[Statement]:
    """Carry the decision onto the entity (a no-op for an entity that does not exist here).

    Each statement comes from the repository of the app that owns the table: the decision's unit of work
    is assembled here, the SurrealQL stays with its owner.
    """
    status = inp.moderation_status
    if kind == "chat_message":
        # chat_message.moderation_status knows no "processing": a message in processing is shown.
        return [ChatRepository().moderation_status_statement(content_id, None if status == "processing" else status)]
    if kind == "contribution":
        return [EvidenceRepository().contribution_status_statement(content_id, status)]
    if kind == "evidence":
        return [EvidenceRepository().evidence_status_statement(content_id, status, status in HIDDEN_STATUSES)]
    if inp.moderation_action == "block":
        return [AccountsRepository().set_enabled_statement(content_id, False, now)]
    if status == "published":
        return [AccountsRepository().set_enabled_statement(content_id, True, now)]
    return []
