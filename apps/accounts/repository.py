"""All SurrealQL of the accounts app (tables ``user`` and ``auth_family``).

Values are always bound variables; record ids are built with ``type::record``.
Methods named ``*_statement`` return a ``Statement`` for a ``UnitOfWork`` so a
service can commit several records in one transaction.
"""

from __future__ import annotations

from typing import Any

from apps.accounts import auth_cache
from apps.core.db import Repository, Statement, first_row

_USER_FIELDS = (
    "user_id, username, email, password, community_id, role, enabled, created_at_ms, updated_at_ms, last_login_ms"
)

# THROWn by ``expect_role_statement`` when a role changed between the role rule's check and the commit.
ROLE_CHANGED = "account_role_changed"

# Index name → API field, for 409 ``details.field``.
UNIQUE_FIELDS = {"user_email": "email", "user_username_lower": "username"}


class AccountsRepository(Repository):
    # -- users ------------------------------------------------------------

    async def get_user(self, user_id: str) -> dict[str, Any] | None:
        return await self._one(
            f"SELECT {_USER_FIELDS} FROM ONLY type::record('user', $id);", {"id": user_id}, operation="user_get"
        )

    async def find_user_by_email(self, email: str) -> dict[str, Any] | None:
        return await self._one(
            f"SELECT {_USER_FIELDS} FROM user WHERE email = $email LIMIT 1;",
            {"email": email},
            operation="user_by_email",
        )

    def create_user_statement(self, row: dict[str, Any]) -> Statement:
        return Statement(
            "CREATE type::record('user', $id) CONTENT $row RETURN NONE;", {"id": row["user_id"], "row": row}
        )

    def expect_role_statement(self, user_id: str, role: str) -> Statement:
        """Guard for a unit of work: THROW (rolling it back) unless the account still has ``role``.

        The role rule is checked before a transaction is planned; this closes the window between that
        check and the commit (a promotion or demotion committed in between refuses the write).
        """
        return Statement(
            f"IF type::record('user', $uid).role != $role {{ THROW '{ROLE_CHANGED}' }};",
            {"uid": user_id, "role": role},
        )

    def update_user_statement(self, user_id: str, changes: dict[str, Any]) -> Statement:
        return Statement(
            "UPDATE type::record('user', $id) MERGE $changes RETURN NONE;", {"id": user_id, "changes": changes}
        )

    async def set_user_fields(self, user_id: str, changes: dict[str, Any]) -> None:
        """Staff/test helper: change fields of one user (role, enabled); this process's cached sign-in states of
        the user go with the write, as after any committed change to a user record (auth_cache.py)."""
        statement = self.update_user_statement(user_id, changes)
        await self.db.write(statement.sql, statement.variables, operation="user_update")
        auth_cache.forget_user(user_id)

    # -- families ---------------------------------------------------------

    def create_family_statement(self, row: dict[str, Any]) -> Statement:
        return Statement(
            "CREATE type::record('auth_family', $id) CONTENT $row RETURN NONE;", {"id": row["family_id"], "row": row}
        )

    async def auth_state(self, user_id: str, family_id: str) -> dict[str, Any]:
        """The user record and its token family in ONE query (every authenticated request).

        Each record's fields are read as ``type::record(...).{fields}``: the same answer as ``SELECT fields FROM
        ONLY`` (NONE for a missing record) for about a quarter less of the engine's CPU (issue 14, tenth pass).
        """
        results = await self.db.query(
            f"RETURN {{user: type::record('user', $uid).{{{_USER_FIELDS}}}, "
            "family: type::record('auth_family', $fid).{user_id, current_refresh_jti, previous_refresh_jti, "
            "rotated_at_ms, revoked, revoked_reason, expires_at_ms}};",
            {"uid": user_id, "fid": family_id},
            operation="auth_state",
        )
        state = first_row(results[-1]) if results else None
        state = state or {}
        return {"user": state.get("user") or None, "family": state.get("family") or None}

    async def rotate_family(self, family_id: str, old_jti: str, new_jti: str, now_ms: int, expires_at_ms: int) -> bool:
        """Swap the current refresh jti only if it is still ``old_jti``: of two concurrent refreshes one wins.

        The same conditional statement records the replaced jti and the rotation time (``now_ms``, which
        is also the new pair's issue time): what a loser of the race needs to re-derive the winner's pair
        inside the grace window. One statement, so no reader sees the swap without them.
        """
        row = await self._write_one(
            "UPDATE type::record('auth_family', $fid) SET current_refresh_jti = $new, previous_refresh_jti = $old, "
            "rotated_at_ms = $now, updated_at_ms = $now, expires_at_ms = $exp "
            "WHERE current_refresh_jti = $old AND revoked = false RETURN AFTER;",
            {"fid": family_id, "old": old_jti, "new": new_jti, "now": now_ms, "exp": expires_at_ms},
            operation="family_rotate",
        )
        return row is not None

    async def revoke_family(self, family_id: str, reason: str, now_ms: int) -> None:
        await self.db.write(
            "UPDATE type::record('auth_family', $fid) SET revoked = true, revoked_reason = $reason, "
            "updated_at_ms = $now WHERE revoked = false RETURN NONE;",
            {"fid": family_id, "reason": reason, "now": now_ms},
            operation="family_revoke",
        )
        auth_cache.forget_family(family_id)  # this process admits none of its requests from now on

    # -- for other apps (their SQL lives here: only accounts touches ``user`` and ``auth_family``) -----------

    async def user_briefs(self, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        """``user_id`` → ``{user_id, username, role}`` (public fields) for a page of authors, in one query."""
        if not user_ids:
            return {}
        rows = await self._all(
            "SELECT user_id, username, role FROM array::map($ids, |$i| type::record('user', $i));",
            {"ids": sorted(set(user_ids))},
            operation="user_briefs",
        )
        return {row["user_id"]: row for row in rows if row and row.get("user_id")}

    async def user_by_username(self, username: str) -> dict[str, Any] | None:
        """``{user_id, username, role, enabled, created_at_ms}`` by username, any case (unique ``username_lower``)."""
        return await self._one(
            "SELECT user_id, username, role, enabled, created_at_ms FROM user WHERE username_lower = $u LIMIT 1;",
            {"u": username.lower()},
            operation="user_by_username",
        )

    async def stream_auth_state(self, family_ids: list[str], user_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Sign-ins and accounts of every open chat stream of a process, in one query (its re-validation)."""
        results = await self.db.query(
            "RETURN {"
            " families: (SELECT family_id, user_id, revoked FROM array::map($f, |$i| type::record('auth_family', $i))),"
            " users: (SELECT user_id, enabled FROM array::map($u, |$i| type::record('user', $i)))"
            "};",
            {"f": family_ids, "u": user_ids},
            operation="stream_auth_state",
        )
        state = first_row(results[-1]) if results else None
        return {"families": (state or {}).get("families") or [], "users": (state or {}).get("users") or []}

    def set_enabled_statement(self, user_id: str, enabled: bool, now: int) -> Statement:
        """Enable or disable an account (a moderation decision); disabling also revokes every token family."""
        sql = "UPDATE type::record('user', $uid) SET enabled = $enabled, updated_at_ms = $now RETURN NONE;"
        if not enabled:
            sql += (
                "UPDATE auth_family SET revoked = true, revoked_reason = 'blocked', updated_at_ms = $now "
                "WHERE user_id = $uid AND revoked = false RETURN NONE;"
            )
        return Statement(sql, {"uid": user_id, "enabled": enabled, "now": now}, results=1 if enabled else 2)

    async def search_users(self, query: str | None, limit: int) -> list[dict[str, Any]]:
        """The admin site's user search: by username or email part, or exact id; newest first."""
        where, variables = "", {"limit": limit}
        if query:
            where = "WHERE string::contains(username_lower, $q) OR string::contains(email, $q) OR user_id = $raw "
            variables.update(q=query.lower(), raw=query)
        return await self._all(
            "SELECT user_id, username, email, role, enabled, community_id, created_at_ms, last_login_ms "
            f"FROM user {where}ORDER BY created_at_ms DESC, user_id DESC LIMIT $limit;",
            variables,
            operation="user_search",
        )
