"""Who may enter the admin site: the gr_session principal, staff roles only.

Anonymous visitors are sent to the admin login page; signed-in users without a
staff role get 403 (on every page, also by direct URL); moderators get 403 on
the admin-only pages (users, webhook outbox).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from apps.accounts.domain import ADMIN_ROLES, MODERATOR_ROLES
from apps.core.errors import AppError
from apps.core.views import allow_methods

LOGIN_URL = "/admin/login/"


def safe_next(value: str | None) -> str:
    """Only same-site admin paths (no open redirect)."""
    if value and value.startswith("/admin/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/admin/"


def refuse(request: HttpRequest, message: str, status: int = 403) -> HttpResponse:
    return render(request, "admin/gr/error.html", {"status": status, "message": message}, status=status)


def staff_page(*methods: str, admin_only: bool = False) -> Callable:
    def decorator(view: Callable) -> Callable:
        @allow_methods(*methods)
        @wraps(view)
        async def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            principal = request.principal
            if principal is None:
                return HttpResponseRedirect(f"{LOGIN_URL}?next={quote(request.get_full_path())}")
            if principal.role not in MODERATOR_ROLES:
                return refuse(request, "The admin site is for moderators and admins only.")
            if admin_only and principal.role not in ADMIN_ROLES:
                return refuse(request, "This page is for admins only.")
            try:
                return await view(request, *args, **kwargs)
            except AppError as exc:
                if exc.status >= 500:
                    raise
                return refuse(request, exc.message, exc.status)

        return wrapper

    return decorator
