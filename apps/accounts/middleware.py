"""Resolves the caller once per request: ``request.principal`` and ``request.auth_error``.

Order of sources: ``Authorization: Bearer <access>``, else the ``gr_session``
cookie. Tokens in query strings are never read. For page navigations (GET/HEAD
outside /v1/ and /static/) whose access cookie is missing or expired, the
``gr_refresh`` cookie is rotated transparently and the new cookies are set on
the response, so browsers stay signed in for the refresh lifetime.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.accounts import services
from apps.accounts.cookies import REFRESH_COOKIE_NAME, clear_auth_cookies, set_auth_cookies
from apps.accounts.domain import IssuedTokens, Principal
from apps.core import context
from apps.core.errors import Unauthorized
from apps.core.middleware import AsyncMiddleware

MALFORMED_HEADER = "malformed Authorization header; expected 'Bearer <token>'"


def _is_page_navigation(request: HttpRequest) -> bool:
    return request.method in ("GET", "HEAD") and not request.path.startswith(("/v1/", "/static/"))


class AuthenticationMiddleware(AsyncMiddleware):
    async def __call__(self, request: HttpRequest) -> HttpResponse:
        request.principal = None
        request.auth_error = None
        request.auth_token = None
        issued: IssuedTokens | None = None
        stale_cookies = False

        header = request.META.get("HTTP_AUTHORIZATION")  # not request.headers: see apps.core.middleware.ID_HEADERS
        if header is not None:
            await self._from_bearer(request, header)
        elif not request.path.startswith("/static/"):
            issued, stale_cookies = await self._from_cookies(request)

        if request.principal is not None:
            context.update(user_id=request.principal.user_id)
        response = await self.get_response(request)
        if issued is not None and settings.AUTH_COOKIE_NAME not in response.cookies:
            set_auth_cookies(response, issued)
        elif stale_cookies and settings.AUTH_COOKIE_NAME not in response.cookies:
            clear_auth_cookies(response)
        return response

    @staticmethod
    async def _resolve(request: HttpRequest, raw: str, via: str) -> Principal | None:
        try:
            principal = await services.authenticate(raw, via=via)
        except Unauthorized as exc:
            request.auth_error = exc.message
            return None
        request.principal, request.auth_token, request.auth_error = principal, raw, None
        return principal

    async def _from_bearer(self, request: HttpRequest, header: str) -> None:
        scheme, _, raw = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            request.auth_error = MALFORMED_HEADER
            return
        await self._resolve(request, raw.strip(), "bearer")

    async def _from_cookies(self, request: HttpRequest) -> tuple[IssuedTokens | None, bool]:
        """Returns (tokens to set on the response, whether the cookies are dead and should be cleared)."""
        access = request.COOKIES.get(settings.AUTH_COOKIE_NAME)
        refresh = request.COOKIES.get(REFRESH_COOKIE_NAME)
        if access and await self._resolve(request, access, "cookie") is not None:
            return None, False
        if not (refresh and _is_page_navigation(request)):
            return None, bool(access) and _is_page_navigation(request)
        try:
            issued = await services.refresh(refresh)
        except Unauthorized as exc:
            request.auth_error = request.auth_error or exc.message
            return None, True
        if await self._resolve(request, issued.access_token, "cookie") is None:
            return None, True
        request.auth_token = issued.access_token
        return issued, False
