"""All SurrealQL of the evidence app (contribution, evidence, evidence_upload, vouch).

Values are bound; record ids are ``type::record(table, $id)``. ``*_statement``
methods return ``Statement``s for a ``UnitOfWork`` so a service commits an
entity together with its outbox events in one transaction. Lists are ordered by
``created_at_ms`` DESC then id DESC (int times: datetime indexes sort wrongly).
"""

from __future__ import annotations

import json
from typing import Any

from apps.accounts.repository import AccountsRepository
from apps.core.db import Repository, Statement

UPLOAD_NOT_VERIFIED = "evidence_upload_not_verified"
HIDDEN_STATUSES = ("under_review", "rejected")  # moderation (06-moderation.md "Enforcement")


def _with_moderation(view: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Moderated items carry their status (only their author and staff get to see them while hidden)."""
    if row.get("moderation_status") is not None:
        view["moderation_status"] = row["moderation_status"]
    return view


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _before(field_id: str) -> str:
    return f" AND (created_at_ms < $before_ms OR (created_at_ms = $before_ms AND {field_id} < $before_id))"


class EvidenceRepository(Repository):
    # -- contributions ----------------------------------------------------------

    def create_contribution_statement(self, row: dict[str, Any]) -> Statement:
        stored = {k: v for k, v in row.items() if k != "metadata"} | {"metadata_json": _json(row["metadata"])}
        return Statement(
            "CREATE type::record('contribution', $id) CONTENT $row RETURN NONE;",
            {"id": row["contribution_id"], "row": stored},
        )

    async def get_contribution(self, contribution_id: str) -> dict[str, Any] | None:
        row = await self._one(
            "SELECT * OMIT id FROM ONLY type::record('contribution', $id);",
            {"id": contribution_id},
            operation="contribution_get",
        )
        return contribution_from_row(row) if row else None

    async def contribution_by_request(self, author_id: str, request_id: str) -> dict[str, Any] | None:
        row = await self._one(
            "SELECT * OMIT id FROM contribution WHERE author_id = $a AND request_id = $r LIMIT 1;",
            {"a": author_id, "r": request_id},
            operation="contribution_by_request",
        )
        return contribution_from_row(row) if row else None

    async def list_contributions(
        self, author_id: str, limit: int, before: tuple[int, str] | None, *, include_hidden: bool = True
    ) -> list[dict[str, Any]]:
        variables: dict[str, Any] = {"a": author_id, "limit": limit}
        where = "author_id = $a"
        if not include_hidden:  # moderation: held/rejected items only for their author and staff
            where += " AND !(moderation_status IN $hidden)"
            variables["hidden"] = list(HIDDEN_STATUSES)
        if before is not None:
            where += _before("contribution_id")
            variables.update(before_ms=before[0], before_id=before[1])
        rows = await self._all(
            f"SELECT * OMIT id FROM contribution WHERE {where} "
            "ORDER BY created_at_ms DESC, contribution_id DESC LIMIT $limit;",
            variables,
            operation="contribution_list",
        )
        return [contribution_from_row(r) for r in rows]

    async def recent_contributions(
        self, limit: int, before: tuple[int, str] | None, *, viewer_id: str, staff: bool
    ) -> list[dict[str, Any]]:
        """Everyone's contributions, newest first (the pages' "Everyone" list).

        Held/rejected items only for their author and staff. No index orders the whole table by time
        yet (``contribution_author`` leads with the author), so this reads the table: fine for a
        community's page, an index ``(created_at_ms, contribution_id)`` would make it a range read.
        """
        variables: dict[str, Any] = {"limit": limit, "viewer": viewer_id, "staff": staff}
        variables["hidden"] = list(HIDDEN_STATUSES)
        where = "(!(moderation_status IN $hidden) OR author_id = $viewer OR $staff = true)"
        if before is not None:
            where += _before("contribution_id")
            variables.update(before_ms=before[0], before_id=before[1])
        rows = await self._all(
            f"SELECT * OMIT id FROM contribution WHERE {where} "
            "ORDER BY created_at_ms DESC, contribution_id DESC LIMIT $limit;",
            variables,
            operation="contribution_recent",
        )
        return [contribution_from_row(r) for r in rows]

    async def member_by_username(self, username: str) -> dict[str, Any] | None:
        """``{user_id, username, role, created_at_ms}`` of a member (case-insensitive), for profile pages.

        Read through the accounts app's repository (it owns ``user``); only public fields.
        """
        found = await AccountsRepository().user_by_username(username)
        return None if found is None else {k: found.get(k) for k in ("user_id", "username", "role", "created_at_ms")}

    async def member_names(self, user_ids: list[str]) -> dict[str, str]:
        """``user_id`` → ``username`` for a page of vouches (one query, through the accounts repository)."""
        briefs = await AccountsRepository().user_briefs(list(dict.fromkeys(user_ids)))
        return {uid: row["username"] for uid, row in briefs.items()}

    # -- evidence ----------------------------------------------------------------

    def create_evidence_statement(self, row: dict[str, Any]) -> Statement:
        stored = {k: v for k, v in row.items() if k not in ("evidence_data", "proof", "media")}
        stored |= {
            "evidence_data_json": _json(row["evidence_data"]),
            "proof_json": _json(row["proof"]),
            "media_json": None if row["media"] is None else _json(row["media"]),
            "upload_id": None if row["media"] is None else row["media"]["upload_id"],
        }
        return Statement(
            "CREATE type::record('evidence', $id) CONTENT $row RETURN NONE;", {"id": row["evidence_id"], "row": stored}
        )

    async def get_evidence(self, evidence_id: str) -> dict[str, Any] | None:
        row = await self._one(
            "SELECT * OMIT id FROM ONLY type::record('evidence', $id);", {"id": evidence_id}, operation="evidence_get"
        )
        return evidence_from_row(row) if row else None

    async def evidence_by_request(self, actor_id: str, request_id: str) -> dict[str, Any] | None:
        row = await self._one(
            "SELECT * OMIT id FROM evidence WHERE actor_id = $a AND request_id = $r LIMIT 1;",
            {"a": actor_id, "r": request_id},
            operation="evidence_by_request",
        )
        return evidence_from_row(row) if row else None

    async def list_evidence(
        self, contribution_id: str, limit: int, *, viewer_id: str = "", staff: bool = False
    ) -> list[dict[str, Any]]:
        """Hidden (held/rejected) evidence is listed only for its author and staff."""
        rows = await self._all(
            "SELECT * OMIT id FROM evidence WHERE contribution_id = $c "
            "AND (hidden = false OR actor_id = $viewer OR $staff = true) "
            "ORDER BY created_at_ms DESC, evidence_id DESC LIMIT $limit;",
            {"c": contribution_id, "limit": limit, "viewer": viewer_id, "staff": staff},
            operation="evidence_list",
        )
        return [evidence_from_row(r) for r in rows]

    # -- uploads ------------------------------------------------------------------

    async def create_upload(self, row: dict[str, Any]) -> None:
        await self.db.write(
            "CREATE type::record('evidence_upload', $id) CONTENT $row RETURN NONE;",
            {"id": row["upload_id"], "row": row},
            operation="upload_create",
        )

    async def get_upload(self, upload_id: str) -> dict[str, Any] | None:
        row = await self._one(
            "SELECT * OMIT id FROM ONLY type::record('evidence_upload', $id);",
            {"id": upload_id},
            operation="upload_get",
        )
        return upload_from_row(row) if row else None

    async def finish_upload(
        self, upload_id: str, status: str, result: dict[str, Any], now: int, *, verified_key: str | None = None
    ) -> dict[str, Any]:
        """pending → verified/rejected; a concurrent confirm that finished first wins (its row is returned).

        ``verified_key`` (the content-addressed object) is set in the same conditional update as the
        status, so a verified row always names the only key that may be served.
        """
        rows = await self.db.write(
            "UPDATE type::record('evidence_upload', $id) SET status = $status, result_json = $result, "
            "verified_key = $key, updated_at_ms = $now WHERE status = 'pending' RETURN NONE;"
            "SELECT * OMIT id FROM ONLY type::record('evidence_upload', $id);",
            {"id": upload_id, "status": status, "result": _json(result), "now": now, "key": verified_key},
            operation="upload_finish",
        )
        return upload_from_row(rows[-1])

    def link_upload_statement(self, upload_id: str, evidence_id: str, now: int) -> Statement:
        """verified → linked in the evidence's transaction; THROWs (rolling it back) if no longer verified."""
        return Statement(
            "LET $linked = (UPDATE type::record('evidence_upload', $id) SET status = 'linked', "
            "evidence_id = $evidence, updated_at_ms = $now WHERE status = 'verified' RETURN AFTER);"
            f"IF array::len($linked) = 0 {{ THROW '{UPLOAD_NOT_VERIFIED}' }};",
            {"id": upload_id, "evidence": evidence_id, "now": now},
            results=2,
        )

    async def stale_uploads(self, older_than_ms: int, limit: int) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT * OMIT id FROM evidence_upload WHERE status = 'pending' AND created_at_ms < $t "
            "ORDER BY created_at_ms LIMIT $limit;",
            {"t": older_than_ms, "limit": limit},
            operation="upload_stale",
        )
        return [upload_from_row(r) for r in rows]

    async def uploads_to_clear(self, created_before_ms: int, limit: int) -> list[dict[str, Any]]:
        """Finished uploads whose upload URL has expired and whose upload/staging keys are not yet deleted."""
        rows = await self._all(
            "SELECT * OMIT id FROM evidence_upload WHERE upload_key_cleared = false AND created_at_ms < $t "
            "AND status IN ['verified', 'linked', 'rejected'] ORDER BY created_at_ms LIMIT $limit;",
            {"t": created_before_ms, "limit": limit},
            operation="upload_to_clear",
        )
        return [upload_from_row(r) for r in rows]

    async def mark_upload_keys_cleared(self, upload_ids: list[str]) -> None:
        await self.db.write(
            "UPDATE array::map($ids, |$i| type::record('evidence_upload', $i)) "
            "SET upload_key_cleared = true RETURN NONE;",
            {"ids": upload_ids},
            operation="upload_keys_cleared",
        )

    async def delete_pending_upload(self, upload_id: str) -> bool:
        """Delete only if still pending (a confirm may have just won the race)."""
        rows = await self.db.write(
            "DELETE type::record('evidence_upload', $id) WHERE status = 'pending' RETURN BEFORE;",
            {"id": upload_id},
            operation="upload_expire",
        )
        return bool(rows and rows[-1])

    # -- vouches -------------------------------------------------------------------

    def create_vouch_statement(self, row: dict[str, Any]) -> Statement:
        stored = row | {"skill_key": row["skill_id"] or ""}
        return Statement(
            "CREATE type::record('vouch', $id) CONTENT $row RETURN NONE;", {"id": row["vouch_id"], "row": stored}
        )

    async def vouch_by_request(self, voucher_id: str, request_id: str) -> dict[str, Any] | None:
        row = await self._one(
            "SELECT * OMIT id, skill_key FROM vouch WHERE voucher_id = $v AND request_id = $r LIMIT 1;",
            {"v": voucher_id, "r": request_id},
            operation="vouch_by_request",
        )
        return vouch_from_row(row) if row else None

    # -- by id, in batches (the transparency audit rebuilds entries from the current rows) --------------

    async def contributions_by_id(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        rows = await self._all(
            "SELECT * OMIT id FROM array::map($ids, |$i| type::record('contribution', $i));",
            {"ids": ids},
            operation="contribution_ids",
        )
        return {r["contribution_id"]: contribution_from_row(r) for r in rows}

    async def evidence_by_id(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        rows = await self._all(
            "SELECT * OMIT id FROM array::map($ids, |$i| type::record('evidence', $i));",
            {"ids": ids},
            operation="evidence_ids",
        )
        return {r["evidence_id"]: evidence_from_row(r) for r in rows}

    async def vouches_by_id(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        rows = await self._all(
            "SELECT * OMIT id, skill_key FROM array::map($ids, |$i| type::record('vouch', $i));",
            {"ids": ids},
            operation="vouch_ids",
        )
        return {r["vouch_id"]: vouch_from_row(r) for r in rows}

    async def list_vouches(self, field: str, user_id: str, limit: int) -> list[dict[str, Any]]:
        if field not in ("vouchee_id", "voucher_id"):
            raise ValueError(field)
        rows = await self._all(
            f"SELECT * OMIT id, skill_key FROM vouch WHERE {field} = $u "
            "ORDER BY created_at_ms DESC, vouch_id DESC LIMIT $limit;",
            {"u": user_id, "limit": limit},
            operation="vouch_list",
        )
        return [vouch_from_row(r) for r in rows]

    # -- row → API shape (absent optional fields become null) ----------------------------

    # -- for moderation (a decision's reads and its statements; evidence's SQL stays here) ----------------

    async def contributions_for_review(self, contribution_ids: list[str]) -> list[dict[str, Any]]:
        """A page of queued contributions in one query (title and description for the queue)."""
        if not contribution_ids:
            return []
        return await self._all(
            "SELECT contribution_id, author_id, author_username, title, description, created_at_ms "
            "FROM array::map($ids, |$i| type::record('contribution', $i));",
            {"ids": contribution_ids},
            operation="moderation_contributions",
        )

    async def contribution_for_moderation(self, contribution_id: str) -> dict[str, Any] | None:
        return await self._one(
            "SELECT contribution_id, author_id, author_username, title, description, moderation_status "
            "FROM ONLY type::record('contribution', $id);",
            {"id": contribution_id},
            operation="moderation_contribution",
        )

    async def evidence_for_moderation(self, evidence_id: str) -> dict[str, Any] | None:
        return await self._one(
            "SELECT evidence_id, contribution_id, actor_id, actor_username, evidence_type, moderation_status "
            "FROM ONLY type::record('evidence', $id);",
            {"id": evidence_id},
            operation="moderation_evidence",
        )

    def contribution_status_statement(self, contribution_id: str, status: str) -> Statement:
        """A moderation decision's status on a contribution, for the decision's unit of work."""
        return Statement(
            "UPDATE type::record('contribution', $id) SET moderation_status = $s RETURN NONE;",
            {"id": contribution_id, "s": status},
        )

    def evidence_status_statement(self, evidence_id: str, status: str, hidden: bool) -> Statement:
        """A moderation decision's status on an evidence item (hidden with it), for the decision's unit of work."""
        return Statement(
            "UPDATE type::record('evidence', $id) SET moderation_status = $s, hidden = $hidden RETURN NONE;",
            {"id": evidence_id, "s": status, "hidden": hidden},
        )


def contribution_from_row(row: dict[str, Any]) -> dict[str, Any]:
    return _with_moderation(_contribution_view(row), row)


def _contribution_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "contribution_id": row["contribution_id"],
        "author_id": row["author_id"],
        "author_username": row["author_username"],
        "mode": row["mode"],
        "contribution_type": row["contribution_type"],
        "title": row["title"],
        "description": row["description"],
        "evidence_url": row.get("evidence_url"),
        "skill_ids": list(row.get("skill_ids") or []),
        "metadata": json.loads(row.get("metadata_json") or "{}"),
        "request_id": row["request_id"],
        "correlation_id": row["correlation_id"],
        "created_at_ms": row["created_at_ms"],
        "updated_at_ms": row["updated_at_ms"],
    }


def evidence_from_row(row: dict[str, Any]) -> dict[str, Any]:
    return _with_moderation(_evidence_view(row), row)


def _evidence_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "evidence_id": row["evidence_id"],
        "contribution_id": row["contribution_id"],
        "actor_id": row["actor_id"],
        "actor_username": row["actor_username"],
        "evidence_type": row["evidence_type"],
        "evidence_data": json.loads(row["evidence_data_json"]),
        "proof": json.loads(row["proof_json"]),
        "media": json.loads(row["media_json"]) if row.get("media_json") else None,
        "warnings": list(row.get("warnings") or []),
        "request_id": row["request_id"],
        "correlation_id": row["correlation_id"],
        "created_at_ms": row["created_at_ms"],
    }


def upload_from_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row.get(k) for k in (
        "upload_id", "contribution_id", "user_id", "storage_key", "verified_key", "file_name", "content_type",
        "size_bytes", "sha256", "status", "evidence_id", "created_at_ms", "updated_at_ms",
    )}  # fmt: skip
    out["result"] = json.loads(row["result_json"]) if row.get("result_json") else None
    return out


def vouch_from_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "vouch_id": row["vouch_id"],
        "voucher_id": row["voucher_id"],
        "voucher_username": row["voucher_username"],
        "vouchee_id": row["vouchee_id"],
        "skill_id": row.get("skill_id"),
        "weight_hint": row.get("weight_hint"),
        "message": row.get("message"),
        "request_id": row["request_id"],
        "correlation_id": row["correlation_id"],
        "created_at_ms": row["created_at_ms"],
    }
