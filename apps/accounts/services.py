"""Account rules: sign-up, sign-in, token refresh/rotation, logout, per-request authentication.

Views and commands parse input and call these functions; SurrealQL lives in
``repository.py``. Password hashing (argon2id, CPU-heavy) runs in a worker
thread so the event loop keeps serving other requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn
from uuid import uuid4

from django.contrib.auth.hashers import check_password, make_password

from apps.accounts import auth_cache, tokens
from apps.accounts.domain import DEFAULT_COMMUNITY, IssuedTokens, Principal, User
from apps.accounts.repository import UNIQUE_FIELDS, AccountsRepository
from apps.core import context, events
from apps.core.db import UniqueViolation, UnitOfWork
from apps.core.errors import Conflict, Unauthorized
from apps.core.ids import new_id, now_ms
from apps.core.ratelimit import limiter

log = logging.getLogger(__name__)

BAD_CREDENTIALS = "invalid email or password"
# For tokens of an existing sign-in only. Sign-in never says "disabled": that would confirm the password.
DISABLED = "account disabled"
REVOKED = "token revoked"

# Two page loads racing after the access cookie expired both present the same refresh token. Within
# this window after a rotation, the token it replaced gets the SAME new pair back (re-derived from the
# family row) instead of revoking the sign-in; later, presenting it is reuse and revokes the family.
# Kept short: it is also how long a stolen, already-rotated token stays useful to a thief.
REFRESH_GRACE_MS = 10_000

# Time source of the refresh rules (epoch ms). Tests replace it to step past the grace window.
clock: Callable[[], int] = now_ms


@dataclass(frozen=True)
class SignupInput:
    email: str
    username: str
    password: str
    community_id: str = DEFAULT_COMMUNITY


def _repo() -> AccountsRepository:
    return AccountsRepository()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(make_password, password)


async def verify_password(password: str, encoded: str) -> bool:
    return await asyncio.to_thread(check_password, password, encoded)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A real argon2 hash to check against when the email is unknown (same time as a wrong password)."""
    return make_password("gotong-royong-dummy-password")


def new_user_row(*, email: str, username: str, password_hash: str, community_id: str, role: str) -> dict[str, Any]:
    request_id, correlation_id = context.request_ids()
    now = now_ms()
    return {
        "user_id": new_id(),
        "username": username,
        "username_lower": username.lower(),
        "email": email.lower(),
        "password": password_hash,
        "community_id": community_id,
        "role": role,
        "enabled": True,
        "created_at_ms": now,
        "updated_at_ms": now,
        "last_login_ms": None,
        "request_id": request_id,
        "correlation_id": correlation_id,
    }


def conflict_from(exc: UniqueViolation) -> Conflict:
    """A unique-index hit → 409 naming the field (email or username)."""
    field = UNIQUE_FIELDS.get(exc.index or "", "user_id")
    return Conflict(f"{field} already taken", details={"field": field})


def _issue(
    user: dict[str, Any] | User, family_id: str, *, refresh_jti: str | None = None, issued_at_ms: int | None = None
) -> tuple[IssuedTokens, str]:
    """A pair for ``user``; with ``refresh_jti`` and ``issued_at_ms`` given it is the exact pair issued before."""
    get = user.get if isinstance(user, dict) else lambda k: getattr(user, k)
    access, refresh = tokens.issue_pair(
        user_id=get("user_id"),
        username=get("username"),
        role=get("role"),
        family_id=family_id,
        refresh_jti=refresh_jti or uuid4().hex,
        issued_at_ms=now_ms() if issued_at_ms is None else issued_at_ms,
    )
    issued = IssuedTokens(
        access_token=str(access),
        refresh_token=str(refresh),
        user_id=get("user_id"),
        username=get("username"),
        role=get("role"),
        expires_at_ms=int(access["exp"]) * 1000,
        refresh_expires_at_ms=int(refresh["exp"]) * 1000,
    )
    return issued, str(refresh["jti"])


