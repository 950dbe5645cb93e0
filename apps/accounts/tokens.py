"""JWT issuing and checking with djangorestframework-simplejwt (HS256, ``SIMPLE_JWT`` settings).

Tokens carry ``fam`` (the refresh family id): revoking the family in the
database invalidates every token of that sign-in, access tokens included.
Signature, expiry and ``token_type`` are checked here; revocation and the
user's current state are checked by the service against the database.

A pair is a pure function of its inputs (user, family, refresh jti, issue time): the refresh grace
window (``services.REFRESH_GRACE_MS``) re-derives the very pair a concurrent rotation issued from the
family row, so two racing page loads get byte-identical cookies without storing tokens anywhere.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from apps.core.errors import Unauthorized

FAMILY_CLAIM = "fam"


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    family_id: str
    jti: str
    exp: int


def access_jti_for(refresh_jti: str) -> str:
    """The access token's jti, derived from its refresh token's so the pair can be re-derived exactly."""
    return hashlib.sha256(f"access:{refresh_jti}".encode()).hexdigest()[:32]


def _stamp(token: Token, *, jti: str, issued_at: datetime) -> None:
    token.set_iat(at_time=issued_at)
    token.set_exp(from_time=issued_at)
    token["jti"] = jti


def issue_pair(
    *, user_id: str, username: str, role: str, family_id: str, refresh_jti: str, issued_at_ms: int
) -> tuple[AccessToken, RefreshToken]:
    """The access token (15 min) and refresh token (7 days) of ``family_id`` with ``refresh_jti``.

    Deterministic: the same arguments give byte-identical tokens (HS256 has no randomness), which is
    what lets a refresh inside the grace window hand out the pair the winning rotation issued.
    """
    issued_at = datetime.fromtimestamp(issued_at_ms // 1000, tz=UTC)
    access = AccessToken()
    _stamp(access, jti=access_jti_for(refresh_jti), issued_at=issued_at)
    access["sub"] = user_id
    access["username"] = username
    access["role"] = role
    access[FAMILY_CLAIM] = family_id
    refresh = RefreshToken()
    _stamp(refresh, jti=refresh_jti, issued_at=issued_at)
    refresh["sub"] = user_id
    refresh[FAMILY_CLAIM] = family_id
    return access, refresh


def _decode(token_class: type[Token], raw: str) -> TokenClaims:
    try:
        token = token_class(raw)  # verifies signature, exp, token_type, jti presence
    except TokenError as exc:
        raise Unauthorized("invalid or expired token") from exc
    sub, fam, jti, exp = token.get("sub"), token.get(FAMILY_CLAIM), token.get("jti"), token.get("exp")
    if not all(isinstance(v, str) and v for v in (sub, fam, jti)) or not isinstance(exp, int):
        raise Unauthorized("invalid or expired token")
    return TokenClaims(user_id=sub, family_id=fam, jti=jti, exp=exp)


# Verified access tokens kept by their exact text, so a client's next requests skip the HMAC and the JSON
# decoding (about 0.13 ms each; issue 14 point 3). Only tokens that verified are kept (``lru_cache`` does not keep
# exceptions), so forged or expired tokens always pay the full check and cannot fill it. The expiry is checked
# again on every use, against the clock, as PyJWT does. Bounded: 4,096 tokens of about 0.9 KiB each with their
# claims (tracemalloc), 3.6 MiB at most.
# The signing key comes from the configuration at start-up, so no cached token outlives a key change.
ACCESS_CACHE_SIZE = 4096


@lru_cache(maxsize=ACCESS_CACHE_SIZE)
def _verified_access(raw: str) -> TokenClaims:
    return _decode(AccessToken, raw)


def _clock() -> float:
    return time.time()


def decode_access(raw: str) -> TokenClaims:
    claims = _verified_access(raw)
    if claims.exp <= _clock():  # simplejwt's rule with its default leeway of 0: expired at ``exp`` itself
        raise Unauthorized("invalid or expired token")
    return claims


def decode_refresh(raw: str) -> TokenClaims:
    return _decode(RefreshToken, raw)
