"""Create or promote an admin in SurrealDB (idempotent; audited in ``admin_action``)."""

from __future__ import annotations

import getpass
import os

from django.core.management.base import BaseCommand, CommandError

from apps.accounts import staff
from apps.accounts.forms import SignupForm
from apps.core.db import run_sync
from apps.core.errors import AppError, Forbidden


class Command(BaseCommand):
    help = "Create an admin user, or promote the user with this email to admin. Safe to run again."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--username", required=True)
        parser.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")

    def handle(self, *args, email: str, username: str, password_env: str | None, **options) -> None:
        form = SignupForm({"email": email, "username": username, "password": "x" * 8})
        if not form.is_valid():
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        email, username = form.cleaned_data["email"], form.cleaned_data["username"]
        try:
            password = None
            if not run_sync(staff.user_exists, email):
                password = self._password(password_env)
            result = run_sync(staff.ensure_admin, email=email, username=username, password=password)
        except Forbidden as exc:  # the role rule (apps/accounts/policy.py): e.g. the account's role is system
            raise CommandError(f"refused: {exc.message}; nothing was changed") from exc
        except AppError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{result.outcome} admin user_id={result.user_id}")

    @staticmethod
    def _password(password_env: str | None) -> str:
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"environment variable {password_env} is empty or not set")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("passwords do not match")
        if not 8 <= len(password) <= 256:
            raise CommandError("password must be 8..256 characters")
        return password