def _family_row(user_id: str, family_id: str, refresh_jti: str, expires_at_ms: int) -> dict[str, Any]:
    now = now_ms()
    return {
        "family_id": family_id,
        "user_id": user_id,
        "current_refresh_jti": refresh_jti,
        "previous_refresh_jti": None,
        "rotated_at_ms": None,
        "revoked": False,
        "revoked_reason": None,
        "created_at_ms": now,
        "updated_at_ms": now,
        "expires_at_ms": expires_at_ms,
    }


async def rate_limit_auth(ip: str, email: str) -> None:
    """Sign-in/sign-up buckets: per client IP and per email."""
    await limiter.hit("auth_ip", ip)
    await limiter.hit("auth_email", email.lower())


async def signup(data: SignupInput, *, ip: str) -> IssuedTokens:
    """Create a ``user`` and its first token family in one transaction."""
    await rate_limit_auth(ip, data.email)
    repo = _repo()
    row = new_user_row(
        email=data.email,
        username=data.username,
        password_hash=await hash_password(data.password),
        community_id=data.community_id or DEFAULT_COMMUNITY,
        role="user",
    )
    row["last_login_ms"] = row["created_at_ms"]
    family_id = new_id()
    issued, jti = _issue(row, family_id)
    uow = UnitOfWork()
    uow.add(repo.create_user_statement(row))
    uow.add(repo.create_family_statement(_family_row(row["user_id"], family_id, jti, issued.refresh_expires_at_ms)))
    try:
        await uow.commit(operation="signup")
    except UniqueViolation as exc:
        raise conflict_from(exc) from exc
    log.info("user signed up", extra={"user_id": row["user_id"]})
    return issued


async def signin(email: str, password: str, *, ip: str) -> IssuedTokens:
    """Check credentials and open a new token family.

    Unknown email, wrong password and disabled account give the same 401 after the same work (one
    argon2 check each): telling "disabled" apart would confirm a guessed password of that account.
    """
    await rate_limit_auth(ip, email)
    repo = _repo()
    row = await repo.find_user_by_email(email.lower())
    if row is None:
        await verify_password(password, await asyncio.to_thread(_dummy_hash))
        raise Unauthorized(BAD_CREDENTIALS)
    user = User.from_row(row)
    password_ok = await verify_password(password, user.password)
    if not (password_ok and user.enabled):
        raise Unauthorized(BAD_CREDENTIALS)
    family_id = new_id()
    issued, jti = _issue(user, family_id)
    now = now_ms()
    uow = UnitOfWork()
    uow.add(repo.create_family_statement(_family_row(user.user_id, family_id, jti, issued.refresh_expires_at_ms)))
    uow.add(repo.update_user_statement(user.user_id, {"last_login_ms": now}))
    await uow.commit(operation="signin")
    log.info("user signed in", extra={"user_id": user.user_id})
    return issued


async def refresh(raw_refresh: str) -> IssuedTokens:
    """Rotate a refresh token; an already-used one revokes its whole family (theft detection).

    Exception: the token the last rotation replaced, presented within ``REFRESH_GRACE_MS`` of it,
    gets that rotation's pair again (two tabs refreshing at once). The rotation is one conditional
    UPDATE that also records the replaced jti and the time, so racing refreshes agree on one winner.
    """
    claims = tokens.decode_refresh(raw_refresh)
    repo = _repo()
    for _attempt in range(2):
        state = await repo.auth_state(claims.user_id, claims.family_id)
        user_row, family = state["user"], state["family"]
        if family is None or family["revoked"] or family["user_id"] != claims.user_id or user_row is None:
            raise Unauthorized(REVOKED)
        user = User.from_row(user_row)
        if family["current_refresh_jti"] != claims.jti:
            if _within_grace(family, claims.jti):
                if not user.enabled:
                    raise Unauthorized(DISABLED)
                log.info("concurrent refresh inside the grace window", extra={"user_id": claims.user_id})
                issued, _ = _issue(
                    user,
                    claims.family_id,
                    refresh_jti=family["current_refresh_jti"],
                    issued_at_ms=family["rotated_at_ms"],
                )
                return issued
            await _revoke_for_reuse(repo, claims)
        if not user.enabled:
            raise Unauthorized(DISABLED)
        rotated_at = clock()
        issued, new_jti = _issue(user, claims.family_id, issued_at_ms=rotated_at)
        if await repo.rotate_family(claims.family_id, claims.jti, new_jti, rotated_at, issued.refresh_expires_at_ms):
            return issued
        # A concurrent refresh with the same token won the conditional update: read its result once more
        # (inside the grace window that is its pair; otherwise it is reuse and the next pass revokes).
    raise Unauthorized(REVOKED)  # the family changed under us twice (e.g. revoked meanwhile)


