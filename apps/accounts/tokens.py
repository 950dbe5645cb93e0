"""JWT issuing and checking with djangorestframework-simplejwt (HS256, ``SIMPLE_JWT`` settings).

Tokens carry ``fam`` (the refresh family id): revoking the family in the
database invalidates every token of that sign-in, access tokens included.
Signature, expiry and ``token_type`` are checked here; revocation and the
user's current state are checked by the service against the database.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def issue_pair(*, user_id: str, username: str, role: str, family_id: str) -> tuple[AccessToken, RefreshToken]:
    """A new access token (15 min) and refresh token (7 days) in ``family_id``."""
    access = AccessToken()
    access["sub"] = user_id
    access["username"] = username
    access["role"] = role
    access[FAMILY_CLAIM] = family_id
    refresh = RefreshToken()
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


def decode_access(raw: str) -> TokenClaims:
    return _decode(AccessToken, raw)


def decode_refresh(raw: str) -> TokenClaims:
    return _decode(RefreshToken, raw)
