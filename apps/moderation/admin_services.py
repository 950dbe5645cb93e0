"""What the admin site's pages show: items in context, the desk's queue, decisions, reports, users.

Reads only; what the pages do (one-click and bulk decisions, roles, enabling accounts,
webhook replays) is ``admin_actions``. The pages only parse forms and render.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from apps.accounts.domain import Principal
from apps.accounts.repository import AccountsRepository
from apps.chat.repository import ChatRepository
from apps.core.errors import NotFound
from apps.core.ids import now_ms
from apps.evidence.repository import EvidenceRepository
from apps.moderation import ledger, selectors
from apps.moderation.domain import CONTENT_TYPES, valid_content_id
from apps.moderation.entities import load_entity
from apps.moderation.presenters import report_view, state_view
from apps.moderation.repository import ModerationRepository

log = logging.getLogger(__name__)

NEIGHBOURS = 3


async def item_context(principal: Principal, content_id: str) -> dict[str, Any]:
    """An item with everything a moderator needs: the content in context, reports, history, chain check."""
    if not valid_content_id(content_id):
        raise NotFound("no such item")
    r = ModerationRepository()
    state = await r.get_state(content_id)
    reports = [report_view(x) for x in await r.reports_for(content_id)]
    reports = await _with_reporters(reports)
    kind = (state or {}).get("content_type") or (reports[0]["content_type"] if reports else None)
    if kind is None:
        raise NotFound("no such item")
    decisions = [ledger.decision_view(row) for row in await r.decisions(content_id)]
    return {
        "content_id": content_id,
        "content_type": kind,
        "type_label": label(kind),
        "state": state_view(state) if state else None,
        "reports": reports,
        "open_reports": [x for x in reports if x["resolved_by_decision_id"] is None],
        "decisions": decisions,
        "chain": ledger.verify_chain(decisions),
        "content": await content_in_context(principal, kind, content_id),
    }


async def _with_reporters(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reports with their reporter's username: moderators see WHO reported, not an id."""
    users = await AccountsRepository().user_briefs([x["reporter_id"] for x in reports])
    return [x | {"reporter": (users.get(x["reporter_id"]) or {}).get("username")} for x in reports]


async def content_in_context(principal: Principal, kind: str, content_id: str) -> dict[str, Any] | None:
    entity = await load_entity(kind, content_id)
    if entity is None:
        return None
    if kind == "chat_message":
        from apps.chat import services as chat

        seq = entity.seq or 0
        rows = await chat.read_messages(entity.thread_id or "", after_seq=max(0, seq - NEIGHBOURS - 1),
                                        limit=2 * NEIGHBOURS + 1)  # fmt: skip
        users = await AccountsRepository().user_briefs([row["author_id"] for row in rows])
        thread = await ChatRepository().get_thread(entity.thread_id or "")
        return {
            "thread": thread,
            "messages": [
                row | {"username": users.get(row["author_id"], {}).get("username"), "is_target": row["seq"] == seq}
                for row in rows
            ],
        }
    if kind == "contribution":
        return {"contribution": entity.row, "evidence": await _evidence_with_thumbs(principal, content_id)}
    if kind == "evidence":
        evidence = await EvidenceRepository().get_evidence(content_id)
        return {"evidence": [await _thumb(principal, evidence)] if evidence else [], "contribution": None}
    return {"user": {k: entity.row.get(k) for k in ("user_id", "username", "email", "role", "enabled")}}


async def _evidence_with_thumbs(principal: Principal, contribution_id: str) -> list[dict[str, Any]]:

    rows = await EvidenceRepository().list_evidence(contribution_id, 50, viewer_id=principal.user_id, staff=True)
    return [await _thumb(principal, row) for row in rows]


async def _thumb(principal: Principal, evidence: dict[str, Any]) -> dict[str, Any]:
    """Evidence with a short-lived image URL when its media is an image."""
    from apps.evidence import services_evidence

    media = evidence.get("media") or {}
    url = None
    if str(media.get("mime_type", "")).startswith("image/"):
        try:
            url = await services_evidence.media_url(principal, evidence["evidence_id"], evidence=evidence)
        except Exception:  # a missing object must not break the review page
            log.warning("thumbnail unavailable", extra={"evidence_id": evidence["evidence_id"]})
    return evidence | {"thumbnail_url": url}


