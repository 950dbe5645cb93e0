"""The sign-in cookies: ``gr_session`` holds the access token, ``gr_refresh`` the refresh token.

Both are HttpOnly, SameSite=Lax, Secure outside development/test. The refresh
cookie lets the middleware keep page visitors signed in past the access
token's 15 minutes (see docs/accounts.md).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse

from apps.accounts.domain import IssuedTokens
from apps.core.ids import now_ms

REFRESH_COOKIE_NAME = "gr_refresh"


def access_cookie_name() -> str:
    return settings.AUTH_COOKIE_NAME


def set_auth_cookies(response: HttpResponse, issued: IssuedTokens) -> None:
    now = now_ms()
    common = {"httponly": True, "samesite": "Lax", "secure": settings.AUTH_COOKIE_SECURE, "path": "/"}
    response.set_cookie(
        access_cookie_name(), issued.access_token, max_age=max(1, (issued.expires_at_ms - now) // 1000), **common
    )
    response.set_cookie(
        REFRESH_COOKIE_NAME,
        issued.refresh_token,
        max_age=max(1, (issued.refresh_expires_at_ms - now) // 1000),
        **common,
    )


def clear_auth_cookies(response: HttpResponse) -> None:
    for name in (access_cookie_name(), REFRESH_COOKIE_NAME):
        response.delete_cookie(name, path="/", samesite="Lax")
