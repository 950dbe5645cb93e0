"""Contributions and vouches: the rules of 04-evidence.md, each write one transaction with its outbox event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apps.accounts.domain import MODERATOR_ROLES, Principal
from apps.accounts.repository import AccountsRepository
from apps.core import context
from apps.core.db import UniqueViolation, UnitOfWork
from apps.core.errors import Conflict, NotFound
from apps.core.ids import is_entity_id, new_id, now_ms
from apps.evidence import inputs, rules
from apps.evidence import transparency as entries
from apps.evidence.repository import HIDDEN_STATUSES, EvidenceRepository
from apps.transparency import services as transparency
from apps.webhooks.outbox import Actor, commit_with_events, event_statement

repo = EvidenceRepository()


def actor_of(principal: Principal) -> Actor:
    return Actor(principal.user_id, principal.username)


@dataclass(frozen=True)
class LogLeaf:
    """The transparency-log leaf an entity appends in its own transaction."""

    kind: str
    entity_id: str
    entry: dict[str, Any]


async def commit_entity(
    statement: Any,
    events: list[tuple[str, dict[str, Any], dict[str, Any] | None]],
    *,
    principal: Principal,
    created_at_ms: int,
    operation: str,
    view: dict[str, Any],
    leaf: LogLeaf,
    extra_statements: tuple = (),
    stored: Callable[[], Awaitable[dict[str, Any] | None]] | None = None,
    request_index: str | None = None,
) -> dict[str, Any]:
    """The entity, any extra statements, its transparency-log leaf and its outbox events in ONE transaction.

    Returns ``view`` (the API shape of the new entity) with its ``transparency`` (``{"log_index",
    "leaf_hash"}``). The same X-Request-ID after the idempotency window hits the entity's unique request
    index: then ``stored()`` (the row written the first time, with its transparency) is returned instead.
    With ``request_index`` the replay applies to that index only; without it, to any uniqueness hit.
    """
    leaf_position = 0

    def build() -> UnitOfWork:
        nonlocal leaf_position
        uow = UnitOfWork()
        uow.add(statement)
        for extra in extra_statements:
            uow.add(extra)
        leaf_position = uow.add(transparency.append_statement(leaf.kind, leaf.entity_id, leaf.entry))
        for event_type, subject, extra_top in events:
            event = event_statement(
                event_type=event_type,
                actor=actor_of(principal),
                subject=subject,
                created_at_ms=created_at_ms,
                extra=extra_top,
            )
            if event is not None:
                uow.add(event)
        return uow

    try:
        results = await commit_with_events(build, operation=operation)
    except UniqueViolation as exc:
        if stored is not None and request_index in (None, exc.index):
            existing = await stored()
            if existing is not None:
                return await with_transparency(leaf.kind, existing)
        raise
    return view | {"transparency": transparency.transparency_from(results[leaf_position])}


ENTITY_ID_FIELD = {"contribution": "contribution_id", "evidence": "evidence_id", "vouch": "vouch_id"}


async def with_transparency(kind: str, row: dict[str, Any], id_field: str | None = None) -> dict[str, Any]:
    """The row with its ``transparency`` (``null`` only for rows written before the log existed)."""
    return (await with_transparency_all(kind, [row], id_field))[0]


async def with_transparency_all(
    kind: str, rows: list[dict[str, Any]], id_field: str | None = None
) -> list[dict[str, Any]]:
    """Rows with their ``transparency``, located in one query for the whole page."""
    field = id_field or ENTITY_ID_FIELD[kind]
    if not rows:
        return rows
    found = await transparency.locate(kind, [row[field] for row in rows])
    return [row | {"transparency": found.get(row[field])} for row in rows]


# -- contributions ---------------------------------------------------------------


async def create_contribution(principal: Principal, data: Any) -> dict[str, Any]:
    inp = inputs.body(inputs.ContributionCreateSerializer, data)
    request_id, correlation_id = context.request_ids()
    contribution_id = new_id()
    now = created_ms_of(contribution_id)
    row = {
        "contribution_id": contribution_id,
        "author_id": principal.user_id,
        "author_username": principal.username,
        "mode": inp["mode"],
        "contribution_type": inp["contribution_type"],
        "title": inp["title"],
        "description": inp["description"],
        "evidence_url": inp["evidence_url"],
        "skill_ids": inp["skill_ids"],
        "metadata": inp["metadata"],
        "request_id": request_id,
        "correlation_id": correlation_id,
        "created_at_ms": now,
        "updated_at_ms": now,
    }
    subject = {k: row[k] for k in (
        "contribution_id", "contribution_type", "description", "evidence_url", "metadata", "mode", "skill_ids", "title"
    )}  # fmt: skip
    return await commit_entity(
        repo.create_contribution_statement(row),
        [("contribution_created", subject, None)],
        principal=principal,
        created_at_ms=now,
        operation="contribution_create",
        view=row,
        leaf=LogLeaf("contribution", contribution_id, entries.contribution_entry(row)),
        stored=lambda: repo.contribution_by_request(principal.user_id, request_id),
        request_index="contribution_request",
    )


async def get_contribution(contribution_id: str) -> dict[str, Any]:
    return await with_transparency("contribution", await visible_contribution(contribution_id))


async def visible_contribution(contribution_id: str) -> dict[str, Any]:
    """The contribution if the current caller may see it (moderation), else 404."""
    contribution = await repo.get_contribution(contribution_id) if _is_id(contribution_id) else None
    if contribution is None or not await may_see(contribution["author_id"], contribution.get("moderation_status")):
        raise NotFound("contribution not found")
    return contribution


async def viewer_is_staff() -> bool:
    """Whether the current request's caller is a moderator+ (read only when an item is hidden)."""
    viewer = context.current().user_id
    row = await AccountsRepository().get_user(viewer) if viewer else None
    return row is not None and row["role"] in MODERATOR_ROLES