async def review_queue(principal: Principal, **filters: Any) -> list[dict[str, Any]]:
    """The review queue as the desk shows it: every row carries the content itself.

    Per row: ``excerpt`` (message text, contribution title and description, evidence type), an image
    ``thumbnail_url`` for evidence media, the author's username, the open reports with their
    reporters' usernames, the item's age, and the evidence's ``content_credentials`` (badge). One
    query per kind of content for the whole page, not one per row.
    """

    items = await selectors.review_queue(**filters)
    ids = {kind: [i["content_id"] for i in items if i["content_type"] == kind] for kind in CONTENT_TYPES}
    messages = {m["message_id"]: m for m in await ChatRepository().messages_for_review(ids["chat_message"]) if m}
    contributions = {
        c["contribution_id"]: c for c in await EvidenceRepository().contributions_for_review(ids["contribution"]) if c
    }
    evidence = await EvidenceRepository().evidence_by_id(ids["evidence"]) if ids["evidence"] else {}
    reports = _open_reports_by_item(await selectors.list_reports(status="open", limit=1000))
    wanted = [i["author_id"] for i in items if i.get("author_id")] + ids["user"]
    wanted += [m["author_id"] for m in messages.values()]
    wanted += [x["reporter_id"] for rows in reports.values() for x in rows]
    users = await AccountsRepository().user_briefs([u for u in wanted if u])
    now = now_ms()
    for item in items:
        cid, kind = item["content_id"], item["content_type"]
        item |= {"excerpt": None, "thumbnail_url": None, "deleted": False, "content_credentials": None}
        author_id = item.get("author_id")
        if kind == "chat_message" and cid in messages:
            message = messages[cid]
            author_id = author_id or message["author_id"]
            item["deleted"] = message.get("deleted_at_ms") is not None
            item["excerpt"] = excerpt(message["body"])
            item["thread_id"] = message["thread_id"]
        elif kind == "contribution" and cid in contributions:
            row = contributions[cid]
            author_id = author_id or row["author_id"]
            item["excerpt"] = excerpt(" — ".join(x for x in (row["title"], row.get("description")) if x))
        elif kind == "evidence" and cid in evidence:
            row = evidence[cid]
            author_id = author_id or row.get("actor_id")
            item["excerpt"] = excerpt(" ".join(x for x in (label(row.get("evidence_type")),
                                                           (row.get("media") or {}).get("filename")) if x))  # fmt: skip
            item["content_credentials"] = (row.get("media") or {}).get("content_credentials")
            item["thumbnail_url"] = (await _thumb(principal, row))["thumbnail_url"]
        elif kind == "user":
            author_id = cid
            item["excerpt"] = f"Profile of {(users.get(cid) or {}).get('username') or 'an unknown account'}"
        item["author_username"] = (users.get(author_id or "") or {}).get("username")
        rows = reports.get(cid, [])
        item["reports"] = [x | {"reporter": (users.get(x["reporter_id"]) or {}).get("username") or "unknown"}
                           for x in rows]  # fmt: skip
        item["reporters"] = sorted({x["reporter"] for x in item["reports"]})
        item["type_label"] = label(kind)
        item["status_label"] = label(item.get("moderation_status")).lower()
        item["age"] = age(item["queued_at_ms"], now)
        item["queued_iso"] = iso(item["queued_at_ms"])
    return items


def _open_reports_by_item(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["content_id"], []).append(row)
    return grouped


EXCERPT_CHARS = 280


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    """The start of a text, cut at a word where possible; the page escapes it (never marked safe)."""
    text = (text or "").strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if " " in cut[limit // 2 :]:  # end at a word unless that loses more than half
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def label(value: str | None) -> str:
    """``photo_with_timestamp`` → ``Photo with timestamp`` (raw values never reach the page)."""
    return (value or "").replace("_", " ").strip().capitalize()


def age(ms: int | None, now: int) -> str:
    """A short relative age ("3 min ago"); the absolute time goes in the element's title."""
    if not ms:
        return "—"
    seconds = max(0, (now - int(ms)) // 1000)
    if seconds < 60:
        return "just now"
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"  # pragma: no cover


def iso(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- the ledger, reports and users ------------------------------------------------------


async def search_decisions(**filters: Any) -> list[dict[str, Any]]:
    rows = await ModerationRepository().search_decisions(**filters)
    return [ledger.decision_view(row) for row in rows]


async def verify_chain(content_id: str) -> ledger.ChainCheck:
    rows = await ModerationRepository().decisions(content_id) if valid_content_id(content_id) else []
    return ledger.verify_chain([ledger.decision_view(row) for row in rows])


async def reports_by_item() -> list[dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    for report in await selectors.list_reports(status="open", limit=1000):
        item = grouped.setdefault(
            report["content_id"],
            {"content_id": report["content_id"], "content_type": report["content_type"], "reports": []},
        )
        item["reports"].append(report)
    messages = {m["message_id"]: m for m in await ChatRepository().messages_for_review(
        [i["content_id"] for i in grouped.values() if i["content_type"] == "chat_message"]) if m}  # fmt: skip
    contributions = {c["contribution_id"]: c for c in await EvidenceRepository().contributions_for_review(
        [i["content_id"] for i in grouped.values() if i["content_type"] == "contribution"]) if c}  # fmt: skip
    for item in grouped.values():
        item["reports"] = await _with_reporters(item["reports"])
        item["type_label"] = label(item["content_type"])
        text = (messages.get(item["content_id"]) or {}).get("body") or (
            contributions.get(item["content_id"]) or {}).get("title")  # fmt: skip
        item["excerpt"] = excerpt(text, 80) if text else None
    return sorted(grouped.values(), key=lambda i: i["reports"][0]["created_at_ms"])


async def search_users(query: str | None) -> list[dict[str, Any]]:
    return await AccountsRepository().search_users(query, 100)
