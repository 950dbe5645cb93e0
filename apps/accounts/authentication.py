"""DRF authentication over what ``AuthenticationMiddleware`` already resolved (no I/O here)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, CSRFCheck
from rest_framework.request import Request


def _no_response(request):  # CSRFCheck needs a get_response; it is never called
    return None


class GotongAuthentication(BaseAuthentication):
    """Returns ``(principal, raw token)``; cookie-authenticated unsafe requests must pass Django's CSRF check."""

    def authenticate(self, request: Request):
        django_request = request._request
        error = getattr(django_request, "auth_error", None)
        if error:
            raise exceptions.AuthenticationFailed(error)
        principal = getattr(django_request, "principal", None)
        if principal is None:
            return None
        if principal.via == "cookie":
            self.enforce_csrf(django_request)
        return principal, getattr(django_request, "auth_token", None)

    @staticmethod
    def enforce_csrf(django_request) -> None:
        """As DRF's SessionAuthentication: a cookie is ambient authority, so forms from other sites must fail."""
        check = CSRFCheck(_no_response)
        check.process_request(django_request)
        reason = check.process_view(django_request, None, (), {})
        if reason:
            raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"