async def may_see(owner_id: str, moderation_status: str | None) -> bool:
    """Moderation: a held or rejected item is seen only by its author and staff; others get 404."""
    if moderation_status not in HIDDEN_STATUSES:
        return True
    return context.current().user_id == owner_id or await viewer_is_staff()


def _page_start(before: str | None) -> tuple[int, str] | None:
    return None if before is None else (created_ms_of(before), before)


async def list_contributions(principal: Principal, params: Any) -> list[dict[str, Any]]:
    query = inputs.query(inputs.ContributionListQuery, params)
    author_id = query["author_id"] or principal.user_id
    include_hidden = author_id == principal.user_id or principal.role in MODERATOR_ROLES
    rows = await repo.list_contributions(
        author_id, query["limit"], _page_start(query["before"]), include_hidden=include_hidden
    )
    return await with_transparency_all("contribution", rows)


async def recent_contributions(principal: Principal, params: Any) -> list[dict[str, Any]]:
    """Every member's contributions, newest first (pages): the visibility rules of ``list_contributions``."""
    query = inputs.query(inputs.ContributionListQuery, params)
    return await repo.recent_contributions(
        query["limit"], _page_start(query["before"]), viewer_id=principal.user_id, staff=principal.is_moderator
    )


async def member_by_username(username: str) -> dict[str, Any]:
    """A member's public fields (``user_id``, ``username``, ``role``, ``created_at_ms``); 404 if unknown."""
    found = await repo.member_by_username(username) if 0 < len(username) <= 64 else None
    if found is None:
        raise NotFound("member not found")
    return found


async def member_names(user_ids: list[str]) -> dict[str, str]:
    """Usernames of the given members (pages show vouchees by name); unknown ids are left out."""
    return await repo.member_names([u for u in user_ids if is_entity_id(u)])


def created_ms_of(entity_id: str) -> int:
    """The creation time a UUIDv7 id carries (its first 48 bits).

    Contributions store exactly this as ``created_at_ms``, so the id alone is a
    complete ``(created_at_ms, id)`` cursor: no lookup, and no 400 for an id that
    was deleted or never listed.
    """
    return int(entity_id[:12], 16)


def _is_id(value: Any) -> bool:
    return is_entity_id(value)


# -- vouches ------------------------------------------------------------------------


async def create_vouch(principal: Principal, data: Any) -> dict[str, Any]:
    inp = inputs.body(inputs.VouchCreateSerializer, data)
    if inp["vouchee_id"] == principal.user_id:
        raise rules.fail("vouchee_id", "cannot vouch for yourself")
    if await AccountsRepository().get_user(inp["vouchee_id"]) is None:
        raise NotFound("vouchee not found")
    request_id, correlation_id = context.request_ids()
    now = now_ms()
    row = {
        "vouch_id": new_id(),
        "voucher_id": principal.user_id,
        "voucher_username": principal.username,
        "vouchee_id": inp["vouchee_id"],
        "skill_id": inp["skill_id"],
        "weight_hint": inp["weight_hint"],
        "message": inp["message"],
        "request_id": request_id,
        "correlation_id": correlation_id,
        "created_at_ms": now,
    }
    subject = {k: row[k] for k in ("message", "skill_id", "vouchee_id", "weight_hint", "vouch_id")}
    try:
        return await commit_entity(
            repo.create_vouch_statement(row),
            [("vouch_submitted", subject, None)],
            principal=principal,
            created_at_ms=now,
            operation="vouch_create",
            view=row,
            leaf=LogLeaf("vouch", row["vouch_id"], entries.vouch_entry(row)),
            stored=lambda: repo.vouch_by_request(principal.user_id, request_id),
        )
    except UniqueViolation as exc:
        if exc.index == "vouch_pair":
            raise Conflict("you already vouched for this user for this skill") from exc
        raise


async def list_vouches(principal: Principal, params: Any) -> list[dict[str, Any]]:
    serializer = inputs.bound_query(inputs.VouchListQuery, params)
    vouchee_id, voucher_id = (serializer.initial_data.get(k) for k in ("vouchee_id", "voucher_id"))
    accounts = AccountsRepository()
    for user_id in (vouchee_id, voucher_id):
        # An unknown user is 404 whatever else is wrong with the query.
        if user_id and (not is_entity_id(user_id) or await accounts.get_user(user_id) is None):
            raise NotFound("user not found")
    if vouchee_id and voucher_id:
        raise rules.fail("vouchee_id", "provide only one of vouchee_id or voucher_id")
    limit = inputs.parsed(serializer)["limit"]
    if vouchee_id:
        rows = await repo.list_vouches("vouchee_id", vouchee_id, limit)
    else:
        rows = await repo.list_vouches("voucher_id", voucher_id or principal.user_id, limit)
    return await with_transparency_all("vouch", rows)
