"""DRF permissions by role. Anonymous → 401 (DRF raises NotAuthenticated); wrong role → 403."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from apps.accounts.domain import ADMIN_ROLES, MODERATOR_ROLES


def _principal(request):
    user = getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) and hasattr(user, "role") else None


class IsAuthenticated(BasePermission):
    message = "authentication required"

    def has_permission(self, request, view) -> bool:
        return _principal(request) is not None


class IsModerator(BasePermission):
    message = "moderator role required"

    def has_permission(self, request, view) -> bool:
        principal = _principal(request)
        return principal is not None and principal.role in MODERATOR_ROLES


class IsAdmin(BasePermission):
    message = "admin role required"

    def has_permission(self, request, view) -> bool:
        principal = _principal(request)
        return principal is not None and principal.role in ADMIN_ROLES