def _within_grace(family: dict[str, Any], jti: str) -> bool:
    """``jti`` is the one the last rotation replaced, and that rotation is at most ``REFRESH_GRACE_MS`` old."""
    rotated_at = family.get("rotated_at_ms")
    return (
        family.get("previous_refresh_jti") == jti
        and isinstance(rotated_at, int)
        and clock() - rotated_at <= REFRESH_GRACE_MS
    )


async def _revoke_for_reuse(repo: AccountsRepository, claims: tokens.TokenClaims) -> NoReturn:
    """Theft detection: revoke the whole sign-in, close its streams and refuse."""
    await repo.revoke_family(claims.family_id, "refresh_reuse", clock())
    await _streams_revoked(claims.user_id, claims.family_id)
    log.warning("refresh token reuse; family revoked", extra={"user_id": claims.user_id})
    raise Unauthorized(REVOKED)


async def logout(principal: Principal) -> None:
    """Revoke the caller's family: its access token (jti) and refresh token die with it."""
    await _repo().revoke_family(principal.family_id, "logout", now_ms())
    await _streams_revoked(principal.user_id, principal.family_id)
    log.info("user signed out", extra={"user_id": principal.user_id})


async def _streams_revoked(user_id: str, family_id: str) -> None:
    """Announce the revoked sign-in: chat closes this process's streams of it now (others re-validate within 1 s)."""
    await events.publish(events.UserSessionsRevoked(user_id, family_id))


async def authenticate(raw_access: str, *, via: str) -> Principal:
    """Validate an access token against the current user record and family.

    One query, unless this process read the same sign-in's state for an earlier request within
    ``AUTH_STATE_CACHE_MS`` and nothing it did since ended that sign-in or changed the user (auth_cache.py says
    why that stays within the spec's "rejected everywhere within one second")."""
    claims = tokens.decode_access(raw_access)
    cache = auth_cache.shared()
    state = cache.get(claims.user_id, claims.family_id)
    if state is None:
        generation = cache.generation
        state = await _repo().auth_state(claims.user_id, claims.family_id)
        _check_auth_state(state, claims.user_id)
        cache.put(claims.user_id, claims.family_id, state, generation)
    user_row = state["user"]
    return Principal(
        user_id=user_row["user_id"],
        username=user_row["username"],
        email=user_row["email"],
        role=user_row["role"],
        community_id=user_row["community_id"],
        jti=claims.jti,
        family_id=claims.family_id,
        via=via,  # type: ignore[arg-type]
    )


def _check_auth_state(state: dict[str, Any], user_id: str) -> None:
    """401 unless the family is the user's and not revoked, and the user exists and is enabled."""
    user_row, family = state["user"], state["family"]
    if family is None or family["revoked"] or family["user_id"] != user_id:
        raise Unauthorized(REVOKED)
    if user_row is None or not user_row["enabled"]:
        raise Unauthorized(DISABLED)


async def me(user_id: str) -> dict[str, Any]:
    row = await _repo().get_user(user_id)
    if row is None:
        raise Unauthorized(DISABLED)
    return {key: row[key] for key in ("user_id", "username", "email", "role", "community_id", "created_at_ms")}
